package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// TestQuickExecute runs the command's code in its smallest mode: it builds
// the real binaries, measures the execute figures through real clients,
// prints them and cleans up after itself.
func TestQuickExecute(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "figures.json")
	args := []string{"--quick", "--only", "execute", "--json", jsonPath}
	if raceEnabled {
		args = append(args, "--race")
	}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("decode %s: %v", jsonPath, err)
	}
	want := []string{"execute `true`, stdio, median", "execute `true`, stdio, p99", "holder hop on execute (stdio median)",
		"execute `true`, HTTP, median", "execute `true`, HTTP, p99"}
	if _, err := os.Stat(sshtest.SSHDPath); err == nil {
		want = append(want, "execute `true`, SSH to loopback OpenSSH, median")
	}
	rows := map[string]Row{}
	for _, r := range rep.Rows {
		rows[r.Figure] = r
	}
	for _, fig := range want {
		r, ok := rows[fig]
		if !ok {
			t.Errorf("no row %q in %+v", fig, rep.Rows)
			continue
		}
		if r.Value <= 0 || r.Baseline <= 0 || r.Ratio != r.Value/r.Baseline || r.Method == "" {
			t.Errorf("row %q: %+v", fig, r)
		}
		if !strings.Contains(stdout.String(), "| "+fig+" | ") {
			t.Errorf("the table has no row %q:\n%s", fig, stdout.String())
		}
	}
	if r := rows["execute `true`, stdio, median"]; r.Target != "< 3.00 ms" || r.Holds != map[bool]string{true: "yes", false: "no"}[r.Value < 3] {
		t.Errorf("stdio median target: %+v", r)
	}
	if rep.Machine.CPUs < 1 || rep.Commit == "" || rep.Date == "" {
		t.Errorf("machine, commit or date missing: %+v", rep)
	}
	// Everything it started is gone: its work dir and the holders named by it.
	if _, err := os.Stat(rep.WorkDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir %s left behind: %v", rep.WorkDir, err)
	}
	if pids, err := holderPids(rep.WorkDir); err != nil || len(pids) > 0 {
		t.Errorf("holders left running: %v %v", pids, err)
	}
}

func TestBadCommandLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--only", "nosuch"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown section "nosuch"`) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout %q", stdout.String())
	}
}

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkValidate/ping/mcp-go-only-2         	   20000	     10102 ns/op
BenchmarkValidate/IDManager.Validate-2       	   20000	        71.3 ns/op
BenchmarkCapture-2   	       3	 1234 ns/op	         1.07 holder-s	         1.35 holder+sqlite-s
PASS
`)
	got := parseBench(out)
	for _, tc := range []struct {
		bench, unit string
		want        float64
	}{
		{"BenchmarkValidate/ping/mcp-go-only", "ns/op", 10102},
		{"BenchmarkValidate/IDManager.Validate", "ns/op", 71.3},
		{"BenchmarkCapture", "holder-s", 1.07},
		{"BenchmarkCapture", "holder+sqlite-s", 1.35},
	} {
		if v, err := metric(got, tc.bench, tc.unit); err != nil || v != tc.want {
			t.Errorf("%s %s = %v, %v; want %v", tc.bench, tc.unit, v, err, tc.want)
		}
	}
	if _, err := metric(got, "BenchmarkCapture", "inprocess-s"); err == nil {
		t.Error("a missing metric was found")
	}
}

func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		name            string
		value, baseline float64
		tgt             *target
		want            string
	}{
		{"below", 2.9, 0.3, valueBelow(3, "ms"), "yes"},
		{"not below", 3, 0.3, valueBelow(3, "ms"), "no"},
		{"ratio at most", 1.3, 1, ratioAtMost(1.3), "yes"},
		{"ratio over", 1.31, 1, ratioAtMost(1.3), "no"},
		{"ratio at least", 40, 80, ratioAtLeast(0.5), "yes"},
		{"ratio under", 39, 80, ratioAtLeast(0.5), "no"},
		{"over by at most", 1.7, 1.3, overAtMost(0.5, "ms"), "yes"},
		{"over by more", 1.9, 1.3, overAtMost(0.5, "ms"), "no"},
		{"no target", 5, 1, nil, "n/a"},
	} {
		if got := newRow(tc.name, tc.value, "u", tc.baseline, "", tc.tgt, "m"); got.Holds != tc.want {
			t.Errorf("%s: holds %q, want %q (%+v)", tc.name, got.Holds, tc.want, got)
		}
	}
}
