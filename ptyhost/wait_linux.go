package ptyhost

import (
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// waitCmd is cmd.Wait without an OS thread per waiting child. cmd.Wait
// blocks its thread in waitid until the child exits, and a server keeps one
// such wait per holder it started: a thread per session (1,000 sessions,
// 1,000 threads). Here the child's exit is awaited on a pidfd in the
// runtime's poller, and cmd.Wait then reaps at once. Where pidfds are not
// available (Linux before 5.3) cmd.Wait waits as usual.
func waitCmd(cmd *exec.Cmd) error {
	awaitExit(cmd.Process.Pid)
	return cmd.Wait()
}

// awaitExit returns once the child pid has exited (it stays waitable), or
// at once when that cannot be awaited in the poller. The pid cannot be
// reused meanwhile: it is this process's unreaped child.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// Read calls the function, and again each time the pidfd is readable
	// (the child exited), until it returns true; a pidfd the poller does
	// not take ends it with an error at once.
	_ = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != nil || info.Signo != 0 // Linux zeroes info while the child runs
	})
}
