package vtscreen

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The tests below run real programs in a real PTY and feed everything they
// print into a Screen of the same size, the way a session does.

// waitLimit bounds every wait for a program to draw; it is a deadline for a
// hung test, not a timing assertion.
const waitLimit = 20 * time.Second

type ptyTerm struct {
	t    *testing.T
	ptmx *os.File

	mu      sync.Mutex // guards screen and raw
	screen  *Screen
	raw     []byte        // everything read, for failure messages
	changed chan struct{} // a 1-slot signal: output arrived
	done    chan struct{} // closed when the reader has stopped
}

// startPTY runs name in a new PTY of cols x rows in dir, with a small fixed
// environment, and stops it when the test ends.
func startPTY(t *testing.T, cols, rows int, dir, name string, args ...string) *ptyTerm {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: %v", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
		"LESSHISTFILE=-",
		"PS1=$ ",
	}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		t.Fatalf("start %s in a pty: %v", name, err)
	}
	// Non-blocking, so that Close wakes the reader (creack/pty leaves the
	// master blocking).
	conn, err := ptmx.SyscallConn()
	if err == nil {
		ctlErr := conn.Control(func(fd uintptr) { err = syscall.SetNonblock(int(fd), true) })
		err = errors.Join(ctlErr, err)
	}
	if err != nil {
		_ = ptmx.Close()       // best effort: the child gets SIGHUP
		_ = cmd.Process.Kill() // best effort
		_ = cmd.Wait()         // reap
		t.Fatalf("set pty non-blocking: %v", err)
	}
	p := &ptyTerm{
		t:       t,
		ptmx:    ptmx,
		screen:  New(cols, rows, 0),
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	var wg sync.WaitGroup
	wg.Go(p.read)
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // best effort: its process group
		_ = cmd.Process.Kill()                              // best effort: it may have exited
		_ = ptmx.Close()                                    // best effort: wakes the reader
		wg.Wait()
		_ = cmd.Wait() // reap; the status of a killed program is not the point
	})
	return p
}

func (p *ptyTerm) read() {
	defer close(p.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := p.ptmx.Read(buf)
		if n > 0 {
			p.mu.Lock()
			_, _ = p.screen.Write(buf[:n]) // never fails
			p.raw = append(p.raw, buf[:n]...)
			p.mu.Unlock()
			select {
			case p.changed <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return // EIO once the program has gone, or the master was closed
		}
	}
}

func (p *ptyTerm) send(s string) {
	p.t.Helper()
	if _, err := p.ptmx.WriteString(s); err != nil {
		p.t.Fatalf("write %q to the pty: %v", s, err)
	}
}

func (p *ptyTerm) snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen.Snapshot(1000)
}

// waitFor polls the screen whenever output arrives until cond holds, and
// fails the test at waitLimit.
func (p *ptyTerm) waitFor(what string, cond func(Snapshot) bool) Snapshot {
	p.t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		snap := p.snapshot()
		if cond(snap) {
			return snap
		}
		select {
		case <-p.changed:
			continue
		case <-p.done:
			if snap := p.snapshot(); cond(snap) {
				return snap
			}
			p.t.Fatalf("program ended before %s; screen:\n%s", what, p.describe())
		case <-timer.C:
			p.t.Fatalf("no %s within %v; screen:\n%s", what, waitLimit, p.describe())
		}
	}
}

// waitExit waits until the program has ended and its output is consumed.
func (p *ptyTerm) waitExit(what string) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		p.t.Fatalf("%s did not end within %v; screen:\n%s", what, waitLimit, p.describe())
	}
}

func (p *ptyTerm) describe() string {
	snap := p.snapshot()
	p.mu.Lock()
	raw := p.raw[max(len(p.raw)-2000, 0):]
	p.mu.Unlock()
	return fmt.Sprintf("%s\ncursor %d,%d alt=%v\nlast bytes: %q",
		strings.Join(snap.Lines, "\n"), snap.CursorRow, snap.CursorCol, snap.AltScreen, raw)
}

// resize resizes the PTY and the screen together, as a session does.
func (p *ptyTerm) resize(cols, rows int) {
	p.t.Helper()
	conn, err := p.ptmx.SyscallConn()
	if err == nil {
		ctlErr := conn.Control(func(fd uintptr) {
			err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
		})
		err = errors.Join(ctlErr, err)
	}
	if err != nil {
		p.t.Fatalf("resize pty: %v", err)
	}
	p.mu.Lock()
	p.screen.Resize(cols, rows)
	p.mu.Unlock()
}

func hasLine(snap Snapshot, want string) bool { return slices.Contains(snap.Lines, want) }

func waitPrompt(p *ptyTerm) {
	p.t.Helper()
	p.waitFor("a shell prompt", func(s Snapshot) bool {
		return s.Lines[s.CursorRow] == "$" && s.CursorCol == 2
	})
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLess(t *testing.T) {
	dir := t.TempDir()
	var text strings.Builder
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&text, "line %02d of the file\n", i)
	}
	writeFile(t, dir, "file.txt", text.String())
	p := startPTY(t, 80, 24, dir, "less", "file.txt")

	// A page is complete once less has drawn its prompt on the last row.
	page := func(first int) func(Snapshot) bool {
		return func(s Snapshot) bool {
			if s.Lines[23] == "" {
				return false
			}
			for row := range 23 {
				if s.Lines[row] != fmt.Sprintf("line %02d of the file", first+row) {
					return false
				}
			}
			return true
		}
	}
	snap := p.waitFor("lines 1-23", page(1))
	if !snap.AltScreen {
		t.Errorf("less is not on the alt screen")
	}
	p.send("j")
	p.waitFor("lines 2-24 after j", page(2))
	p.send("k")
	p.waitFor("lines 1-23 after k", page(1))
	p.send("G")
	p.waitFor("lines 38-60 after G", page(38))
	p.send("q")
	p.waitExit("less")
	if p.snapshot().AltScreen {
		t.Errorf("still on the alt screen after less quit")
	}
}

func TestVim(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "file.txt", "hello from vim\nsecond line\n")
	p := startPTY(t, 80, 24, dir, "bash", "--norc", "--noprofile", "-i")
	waitPrompt(p)
	p.send("echo before-vim\r")
	p.waitFor("the echo", func(s Snapshot) bool { return hasLine(s, "before-vim") })
	waitPrompt(p)
	shell := p.snapshot()

	p.send("vim -u NONE -N file.txt\r")
	snap := p.waitFor("the file in vim", func(s Snapshot) bool {
		return s.AltScreen && s.Lines[0] == "hello from vim" && s.Lines[1] == "second line" &&
			s.Lines[22] == "~" && strings.Contains(s.Lines[23], "file.txt") &&
			s.CursorRow == 0 && s.CursorCol == 0
	})
	for row := 2; row < 23; row++ {
		if snap.Lines[row] != "~" {
			t.Errorf("row %d = %q, want ~", row, snap.Lines[row])
		}
	}
	if !snap.AppCursor {
		t.Errorf("vim did not switch the cursor keys to application mode")
	}

	p.send("ixyz\x1b")
	p.waitFor("the inserted text", func(s Snapshot) bool { return s.Lines[0] == "xyzhello from vim" })
	p.send("u")
	p.waitFor("the undone text", func(s Snapshot) bool { return s.Lines[0] == "hello from vim" })

	p.send(":q\r")
	snap = p.waitFor("the shell after :q", func(s Snapshot) bool {
		return !s.AltScreen && s.Lines[s.CursorRow] == "$" && s.CursorCol == 2 && s.CursorRow > shell.CursorRow
	})
	// The shell's screen is back as it was, with the next prompt right
	// under the command line.
	want := slices.Clone(shell.Lines)
	want[shell.CursorRow] = "$ vim -u NONE -N file.txt"
	want[shell.CursorRow+1] = "$"
	if !slices.Equal(snap.Lines, want) {
		t.Errorf("screen after vim:\n%s\nwant:\n%s", strings.Join(snap.Lines, "\n"), strings.Join(want, "\n"))
	}
	if snap.AppCursor {
		t.Errorf("cursor keys still in application mode after vim")
	}
}

func TestTop(t *testing.T) {
	p := startPTY(t, 120, 30, t.TempDir(), "top", "-d", "1")
	snap := p.waitFor("top's header", func(s Snapshot) bool {
		return slices.ContainsFunc(s.Lines, func(l string) bool {
			return strings.Contains(l, "load average") || strings.Contains(l, "Tasks") || strings.Contains(l, "Load Avg")
		})
	})
	// The header is drawn from the top-left corner, not scattered.
	if !strings.HasPrefix(snap.Lines[0], "top - ") && !strings.HasPrefix(snap.Lines[0], "Processes:") {
		t.Errorf("first row = %q", snap.Lines[0])
	}
	p.send("q")
	p.waitExit("top")
}

func TestShellTitleAndResize(t *testing.T) {
	p := startPTY(t, 80, 24, t.TempDir(), "bash", "--norc", "--noprofile", "-i")
	waitPrompt(p)
	p.send(`printf '\033]0;hello\007'; echo title-set` + "\r")
	snap := p.waitFor("the title", func(s Snapshot) bool { return hasLine(s, "title-set") })
	if snap.Title != "hello" {
		t.Errorf("title = %q, want hello", snap.Title)
	}
	waitPrompt(p)

	p.resize(100, 30)
	p.send("stty size\r")
	snap = p.waitFor("the new size", func(s Snapshot) bool { return hasLine(s, "30 100") })
	if snap.Cols != 100 || snap.Rows != 30 || len(snap.Lines) != 30 {
		t.Errorf("snapshot size %dx%d with %d lines, want 100x30", snap.Cols, snap.Rows, len(snap.Lines))
	}
	p.send("printf '%0100d\\n' 7\r")
	long := strings.Repeat("0", 99) + "7"
	p.waitFor("a 100-column row", func(s Snapshot) bool { return hasLine(s, long) })
}

func TestSeqScrollback(t *testing.T) {
	p := startPTY(t, 20, 10, t.TempDir(), "seq", "1", "100")
	snap := p.waitFor("the last number", func(s Snapshot) bool { return s.Lines[8] == "100" })
	if want := append(numbers(92, 100), ""); !slices.Equal(snap.Lines, want) {
		t.Errorf("lines = %q, want %q", snap.Lines, want)
	}
	if want := numbers(1, 91); !slices.Equal(snap.Scrollback, want) {
		t.Errorf("scrollback = %q, want %q", snap.Scrollback, want)
	}
}
