package ptyhost

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// threads is this process's OS thread count, or -1 without /proc.
func threads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			var n int
			if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err == nil {
				return n
			}
		}
	}
	return -1
}

// Waiting for many children holds no thread per child (on Linux), and each
// wait still reports how its child ended.
func TestWaitCmdManyChildren(t *testing.T) {
	const n = 64
	before := threads()
	cmds := make([]*exec.Cmd, n)
	done := make(chan error, n)
	for i := range cmds {
		cmds[i] = exec.Command("sleep", "60")
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
		go func(c *exec.Cmd) { done <- waitCmd(c) }(cmds[i])
	}
	t.Cleanup(func() {
		for _, c := range cmds {
			_ = c.Process.Kill() // best effort: most are reaped already
		}
	})
	// Let the waiters block: each would take a thread in waitid.
	time.Sleep(200 * time.Millisecond)
	during := threads()
	t.Logf("threads: %d before, %d while %d children are waited for", before, during, n)
	if runtime.GOOS == "linux" && before > 0 && during-before >= n/2 {
		t.Errorf("threads grew from %d to %d while waiting for %d children: a thread per wait", before, during, n)
	}
	for i, c := range cmds {
		sig := syscall.SIGTERM
		if i%2 == 1 {
			sig = syscall.SIGKILL
		}
		if err := c.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-done; err == nil || !strings.Contains(err.Error(), "signal: ") {
			t.Errorf("waitCmd = %v, want the child's signal", err)
		}
	}
	for _, c := range cmds {
		if ws := c.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() {
			t.Errorf("pid %d: %v, want signaled", c.Process.Pid, c.ProcessState)
		}
	}
}
