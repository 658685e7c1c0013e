package ptyhost

import (
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// waitCmd is cmd.Wait without an OS thread per waiting child. cmd.Wait
// blocks its thread in waitid until the child exits, and a server keeps one
// such wait per holder it started: a thread per session (1,000 sessions,
// 1,000 threads). Here the wait is parked on a channel until SIGCHLD says
// the child exited, and cmd.Wait then reaps it at once.
func waitCmd(cmd *exec.Cmd) error {
	children.await(cmd.Process.Pid)
	return cmd.Wait()
}

// children tracks the children being waited for. On each SIGCHLD (signals
// coalesce: one may stand for several exits) it looks at every tracked
// child without reaping it (WNOWAIT) and releases the waiters of those that
// exited: a few microseconds per child, only when some child exits, and no
// file descriptor or thread per child. The goroutine that receives SIGCHLD
// is started by the first wait and lives as long as the process.
var children = childWatch{waiting: map[int]chan struct{}{}}

type childWatch struct {
	once    sync.Once
	mu      sync.Mutex
	waiting map[int]chan struct{}
}

// await returns once the child pid has exited; it stays waitable. The pid
// cannot be reused meanwhile: it is this process's unreaped child.
func (w *childWatch) await(pid int) {
	w.once.Do(func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGCHLD)
		go func() {
			for range sigs {
				w.scan()
			}
		}()
	})
	done := make(chan struct{})
	w.mu.Lock()
	w.waiting[pid] = done
	w.mu.Unlock()
	w.scan() // it may have exited before it was tracked: no SIGCHLD to come
	<-done
}

// scan releases the waiters of tracked children that have exited.
func (w *childWatch) scan() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, done := range w.waiting {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		// Linux zeroes info while the child runs; an error (ECHILD: someone
		// else reaped it) releases the waiter to cmd.Wait, which reports it.
		if err != nil || info.Signo != 0 {
			delete(w.waiting, pid)
			close(done)
		}
	}
}
