package ptyhost

import "golang.org/x/sys/unix"

// CloseInheritedOnExec marks every descriptor above stderr close-on-exec.
// Descriptors this process inherited without the flag (a pipe of the MCP
// client that started the server, a shell's spare descriptors) would
// otherwise pass into every holder and program, and a holder that outlives
// the server would keep its client's pipes open. Go opens its own
// descriptors close-on-exec already.
func CloseInheritedOnExec() {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return
	}
	closeOnExecLoop() // kernels before 5.11
}

// stdinToDevNull points descriptor 0 at /dev/null once the start request
// has been read from it: a holder's stdio is /dev/null.
func stdinToDevNull() error {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Dup3(fd, 0, 0)
}
