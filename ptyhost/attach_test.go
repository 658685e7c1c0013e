package ptyhost

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tmux drives a private tmux server.
type tmux struct {
	t    *testing.T
	sock string
}

func (x tmux) run(args ...string) string {
	x.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", x.sock}, args...)...)
	cmd.Env = append(os.Environ(), "TMUX=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (x tmux) screen() string { return x.run("capture-pane", "-p", "-t", "t") }

// waitScreen waits until the pane shows want.
func (x tmux) waitScreen(want string) {
	x.t.Helper()
	last := ""
	waitFor(x.t, "the pane to show "+want, func() bool {
		last = x.screen()
		return strings.Contains(last, want)
	})
}

// A person attaches their terminal inside tmux: they see the session's
// output (the agent's typing too), their typing reaches the session, a
// single Ctrl-\ passes through, Ctrl-\ twice detaches and the session gets
// its size back.
func TestAttachTerminalInTmux(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	p := start(t, h, shellReq(id, t.TempDir()))
	s := newStream(t, p)
	p.Write([]byte("echo before-$((20+1))\n"))
	s.until("before-21\r\n")

	x := tmux{t: t, sock: filepath.Join(filepath.Dir(h.opt.RunDir), "tmux")}
	script := testExe(t) + " attach " + h.opt.RunDir + " " + string(id) + "; echo attach-exit=$?; sleep 600"
	x.run("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", script)
	t.Cleanup(func() { exec.Command("tmux", "-S", x.sock, "kill-server").Run() })

	x.waitScreen("[attached to " + string(id) + `; Ctrl-\ Ctrl-\ to detach]`)
	x.waitScreen("before-21") // the redraw

	p.Write([]byte("echo agent-$((6*7))\n"))
	x.waitScreen("agent-42")

	x.run("send-keys", "-t", "t", "echo typed-$((2+3))", "Enter")
	s.until("typed-5\r\n")

	x.run("send-keys", "-t", "t", "stty size", "Enter")
	s.until("30 100\r\n") // the person's terminal size

	// One Ctrl-\ followed by a key reaches the program.
	p.Write([]byte("stty -isig; cat -v; stty isig\n"))
	waitFor(t, "cat in the foreground", func() bool { return foreground(p.Pid()) == "cat" })
	x.run("send-keys", "-t", "t", `C-\`, "x", "Enter", "C-d")
	s.until(`^\x` + "\r\n")

	x.run("send-keys", "-t", "t", `C-\`, `C-\`)
	x.waitScreen("[detached]")
	x.waitScreen("attach-exit=0")

	p.Write([]byte("stty size\n"))
	s.until("24 80\r\n") // its size before the attach
	p.Write([]byte("echo after-$((1+1))\n"))
	s.until("after-2\r\n")
	if strings.Contains(x.screen(), "after-2") {
		t.Errorf("output reached the pane after detaching:\n%s", x.screen())
	}
}
