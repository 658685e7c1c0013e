package ptyhost

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TTYEchoes reports whether the terminal of process pid echoes input (the
// ECHO flag of its termios), by opening its controlling terminal (found
// through /proc/PID/fd/0) without making it ours. A secret typed into an
// echoing terminal would appear in its output.
func TTYEchoes(pid int) (bool, error) {
	tty, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/0")
	if err != nil {
		return false, fmt.Errorf("find the terminal of pid %d: %w", pid, err)
	}
	if !strings.HasPrefix(tty, "/dev/pts/") {
		return false, fmt.Errorf("pid %d reads %s, not a terminal", pid, tty)
	}
	fd, err := unix.Open(tty, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", tty, err)
	}
	defer unix.Close(fd)
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return false, fmt.Errorf("read the termios of %s: %w", tty, err)
	}
	return t.Lflag&unix.ECHO != 0, nil
}
