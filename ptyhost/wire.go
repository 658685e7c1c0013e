package ptyhost

// The wire protocol between a holder and its clients. Every message is a
// frame: a type byte, a big-endian uint32 payload length, the payload. The
// decoder refuses lengths over maxPayload and payloads of the wrong shape, so
// garbage on a socket ends in an error, never a panic or a large allocation.
//
//	client -> holder: hello (first, once), input, resize, signal, release
//	holder -> client: welcome or error (answering hello), output, lost, exit, error
//
// A server's welcome comes with the PTY master attached (SCM_RIGHTS), and
// the server types input straight into it while the terminal takes it at
// once; input frames carry the rest (see holderProcess.Write). A client
// that reads the welcome with a plain read drops the descriptor, so the
// protocol is the same with or without it.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/console-mcp/console-mcp/sessions"
)

type msgType byte

const (
	msgHello   msgType = iota + 1 // version u8, role u8, from i64, secret [32]
	msgWelcome                    // see welcome
	msgOutput                     // offset i64, bytes
	msgLost                       // n i64: bytes the ring no longer had
	msgInput                      // bytes to type
	msgResize                     // cols u16, rows u16
	msgSignal                     // signal u8
	msgExit                       // end i64, code i32, signal name
	msgRelease                    // empty: the exit and tail are persisted
	msgError                      // text
)

func (t msgType) String() string {
	names := [...]string{"invalid", "hello", "welcome", "output", "lost", "input", "resize", "signal", "exit", "release", "error"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("type %d", byte(t))
}

const (
	// protocolVersion covers everything a server and a holder exchange:
	// these frames, the start request and the status message. Change it
	// with any of them: a server uses a holder-only binary only when it
	// reports this version (FindHolderImage).
	protocolVersion = 1
	headerSize      = 5
	// maxPayload caps a frame's payload; the holder sends output frames of
	// at most maxOutput bytes and clients send input of at most maxInput.
	maxPayload = 1 << 20
	maxOutput  = 256 << 10
	maxInput   = 32 << 10
	secretSize = 32
	// maxText caps error texts and signal names.
	maxText = 4 << 10
)

// role says what a client is to the holder.
type role byte

const (
	// roleServer is the console-mcp server: the holder stops reading the
	// PTY rather than overrun its ring for a connected server.
	roleServer role = 1
	// roleViewer is a person's terminal: it is sent a lost message when it
	// falls behind and never slows the program down.
	roleViewer role = 2
)

var errMalformed = errors.New("malformed message")

// hello is a client's first message. From is the offset to replay from; a
// negative From asks for the last -From bytes the ring holds.
type hello struct {
	Version byte
	Role    role
	From    int64
	Secret  [secretSize]byte
}

// welcome answers a hello whose secret matched.
type welcome struct {
	Version    byte
	HolderPid  int
	Pid        int // the child's
	Generation int
	RingStart  int64
	End        int64
	Cols, Rows int
	Exited     bool
	Exit       sessions.Exit
}

// exitMsg reports the child's exit after the last byte of its output (End).
type exitMsg struct {
	End  int64
	Exit sessions.Exit
}

// appendHeader appends a frame header for a payload of n bytes.
func appendHeader(dst []byte, t msgType, n int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, byte(t)), uint32(n))
}

func appendFrame(dst []byte, t msgType, payload []byte) []byte {
	return append(appendHeader(dst, t, len(payload)), payload...)
}

func (m hello) append(dst []byte) []byte {
	dst = appendHeader(dst, msgHello, 2+8+secretSize)
	dst = append(dst, m.Version, byte(m.Role))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.From))
	return append(dst, m.Secret[:]...)
}

func parseHello(p []byte) (hello, error) {
	var m hello
	if len(p) != 2+8+secretSize {
		return m, fmt.Errorf("hello of %d bytes: %w", len(p), errMalformed)
	}
	m.Version, m.Role = p[0], role(p[1])
	m.From = int64(binary.BigEndian.Uint64(p[2:]))
	copy(m.Secret[:], p[10:])
	if m.Role != roleServer && m.Role != roleViewer {
		return m, fmt.Errorf("hello with role %d: %w", m.Role, errMalformed)
	}
	return m, nil
}

const welcomeFixed = 1 + 4*3 + 8*2 + 2*2 + 1 + 4 + 1

func (m welcome) append(dst []byte) []byte {
	sig := m.Exit.Signal
	if len(sig) > 255 {
		sig = sig[:255]
	}
	dst = appendHeader(dst, msgWelcome, welcomeFixed+len(sig))
	dst = append(dst, m.Version)
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.HolderPid))
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.Pid))
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.Generation))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.RingStart))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.End))
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Cols))
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Rows))
	dst = append(dst, boolByte(m.Exited))
	dst = binary.BigEndian.AppendUint32(dst, uint32(int32(m.Exit.Code)))
	dst = append(dst, byte(len(sig)))
	return append(dst, sig...)
}

func parseWelcome(p []byte) (welcome, error) {
	var m welcome
	if len(p) < welcomeFixed || len(p) != welcomeFixed+int(p[welcomeFixed-1]) {
		return m, fmt.Errorf("welcome of %d bytes: %w", len(p), errMalformed)
	}
	be := binary.BigEndian
	m.Version = p[0]
	m.HolderPid = int(be.Uint32(p[1:]))
	m.Pid = int(be.Uint32(p[5:]))
	m.Generation = int(be.Uint32(p[9:]))
	m.RingStart = int64(be.Uint64(p[13:]))
	m.End = int64(be.Uint64(p[21:]))
	m.Cols = int(be.Uint16(p[29:]))
	m.Rows = int(be.Uint16(p[31:]))
	exited := p[33]
	m.Exit.Code = int(int32(be.Uint32(p[34:])))
	m.Exit.Signal = string(p[welcomeFixed:])
	if exited > 1 || m.RingStart < 0 || m.End < m.RingStart {
		return m, fmt.Errorf("welcome: %w", errMalformed)
	}
	m.Exited = exited == 1
	return m, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// appendOutputHeader appends the header of an output frame of n bytes at
// offset off; the caller appends the bytes.
func appendOutputHeader(dst []byte, off int64, n int) []byte {
	dst = appendHeader(dst, msgOutput, 8+n)
	return binary.BigEndian.AppendUint64(dst, uint64(off))
}

func parseOutput(p []byte) (off int64, data []byte, err error) {
	if len(p) < 8 {
		return 0, nil, fmt.Errorf("output of %d bytes: %w", len(p), errMalformed)
	}
	off = int64(binary.BigEndian.Uint64(p))
	if off < 0 {
		return 0, nil, fmt.Errorf("output at offset %d: %w", off, errMalformed)
	}
	return off, p[8:], nil
}

func appendInt64(dst []byte, t msgType, v int64) []byte {
	return binary.BigEndian.AppendUint64(appendHeader(dst, t, 8), uint64(v))
}

// parseCount parses a lost message: a positive count.
func parseCount(p []byte) (int64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("count of %d bytes: %w", len(p), errMalformed)
	}
	n := int64(binary.BigEndian.Uint64(p))
	if n <= 0 {
		return 0, fmt.Errorf("count %d: %w", n, errMalformed)
	}
	return n, nil
}

func appendResize(dst []byte, cols, rows int) []byte {
	dst = appendHeader(dst, msgResize, 4)
	dst = binary.BigEndian.AppendUint16(dst, uint16(cols))
	return binary.BigEndian.AppendUint16(dst, uint16(rows))
}

func parseResize(p []byte) (cols, rows int, err error) {
	if len(p) != 4 {
		return 0, 0, fmt.Errorf("resize of %d bytes: %w", len(p), errMalformed)
	}
	cols, rows = int(binary.BigEndian.Uint16(p)), int(binary.BigEndian.Uint16(p[2:]))
	if cols == 0 || rows == 0 {
		return 0, 0, fmt.Errorf("resize to %dx%d: %w", cols, rows, errMalformed)
	}
	return cols, rows, nil
}

func appendSignal(dst []byte, sig syscall.Signal) []byte {
	return append(appendHeader(dst, msgSignal, 1), byte(sig))
}

func parseSignal(p []byte) (syscall.Signal, error) {
	if len(p) != 1 || p[0] == 0 || p[0] > 64 {
		return 0, fmt.Errorf("signal: %w", errMalformed)
	}
	return syscall.Signal(p[0]), nil
}

func (m exitMsg) append(dst []byte) []byte {
	dst = appendHeader(dst, msgExit, 12+len(m.Exit.Signal))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.End))
	dst = binary.BigEndian.AppendUint32(dst, uint32(int32(m.Exit.Code)))
	return append(dst, m.Exit.Signal...)
}

func parseExit(p []byte) (exitMsg, error) {
	var m exitMsg
	if len(p) < 12 || len(p) > 12+maxText {
		return m, fmt.Errorf("exit of %d bytes: %w", len(p), errMalformed)
	}
	m.End = int64(binary.BigEndian.Uint64(p))
	m.Exit.Code = int(int32(binary.BigEndian.Uint32(p[8:])))
	m.Exit.Signal = string(p[12:])
	if m.End < 0 {
		return m, fmt.Errorf("exit at offset %d: %w", m.End, errMalformed)
	}
	return m, nil
}

func appendError(dst []byte, text string) []byte {
	if len(text) > maxText {
		text = text[:maxText]
	}
	return appendFrame(dst, msgError, []byte(text))
}

// readHeader reads a frame header and checks the payload length against
// maxPayload.
func readHeader(r *bufio.Reader) (msgType, int, error) {
	h, err := r.Peek(headerSize)
	if err != nil {
		if len(h) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, err
	}
	t, n := msgType(h[0]), binary.BigEndian.Uint32(h[1:])
	if _, err := r.Discard(headerSize); err != nil {
		return 0, 0, err
	}
	if t == 0 || t > msgError {
		return 0, 0, fmt.Errorf("frame of %v: %w", t, errMalformed)
	}
	if n > maxPayload {
		return 0, 0, fmt.Errorf("%v frame of %d bytes: %w", t, n, errMalformed)
	}
	return t, int(n), nil
}

// readFrame reads one whole frame, reusing buf for its payload when it is
// large enough. The payload is valid until the next call with the same buf.
func readFrame(r *bufio.Reader, buf []byte) (msgType, []byte, error) {
	t, n, err := readHeader(r)
	if err != nil {
		return 0, nil, err
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return t, buf, nil
}
