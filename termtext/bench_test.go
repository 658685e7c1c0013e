package termtext

import (
	"bytes"
	"strings"
	"testing"
)

// benchInput is about 1 MiB of shell-like output: colored prompts, ls
// --color lines, plain log lines and a progress bar redrawn with '\r'.
var benchInput = func() []byte {
	var b bytes.Buffer
	for b.Len() < 1<<20 {
		b.WriteString("\x1b]0;user@host: ~/src\x07\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ls --color\r\n")
		b.WriteString("\x1b[0m\x1b[01;34mcmd\x1b[0m  go.mod  go.sum  \x1b[01;32mrun.sh\x1b[0m  \x1b[01;36mlink\x1b[0m\r\n")
		for i := 0; i < 8; i++ {
			b.WriteString("2024-05-01T12:00:00Z INFO request handled path=/api/v1/items status=200 duration=1.2ms\r\n")
		}
		b.WriteString(strings.Repeat("fetching 10%\r\x1b[K", 3) + "done\r\n")
	}
	return b.Bytes()
}()

// BenchmarkStrip measures Strip and StripMap; the Clone sub-benchmark is
// the baseline (bytes.Clone of the same input), measured in the same run.
func BenchmarkStrip(b *testing.B) {
	b.Run("Clone", func(b *testing.B) {
		b.SetBytes(int64(len(benchInput)))
		for b.Loop() {
			_ = bytes.Clone(benchInput)
		}
	})
	b.Run("Strip", func(b *testing.B) {
		b.SetBytes(int64(len(benchInput)))
		for b.Loop() {
			_ = Strip(benchInput)
		}
	})
	b.Run("StripMap", func(b *testing.B) {
		b.SetBytes(int64(len(benchInput)))
		for b.Loop() {
			_, _ = StripMap(benchInput)
		}
	})
}
