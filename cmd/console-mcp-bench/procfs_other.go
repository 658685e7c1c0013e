//go:build !linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// errNoProc: the memory and process figures read /proc, which only Linux has.
var errNoProc = errors.New("needs Linux /proc")

func procStatusKB(int, string) (int64, error) { return 0, errNoProc }
func procPssKB(int) (int64, error)            { return 0, errNoProc }
func procPPid(int) (int, error)               { return 0, errNoProc }
func procFDs(int) (int, error)                { return 0, errNoProc }
func isHolder(int) bool                       { return false }
func procStat(int) string                     { return errNoProc.Error() }
func setPdeathsig(*exec.Cmd)                  {}
func memTotal() string                        { return "unknown" }
func cpuModel() string                        { return "unknown" }

// holderPids lists the holder processes whose command line contains
// substr, from ps.
func holderPids(substr string) ([]int, error) {
	out, err := exec.Command("ps", "-axww", "-o", "pid=,command=").Output()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if pid, ok := procPidOf(f); ok && strings.Contains(rest, " ptyhost ") && strings.Contains(rest, substr) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
