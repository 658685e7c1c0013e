package main

import (
	"fmt"
	"strings"
	"time"
)

// readBackLine is the line the read-back command repeats: the same text
// as the baseline's bytes tool ("lines").
const readBackLine = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+"

// readBackPage is the page size of the read-back figure.
const readBackPage = 64 << 10

// benchReadBack pages a command's output out through console_get_output by
// cursor, each page followed by the baseline's bytes tool returning as many
// bytes as one text content.
func (r *runner) benchReadBack() error {
	std, err := r.sharedServer("stdio")
	if err != nil {
		return err
	}
	base, err := r.sharedServer("baseline-stdio")
	if err != nil {
		return err
	}
	id, err := createShell(r.ctx, std.c)
	if err != nil {
		return err
	}
	defer func() {
		_ = stopSession(r.ctx, std.c, id) // best effort: Close stops any session left
	}()
	size := r.cfg.readBackBytes
	res, err := execute(r.ctx, std.c, id, fmt.Sprintf("yes %s | head -c %d", readBackLine, size), 5*time.Minute)
	if err != nil {
		return err
	}
	from, end := res.num("output_cursor"), res.num("cursor")
	var server, text time.Duration
	var bytes, lost int64
	pages := 0
	for cur := from; cur < end; pages++ {
		var page result
		d, err := timed(func() error {
			var err error
			page, err = call(r.ctx, std.c, "console_get_output", map[string]any{"session_id": id, "cursor": cur, "max_bytes": readBackPage})
			return err
		})
		if err != nil {
			return err
		}
		server += d
		out := page.str("output")
		// The last page ends with the next prompt.
		if rest := strings.Trim(strings.TrimSuffix(out, "$ "), readBackLine+"\n"); rest != "" {
			return fmt.Errorf("page at %d is not the command's output: %d bytes left, ending %q", cur, len(rest), rest[max(0, len(rest)-80):])
		}
		if page.num("cursor") <= cur {
			return fmt.Errorf("cursor did not advance from %d: %.200s", cur, page.Text)
		}
		bytes += int64(len(out))
		lost += page.num("lost_bytes")
		cur = page.num("cursor")
		d, err = timed(func() error {
			b, err := call(r.ctx, base.c, "bytes", map[string]any{"n": len(out), "shape": "text"})
			if err == nil && len(b.Text) != len(out) {
				err = fmt.Errorf("baseline bytes(%d): %d bytes", len(out), len(b.Text))
			}
			return err
		})
		if err != nil {
			return err
		}
		text += d
	}
	if lost != 0 {
		return fmt.Errorf("read-back lost %d bytes", lost)
	}
	how := fmt.Sprintf("`yes <63 chars> | head -c %d` in a session (the first %d MiB past the 4 MiB ring come from SQLite), then console_get_output by cursor, max_bytes %d (text form), %d pages (%d bytes), each followed by mcpbaseline's bytes tool returning as many bytes as one text content (shape text), over stdio",
		size, max(0, size-(4<<20))>>20, readBackPage, pages, bytes)
	perPage := func(d time.Duration) float64 { return ms(d) / float64(pages) }
	mbps := func(d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }
	r.add(newRow("read-back, 64 KiB page via console_get_output", perPage(server), "ms/page", perPage(text), "mcp-go tool returning the same bytes", ratioAtMost(1.5), how))
	r.add(newRow("read-back throughput", mbps(server), "MB/s", mbps(text), "mcp-go tool returning the same bytes", nil, "the same pages as the row above, as throughput"))
	return nil
}
