package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// openSSH is the system's sshd on a loopback port (sshtest.StartOpenSSH),
// with the fixture's cleanups; Close stops it.
type openSSH struct {
	*sshtest.OpenSSH
	tb *fixtureTB
}

// Close kills sshd and its connections and removes its files.
func (o *openSSH) Close() { o.tb.cleanup() }

// errNoSSHD says why the SSH figures are missing.
var errNoSSHD = errors.New("OpenSSH sshd is not installed (" + sshtest.SSHDPath + "): no SSH figures")

// startOpenSSH starts sshd with its key, config and known_hosts under dir.
func startOpenSSH(dir string) (o *openSSH, err error) {
	if _, err := os.Stat(sshtest.SSHDPath); err != nil {
		return nil, errNoSSHD
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create sshd dir: %w", err)
	}
	tb := &fixtureTB{dir: dir}
	defer func() {
		if p := recover(); p != nil {
			stop, ok := p.(fixtureStop)
			if !ok {
				panic(p)
			}
			tb.cleanup()
			o, err = nil, fmt.Errorf("start sshd: %w", stop.err)
		}
	}()
	return &openSSH{OpenSSH: sshtest.StartOpenSSH(tb), tb: tb}, nil
}

// fixtureTB lets the test fixtures of sshtest run outside a test: a
// fatal error or a skip panics with fixtureStop, which startOpenSSH
// recovers on the same goroutine; cleanups run at cleanup. It implements
// the testing.TB methods the fixture calls; the embedded nil TB panics on
// any other.
type fixtureTB struct {
	testing.TB
	dir      string
	n        int
	failed   bool
	cleanups []func()
}

// fixtureStop carries a fixture's Fatal or Skip out of it.
type fixtureStop struct{ err error }

func (t *fixtureTB) Helper()      {}
func (t *fixtureTB) Name() string { return "console-mcp-bench" }
func (t *fixtureTB) Failed() bool { return t.failed }
func (t *fixtureTB) Fail()        { t.failed = true }
func (t *fixtureTB) FailNow()     { panic(fixtureStop{errors.New("failed")}) }
func (t *fixtureTB) SkipNow()     { panic(fixtureStop{errors.New("skipped")}) }

func (t *fixtureTB) Fatal(args ...any) { panic(fixtureStop{errors.New(fmt.Sprint(args...))}) }
func (t *fixtureTB) Fatalf(format string, args ...any) {
	panic(fixtureStop{fmt.Errorf(format, args...)})
}
func (t *fixtureTB) Skip(args ...any) { panic(fixtureStop{errors.New(fmt.Sprint(args...))}) }
func (t *fixtureTB) Skipf(format string, args ...any) {
	panic(fixtureStop{fmt.Errorf(format, args...)})
}
func (t *fixtureTB) Error(args ...any)                 { t.failed = true }
func (t *fixtureTB) Errorf(format string, args ...any) { t.failed = true }
func (t *fixtureTB) Log(args ...any)                   {}
func (t *fixtureTB) Logf(format string, args ...any)   {}
func (t *fixtureTB) Cleanup(fn func())                 { t.cleanups = append(t.cleanups, fn) }

func (t *fixtureTB) TempDir() string {
	t.n++
	d := filepath.Join(t.dir, fmt.Sprint(t.n))
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatalf("create temp dir: %v", err)
	}
	return d
}

// cleanup runs the registered cleanups, last first, once.
func (t *fixtureTB) cleanup() {
	fns := t.cleanups
	t.cleanups = nil
	for _, fn := range slices.Backward(fns) {
		fn()
	}
}
