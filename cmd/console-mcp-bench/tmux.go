package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// tmuxServer is a tmux server of the run on its own socket, with one
// session running bash: the way most agents drive a terminal today.
type tmuxServer struct {
	path string
	sock string
	env  []string
}

// startTmux starts `tmux -S SOCK new-session -d` running bash and waits
// until it has run a command.
func (r *runner) startTmux() (*tmuxServer, error) {
	path, err := exec.LookPath("tmux")
	if err != nil {
		return nil, errors.New("tmux is not installed: no tmux figures")
	}
	t := &tmuxServer{path: path, sock: filepath.Join(r.root, "tmux.sock")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMUX") {
			t.env = append(t.env, kv)
		}
	}
	t.env = append(t.env, "HOME="+r.home, "SHELL=/bin/bash", "LANG=C.UTF-8", "PS1=$ ")
	if _, err := t.run(r.ctx, "-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", "bash --norc --noprofile"); err != nil {
		return nil, err
	}
	// The first round trip waits for bash to be up.
	if err := t.roundTrip(r.ctx, 0); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *tmuxServer) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, t.path, append([]string{"-S", t.sock}, args...)...)
	cmd.Env = t.env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tmux %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// roundTrip types `true; printf 'M%sK\n' i` and Enter with send-keys,
// then runs capture-pane until the screen shows the marker MiK (the
// echoed command line shows M%sK, never the marker).
func (t *tmuxServer) roundTrip(ctx context.Context, i int) error {
	if _, err := t.run(ctx, "send-keys", "-t", "bench", fmt.Sprintf(`true; printf 'M%%sK\n' %d`, i), "Enter"); err != nil {
		return err
	}
	marker := fmt.Sprintf("M%dK", i)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		screen, err := t.run(ctx, "capture-pane", "-p", "-t", "bench")
		if err != nil {
			return err
		}
		if strings.Contains(screen, marker) {
			return nil
		}
	}
	return fmt.Errorf("tmux: %s did not show in 10s", marker)
}

// Close kills the tmux server and its session. It is idempotent.
func (t *tmuxServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = t.run(ctx, "kill-server") // best effort: it may have exited
	_ = os.Remove(t.sock)            // best effort
}

// benchTmux: the execute round trip of console-mcp (stdio) against the
// same round trip done the tmux way, the two taking turns.
func (r *runner) benchTmux() error {
	std, id, err := r.warmShell("stdio")
	if err != nil {
		return err
	}
	t, err := r.startTmux()
	if err != nil {
		return err
	}
	r.onClose(func() error { t.Close(); return nil })
	var execs, tmuxes samples
	for i := range r.cfg.tmuxN + 5 {
		if i == 5 {
			execs, tmuxes = nil, nil
		}
		if err := tmuxes.time(func() error { return t.roundTrip(r.ctx, i+1) }); err != nil {
			return err
		}
		if err := execs.time(func() error { return execTrue(r.ctx, std.c, id) }); err != nil {
			return err
		}
	}
	how := fmt.Sprintf("value: console_execute_command `true` over stdio (warm bash session); baseline: tmux %s on its own -S socket, `send-keys 'true; printf ...' Enter` then `capture-pane -p` run back to back (no sleep) until the marker shows; %d round trips each, taking turns",
		tmuxVersion(r.ctx, t), r.cfg.tmuxN)
	r.add(newRow("execute `true` vs the tmux way, median", ms(quantile(execs, 0.5)), "ms", ms(quantile(tmuxes, 0.5)), "tmux send-keys + capture-pane", nil, how))
	r.add(newRow("execute `true` vs the tmux way, p99", ms(quantile(execs, 0.99)), "ms", ms(quantile(tmuxes, 0.99)), "tmux p99", nil, how))
	return nil
}

func tmuxVersion(ctx context.Context, t *tmuxServer) string {
	v, err := t.run(ctx, "-V")
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(strings.TrimSpace(v), "tmux ")
}
