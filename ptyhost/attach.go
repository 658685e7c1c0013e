package ptyhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/console-mcp/console-mcp/sessions"
)

const (
	// detachKey pressed twice in a row detaches a person's terminal; once,
	// followed by another key, it is passed through.
	detachKey = 0x1c // Ctrl-\
	// redrawBytes is how much recent output a person's terminal is shown
	// on attach, about a screenful of a busy TUI.
	redrawBytes = 16 << 10
)

// errDetach ends AttachTerminal's input loop when the detach key was
// pressed twice.
var errDetach = errors.New("detach key pressed")

// AttachTerminal attaches a person's terminal (in, out) to the live held
// session id in runDir until they press Ctrl-\ twice, the session ends or
// ctx is done. The terminal is put in raw mode and restored on every way
// out. It first shows the last 16 KiB of output (the redraw), then follows
// live; it sizes the session to the terminal (also on SIGWINCH) and gives
// the session its previous size back when it detaches, which makes a TUI
// redraw for both. The server stays attached alongside; this viewer never
// slows the program down and never releases an exited session's holder.
func AttachTerminal(ctx context.Context, runDir string, id string, in, out *os.File) error {
	p, err := dialHolder(ctx, runDir, sessions.ID(id), -redrawBytes, roleViewer, defaultHelloTimeout)
	if err != nil {
		return err
	}
	p.viewer = true
	defer p.Close()
	wakeR, wakeW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("attach %s: %w", id, err)
	}
	defer wakeR.Close()
	defer wakeW.Close()

	fmt.Fprintf(out, "[attached to %s; Ctrl-\\ Ctrl-\\ to detach]\r\n", id)
	inFd := int(in.Fd())
	if term.IsTerminal(inFd) {
		old, err := term.MakeRaw(inFd)
		if err != nil {
			return fmt.Errorf("attach %s: raw mode: %w", id, err)
		}
		defer term.Restore(inFd, old)
	}
	resized := false
	follow := func() {
		cols, rows, err := termSize(out, in)
		if err == nil && (resized || cols != p.w.Cols || rows != p.w.Rows) {
			resized = p.Resize(cols, rows) == nil || resized
		}
	}
	follow()

	var wg sync.WaitGroup
	inDone := make(chan error, 1)
	outDone := make(chan error, 1)
	wg.Go(func() { inDone <- copyInput(p, in, wakeR) })
	wg.Go(func() { outDone <- copyOutput(out, p) })
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)

	var end string
	var result error
	for end == "" {
		select {
		case <-ctx.Done():
			end = "[detached]"
		case err := <-inDone:
			inDone <- err // collected again below
			if errors.Is(err, errDetach) || errors.Is(err, io.EOF) {
				end = "[detached]"
			} else {
				end, result = "[detached: terminal input failed]", fmt.Errorf("attach %s: read terminal: %w", id, err)
			}
		case err := <-outDone:
			outDone <- err // collected again below
			if !errors.Is(err, io.EOF) {
				end, result = "[connection to the session lost]", fmt.Errorf("attach %s: %w", id, err)
			} else if exit, werr := p.Wait(); werr == nil { // Read saw the exit: Wait returns at once
				end = "[session " + id + " ended: " + exit.String() + "]"
			} else {
				end, result = "[connection to the session lost]", fmt.Errorf("attach %s: %w", id, err)
			}
		case <-winch:
			follow()
		}
	}
	_ = wakeW.Close() // stops copyInput
	<-inDone
	if resized && p.w.Cols > 0 && p.w.Rows > 0 {
		_ = p.Resize(p.w.Cols, p.w.Rows) // best effort: the session's previous size
	}
	_ = p.Close() // stops copyOutput
	<-outDone
	wg.Wait()
	fmt.Fprint(out, "\r\n"+end+"\r\n")
	return result
}

// termSize reads the terminal size from out, else from in.
func termSize(out, in *os.File) (cols, rows int, err error) {
	if cols, rows, err = term.GetSize(int(out.Fd())); err == nil {
		return cols, rows, nil
	}
	return term.GetSize(int(in.Fd()))
}

// copyOutput writes the session's output to out until it ends. Output a
// viewer missed is skipped silently: the redraw shows what is there.
func copyOutput(out io.Writer, p *holderProcess) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := p.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		var lost *sessions.LostError
		switch {
		case errors.As(err, &lost):
		case err != nil:
			return err
		}
	}
}

// copyInput types what is read from in into the session until the detach
// key is pressed twice, in ends or wake becomes readable (closed). It waits
// with select(2) rather than a blocking read so that it can be stopped
// without closing or changing the mode of the person's terminal.
func copyInput(p *holderProcess, in, wake *os.File) error {
	inFd, wakeFd := int(in.Fd()), int(wake.Fd())
	if inFd >= unix.FD_SETSIZE || wakeFd >= unix.FD_SETSIZE {
		return fmt.Errorf("descriptor %d too large for select", max(inFd, wakeFd))
	}
	buf := make([]byte, 4<<10)
	send := make([]byte, 0, len(buf)+1)
	held := false // a first Ctrl-\ waits for the next key
	for {
		var rfds unix.FdSet
		rfds.Set(inFd)
		rfds.Set(wakeFd)
		if _, err := unix.Select(max(inFd, wakeFd)+1, &rfds, nil, nil, nil); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("select: %w", err)
		}
		if rfds.IsSet(wakeFd) {
			return nil
		}
		n, err := in.Read(buf)
		if n == 0 && err != nil {
			return err
		}
		send = send[:0]
		for _, b := range buf[:n] {
			switch {
			case b == detachKey && held:
				if len(send) > 0 {
					_, _ = p.Write(send) // best effort: we are leaving
				}
				return errDetach
			case b == detachKey:
				held = true
			default:
				if held {
					send = append(send, detachKey)
					held = false
				}
				send = append(send, b)
			}
		}
		if len(send) > 0 {
			if _, err := p.Write(send); err != nil {
				return err
			}
		}
	}
}
