//go:build !linux

package ptyhost

import "golang.org/x/sys/unix"

// CloseInheritedOnExec marks every descriptor above stderr close-on-exec;
// see the Linux version.
func CloseInheritedOnExec() { closeOnExecLoop() }

// stdinToDevNull points descriptor 0 at /dev/null; see the Linux version.
func stdinToDevNull() error {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Dup2(fd, 0)
}
