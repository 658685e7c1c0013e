package ptyhost

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmRSS reads a process's resident set size in KiB from /proc (field
// VmRSS, or another such as RssAnon).
func vmRSS(t *testing.T, pid int, field ...string) int {
	name := "VmRSS:"
	if len(field) > 0 {
		name = field[0] + ":"
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// An idle holder (a shell at its prompt, a server connected) stays under
// 8 MB resident. The race detector's runtime is much larger, so the bound
// is checked only without it.
func TestHolderRSS(t *testing.T) {
	h := newTestHolders(t, HolderOptions{})
	p := start(t, h, shellReq(newID(), t.TempDir()))
	s := newStream(t, p)
	p.Write([]byte("echo $((1+1))\n"))
	s.until("2\r\n")
	idle, anon := vmRSS(t, p.HolderPid()), vmRSS(t, p.HolderPid(), "RssAnon")

	// After 2 MB of output the ring has grown to hold it.
	p.Write([]byte("head -c 2000000 /dev/zero | tr '\\0' a; echo; echo $((3+3))\n"))
	s.until("6\r\n")
	busy := vmRSS(t, p.HolderPid())
	// Most of an idle holder's RSS is the binary's pages, shared by all
	// holders; RssAnon is its own.
	t.Logf("holder VmRSS: idle %d KiB (RssAnon %d KiB), after 2 MB of output %d KiB (race detector: %v)", idle, anon, busy, raceEnabled)
	if !raceEnabled && idle > 8<<10 {
		t.Errorf("idle holder VmRSS %d KiB, want under 8 MiB", idle)
	}
}

// Starting, attaching, releasing and closing leaves no goroutine behind.
func TestHolderNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	p := start(t, h, shReq(id, "read x; echo got $x; exit 2"))
	q := attach(t, h, id, 0)
	q.Write([]byte("hi\n"))
	for _, c := range []*holderProcess{p, q} {
		if err := newStream(t, c).toEnd(); err != io.EOF {
			t.Fatal(err)
		}
	}
	q.Close()
	p.Close()
	waitReaped(t, h, p.HolderPid())
	h.wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
