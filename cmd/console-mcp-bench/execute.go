package main

import (
	"fmt"
	"time"
)

// samples collects the durations of one kind of call.
type samples []time.Duration

func (s *samples) time(fn func() error) error {
	d, err := timed(fn)
	*s = append(*s, d)
	return err
}

// benchExecute: console_execute_command of `true` in a warm shell session
// over stdio (holders, and in-process with --no-holder), over SSH to the
// loopback sshd, and over HTTP, each against the baseline's noop over the
// same MCP transport, the calls of one round taking turns.
func (r *runner) benchExecute() error {
	std, idStd, err := r.warmShell("stdio")
	if err != nil {
		return err
	}
	noh, idNoh, err := r.warmShell("stdio-noholder")
	if err != nil {
		return err
	}
	base, err := r.sharedServer("baseline-stdio")
	if err != nil {
		return err
	}
	idSSH, sshErr := r.sshShell(std)
	if sshErr != nil {
		r.logf("  no SSH figures: %v", sshErr)
	}
	n := r.cfg.execN
	var execStd, execNoh, execSSH, noops samples
	for i := range n + 10 { // 10 warm-up rounds are dropped
		if i == 10 {
			execStd, execNoh, execSSH, noops = nil, nil, nil, nil
		}
		if err := execStd.time(func() error { return execTrue(r.ctx, std.c, idStd) }); err != nil {
			return err
		}
		if err := execNoh.time(func() error { return execTrue(r.ctx, noh.c, idNoh) }); err != nil {
			return err
		}
		if sshErr == nil {
			if err := execSSH.time(func() error { return execTrue(r.ctx, std.c, idSSH) }); err != nil {
				return err
			}
		}
		if err := noops.time(func() error { return noop(r.ctx, base.c) }); err != nil {
			return err
		}
	}
	how := fmt.Sprintf("console_execute_command `true` in a warm `bash --norc --noprofile` session through the mcp-go stdio client (protocol %s), %d calls taking turns with mcpbaseline's noop tool over stdio", std.proto, n)
	noopP50, noopP99 := ms(quantile(noops, 0.5)), ms(quantile(noops, 0.99))
	r.add(newRow("execute `true`, stdio, median", ms(quantile(execStd, 0.5)), "ms", noopP50, "mcp-go noop, stdio", valueBelow(3, "ms"), how+"; default server (holders, SQLite)"))
	r.add(newRow("execute `true`, stdio, p99", ms(quantile(execStd, 0.99)), "ms", noopP99, "mcp-go noop p99", nil, how))
	r.add(newRow("holder hop on execute (stdio median)", ms(quantile(execStd, 0.5)), "ms", ms(quantile(execNoh, 0.5)), "--no-holder, in-process PTY", overAtMost(0.5, "ms"),
		"the same calls against a second server started with --no-holder, in the same rounds"))
	if sshErr == nil {
		sshHow := fmt.Sprintf("console_execute_command `true` in a warm SSH session (x/crypto/ssh client in the server, key auth, strict known_hosts) to OpenSSH sshd on 127.0.0.1 (login shell bash), through the mcp-go stdio client, %d calls in the same rounds as the stdio figures", n)
		r.add(newRow("execute `true`, SSH to loopback OpenSSH, median", ms(quantile(execSSH, 0.5)), "ms", noopP50, "mcp-go noop, stdio", valueBelow(5, "ms"), sshHow))
		r.add(newRow("execute `true`, SSH to loopback OpenSSH, p99", ms(quantile(execSSH, 0.99)), "ms", noopP99, "mcp-go noop p99", nil, sshHow))
	}

	hs, idHTTP, err := r.warmShell("http")
	if err != nil {
		return err
	}
	hbase, err := r.sharedServer("baseline-http")
	if err != nil {
		return err
	}
	var execHTTP, noopHTTP samples
	for i := range n + 10 {
		if i == 10 {
			execHTTP, noopHTTP = nil, nil
		}
		if err := execHTTP.time(func() error { return execTrue(r.ctx, hs.c, idHTTP) }); err != nil {
			return err
		}
		if err := noopHTTP.time(func() error { return noop(r.ctx, hbase.c) }); err != nil {
			return err
		}
	}
	httpHow := fmt.Sprintf("console_execute_command `true` in a warm bash session through the mcp-go streamable HTTP client (protocol %s, one keep-alive connection) to `console-mcp serve` on 127.0.0.1, %d calls taking turns with mcpbaseline -http's noop", hs.proto, n)
	r.add(newRow("execute `true`, HTTP, median", ms(quantile(execHTTP, 0.5)), "ms", ms(quantile(noopHTTP, 0.5)), "mcp-go noop, HTTP", nil, httpHow))
	r.add(newRow("execute `true`, HTTP, p99", ms(quantile(execHTTP, 0.99)), "ms", ms(quantile(noopHTTP, 0.99)), "mcp-go noop p99, HTTP", nil, httpHow))
	return nil
}
