package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/console-mcp/console-mcp/persist"
	"github.com/console-mcp/console-mcp/ptyhost"
	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/termtext"
)

// The operator CLI reads the same database as the servers; it never starts
// or adopts sessions.

func openStore(f stateFlags, stderr io.Writer) (*persist.Store, error) {
	logger, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return nil, err
	}
	dir, err := f.dir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, persist.DBName)); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no console-mcp database in %s (no sessions yet, or use --state-dir)", dir)
	}
	return persist.Open(dir, persist.Options{}, logger)
}

func runSessions(args []string, stdout, stderr io.Writer) error {
	var f stateFlags
	fs := newFlagSet("sessions", "console-mcp sessions [--all] [flags]", stderr)
	f.register(fs)
	all := fs.Bool("all", false, "also list ended sessions")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := openStore(f, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	recs, err := store.Sessions(*all)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		fmt.Fprintln(stdout, "no sessions (use --all to include ended ones)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tSTATUS\tGEN\tPID\tEXIT\tOUTPUT\tCREATED\tLAST ACTIVITY\tCWD\tCOMMAND")
	for _, r := range recs {
		exit := "-"
		if r.Exit != nil {
			exit = fmt.Sprint(r.Exit.Code)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.ID, dash(r.Spec.Name), r.Spec.Kind, r.Status, r.Generation, r.Pid, exit, humanBytes(r.OutputEnd),
			r.CreatedAt.Local().Format("2006-01-02 15:04"), ago(r.LastActivityAt), dash(r.Cwd), r.Spec.CommandLine())
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func runLogs(args []string, stdout, stderr io.Writer) error {
	var f stateFlags
	fs := newFlagSet("logs", "console-mcp logs ID [--follow] [--raw] [flags]", stderr)
	f.register(fs)
	follow := fs.Bool("follow", false, "keep printing new output until the session ends (Ctrl-C stops)")
	raw := fs.Bool("raw", false, "print the bytes as written (escape sequences included) instead of text")
	id, store, err := idAndStore(fs, &f, args, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	rec, err := store.Session(sessions.ID(id))
	if err != nil {
		return fmt.Errorf("session %s: %w (list them with 'console-mcp sessions --all')", id, err)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	var off int64
	print := func() error {
		var werr error
		err := store.Chunks(rec.ID, off, func(c sessions.Chunk) bool {
			data := c.Data
			if c.Offset < off { // a chunk that began before where we stopped
				data = data[off-c.Offset:]
			}
			if *raw {
				_, werr = w.Write(data)
			} else {
				_, werr = w.Write(termtext.Strip(data))
			}
			off = c.Offset + int64(len(c.Data))
			return werr == nil
		})
		if err == nil {
			err = werr
		}
		if err == nil {
			err = w.Flush()
		}
		return err
	}
	if err := print(); err != nil {
		return err
	}
	if !*follow {
		return nil
	}
	ctx, cancel := signalContext()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		if err := print(); err != nil {
			return err
		}
		if r, err := store.Session(rec.ID); err == nil && !r.Status.Live() {
			if end, err := store.OutputEnd(rec.ID); err == nil && off >= end {
				fmt.Fprintf(stderr, "[session %s %s]\n", rec.ID, r.Status)
				return nil
			}
		}
	}
}

// idAndStore parses a command line of one session id and flags, and opens
// the store; the caller closes it.
func idAndStore(fs *flag.FlagSet, f *stateFlags, args []string, stderr io.Writer) (string, *persist.Store, error) {
	id, err := parseWithID(fs, args)
	if err != nil {
		return "", nil, err
	}
	store, err := openStore(*f, stderr)
	return id, store, err
}

// parseWithID parses flags around one session id argument.
func parseWithID(fs *flag.FlagSet, args []string) (string, error) {
	// Accept the id before or after the flags.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", usageError{err}
	}
	if id == "" && fs.NArg() > 0 {
		// Flags may follow the id too: parsing stopped at it.
		id = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", err
			}
			return "", usageError{err}
		}
	}
	if fs.NArg() > 0 {
		return "", usageError{fmt.Errorf("unexpected argument %q after the session id", fs.Arg(0))}
	}
	if id == "" {
		return "", usageError{errors.New("missing session id (list them with 'console-mcp sessions --all')")}
	}
	return id, nil
}

func runExport(args []string, stdout, stderr io.Writer) error {
	var f stateFlags
	fs := newFlagSet("export", "console-mcp export ID [--format asciicast|text] [-o FILE] [flags]", stderr)
	f.register(fs)
	format := fs.String("format", "asciicast", "asciicast (plays in asciinema) or text")
	outPath := fs.String("o", "", "write to FILE instead of stdout")
	id, store, err := idAndStore(fs, &f, args, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	mgr := sessions.NewManager(nil, store, sessions.Options{})
	defer mgr.Close()
	var w io.Writer = stdout
	if *outPath != "" {
		file, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	bw := bufio.NewWriter(w)
	if err := mgr.Export(sessions.ID(id), *format, bw); err != nil {
		return err
	}
	return bw.Flush()
}

func runAttach(args []string, stderr io.Writer) error {
	var f stateFlags
	fs := newFlagSet("attach", "console-mcp attach ID [flags]   (Ctrl-\\ twice detaches)", stderr)
	f.register(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	dir, err := f.dir()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	return ptyhost.AttachTerminal(ctx, filepath.Join(dir, "run"), id, os.Stdin, os.Stdout)
}
