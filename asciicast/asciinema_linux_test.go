package asciicast

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"
)

// TestAsciinemaCat checks that asciinema itself reads what Writer writes.
// `asciinema cat` opens /dev/tty, so it runs with a fresh PTY as its
// controlling terminal; its stdout stays a pipe, so the bytes compared are
// exactly the ones it printed.
func TestAsciinemaCat(t *testing.T) {
	bin, err := exec.LookPath("asciinema")
	if err != nil {
		if os.Getenv("CONSOLE_MCP_REQUIRE_TOOLS") == "1" {
			t.Fatal("asciinema not installed and CONSOLE_MCP_REQUIRE_TOOLS=1")
		}
		t.Skip("asciinema not installed")
	}
	path := filepath.Join(t.TempDir(), "demo.cast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, Header{Width: 80, Height: 24, Timestamp: 1700000000, Title: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	s := []byte("$ echo héllo 世界 🙂\r\nhéllo 世界 🙂\r\n")
	for i := range s { // one byte per event: every multi-byte rune is split
		if err := w.WriteOutput(float64(i)*0.001, s[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []Event{{1, Input, "typed"}, {1, Marker, "m1"}, {1, Resize, "100x30"}, {2, Output, "\x1b[1mbold\x1b[0m \"q\"\r\n"}} {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	master, slave := openPTY(t)
	defer master.Close()
	cmd := exec.Command(bin, "cat", path)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	cmd.Stdin = slave
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Run()
	slave.Close()
	if err != nil {
		t.Fatalf("asciinema cat: %v\n%s", err, stderr.Bytes())
	}
	want := string(s) + "\x1b[1mbold\x1b[0m \"q\"\r\n"
	if stdout.String() != want {
		t.Errorf("asciinema cat = %q, want %q", stdout.String(), want)
	}
}

// openPTY opens a pseudo-terminal pair with the standard library only.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		master.Close()
		t.Fatalf("unlock pty: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		master.Close()
		t.Fatalf("get pty number: %v", errno)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	return master, slave
}
