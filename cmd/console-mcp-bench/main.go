// Command console-mcp-bench prints console-mcp's figures beside their
// baselines, all measured in one run on this machine, as a Markdown table
// (and JSON with --json):
//
//	go run ./cmd/console-mcp-bench [--quick] [--only execute,capture,...] [--json FILE]
//
// It builds the server (./cmd/console-mcp) and the yardstick
// (internal/mcpbaseline, an mcp-go server with nothing behind its tools)
// with `go build` into a temporary directory, starts the real server
// binaries, drives them through the mcp-go client, and compares each figure
// with a baseline taken in the same run, interleaved where the two can take
// turns, because a shared machine's absolute timings wander. Every row names
// its method and says whether the target holds.
//
// Everything it starts (servers, their detached holder processes, sshd, a
// tmux server on its own socket) is stopped when it ends, also on an error
// or Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usage = `console-mcp-bench: console-mcp's figures beside their baselines, measured in one run.

Usage:
  go run ./cmd/console-mcp-bench [flags]

Run it from inside the console-mcp module: it builds ./cmd/console-mcp and
internal/mcpbaseline itself. The table goes to stdout, progress to stderr.

Sections (--only, --skip): %s

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	quick     bool
	race      bool
	only      map[string]bool
	skip      map[string]bool
	jsonPath  string
	rssLevels []int
	// Sizes, set from quick.
	execN         int // execute round trips per transport
	tmuxN         int
	captureBytes  int64
	captureRounds int
	readBackBytes int
	createN       int // create + first prompt samples
	fleetN        int // sessions of create-to-ready and restart
	httpClients   int
	httpCalls     int
}

// sections in the order they run.
var sections = []string{"execute", "tmux", "capture", "readback", "create", "restart", "rss", "http", "validate", "persist"}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("console-mcp-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage, strings.Join(sections, ", "))
		fs.PrintDefaults()
	}
	fs.BoolVar(&c.quick, "quick", false, "fewer iterations and smaller outputs (each row's method says the sizes used)")
	fs.BoolVar(&c.race, "race", false, "build the binaries with -race (for the smoke test: the figures are then meaningless)")
	only := fs.String("only", "", "comma-separated sections to run (default: all)")
	skip := fs.String("skip", "", "comma-separated sections to leave out")
	fs.StringVar(&c.jsonPath, "json", "", "also write the results as JSON to this file")
	levels := fs.String("rss-levels", "10,100,1000", "idle session counts at which the rss section measures memory")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.only, err = sectionSet(*only); err != nil {
		return c, fmt.Errorf("--only: %w", err)
	}
	if c.skip, err = sectionSet(*skip); err != nil {
		return c, fmt.Errorf("--skip: %w", err)
	}
	for f := range strings.SplitSeq(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 3000 {
			return c, fmt.Errorf("--rss-levels %q: use counts from 1 to 3000", *levels)
		}
		c.rssLevels = append(c.rssLevels, n)
	}
	c.execN, c.tmuxN, c.captureBytes, c.captureRounds = 400, 150, 100_000_000, 3
	c.readBackBytes, c.createN, c.fleetN, c.httpClients, c.httpCalls = 8<<20, 20, 100, 200, 50
	if c.quick {
		c.execN, c.tmuxN, c.captureBytes, c.captureRounds = 40, 20, 20_000_000, 1
		c.readBackBytes, c.createN, c.fleetN, c.httpClients, c.httpCalls = 1<<20, 5, 20, 20, 10
		c.rssLevels = slices.DeleteFunc(c.rssLevels, func(n int) bool { return n > 100 })
	}
	return c, nil
}

func sectionSet(list string) (map[string]bool, error) {
	set := map[string]bool{}
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(sections, f) {
			return nil, fmt.Errorf("unknown section %q: use %s", f, strings.Join(sections, ", "))
		}
		set[f] = true
	}
	return set, nil
}

func (c config) wants(section string) bool {
	return (len(c.only) == 0 || c.only[section]) && !c.skip[section]
}

// run runs the command and returns its exit status: 0 when every section
// measured (targets that do not hold are figures, not failures), 1 when a
// section failed, 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "console-mcp-bench:", err)
		return 2
	}
	started := time.Now()
	r, err := newRunner(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "console-mcp-bench:", err)
		return 1
	}
	rep := report{Command: "go run ./cmd/console-mcp-bench " + strings.Join(args, " "), WorkDir: r.root}
	rep.Machine, rep.Date, rep.Commit = machineInfo(r.modRoot), started.UTC().Format(time.RFC3339), gitCommit(r.modRoot)
	if err := r.build(); err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	} else {
		r.runSections()
	}
	if err := r.Close(); err != nil {
		r.errs = append(r.errs, fmt.Errorf("clean up: %w", err))
	}
	rep.Rows = r.rows
	for _, e := range r.errs {
		rep.Errors = append(rep.Errors, e.Error())
	}
	rep.ElapsedS = time.Since(started).Seconds()
	rep.writeMarkdown(stdout)
	if cfg.jsonPath != "" {
		if err := rep.writeJSON(cfg.jsonPath); err != nil {
			fmt.Fprintln(stderr, "console-mcp-bench:", err)
			return 1
		}
	}
	if len(rep.Errors) > 0 {
		return 1
	}
	return 0
}
