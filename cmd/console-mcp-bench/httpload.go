package main

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// loadResult is what a load of concurrent clients saw.
type loadResult struct {
	lat     samples
	errs    int
	first   error
	peakRSS int64 // kB, the server's highest VmRSS while it ran
	wall    time.Duration
}

// load starts clients goroutines at once, each making calls calls of
// fn(client index), while sampling the server's VmRSS.
func (r *runner) load(clients, calls, pid int, fn func(i int) error) loadResult {
	var (
		res   loadResult
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
		done  = make(chan struct{})
	)
	for i := range clients {
		wg.Go(func() {
			<-start
			lat := make(samples, 0, calls)
			var errs int
			var first error
			for range calls {
				if err := lat.time(func() error { return fn(i) }); err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errs += errs
			if res.first == nil {
				res.first = first
			}
			mu.Unlock()
		})
	}
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, err := procStatusKB(pid, "VmRSS"); err == nil {
				res.peakRSS = max(res.peakRSS, rss) // only this goroutine writes it until Wait
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	t0 := time.Now()
	close(start)
	wg.Wait()
	res.wall = time.Since(t0)
	close(done)
	sampler.Wait()
	return res
}

// benchHTTP: concurrent streamable HTTP clients of `console-mcp serve`,
// each with its own session and MCP session id, running
// console_execute_command, against as many clients of mcpbaseline -http
// calling noop.
func (r *runner) benchHTTP() (err error) {
	n, calls := r.cfg.httpClients, r.cfg.httpCalls
	srv, err := r.startConsoleHTTP("http-load", r.stateDir("http-load"), "--max-sessions", strconv.Itoa(n+50))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Close()) }()
	base, err := r.startBaselineHTTP()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, base.Close()) }()

	// The 2025-11-25 era: every request carries an MCP session id that
	// the server validates.
	proto := mcp.ProtocolVersion20251125
	clients := make([]*client.Client, n)
	ids := make([]string, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close() // best effort: the server's Close follows
			}
		}
	}()
	t0 := time.Now()
	if err := parallel(n, 16, func(i int) error {
		c, _, err := r.httpClient(srv.url, proto)
		if err != nil {
			return err
		}
		clients[i] = c
		ids[i], err = createShell(r.ctx, c)
		return err
	}); err != nil {
		return err
	}
	r.logf("  %d clients with a session each ready in %s", n, time.Since(t0).Round(time.Millisecond))
	got := r.load(n, calls, srv.Pid(), func(i int) error { return execTrue(r.ctx, clients[i], ids[i]) })
	if got.first != nil {
		r.logf("  first error: %v", got.first)
	}

	bclients := make([]*client.Client, n)
	defer func() {
		for _, c := range bclients {
			if c != nil {
				_ = c.Close() // best effort
			}
		}
	}()
	if err := parallel(n, 16, func(i int) error {
		c, _, err := r.httpClient(base.url, proto)
		bclients[i] = c
		return err
	}); err != nil {
		return err
	}
	want := r.load(n, calls, base.Pid(), func(i int) error { return noop(r.ctx, bclients[i]) })
	if want.first != nil {
		return fmt.Errorf("baseline: %d errors, first: %w", want.errs, want.first)
	}

	how := fmt.Sprintf("%d mcp-go streamable HTTP clients (protocol %s: MCP session ids) of `console-mcp serve --max-sessions %d` on 127.0.0.1, each with its own bash session, started at once, each making %d console_execute_command `true` calls (%d in all, %.0f calls/s); baseline: as many clients of mcpbaseline -http calling noop (%.0f calls/s)",
		n, proto, n+50, calls, n*calls, float64(n*calls)/got.wall.Seconds(), float64(n*calls)/want.wall.Seconds())
	r.add(newRow(fmt.Sprintf("HTTP, %d concurrent clients: errors", n), float64(got.errs), "errors", 0, "", valueAtMost(0, "errors"), how))
	r.add(newRow(fmt.Sprintf("HTTP, %d concurrent clients: execute median", n), ms(quantile(got.lat, 0.5)), "ms", ms(quantile(want.lat, 0.5)), "mcp-go noop, same load", nil, "the calls of the row above"))
	r.add(newRow(fmt.Sprintf("HTTP, %d concurrent clients: execute p99", n), ms(quantile(got.lat, 0.99)), "ms", ms(quantile(want.lat, 0.99)), "mcp-go noop p99, same load", nil, "the calls of the row above"))
	r.add(newRow(fmt.Sprintf("HTTP, %d concurrent clients: server RSS", n), float64(got.peakRSS)/1024, "MB", float64(want.peakRSS)/1024, "mcpbaseline under its load", nil,
		"the highest VmRSS of the server process, sampled every 50 ms during the calls"))
	return nil
}
