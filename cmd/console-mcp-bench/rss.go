package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchRSS creates idle shell sessions up to each level and reports the
// server's resident memory and open files, and the holders' memory.
func (r *runner) benchRSS() (err error) {
	levels := slices.Sorted(slices.Values(r.cfg.rssLevels))
	if len(levels) == 0 {
		return errors.New("no --rss-levels")
	}
	top := levels[len(levels)-1]
	srv, err := r.startConsole("rss", r.stateDir("rss"), "--max-sessions", strconv.Itoa(top+100))
	if err != nil {
		return err
	}
	f := &fleet{srv: srv}
	defer func() {
		t0 := time.Now()
		err = errors.Join(err, srv.Close())
		r.logf("  stopped %d sessions and their holders in %s", len(f.ids), time.Since(t0).Round(time.Millisecond))
	}()
	// A fresh baseline: the shared one may have built its bytes corpus.
	base, err := r.startBaseline()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, base.Close()) }()
	if err := noop(r.ctx, base.c); err != nil {
		return err
	}
	baseRSS, err := procStatusKB(base.Pid(), "VmRSS")
	if err != nil {
		return err
	}
	baseFDs, err := procFDs(base.Pid())
	if err != nil {
		return err
	}
	if _, err := call(r.ctx, srv.c, "console_list_sessions", map[string]any{}); err != nil {
		return err
	}
	rss0, err := procStatusKB(srv.Pid(), "VmRSS")
	if err != nil {
		return err
	}
	for _, level := range levels {
		t0, added := time.Now(), level-len(f.ids)
		// A session whose first command fails is a finding, not the end
		// of the memory figures: it is reported in its own row.
		if err := f.grow(r.ctx, added); err != nil && (len(f.unready) == 0 || r.ctx.Err() != nil) {
			return err
		} else if err != nil {
			r.logf("  %d sessions did not answer their first `true`: %v", len(f.unready), firstLine(err))
			r.logStuck(f)
		}
		took := time.Since(t0)
		r.logf("  %d sessions ready (%s)", level, took.Round(time.Millisecond))
		if len(f.unready) > 0 {
			r.add(newRow(fmt.Sprintf("sessions whose first `true` did not return, %d sessions", level), float64(len(f.unready)), "sessions", 0, "", valueAtMost(0, "sessions"),
				fmt.Sprintf("console_execute_command `true` right after console_create_session timed out (30 s) in %v; their raw output is on stderr", f.unready)))
			f.unready = nil
		}
		m, err := r.measureIdle(f)
		if err != nil {
			return err
		}
		if m.holders != len(f.ids) {
			return fmt.Errorf("%d holders for %d sessions", m.holders, len(f.ids))
		}
		var rssTarget *target
		if level == 100 {
			rssTarget = valueBelow(60, "MB")
		}
		mb := func(kb int64) float64 { return float64(kb) / 1024 }
		r.add(newRow(fmt.Sprintf("server RSS at %d idle sessions", level), mb(m.serverRSS), "MB", mb(baseRSS), "mcpbaseline idle", rssTarget,
			fmt.Sprintf("VmRSS of the stdio server (children excluded), the highest of 5 samples 200 ms apart after 1 s idle; %d idle `bash --norc --noprofile` sessions created %d at a time (the last %d in %s); %.0f MB with no session; peak VmHWM %.0f MB",
				level, fleetWorkers, added, took.Round(time.Millisecond), mb(rss0), mb(m.serverHWM))))
		r.add(newRow(fmt.Sprintf("holder RSS at %d idle sessions (mean)", level), mb(m.holderRSS), "MB", mb(m.bashRSS), "the bash it holds", valueBelow(8, "MB"),
			fmt.Sprintf("mean VmRSS of the %d holder processes (`console-mcp ptyhost` run from console-mcp-ptyhost beside the server; the parent of each session's pid), of which %.1f MB anonymous (RssAnon) and the rest mostly pages of the holder binary and libc shared by all holders; baseline: mean VmRSS of the bash processes they hold", m.holders, mb(m.holderAnon))))
		r.add(newRow(fmt.Sprintf("holder PSS at %d idle sessions (mean)", level), mb(m.holderPss), "MB", mb(m.bashPss), "the bash it holds", nil,
			"mean proportional set size (/proc/PID/smaps_rollup Pss: private pages plus each shared page divided by its sharers) of the same holders: what each adds to the machine; baseline: the bash processes' mean PSS"))
		r.add(newRow(fmt.Sprintf("server open fds at %d idle sessions", level), float64(m.serverFDs), "fds", float64(baseFDs), "mcpbaseline idle", nil,
			"entries in /proc/PID/fd of the server"))
	}
	return r.benchRSSFallback()
}

// fallbackSessions is how many sessions measure the fallback holders.
const fallbackSessions = 10

// benchRSSFallback measures holders run from the server's own binary, as
// they are when console-mcp-ptyhost is not beside it (go run).
func (r *runner) benchRSSFallback() (err error) {
	srv, err := r.startConsoleFrom(r.alone, "rss-fallback", r.stateDir("rss-fallback"))
	if err != nil {
		return err
	}
	f := &fleet{srv: srv}
	defer func() { err = errors.Join(err, srv.Close()) }()
	if err := f.grow(r.ctx, fallbackSessions); err != nil {
		return err
	}
	m, err := r.measureIdle(f)
	if err != nil {
		return err
	}
	mb := func(kb int64) float64 { return float64(kb) / 1024 }
	r.add(newRow(fmt.Sprintf("holder RSS, server binary as the holder, %d idle sessions (mean)", fallbackSessions), mb(m.holderRSS), "MB", mb(m.bashRSS), "the bash it holds", nil,
		fmt.Sprintf("as the holder RSS row, for a server with no console-mcp-ptyhost beside it (go run): its holders run from the 19 MB server binary; %.1f MB anonymous; PSS %.1f MB", mb(m.holderAnon), mb(m.holderPss))))
	return nil
}

// idle is one memory measurement of a fleet.
type idle struct {
	serverRSS, serverHWM int64 // kB
	serverFDs            int
	holders              int
	holderRSS, holderPss int64 // kB, mean
	holderAnon           int64 // kB, mean
	bashRSS, bashPss     int64 // kB, mean
}

// measureIdle waits a second and samples the server's memory and files
// and the holders' memory.
func (r *runner) measureIdle(f *fleet) (idle, error) {
	var m idle
	select {
	case <-time.After(time.Second):
	case <-r.ctx.Done():
		return m, r.ctx.Err()
	}
	pid := f.srv.Pid()
	for range 5 {
		rss, err := procStatusKB(pid, "VmRSS")
		if err != nil {
			return m, err
		}
		m.serverRSS = max(m.serverRSS, rss)
		time.Sleep(200 * time.Millisecond)
	}
	var err error
	if m.serverHWM, err = procStatusKB(pid, "VmHWM"); err != nil {
		return m, err
	}
	if m.serverFDs, err = procFDs(pid); err != nil {
		return m, err
	}
	pids, err := f.pids(r.ctx)
	if err != nil {
		return m, err
	}
	var holderRSS, holderPss, holderAnon, bashRSS, bashPss int64
	for _, child := range pids {
		h, err := procPPid(child)
		if err != nil {
			return m, err
		}
		if !isHolder(h) {
			return m, fmt.Errorf("the parent %d of session pid %d is not a holder", h, child)
		}
		var v [5]int64
		for i, read := range []func() (int64, error){
			func() (int64, error) { return procStatusKB(h, "VmRSS") },
			func() (int64, error) { return procPssKB(h) },
			func() (int64, error) { return procStatusKB(h, "RssAnon") },
			func() (int64, error) { return procStatusKB(child, "VmRSS") },
			func() (int64, error) { return procPssKB(child) },
		} {
			if v[i], err = read(); err != nil {
				return m, err
			}
		}
		holderRSS, holderPss, holderAnon = holderRSS+v[0], holderPss+v[1], holderAnon+v[2]
		bashRSS, bashPss = bashRSS+v[3], bashPss+v[4]
		m.holders++
	}
	if m.holders > 0 {
		n := int64(m.holders)
		m.holderRSS, m.holderPss, m.holderAnon = holderRSS/n, holderPss/n, holderAnon/n
		m.bashRSS, m.bashPss = bashRSS/n, bashPss/n
	}
	return m, nil
}

// firstLine is the first line of err's text.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// logStuck writes what the unready sessions show, for a bug report.
func (r *runner) logStuck(f *fleet) {
	for _, id := range f.unready[:min(3, len(f.unready))] {
		out, err := call(r.ctx, f.srv.c, "console_get_output", map[string]any{"session_id": id, "cursor": 0, "format": "raw"})
		info, ierr := call(r.ctx, f.srv.c, "console_session_info", map[string]any{"session_id": id})
		r.logf("  unready %s: output %q (%v); info: %s (%v); /proc/PID/stat: %s", id, out.str("output"), err, info.Text, ierr, procStat(int(info.num("pid"))))
	}
}
