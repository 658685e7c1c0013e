package sessions_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/console-mcp/console-mcp/persist"
	"github.com/console-mcp/console-mcp/ptyhost"
	"github.com/console-mcp/console-mcp/sessions"
)

// captureCmd is the capture benchmark's program: 100 MB (or less with
// -short) through a pipe into the terminal, no newlines.
func captureCmd() string {
	n := "100000000"
	if testing.Short() {
		n = "20000000"
	}
	return "head -c " + n + " /dev/zero | tr '\\0' a"
}

// barePTY runs the command in a PTY and reads until EOF: the ceiling.
func barePTY(b *testing.B) time.Duration {
	cmd := exec.Command("/bin/sh", "-c", captureCmd())
	start := time.Now()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	for {
		if _, err := f.Read(buf); err != nil {
			if !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			break
		}
	}
	d := time.Since(start)
	f.Close()
	cmd.Wait()
	return d
}

// captureVariant is one way to run a session.
type captureVariant struct {
	name    string
	holder  bool
	persist bool
}

func newBenchManager(b *testing.B, v captureVariant) *sessions.Manager {
	var local sessions.Backend = &ptyhost.Local{}
	dir := b.TempDir()
	if v.holder {
		exe, _ := filepath.Abs(os.Args[0])
		h, err := ptyhost.NewHolders(ptyhost.HolderOptions{RunDir: filepath.Join(dir, "run"), Exe: exe, Args: []string{"ptyhost"}})
		if err != nil {
			b.Fatal(err)
		}
		local = h
	}
	var store sessions.Store
	if v.persist {
		s, err := persist.Open(filepath.Join(dir, "state"), persist.Options{}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		store = s
	}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindLocal: local}, store, sessions.Options{
		Environ: func() []string { return []string{"PATH=/usr/bin:/bin"} },
	})
	b.Cleanup(func() { m.Close() })
	return m
}

// sessionCapture runs the command as a session's program and waits for it
// to exit with all its output read.
func sessionCapture(b *testing.B, m *sessions.Manager) time.Duration {
	start := time.Now()
	s, err := m.Create(context.Background(), sessions.Spec{Command: "/bin/sh", Args: []string{"-c", captureCmd()}})
	if err != nil {
		b.Fatal(err)
	}
	r := s.Wait(context.Background(), sessions.WaitRequest{Cursor: new(int64), Timeout: 5 * time.Minute})
	d := time.Since(start)
	if r.Reason != sessions.ReasonExited {
		b.Fatalf("capture ended by %s", r.Reason)
	}
	return d
}

// BenchmarkCapture measures, in one run, the bare PTY read loop and a
// session's capture with the in-process and the holder backend (the
// product's default), each with and without the SQLite store. The variants
// take turns in an order that rotates every round (a fixed order lets one
// variant's teardown, a holder exiting or a WAL checkpoint, land on the
// same neighbour every time), and each figure is the best of its rounds
// (the noise of a shared machine only adds; -mean-s has the means). It
// reports each in seconds and as a ratio to the bare PTY, persistence
// on/off and the holder hop:
//
//	go test -run '^$' -bench Capture -benchtime 3x ./sessions
func BenchmarkCapture(b *testing.B) {
	variants := []captureVariant{
		{name: "bare"},
		{name: "inprocess"},
		{name: "inprocess+sqlite", persist: true},
		{name: "holder", holder: true},
		{name: "holder+sqlite", holder: true, persist: true},
	}
	managers := make([]*sessions.Manager, len(variants))
	for i, v := range variants[1:] {
		managers[i+1] = newBenchManager(b, v)
	}
	took := make([][]time.Duration, len(variants))
	round := 0
	b.ResetTimer()
	for b.Loop() {
		for k := range variants {
			i := (round + k) % len(variants)
			if managers[i] == nil {
				took[i] = append(took[i], barePTY(b))
			} else {
				took[i] = append(took[i], sessionCapture(b, managers[i]))
			}
		}
		round++
	}
	best := make([]float64, len(variants))
	for i, v := range variants {
		var sum time.Duration
		for _, d := range took[i] {
			sum += d
		}
		best[i] = slices.Min(took[i]).Seconds()
		b.ReportMetric(best[i], v.name+"-s")
		b.ReportMetric(sum.Seconds()/float64(len(took[i])), v.name+"-mean-s")
		if i > 0 {
			b.ReportMetric(best[i]/best[0], v.name+"/bare")
		}
	}
	// Persistence on vs off, in-process and with holders (the default).
	b.ReportMetric(best[2]/best[1], "inprocess-sqlite/nosqlite")
	b.ReportMetric(best[4]/best[3], "holder-sqlite/nosqlite")
	// The holder hop, with persistence on.
	b.ReportMetric(best[4]/best[2], "holder/inprocess")
}
