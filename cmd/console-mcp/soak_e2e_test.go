package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// TestSoak creates and stops sessions in a loop on one server and checks
// that its memory, fds and threads stay flat: 300 sessions by default,
// 5,000 with -soak (or CONSOLE_MCP_SOAK=1), any number with
// -soak.iterations. Memory is checked on a server built without the race
// detector (CONSOLE_MCP_TEST_NORACE=1, as .ci/run runs it too): the
// detector's own state grows with every goroutine ever started, about
// 0.45 MB per 100 sessions, where the plain server stays flat.

var (
	soakFull       = flag.Bool("soak", false, "TestSoak: the full soak, 5,000 sessions (also CONSOLE_MCP_SOAK=1)")
	soakIterations = flag.Int("soak.iterations", 0, "TestSoak: sessions to create and stop; zero means 5,000 with -soak, else 300")
)

const (
	soakWorkers = 4
	// soakRSSGrowth is how much the server's RSS may grow from the end of
	// the warm-up to the end (the Go heap goal and SQLite's page cache
	// settle during the warm-up).
	soakRSSGrowth = 0.20
	// threadSlack is how many more OS threads the server may run at the
	// end than after the warm-up (the runtime starts one for a blocking
	// syscall or cgo call when the others are busy).
	threadSlack = 8
)

// soakSample is the server's resources after some iterations.
type soakSample struct {
	iter       int
	elapsed    time.Duration
	rssKB      int64
	fds        int
	threads    int
	holdersNow int
}

func TestSoak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	n := 300
	if *soakFull || os.Getenv("CONSOLE_MCP_SOAK") == "1" {
		n = 5000
	}
	if *soakIterations > 0 {
		n = *soakIterations
	}
	warm := min(max(n/10, 50), 500, n)
	stateDir := t.TempDir()
	c, srv := stdioServer(t, testEnv(t, stateDir))
	pid := srv.Process.Pid
	started := time.Now()
	sample := func(iter int) soakSample {
		fds := settledFds(t, pid, stateDir)
		st := procStatus(t, pid)
		return soakSample{iter: iter, elapsed: time.Since(started), rssKB: st["VmRSS"], fds: fds, threads: int(st["Threads"]), holdersNow: len(holderProcs(stateDir))}
	}
	samples := []soakSample{sample(0)}
	var failures []string
	for done := 0; done < n; {
		next := min(n, (done/500+1)*500)
		if done < warm {
			next = warm
		}
		failures = append(failures, soakRound(c, done, next)...)
		if len(failures) > 0 {
			t.Fatalf("sessions %d..%d: %d failures, first: %s", done, next, len(failures), failures[0])
		}
		done = next
		samples = append(samples, sample(done))
	}
	holders := waitGone(func() []int { return holderProcs(stateDir) })

	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak: %d sessions created and stopped, %d at a time\n%8s %9s %9s %5s %8s %8s\n", n, soakWorkers, "sessions", "elapsed", "RSS MiB", "fds", "threads", "holders")
	for _, s := range samples {
		fmt.Fprintf(&b, "%8d %9s %9.1f %5d %8d %8d\n", s.iter, s.elapsed.Round(100*time.Millisecond), float64(s.rssKB)/1024, s.fds, s.threads, s.holdersNow)
	}
	t.Log(b.String())

	base := samples[1] // after the warm-up
	end := samples[len(samples)-1]
	if end.fds > base.fds+fdSlack {
		t.Errorf("fds grew from %d (after %d sessions) to %d (after %d): %v", base.fds, base.iter, end.fds, end.iter, fdTargets(pid))
	}
	if end.threads > base.threads+threadSlack {
		t.Errorf("threads grew from %d (after %d sessions) to %d (after %d)", base.threads, base.iter, end.threads, end.iter)
	}
	if binRace {
		t.Logf("RSS not checked: the server runs under the race detector (CONSOLE_MCP_TEST_NORACE=1 checks it)")
	} else if float64(end.rssKB) > float64(base.rssKB)*(1+soakRSSGrowth) {
		t.Errorf("RSS grew from %d KiB (after %d sessions) to %d KiB (after %d): more than %.0f%%", base.rssKB, base.iter, end.rssKB, end.iter, soakRSSGrowth*100)
	}
	if len(holders) > 0 {
		t.Errorf("%d holders remain after every session stopped: %v", len(holders), holders)
	}
}

// soakRound creates and stops sessions from..to-1 with soakWorkers
// workers and returns what went wrong.
func soakRound(c *client.Client, from, to int) []string {
	jobs := make(chan int)
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for range soakWorkers {
		wg.Go(func() {
			for i := range jobs {
				if err := soakOne(c, i); err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("session %d: %v", i, err))
					mu.Unlock()
				}
			}
		})
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return failures
}

// soakOne creates a session, waits for its first output and stops it.
func soakOne(c *client.Client, i int) error {
	ready := fmt.Sprintf("soak-%d-ready", i)
	r, err := soakCall(c, "console_create_session", map[string]any{"command": "/bin/sh", "args": []string{"-c", "echo " + ready + "; exec sleep 600"}})
	if err != nil {
		return err
	}
	id, _ := r["session_id"].(string)
	r, err = soakCall(c, "console_wait_for_output", map[string]any{"session_id": id, "cursor": 0, "pattern": ready, "timeout_ms": 30000})
	if err != nil {
		return err
	}
	if r["matched"] != true {
		return fmt.Errorf("%s never printed %s: %v", id, ready, r)
	}
	r, err = soakCall(c, "console_stop_session", map[string]any{"session_id": id, "grace_ms": 2000})
	if err != nil {
		return err
	}
	if r["status"] != "stopped" {
		return fmt.Errorf("%s: stop says %v", id, r)
	}
	return nil
}

// soakCall is call for worker goroutines: it returns errors instead of
// failing the test.
func soakCall(c *client.Client, name string, args map[string]any) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if res.IsError {
		var text strings.Builder
		for _, ct := range res.Content {
			if tc, ok := ct.(mcp.TextContent); ok {
				text.WriteString(tc.Text)
			}
		}
		return nil, fmt.Errorf("%s: error result: %s", name, text.String())
	}
	raw, err := json.Marshal(res.StructuredContent)
	if len(res.RawStructuredContent) > 0 {
		raw = res.RawStructuredContent
	}
	var out map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &out)
	}
	if err != nil || out == nil {
		return nil, errors.Join(fmt.Errorf("%s: no structured content", name), err)
	}
	return out, nil
}

// The helpers below read /proc (Linux): fds, memory, parents, command lines.

// fdCount counts the open fds of pid.
func fdCount(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("list the fds of %d: %v", pid, err)
	}
	return len(ents)
}

// fdTargets counts the fds of pid by what they point at, for a failure
// message.
func fdTargets(pid int) map[string]int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	m := map[string]int{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if i := strings.IndexByte(target, ':'); i > 0 && !strings.HasPrefix(target, "/") {
			target = target[:i] // socket:[123] -> socket
		}
		m[target]++
	}
	return m
}

// procStatus reads the numeric fields of /proc/pid/status (kB for sizes).
func procStatus(t testing.TB, pid int) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the status of %d: %v", pid, err)
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if f := strings.Fields(v); len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				m[k] = n
			}
		}
	}
	return m
}

// procPPid is the parent of pid, if pid exists.
func procPPid(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 2 {
		return 0, false
	}
	p, err := strconv.Atoi(f[1])
	return p, err == nil
}

// procArgs is the command line of pid.
func procArgs(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// isHolder reports whether pid is a holder (console-mcp ptyhost, this test
// run's build of either image) of a session in stateDir.
func isHolder(pid int, stateDir string) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if exe = strings.TrimSuffix(exe, " (deleted)"); err != nil || (exe != binPath && exe != holderBinPath) {
		return false
	}
	args := procArgs(pid)
	return slices.Contains(args, "ptyhost") && slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, stateDir) })
}

// holderProcs lists the holders of sessions in stateDir.
func holderProcs(stateDir string) []int {
	return procsWhere(func(pid int) bool { return isHolder(pid, stateDir) })
}

// procsWithArg lists the processes with an argument containing s.
func procsWithArg(s string) []int {
	return procsWhere(func(pid int) bool {
		return slices.ContainsFunc(procArgs(pid), func(a string) bool { return strings.Contains(a, s) })
	})
}

func procsWhere(match func(pid int) bool) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(string(st[i+1:]), " Z") {
				continue // a zombie runs nothing
			}
		}
		if match(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
