// Command console-mcp is an MCP server that gives AI assistants real
// terminals. With no arguments it serves MCP over stdio (what Claude Desktop
// and IDEs launch); `serve` serves streamable HTTP; `sessions`, `logs`,
// `export` and `attach` are the operator's view of the same state dir;
// `ptyhost` is the internal holder process of one local session (the server
// runs it from console-mcp-ptyhost, the same holder in a small binary, when
// that is installed beside it; see ptyhost/image.go).
//
// This file wires the packages together in one visible place: persist (the
// SQLite store), ptyhost and sshhost (the backends), sessions (the domain),
// tools (the MCP surface) and mcphttp (the HTTP transport).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `console-mcp: real terminals for AI assistants, over MCP.

Usage:
  console-mcp [flags]              serve MCP over stdio (what Claude Desktop launches)
  console-mcp serve [flags]        serve MCP over streamable HTTP at /mcp
  console-mcp sessions [flags]     list the sessions in the state dir
  console-mcp logs ID [--follow]   print a session's output
  console-mcp export ID [--format asciicast|text]
                                   write a session's history (asciicast plays in asciinema)
  console-mcp attach ID            attach this terminal to a live session (Ctrl-\ twice detaches)
  console-mcp version              print the version

Run 'console-mcp COMMAND --help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "":
		err = runStdio(args, stdin, stdout, stderr)
	case "serve":
		err = runServe(args, stderr)
	case "sessions":
		err = runSessions(args, stdout, stderr)
	case "logs":
		err = runLogs(args, stdout, stderr)
	case "export":
		err = runExport(args, stdout, stderr)
	case "attach":
		err = runAttach(args, stderr)
	case "ptyhost":
		return runPtyhost(args)
	case "version":
		fmt.Fprintln(stdout, "console-mcp", version)
	case "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "console-mcp: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "console-mcp %s: %v\n", cmd, err)
			return 2
		}
		fmt.Fprintf(stderr, "console-mcp: %v\n", err)
		return 1
	}
	return 0
}

// usageError is a bad command line.
type usageError struct{ error }

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and wraps errors as usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// newLogger logs to stderr (stdout belongs to MCP) at level.
func newLogger(stderr io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})), nil
}
