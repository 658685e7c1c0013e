package sshtest

import (
	"net"
	"sync"
)

// conn is a server-side TCP connection that can go silent (stall) or be
// reset.
type conn struct {
	*net.TCPConn
	stalled   chan struct{} // closed by stall
	closed    chan struct{} // closed by Close
	stallOnce sync.Once
	closeOnce sync.Once
}

func newConn(c *net.TCPConn) *conn {
	return &conn{TCPConn: c, stalled: make(chan struct{}), closed: make(chan struct{})}
}

func (c *conn) isStalled() bool {
	select {
	case <-c.stalled:
		return true
	default:
		return false
	}
}

// Read reads until the connection stalls; from then on it blocks until
// Close, and what arrived meanwhile is never seen.
func (c *conn) Read(p []byte) (int, error) {
	if !c.isStalled() {
		n, err := c.TCPConn.Read(p)
		if !c.isStalled() {
			return n, err
		}
	}
	<-c.closed
	return 0, net.ErrClosed
}

// Write writes until the connection stalls; from then on it blocks until
// Close.
func (c *conn) Write(p []byte) (int, error) {
	if c.isStalled() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.TCPConn.Write(p)
}

func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.TCPConn.Close()
	})
	return err
}

func (c *conn) stall() { c.stallOnce.Do(func() { close(c.stalled) }) }

// reset closes the connection with a TCP RST instead of a FIN.
func (c *conn) reset() {
	_ = c.SetLinger(0) // best effort: a FIN also ends the connection
	_ = c.Close()      // best effort: it may be closed already
}
