//go:build !linux

package sshtest

import (
	"os/exec"
	"strconv"
	"strings"
)

// childPIDs lists the processes whose parent is ppid, from ps(1).
func childPIDs(ppid int) []int {
	out, err := exec.Command("ps", "-A", "-o", "pid=,ppid=").Output()
	if err != nil {
		return nil
	}
	var pids []int
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if p, _ := strconv.Atoi(f[1]); p == ppid {
			pid, _ := strconv.Atoi(f[0])
			pids = append(pids, pid)
		}
	}
	return pids
}
