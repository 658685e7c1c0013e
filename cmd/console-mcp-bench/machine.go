package main

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machineInfo describes this machine for the report.
func machineInfo(modRoot string) machine {
	return machine{
		CPUs:   runtime.NumCPU(),
		CPU:    cpuModel(),
		Memory: memTotal(),
		Kernel: output(modRoot, "uname", "-srm"),
		Go:     strings.TrimPrefix(output(modRoot, "go", "version"), "go version "),
	}
}

// gitCommit is HEAD of the module's checkout, "+dirty" when files differ.
func gitCommit(modRoot string) string {
	c := output(modRoot, "git", "rev-parse", "--short=12", "HEAD")
	if c == "unknown" {
		return c
	}
	if st := output(modRoot, "git", "status", "--porcelain"); st != "" && st != "unknown" {
		c += "+dirty"
	}
	return c
}

// output runs a command in dir and returns its trimmed stdout, or
// "unknown" when it fails.
func output(dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
