package sessions

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/console-mcp/console-mcp/asciicast"
	"github.com/console-mcp/console-mcp/termtext"
)

// Export formats.
const (
	FormatAsciicast = "asciicast"
	FormatText      = "text"
)

// Export writes the whole history of session id to w: asciicast v2 (output
// as "o", input as "i" with secrets masked, resizes as "r", restarts,
// reconnects and status changes as "m" markers) or the text form of the
// output. It reads from the store, so it works for sessions of earlier runs.
func (m *Manager) Export(id ID, format string, w io.Writer) error {
	if format != FormatAsciicast && format != FormatText {
		return fmt.Errorf("format %q is not an export format: use asciicast or text", format)
	}
	if m.store == nil {
		return errors.New("export needs the session store (this server runs without one)")
	}
	s, err := m.Get(id)
	if err != nil {
		return err
	}
	if err := m.store.Flush(); err != nil {
		return fmt.Errorf("flush before export: %w", err)
	}
	if format == FormatText {
		return m.exportText(id, w)
	}
	info := s.Info()
	events, err := m.store.Events(id)
	if err != nil {
		return fmt.Errorf("load events of %s: %w", id, err)
	}
	// The size at the start is the first resize event's, which Create
	// records; the spec holds the latest size.
	cols, rows := info.Spec.Cols, info.Spec.Rows
	for _, ev := range events {
		if ev.Kind == EventResize {
			_, _ = fmt.Sscanf(ev.Data, "%dx%d", &cols, &rows) // best effort: keep the spec's size
			break
		}
	}
	cw, err := asciicast.NewWriter(w, asciicast.Header{
		Version: 2, Width: cols, Height: rows, Timestamp: info.CreatedAt.Unix(),
		Title: exportTitle(info),
	})
	if err != nil {
		return fmt.Errorf("write asciicast header: %w", err)
	}
	t0 := info.CreatedAt
	last := 0.0
	at := func(t float64) float64 { // times must not go backwards
		last = math.Max(last, math.Max(t, 0))
		return last
	}
	next := 0
	flushEvents := func(upTo int64) error {
		for ; next < len(events) && events[next].Offset <= upTo; next++ {
			ev := events[next]
			e := asciicast.Event{Time: at(ev.At.Sub(t0).Seconds())}
			switch ev.Kind {
			case EventInput:
				e.Code, e.Data = asciicast.Input, ev.Data
			case EventSecret:
				e.Code, e.Data = asciicast.Input, "********"
			case EventResize:
				e.Code, e.Data = asciicast.Resize, ev.Data
			case EventMarker, EventStatus:
				e.Code, e.Data = asciicast.Marker, ev.Data
			default:
				continue
			}
			if err := cw.Write(e); err != nil {
				return err
			}
		}
		return nil
	}
	var werr error
	err = m.store.Chunks(id, 0, func(c Chunk) bool {
		if werr = flushEvents(c.Offset); werr != nil {
			return false
		}
		werr = cw.WriteOutput(at(c.At.Sub(t0).Seconds()), stripMarkers(c.Data))
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	if err == nil {
		err = flushEvents(math.MaxInt64)
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	return cw.Close()
}

func exportTitle(in Info) string {
	title := string(in.ID)
	if in.Spec.Name != "" {
		title += " (" + in.Spec.Name + ")"
	}
	return title
}

// exportText writes the text form of the whole output.
func (m *Manager) exportText(id ID, w io.Writer) error {
	var werr error
	err := m.store.Chunks(id, 0, func(c Chunk) bool {
		_, werr = w.Write(termtext.Strip(c.Data))
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	return nil
}
