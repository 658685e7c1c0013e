package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// benchMetrics are the metrics of one benchmark: unit -> value.
type benchMetrics map[string]float64

var procsSuffix = regexp.MustCompile(`-\d+$`)

// goTestBench runs `go test -run ^$ -bench ...` in the module and parses
// its result lines: benchmark name (without the -GOMAXPROCS suffix) ->
// metrics.
func (r *runner) goTestBench(args ...string) (map[string]benchMetrics, string, error) {
	full := append([]string{"test", "-run", "^$"}, args...)
	cmdline := "go " + strings.Join(full, " ")
	cmd := exec.CommandContext(r.ctx, "go", full...)
	cmd.Dir = r.modRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, cmdline, fmt.Errorf("%s: %w\n%s", cmdline, err, out)
	}
	return parseBench(out), cmdline, nil
}

// parseBench parses `go test -bench` output lines:
// BenchmarkName-N  iterations  value unit  value unit ...
func parseBench(out []byte) map[string]benchMetrics {
	res := map[string]benchMetrics{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		m := benchMetrics{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = v
		}
		res[procsSuffix.ReplaceAllString(f[0], "")] = m
	}
	return res
}

// metric looks up a benchmark's metric.
func metric(res map[string]benchMetrics, bench, unit string) (float64, error) {
	v, ok := res[bench][unit]
	if !ok {
		return 0, fmt.Errorf("no %s %s in the benchmark output", bench, unit)
	}
	return v, nil
}

// benchValidate cites mcphttp's BenchmarkValidate: the session id check
// cannot be isolated from outside the server.
func (r *runner) benchValidate() error {
	res, cmdline, err := r.goTestBench("-bench", "Validate", "-benchtime", "20000x", "./mcphttp")
	if err != nil {
		return err
	}
	validate, err := metric(res, "BenchmarkValidate/IDManager.Validate", "ns/op")
	if err != nil {
		return err
	}
	bare, err := metric(res, "BenchmarkValidate/ping/mcp-go-only", "ns/op")
	if err != nil {
		return err
	}
	guarded, err := metric(res, "BenchmarkValidate/ping/through-guard", "ns/op")
	if err != nil {
		return err
	}
	us := func(ns float64) float64 { return ns / 1000 }
	r.add(newRow("session-id validation (IDManager.Validate)", us(validate), "µs", 0, "", valueBelow(50, "µs"),
		"`"+cmdline+"`: the in-memory check a request makes (SQLite only on its flush triggers); not measurable apart from the whole request from outside"))
	r.add(newRow("HTTP guard per request (Host, Origin, body cap, session gate)", us(guarded), "µs", us(bare), "the same ping, mcp-go handler alone", overAtMost(50, "µs"),
		"`"+cmdline+"`: ping/through-guard vs ping/mcp-go-only, in-process ServeHTTP of a ping on a live session"))
	return nil
}

// benchPersist cites the sessions package's BenchmarkCapture: the server
// cannot run without its store, so persistence on vs off is measured in
// process, with and without the SQLite store, in one run.
func (r *runner) benchPersist() error {
	args, size := []string{"-bench", "Capture", "-benchtime", "5x", "./sessions"}, "100000000"
	if r.cfg.quick {
		args, size = []string{"-short", "-bench", "Capture", "-benchtime", "1x", "./sessions"}, "20000000"
	}
	res, cmdline, err := r.goTestBench(args...)
	if err != nil {
		return err
	}
	for _, v := range []struct{ name, on, off string }{
		{"holders (the default)", "holder+sqlite-s", "holder-s"},
		{"in-process PTY", "inprocess+sqlite-s", "inprocess-s"},
	} {
		on, err := metric(res, "BenchmarkCapture", v.on)
		if err != nil {
			return err
		}
		off, err := metric(res, "BenchmarkCapture", v.off)
		if err != nil {
			return err
		}
		r.add(newRow("persistence on vs off, capture, "+v.name, on, "s", off, "no store", ratioAtMost(1.1),
			"`"+cmdline+"`: a session whose program is `head -c "+size+" /dev/zero | tr '\\0' a` in a sessions.Manager (in this process of the test) with and without the SQLite store, waited for until it exits; best of the runs, taking turns with a bare PTY and the other variants in an order that rotates every run"))
	}
	return nil
}
