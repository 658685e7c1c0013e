package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// procStatusKB returns a "NNN kB" field of /proc/PID/status.
func procStatusKB(pid int, key string) (int64, error) {
	return procFieldKB(fmt.Sprintf("/proc/%d/status", pid), key)
}

// procPssKB is the process's proportional set size: its private memory
// plus its share of pages it shares (a holder's share of the binary).
func procPssKB(pid int) (int64, error) {
	return procFieldKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss")
}

func procFieldKB(path, key string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %s: %q", path, key, v)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// procPPid returns the parent of pid.
func procPPid(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("status of %d: no PPid", pid)
}

// procFDs counts the open files of pid.
func procFDs(pid int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("list fds of %d: %w", pid, err)
	}
	return len(fds), nil
}

// holderPids lists the holder processes (argv holds "ptyhost") whose argv
// contains substr.
func holderPids(substr string) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []int
	for _, e := range ents {
		pid, ok := procPidOf(e.Name())
		if !ok {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue // it ended meanwhile
		}
		if bytes.Contains(b, []byte("\x00ptyhost\x00")) && bytes.Contains(b, []byte(substr)) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// isHolder reports whether pid is a holder process.
func isHolder(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(b, []byte("\x00ptyhost\x00"))
}

// setPdeathsig kills cmd's process when this one dies, even by kill -9.
func setPdeathsig(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// memTotal is the machine's memory.
func memTotal() string {
	kb, err := procFieldKB("/proc/meminfo", "MemTotal")
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

// cpuModel is the first CPU's model name.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// procStat is /proc/PID/stat (state, pgrp, session, tty, tpgid, ...), for
// a diagnostic.
func procStat(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}
