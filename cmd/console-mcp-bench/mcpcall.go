package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// result is a decoded tool result.
type result struct {
	Text string
	S    map[string]any // structuredContent
}

func (r result) str(k string) string {
	v, _ := r.S[k].(string)
	return v
}

func (r result) num(k string) int64 {
	v, _ := r.S[k].(float64)
	return int64(v)
}

func (r result) boolean(k string) bool {
	v, _ := r.S[k].(bool)
	return v
}

// callTimeout bounds a call whose context has no deadline.
const callTimeout = 2 * time.Minute

// call calls a tool; a JSON-RPC error and an isError result are errors.
func call(ctx context.Context, c *client.Client, name string, args map[string]any) (result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	var r result
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			r.Text += tc.Text
		}
	}
	if res.IsError {
		return r, fmt.Errorf("%s: error result: %.300s", name, r.Text)
	}
	raw := []byte(res.RawStructuredContent)
	if len(raw) == 0 && res.StructuredContent != nil {
		if raw, err = json.Marshal(res.StructuredContent); err != nil {
			return r, fmt.Errorf("%s: encode structured content: %w", name, err)
		}
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.S); err != nil {
			return r, fmt.Errorf("%s: decode structured content: %w", name, err)
		}
	}
	return r, nil
}

// shellArgs is console_create_session of the sessions every figure uses:
// bash without rc files, a plain prompt.
func shellArgs() map[string]any {
	return map[string]any{"command": "/bin/bash", "args": []string{"--norc", "--noprofile"}, "env": map[string]any{"PS1": "$ "}}
}

// createShell creates a bash session and waits until it has run `true`.
func createShell(ctx context.Context, c *client.Client) (string, error) {
	r, err := call(ctx, c, "console_create_session", shellArgs())
	if err != nil {
		return "", err
	}
	id := r.str("session_id")
	if err := execTrue(ctx, c, id); err != nil {
		return "", err
	}
	return id, nil
}

// execute runs a command in a session and checks that it exited 0.
func execute(ctx context.Context, c *client.Client, id, command string, timeout time.Duration) (result, error) {
	r, err := call(ctx, c, "console_execute_command", map[string]any{
		"session_id": id, "command": command, "timeout_ms": timeout.Milliseconds()})
	if err != nil {
		return r, err
	}
	code, ok := r.S["exit_code"].(float64)
	if r.boolean("timed_out") || !ok || code != 0 {
		return r, fmt.Errorf("%q in %s: exit %v, timed out %v: %.300s", command, id, r.S["exit_code"], r.boolean("timed_out"), r.Text)
	}
	return r, nil
}

func execTrue(ctx context.Context, c *client.Client, id string) error {
	_, err := execute(ctx, c, id, "true", 30*time.Second)
	return err
}

func noop(ctx context.Context, c *client.Client) error {
	_, err := call(ctx, c, "noop", nil)
	return err
}

func stopSession(ctx context.Context, c *client.Client, id string) error {
	_, err := call(ctx, c, "console_stop_session", map[string]any{"session_id": id, "signal": "KILL", "grace_ms": 1000})
	return err
}

// timed runs fn and returns how long it took.
func timed(fn func() error) (time.Duration, error) {
	t0 := time.Now()
	err := fn()
	return time.Since(t0), err
}

// quantile returns the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
