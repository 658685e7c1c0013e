package sshhost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// captureCommand writes 20 MB without newlines, so that the terminal's
// newline processing does not dominate.
const captureCommand = `head -c 20000000 /dev/zero | tr '\0' a`

// benchShell is the shell of BenchmarkRoundTrip on every terminal: the
// same program without rc files, so that the users' prompt hooks (pyenv's
// PROMPT_COMMAND costs milliseconds here) do not hide the transport.
const benchShell = "exec bash --noprofile --norc"

// starter starts a program on one kind of terminal and returns its
// terminal end.
type starter func(b *testing.B, command string) io.ReadWriteCloser

func sshStarter(spec *sessions.SSHSpec, be *sshhost.Backend) starter {
	return func(b *testing.B, command string) io.ReadWriteCloser {
		b.Helper()
		p, err := be.Start(context.Background(), sessions.StartRequest{
			ID: "s-bench", Generation: 1,
			Spec: sessions.Spec{Kind: sessions.KindSSH, SSH: spec, Command: command, Cols: 80, Rows: 24},
		})
		if err != nil {
			b.Fatalf("Start: %v", err)
		}
		return p
	}
}

// localPTY runs the program in a PTY of this process: the baseline.
func localPTY(b *testing.B, command string) io.ReadWriteCloser {
	b.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	cmd.Dir = b.TempDir()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		b.Fatalf("start pty: %v", err)
	}
	return &ptyProc{ptmx: ptmx, cmd: cmd}
}

type ptyProc struct {
	ptmx *os.File
	cmd  *exec.Cmd
}

func (p *ptyProc) Read(b []byte) (int, error) {
	n, err := p.ptmx.Read(b)
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

func (p *ptyProc) Write(b []byte) (int, error) { return p.ptmx.Write(b) }

func (p *ptyProc) Close() error {
	_ = p.cmd.Process.Kill() // best effort: it may have exited
	_ = p.ptmx.Close()
	_ = p.cmd.Wait() // reap
	return nil
}

// terminals are the three kinds compared, started for one benchmark: the
// local PTY is the baseline.
func terminals(b *testing.B) []struct {
	name  string
	start starter
} {
	o := sshtest.StartOpenSSH(b)
	srv := sshtest.NewServer(b, sshtest.ServerOptions{})
	key := srv.NewUserKey(b, "bench", "")
	known := b.TempDir() + "/known_hosts"
	srv.WriteKnownHosts(b, known)
	be := sshhost.New(sshhost.Options{ConfigFile: "none"})
	kinds := []struct {
		name  string
		start starter
	}{
		{"localpty", localPTY},
		{"openssh", sshStarter(&sessions.SSHSpec{
			Host: "127.0.0.1", Port: o.Port(), User: o.User(),
			IdentityFile: o.KeyFile(), KnownHostsFile: o.KnownHostsFile(),
		}, be)},
		{"sshtest", sshStarter(&sessions.SSHSpec{
			Host: "127.0.0.1", Port: srv.Port(), User: "bench", IdentityFile: key.Path, KnownHostsFile: known,
		}, be)},
	}
	if ssh, err := exec.LookPath("ssh"); err == nil {
		// OpenSSH's own client against the same sshd: what sshd allows.
		kinds = append(kinds, struct {
			name  string
			start starter
		}{"sshclient", func(b *testing.B, command string) io.ReadWriteCloser {
			cmd := exec.Command(ssh, "-tt", "-F", "none", "-i", o.KeyFile(), "-p", fmt.Sprint(o.Port()),
				"-o", "UserKnownHostsFile="+o.KnownHostsFile(), "-o", "StrictHostKeyChecking=yes",
				"-o", "BatchMode=yes", o.User()+"@127.0.0.1", command)
			return startPiped(b, cmd)
		}})
	}
	return kinds
}

// piped is a local program read through a pipe.
type piped struct {
	io.Reader
	io.Writer
	cmd *exec.Cmd
}

func startPiped(b *testing.B, cmd *exec.Cmd) *piped {
	b.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return &piped{Reader: out, Writer: in, cmd: cmd}
}

func (p *piped) Close() error {
	_ = p.cmd.Process.Kill() // best effort: it may have exited
	_ = p.cmd.Wait()         // reap
	return nil
}

// readUntil reads from r until want has been seen; window keeps the tail
// across calls.
func readUntil(b *testing.B, r io.Reader, buf []byte, window *[]byte, want []byte) {
	for !bytes.Contains(*window, want) {
		n, err := r.Read(buf)
		if err != nil {
			b.Fatalf("read: %v (seen %q)", err, *window)
		}
		*window = append(*window, buf[:n]...)
	}
	i := bytes.Index(*window, want)
	*window = append((*window)[:0], (*window)[i+len(want):]...)
}

// BenchmarkRoundTrip types a command whose output carries a marker and
// reads until the marker comes back, on a warm shell session of each
// terminal kind. The kinds take turns within every iteration, so that load
// from elsewhere hits all alike; it reports each kind's microseconds per
// round trip and its ratio to the local PTY.
func BenchmarkRoundTrip(b *testing.B) {
	kinds := terminals(b)[:3] // not sshclient: its output is not a terminal here
	type warm struct {
		t      io.ReadWriteCloser
		window []byte
		total  time.Duration
	}
	shells := make([]*warm, len(kinds))
	buf := make([]byte, 32<<10)
	roundTrip := func(w *warm, i int) {
		// The echoed command line has `"__m""7__"`, the output __m7__.
		if _, err := fmt.Fprintf(w.t, "echo \"__m\"\"%d__\"\r", i); err != nil {
			b.Fatalf("write: %v", err)
		}
		readUntil(b, w.t, buf, &w.window, fmt.Appendf(nil, "__m%d__", i))
	}
	for i, k := range kinds {
		shells[i] = &warm{t: k.start(b, benchShell)}
		defer shells[i].t.Close()
		roundTrip(shells[i], -1) // the shell is up
	}
	b.ResetTimer()
	for i := range b.N {
		for _, w := range shells {
			began := time.Now()
			roundTrip(w, i)
			w.total += time.Since(began)
		}
	}
	for i, k := range kinds {
		per := shells[i].total / time.Duration(b.N)
		b.ReportMetric(float64(per)/float64(time.Microsecond), k.name+"-µs")
		if i > 0 {
			b.ReportMetric(float64(shells[i].total)/float64(shells[0].total), k.name+"/local")
		}
	}
}

// BenchmarkCapture reads the output of captureCommand to the end on each
// terminal kind in turn; the time from the first byte to EOF counts, not
// the connection. It reports each kind's MB/s and its ratio to the local
// PTY's.
func BenchmarkCapture(b *testing.B) {
	kinds := terminals(b)
	buf := make([]byte, 32<<10)
	totals := make([]time.Duration, len(kinds))
	b.ResetTimer()
	for range b.N {
		for i, k := range kinds {
			b.StopTimer()
			t := k.start(b, captureCommand)
			n, err := t.Read(buf) // the program runs
			total := n
			b.StartTimer()
			began := time.Now()
			for err == nil {
				n, err = t.Read(buf)
				total += n
			}
			totals[i] += time.Since(began)
			if err != io.EOF || total < 20_000_000 {
				b.Fatalf("%s: read %d bytes, ended with %v", k.name, total, err)
			}
			b.StopTimer()
			t.Close()
			b.StartTimer()
		}
	}
	mbps := func(d time.Duration) float64 { return 20 * float64(b.N) / d.Seconds() }
	for i, k := range kinds {
		b.ReportMetric(mbps(totals[i]), k.name+"-MB/s")
		if i > 0 {
			b.ReportMetric(mbps(totals[i])/mbps(totals[0]), k.name+"/local")
		}
	}
}
