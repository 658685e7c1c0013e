// Command console-mcp-ptyhost is console-mcp's session holder in a binary of
// its own: `console-mcp-ptyhost ptyhost -dir RUNDIR ID` does exactly what
// `console-mcp ptyhost -dir RUNDIR ID` does (package ptyhost's Main), from an
// image of about 4 MB instead of the server's 19 MB, so each of the
// long-lived holders keeps about a third of the memory resident.
//
// Nobody runs it by hand. A console-mcp server that finds it beside its own
// executable, answering -version with the same holder protocol, starts its
// holders from it (with the server's path as argv[0], so ps shows
// `console-mcp ptyhost ...` either way); otherwise the server runs its own
// binary as the holder. Install it with the server:
//
//	go install ./cmd/console-mcp ./cmd/console-mcp-ptyhost
package main

import (
	"fmt"
	"os"

	"github.com/console-mcp/console-mcp/ptyhost"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "ptyhost" {
		fmt.Fprintln(os.Stderr, "usage: console-mcp-ptyhost ptyhost -dir RUNDIR SESSION-ID (started by the console-mcp server)\n       console-mcp-ptyhost ptyhost -version")
		os.Exit(2)
	}
	os.Exit(ptyhost.Main(os.Args[2:]))
}
