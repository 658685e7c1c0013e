package ptyhost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// The holder's hop is measured against the in-process Local backend in
// the same run, alternating the two within each iteration so that both see
// the same load on a shared machine; the figures to read are the ratio and
// the difference.

// BenchmarkCapture reads 20 MB of unbroken output through the PTY, once
// with each backend per iteration: raw PTY speed with Local, the same plus
// the hop with the holder. Starting the program is not timed (it waits for
// a newline first).
func BenchmarkCapture(b *testing.B) {
	const size = 20_000_000
	script := fmt.Sprintf(`stty -echo; read x; head -c %d /dev/zero | tr '\0' a`, size)
	local, held := &Local{}, newTestHolders(b, HolderOptions{})
	buf := make([]byte, 32<<10)
	capture := func(be sessions.Backend) time.Duration {
		p, err := be.Start(context.Background(), shReq(newID(), script))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		t0 := time.Now()
		p.Write([]byte("\n"))
		n := 0
		for {
			k, err := p.Read(buf)
			n += k
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		d := time.Since(t0)
		if n < size || n > size+2 { // the newline may be echoed
			b.Fatalf("read %d bytes, want %d", n, size)
		}
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
		return d
	}
	var tl, th time.Duration
	for b.Loop() {
		tl += capture(local)
		th += capture(held)
	}
	mbs := func(d time.Duration) float64 { return float64(b.N) * size / 1e6 / d.Seconds() }
	b.ReportMetric(mbs(tl), "local-MB/s")
	b.ReportMetric(mbs(th), "holder-MB/s")
	b.ReportMetric(mbs(th)/mbs(tl), "holder/local")
}

// BenchmarkRoundTrip types a command into bash and reads until its output
// comes back, alternating a local and a held shell.
func BenchmarkRoundTrip(b *testing.B) {
	var shells [2]*marks
	for i, be := range []sessions.Backend{&Local{}, newTestHolders(b, HolderOptions{})} {
		p, err := be.Start(context.Background(), shellReq(newID(), b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		shells[i] = &marks{p: p, buf: make([]byte, 0, 64<<10)}
		shells[i].until(b, "$ ")
		defer shells[i].exit()
	}
	var took [2]time.Duration
	i := 0
	for b.Loop() {
		i++
		for k, r := range shells {
			t0 := time.Now()
			fmt.Fprintf(r.p, "echo R$((%d+1))\n", i)
			r.until(b, fmt.Sprintf("R%d\r\n", i+1))
			took[k] += time.Since(t0)
		}
	}
	us := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(b.N) }
	b.ReportMetric(us(took[0]), "local-µs")
	b.ReportMetric(us(took[1]), "holder-µs")
	b.ReportMetric(us(took[1])-us(took[0]), "hop-µs")
}

// marks reads until a marker with little bookkeeping.
type marks struct {
	p   sessions.Process
	buf []byte
}

func (r *marks) until(b *testing.B, marker string) {
	for {
		if i := bytes.Index(r.buf, []byte(marker)); i >= 0 {
			r.buf = append(r.buf[:0], r.buf[i+len(marker):]...)
			return
		}
		if len(r.buf) == cap(r.buf) {
			r.buf = append(r.buf[:0], r.buf[len(r.buf)-len(marker):]...)
		}
		n, err := r.p.Read(r.buf[len(r.buf):cap(r.buf)])
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		r.buf = r.buf[:len(r.buf)+n]
	}
}

// exit ends the shell and, for a holder, releases it.
func (r *marks) exit() {
	r.p.Write([]byte("exit\n"))
	for {
		if _, err := r.p.Read(r.buf[:cap(r.buf)]); err != nil {
			break
		}
	}
	r.p.Wait()
	r.p.Close()
}
