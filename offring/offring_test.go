package offring

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestRing(t *testing.T) {
	tests := []struct {
		name      string
		limit     int
		at        int64
		writes    []string
		wantStart int64
		wantEnd   int64
		wantHeld  string
	}{
		{"empty", 16, 0, nil, 0, 0, ""},
		{"starts at an offset", 16, 100, []string{"abc"}, 100, 103, "abc"},
		{"fills exactly", 4, 0, []string{"ab", "cd"}, 0, 4, "abcd"},
		{"wraps", 4, 0, []string{"abc", "def"}, 2, 6, "cdef"},
		{"one write larger than the ring", 4, 10, []string{"0123456789"}, 16, 20, "6789"},
		{"many small", 3, 0, []string{"a", "b", "c", "d", "e"}, 2, 5, "cde"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.limit, tt.at)
			for _, w := range tt.writes {
				r.Write([]byte(w))
			}
			if r.Start() != tt.wantStart || r.End() != tt.wantEnd {
				t.Errorf("start/end = %d/%d, want %d/%d", r.Start(), r.End(), tt.wantStart, tt.wantEnd)
			}
			if got := string(r.Copy(r.Start(), 1<<20)); got != tt.wantHeld {
				t.Errorf("held %q, want %q", got, tt.wantHeld)
			}
		})
	}
}

func TestSkipAndOutside(t *testing.T) {
	r := New(8, 0)
	r.Write([]byte("hello"))
	r.Skip(10)
	if r.Start() != 15 || r.End() != 15 || len(r.Copy(0, 5)) != 0 {
		t.Fatalf("after skip: %d..%d", r.Start(), r.End())
	}
	r.Write([]byte("xy"))
	if got := string(r.Copy(15, 10)); got != "xy" {
		t.Errorf("after skip and write: %q", got)
	}
	if n := r.ReadAt(make([]byte, 4), 17); n != 0 {
		t.Errorf("read at end copied %d", n)
	}
}

// TestAgainstModel writes random pieces into small and large rings and
// compares every readable range with a plain slice of the whole stream.
func TestAgainstModel(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, limit := range []int{1, 7, 4096, 5000, 70000} {
		r := New(limit, 0)
		var all []byte
		for i := 0; i < 300; i++ {
			p := make([]byte, rnd.IntN(9000))
			for j := range p {
				p[j] = byte(rnd.IntN(256))
			}
			r.Write(p)
			all = append(all, p...)
			if r.End() != int64(len(all)) || r.End()-r.Start() > int64(limit) {
				t.Fatalf("limit %d: start %d end %d after %d bytes", limit, r.Start(), r.End(), len(all))
			}
			from := r.Start() + int64(rnd.IntN(int(r.End()-r.Start())+1))
			n := rnd.IntN(limit + 1)
			want := all[from:min(int64(len(all)), from+int64(n))]
			if got := r.Copy(from, n); !bytes.Equal(got, want) {
				t.Fatalf("limit %d: copy(%d,%d) differs", limit, from, n)
			}
		}
	}
}

func TestStaysSmallWhenIdle(t *testing.T) {
	r := New(8<<20, 0)
	r.Write([]byte("$ "))
	if len(r.buf) != minSize {
		t.Errorf("buffer of %d bytes after a prompt, want %d", len(r.buf), minSize)
	}
}
