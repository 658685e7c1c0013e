package ptyhost

import "syscall"

// closeOnExecLoop sets close-on-exec on descriptors 3..1023 one by one.
func closeOnExecLoop() {
	for fd := 3; fd < 1024; fd++ {
		syscall.CloseOnExec(fd)
	}
}
