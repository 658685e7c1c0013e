package persist

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/console-mcp/console-mcp/sessions"
)

// TestCodecRoundTrip stores compressible and incompressible output and
// reads every byte back through ReadOutput and Chunks; the compressible
// rows take less room than their bytes.
func TestCodecRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	rnd := rand.New(rand.NewPCG(3, 4))
	var all []byte
	for i := range 40 {
		var data []byte
		switch i % 3 {
		case 0: // terminal-like text
			data = []byte(strings.Repeat("\x1b[32mok\x1b[0m  build/step-"+string(rune('a'+i))+"\r\n", 40))
		case 1: // random bytes
			data = make([]byte, 3000)
			for j := range data {
				data[j] = byte(rnd.Uint32())
			}
		default: // small
			data = []byte("$ ")
		}
		if err := s.AppendOutput("s-c", 1, sessions.Chunk{Offset: int64(len(all)), At: t0, Data: data}); err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got, start, err := s.ReadOutput("s-c", 0, len(all)+10)
	if err != nil || start != 0 || !bytes.Equal(got, all) {
		t.Fatalf("ReadOutput: %d bytes at %d (%v), want %d", len(got), start, err, len(all))
	}
	for _, from := range []int64{1, 1234, int64(len(all)) - 5} {
		got, _, _ := s.ReadOutput("s-c", from, 100)
		if !bytes.Equal(got, all[from:min(int64(len(all)), from+100)]) {
			t.Errorf("ReadOutput from %d differs", from)
		}
	}
	var chunked []byte
	if err := s.Chunks("s-c", 0, func(c sessions.Chunk) bool { chunked = append(chunked, c.Data...); return true }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chunked, all) {
		t.Errorf("Chunks gave %d bytes, want %d", len(chunked), len(all))
	}
	var size, stored int64
	if err := s.db.QueryRow(`SELECT sum(size), sum(length(data)) FROM output WHERE session = 's-c'`).Scan(&size, &stored); err != nil {
		t.Fatal(err)
	}
	if size != int64(len(all)) || stored >= size {
		t.Errorf("size %d stored %d for %d bytes: nothing was compressed", size, stored, len(all))
	}
}
