package vtscreen

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/console-mcp/console-mcp/termtext"
	"github.com/hinshun/vt10x"
)

// benchSize is how much output each benchmark input holds.
const benchSize = 4 << 20

var lines int // keeps the baseline's result alive

// seqInput is `seq` through a PTY: short numbered lines ending in CRLF.
func seqInput() []byte {
	var b bytes.Buffer
	for i := 1; b.Len() < benchSize; i++ {
		fmt.Fprintf(&b, "%d\r\n", i)
	}
	return b.Bytes()
}

// lsInput is `ls -l --color=always` through a PTY: long lines with SGR
// colors around the names, a few of them not ASCII.
func lsInput() []byte {
	colors := []string{"01;34", "01;32", "01;36", "00", "01;31", "01;35"}
	names := []string{"main.go", "README.md", "testdata", "build.sh", "café.txt", "資料.csv", "node_modules", "archive.tar.gz"}
	var b bytes.Buffer
	b.WriteString("total 123456\r\n")
	for i := 0; b.Len() < benchSize; i++ {
		fmt.Fprintf(&b, "-rw-r--r--  1 %s staff %8d Nov %2d 16:%02d \x1b[0m\x1b[%sm%s%d\x1b[0m\r\n",
			[]string{"root", "alice", "bob"}[i%3], i*7919%10000000, i%30+1, i%60,
			colors[i%len(colors)], names[i%len(names)], i)
	}
	return b.Bytes()
}

// feed writes in in the 32 KiB pieces a PTY reader hands over.
func feed(w interface{ Write([]byte) (int, error) }, in []byte) {
	for len(in) > 0 {
		n := min(len(in), 32<<10)
		_, _ = w.Write(in[:n]) // neither emulator fails
		in = in[n:]
	}
}

// BenchmarkWrite measures how fast the emulator takes typical output on a
// 120x40 screen, against in the same run: counting lines (the least any
// reader of the stream does), termtext.Strip (the text form of the same
// output) and hinshun/vt10x (the emulator this package replaces).
func BenchmarkWrite(b *testing.B) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"ls", lsInput()},
		{"seq", seqInput()},
		{"wrap", bytes.Repeat([]byte{'a'}, benchSize)}, // head -c | tr '\0' a: no newline, every row wraps
	}
	for _, in := range inputs {
		b.Run(in.name+"/baseline-count-lines", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				lines = bytes.Count(in.data, []byte{'\n'})
			}
		})
		b.Run(in.name+"/termtext", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				termtext.Strip(in.data)
			}
		})
		b.Run(in.name+"/vtscreen", func(b *testing.B) {
			s := New(120, 40, 0)
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				feed(s, in.data)
			}
			if s.Text() == "" {
				b.Fatal("nothing rendered")
			}
		})
		b.Run(in.name+"/vt10x", func(b *testing.B) {
			t := vt10x.New(vt10x.WithSize(120, 40))
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				feed(t, in.data)
			}
		})
	}
}

// BenchmarkSnapshot measures rendering a full 120x40 screen and 1000 rows of
// scrollback, what one console_get_screen call costs.
func BenchmarkSnapshot(b *testing.B) {
	s := New(120, 40, 0)
	feed(s, lsInput()[:1<<20])
	for b.Loop() {
		if len(s.Snapshot(1000).Scrollback) != 1000 {
			b.Fatal("short scrollback")
		}
	}
}
