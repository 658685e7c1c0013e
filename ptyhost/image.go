package ptyhost

// The holder's executable image. Every holder lives as long as its session,
// so its memory is paid once per session: run from the full console-mcp
// binary (SQLite, mcp-go, SSH, JSON Schema) a holder maps 13-15 MB of it,
// because Linux maps the page cache's large folios whole and the package
// initializers touch most of the binary. cmd/console-mcp-ptyhost is the same
// holder (this package's Main) in a binary of about 4 MB, which an idle
// holder keeps resident at about 5 MB. The server looks for it beside its
// own executable and falls back to `console-mcp ptyhost` when it is not
// there or speaks another protocol; both behave the same.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
)

// HolderImageName is the file name of the holder-only binary
// (cmd/console-mcp-ptyhost) that FindHolderImage looks for.
const HolderImageName = "console-mcp-ptyhost"

// probeTimeout bounds running the holder-only binary's -version.
const probeTimeout = 5 * time.Second

// FindHolderImage returns the executable holders are run from: the
// holder-only binary beside serverExe when it is there and answers -version
// with this build's protocol, else serverExe itself. why says which and why,
// for the server's log; an unusable holder-only binary makes warn true.
func FindHolderImage(ctx context.Context, serverExe string) (exe, why string, warn bool) {
	name := HolderImageName
	small := filepath.Join(filepath.Dir(serverExe), name)
	if _, err := os.Stat(small); err != nil {
		return serverExe, fmt.Sprintf("no %s beside the server: holders run as `%s ptyhost` (build it beside the server for holders of about a third the memory: go build -o %s ./cmd/console-mcp-ptyhost)", name, filepath.Base(serverExe), filepath.Dir(serverExe)), false
	}
	got, err := probeImage(ctx, small)
	if err != nil {
		return serverExe, fmt.Sprintf("%s is not usable (%v): holders run as `%s ptyhost`; rebuild it from the same source as the server", small, err, filepath.Base(serverExe)), true
	}
	return small, fmt.Sprintf("holders run from %s (%s)", small, got), false
}

// probeImage runs `exe ptyhost -version` and checks the protocol it
// reports; it returns the line the binary printed.
func probeImage(ctx context.Context, exe string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "ptyhost", "-version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.WaitDelay = time.Second // a child that keeps stdout open does not hang the probe
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return "", errors.New("-version did not answer in time")
	}
	if err != nil {
		return "", fmt.Errorf("-version: %w", err)
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	var v int
	if _, err := fmt.Sscanf(string(line), "console-mcp ptyhost protocol %d", &v); err != nil {
		return "", fmt.Errorf("-version printed %q, not a protocol version", line[:min(len(line), 80)])
	}
	if v != protocolVersion {
		return "", fmt.Errorf("it speaks holder protocol %d, this server %d", v, protocolVersion)
	}
	return strings.TrimPrefix(string(line), "console-mcp "), nil
}

// buildDescription names this binary's build: module version and, when the
// build recorded it, the VCS revision.
func buildDescription() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "build unknown"
	}
	desc := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			desc += " " + s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			if s.Value == "true" {
				desc += "+modified"
			}
		}
	}
	return desc
}
