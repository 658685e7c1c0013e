package ptyhost

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// client is one connection to a holder. pos, closed and exitSent are
// guarded by the holder's mutex.
type client struct {
	conn     *net.UnixConn
	raw      rawFD // conn, read and written with raw system calls
	role     role
	pos      int64 // next offset to send
	closed   bool
	exitSent bool
}

// outputChunk is the most output one frame carries from the holder.
const outputChunk = 64 << 10

// serve runs one connection: the hello, then the client's messages in this
// goroutine and its output in a writer goroutine.
func (h *holder) serve(conn *net.UnixConn) {
	defer conn.Close()
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	raw := rawFD{rc}
	br := bufio.NewReaderSize(raw, 16<<10)
	_ = conn.SetReadDeadline(time.Now().Add(helloWait)) // best effort: a silent client then stays
	t, p, err := readFrame(br, nil)
	if err != nil || t != msgHello {
		return // not a client of ours
	}
	m, err := parseHello(p)
	if err != nil || !h.checkSecret(m.Secret[:]) {
		_, _ = conn.Write(appendError(nil, "wrong secret")) // best effort
		return
	}
	if m.Version != protocolVersion {
		_, _ = conn.Write(appendError(nil, fmt.Sprintf("protocol version %d, holder speaks %d", m.Version, protocolVersion))) // best effort
		return
	}
	_ = conn.SetReadDeadline(time.Time{}) // best effort

	c := &client{conn: conn, raw: raw, role: m.Role}
	h.mu.Lock()
	if refuse := h.admitLocked(c, m.From); refuse != "" {
		h.mu.Unlock()
		_, _ = conn.Write(appendError(nil, refuse)) // best effort
		return
	}
	w := welcome{
		Version:    protocolVersion,
		HolderPid:  os.Getpid(),
		Pid:        h.t.cmd.Process.Pid,
		Generation: h.gen,
		RingStart:  h.ring.Start(),
		End:        h.ring.End(),
		Cols:       h.cols,
		Rows:       h.rows,
		Exited:     h.exitKnown,
		Exit:       h.exit,
	}
	h.mu.Unlock()
	defer h.drop(c)
	if err := h.sendWelcome(conn, w, m.Role); err != nil {
		return
	}
	h.wg.Go(func() { h.writeLoop(c) })
	h.readLoopConn(c, br)
}

// admitLocked registers c at its starting position, or says why not.
func (h *holder) admitLocked(c *client, from int64) string {
	switch {
	case h.closing:
		return "holder is shutting down"
	case len(h.clients) >= maxClients:
		return fmt.Sprintf("holder has %d clients already", maxClients)
	case from < 0:
		c.pos = max(h.ring.Start(), h.ring.End()+from)
	case from > h.ring.End():
		return fmt.Sprintf("offset %d is past the end of output %d", from, h.ring.End())
	default:
		c.pos = from // the writer sends lost first if the ring no longer has it
	}
	h.clients[c] = struct{}{}
	if c.role == roleServer {
		h.awaitServer = false
		h.space.Signal()
	}
	return ""
}

// drop stops sending to c and stops counting it for back-pressure. The
// connection stays open until serve has read what c sent before it went
// (input typed just before a client closes is still typed).
func (h *holder) drop(c *client) {
	h.mu.Lock()
	h.dropLocked(c)
	h.mu.Unlock()
}

func (h *holder) dropLocked(c *client) {
	if c.closed {
		return
	}
	c.closed = true
	delete(h.clients, c)
	h.data.Broadcast()
	h.space.Broadcast()
}

// readLoopConn handles the client's messages until it goes.
func (h *holder) readLoopConn(c *client, br *bufio.Reader) {
	var buf []byte
	for {
		t, p, err := readFrame(br, buf)
		if err != nil {
			return
		}
		if cap(p) > cap(buf) {
			buf = p[:0]
		}
		switch t {
		case msgInput:
			h.inMu.Lock()
			_, err = h.t.write(p)
			h.inMu.Unlock()
			// An error means the terminal is gone; the exit follows.
		case msgResize:
			cols, rows, perr := parseResize(p)
			if perr != nil {
				return
			}
			if h.t.resize(cols, rows) == nil {
				h.mu.Lock()
				h.cols, h.rows = cols, rows
				h.mu.Unlock()
			}
		case msgSignal:
			sig, perr := parseSignal(p)
			if perr != nil {
				return
			}
			h.mu.Lock()
			exited := h.exitKnown
			h.mu.Unlock()
			if !exited {
				_ = h.t.signal(sig) // best effort: the process may have just ended
			}
		case msgRelease:
			h.mu.Lock()
			if h.finishedLocked() && c.exitSent && !h.released {
				h.released = true
				close(h.release)
			}
			h.mu.Unlock()
		default:
			return // a protocol error ends the connection
		}
	}
}

// writeLoop sends c the output from its position on, a lost message when
// the ring no longer has that position, and the exit after the last byte.
func (h *holder) writeLoop(c *client) {
	const reserve = 2*headerSize + 8 + 8 // lost frame + output header
	buf := make([]byte, reserve+outputChunk+headerSize+12+maxSignalName)
	for {
		h.mu.Lock()
		for !c.closed && c.pos >= h.ring.End() && (c.exitSent || !h.finishedLocked()) {
			h.data.Wait()
		}
		if c.closed {
			h.mu.Unlock()
			return
		}
		// Headers go right before the bytes, which are copied from the ring
		// straight into buf: one copy, one write.
		var hdr [reserve]byte
		hs := hdr[:0]
		if c.pos < h.ring.Start() {
			hs = appendInt64(hs, msgLost, h.ring.Start()-c.pos)
			c.pos = h.ring.Start()
		}
		n := h.ring.ReadAt(buf[reserve:reserve+outputChunk], c.pos)
		if n > 0 {
			hs = appendOutputHeader(hs, c.pos, n)
			c.pos += int64(n)
			if c.role == roleServer {
				h.space.Signal()
			}
		}
		start := reserve - len(hs)
		copy(buf[start:], hs)
		out := buf[start : reserve+n]
		if c.pos == h.ring.End() && h.finishedLocked() && !c.exitSent {
			out = exitMsg{End: h.ring.End(), Exit: h.exit}.append(out)
			c.exitSent = true
		}
		h.mu.Unlock()
		if _, err := c.raw.Write(out); err != nil {
			h.drop(c)
			return
		}
	}
}

// maxSignalName bounds the signal name in an exit frame.
const maxSignalName = 32

// sendWelcome writes w to conn; a server's comes with the PTY master
// attached (SCM_RIGHTS), so that it can type straight into the terminal:
// the round trip of a command then wakes the holder once, for the output,
// not twice. Output still comes through the holder, which keeps it until
// a server has persisted it.
func (h *holder) sendWelcome(conn *net.UnixConn, w welcome, r role) error {
	msg := w.append(nil)
	if r != roleServer {
		_, err := conn.Write(msg)
		return err
	}
	var err error
	cerr := h.t.raw.Control(func(fd uintptr) {
		_, _, err = conn.WriteMsgUnix(msg, unix.UnixRights(int(fd)), nil)
	})
	if cerr != nil { // the master is closed (the output ended): the welcome alone
		_, err = conn.Write(msg)
	}
	return err
}
