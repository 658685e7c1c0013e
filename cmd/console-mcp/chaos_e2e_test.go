package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/console-mcp/console-mcp/persist"
	"github.com/console-mcp/console-mcp/sessions"
)

// TestChaos tortures the product as issue 7 asks: sessions print numbered
// lines while the server is killed with kill -9 and started again, holders
// are killed, the SSH connection is dropped and two servers share the state
// dir; at the end every invariant is checked and printed. Short by default;
// -chaos.duration=5m makes it long, -chaos.seed=N replays a fault schedule.

var (
	chaosDuration = flag.Duration("chaos.duration", 8*time.Second, "TestChaos: how long faults are injected")
	chaosSessions = flag.Int("chaos.sessions", 4, "TestChaos: local sessions (plus one SSH session)")
	chaosSeed     = flag.Uint64("chaos.seed", 0, "TestChaos: seed of the fault schedule; 0 picks one (printed)")
	chaosFaults   = flag.String("chaos.faults", "", "TestChaos: comma-separated faults to inject (default all): "+strings.Join(chaosFaultNames, ","))
)

var chaosFaultNames = []string{"kill-server", "kill-server+holder", "kill-holder", "drop-ssh", "second-server", "two-at-once"}

const (
	// chaosMaxTailLoss bounds the lines a generation may lose at its end
	// (output a killed server had not flushed, or a killed holder had not
	// passed on): 5 s of printing, far above one 200ms flush window.
	chaosMaxTailLoss = 100
	// fdSlack is how many more fds a server may hold after sessions came
	// and went (database/sql pool growth, the runtime's own).
	fdSlack = 5
)

// chaosServer is one stdio server process under test.
type chaosServer struct {
	name   string
	c      *client.Client
	cmd    *exec.Cmd
	stderr *lockedBuffer
}

func (s *chaosServer) pid() int { return s.cmd.Process.Pid }

// chaosSession is one session and what the test expects of it.
type chaosSession struct {
	id, prefix string
	ssh        bool
	// seen at the last settle
	owner  *chaosServer
	gen    int
	pid    int
	cursor int64
	// expected at the next settle
	minGen  int
	samePid bool // only server kills since the last settle: a local session must be reattached
	killed  bool // its server was killed since the last settle
}

type chaos struct {
	t        *testing.T
	env      []string
	stateDir string
	truthDir string
	rng      *rand.Rand
	fx       *sshFixture
	servers  []*chaosServer
	sess     []*chaosSession
	started  time.Time
	nServers int
	faults   map[string]int
	// invariant bookkeeping
	maxAttached  int
	observations int
	twoAtOnce    int
	reattached   int
	violations   map[invariant][]string
}

// invariant names one row of the summary.
type invariant string

const (
	invFinal     invariant = "every session has a final status (stopped, also in SQLite)"
	invNumbers   invariant = "numbers read back in order, no duplicates, gaps only at markers"
	invDurable   invariant = "stop state and output identical after kill -9 + restart"
	invIntegrity invariant = "PRAGMA integrity_check"
	invOrphans   invariant = "no orphan holders or programs after all sessions stopped"
	invFds       invariant = "no leaked fds"
	invTwice     invariant = "no session attached by two servers"
	invReattach  invariant = "server kill -9: local sessions reattached (same pid)"
	invRecovery  invariant = "sessions come back after every fault"
)

func (ch *chaos) logf(format string, args ...any) {
	ch.t.Helper()
	ch.t.Logf("%6.2fs "+format, append([]any{time.Since(ch.started).Seconds()}, args...)...)
}

// violate records a broken invariant; the test goes on so that the summary
// shows every one.
func (ch *chaos) violate(inv invariant, format string, args ...any) {
	ch.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ch.violations[inv] = append(ch.violations[inv], msg)
	ch.t.Errorf("%6.2fs %s: broken: %s", time.Since(ch.started).Seconds(), inv, msg)
}

// loopScript prints PREFIX/KEY/Ln every 50ms, KEY being the process id and
// its start time (pids wrap), and first appends n to a truth file of its
// own: what was printed, known without asking the server.
func loopScript(truthDir, prefix string) string {
	return fmt.Sprintf(`k=$$.${EPOCHREALTIME/./}; i=0; while :; do i=$((i+1)); echo $i >> %s/%s-$k; echo "%s/$k/L$i"; sleep 0.05; done`,
		truthDir, prefix, prefix)
}

func TestChaos(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	faults := *chaosFaults
	if faults == "" {
		faults = "all"
	}
	t.Logf("chaos seed %d (replay: -chaos.seed=%d); %d local sessions + 1 SSH; faults (%s) for %v", seed, seed, *chaosSessions, faults, *chaosDuration)
	fx := newSSHFixture(t)
	ch := &chaos{
		t: t, env: fx.env, stateDir: envValue(fx.env, "CONSOLE_MCP_STATE_DIR"), truthDir: t.TempDir(),
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), fx: fx, started: time.Now(),
		faults: map[string]int{}, violations: map[invariant][]string{},
	}
	t.Cleanup(func() {
		// A failed run leaves holders and loops behind; end them.
		for _, pid := range holderProcs(ch.stateDir) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // best effort: it may be gone
		}
		for _, pid := range procsWithArg(ch.truthDir) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // best effort: it may be gone
		}
	})
	first := ch.startServers(1)[0]
	baseFds := fdCount(t, first.pid())
	for i := 0; i < *chaosSessions; i++ {
		ch.create(fmt.Sprintf("A%d", i), false)
	}
	ch.create("S0", true)
	ch.settle("create")

	for deadline := time.Now().Add(*chaosDuration); time.Now().Before(deadline); {
		time.Sleep(time.Duration(200+ch.rng.IntN(500)) * time.Millisecond)
		ch.fault()
		if ch.rng.IntN(5) > 0 { // else the next fault comes before recovery is confirmed
			ch.settle("fault")
		}
	}
	ch.finish(baseFds)
}

// startServers starts n servers at the same moment (recovery runs at
// process start) and then initializes them.
func (ch *chaos) startServers(n int) []*chaosServer {
	t := ch.t
	t.Helper()
	var args []string
	if lvl := os.Getenv("CONSOLE_MCP_TEST_LOG"); lvl != "" {
		args = []string{"--log-level", lvl}
	}
	out := make([]*chaosServer, n)
	errs := make([]error, n)
	for i := range out {
		ch.nServers++
		out[i] = &chaosServer{name: fmt.Sprintf("srv%d", ch.nServers), stderr: &lockedBuffer{}}
	}
	var wg sync.WaitGroup
	for i, s := range out {
		wg.Go(func() {
			s.c, errs[i] = client.NewStdioMCPClientWithOptions(binPath, ch.env, args, transport.WithCommandFunc(
				func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
					s.cmd = exec.CommandContext(ctx, command, args...)
					s.cmd.Env = append(os.Environ(), env...)
					s.cmd.Stderr = s.stderr
					return s.cmd, nil
				}))
		})
	}
	wg.Wait()
	for i, s := range out {
		if errs[i] != nil {
			t.Fatalf("start %s: %v", s.name, errs[i])
		}
		t.Cleanup(func() {
			s.c.Close()
			if t.Failed() {
				t.Logf("%s (pid %d) stderr:\n%s", s.name, s.pid(), s.stderr.String())
			}
		})
	}
	for _, s := range out {
		initialize(t, s.c)
		ch.servers = append(ch.servers, s)
	}
	names := make([]string, n)
	for i, s := range out {
		names[i] = fmt.Sprintf("%s (pid %d)", s.name, s.pid())
	}
	ch.logf("started %s", strings.Join(names, " and "))
	return out
}

// killServer kills s with kill -9 and reaps it.
func (ch *chaos) killServer(s *chaosServer) {
	kill9(ch.t, s.pid())
	s.c.Close() // reaps the process
	for i, x := range ch.servers {
		if x == s {
			ch.servers = append(ch.servers[:i], ch.servers[i+1:]...)
			break
		}
	}
	ch.logf("killed -9 %s (pid %d)", s.name, s.pid())
}

func (ch *chaos) create(prefix string, ssh bool) {
	script := loopScript(ch.truthDir, prefix)
	args := map[string]any{"command": "/bin/bash", "args": []string{"-c", script}}
	if ssh {
		args = ch.fx.sshArgs(nil)
		args["command"] = script
	}
	args["name"] = "chaos-" + prefix
	r := mustCall(ch.t, ch.servers[0].c, "console_create_session", args)
	ch.sess = append(ch.sess, &chaosSession{id: r.str("session_id"), prefix: prefix, ssh: ssh, minGen: 1})
}

// view is one server's console_list_sessions, by session id.
type view map[string]map[string]any

// observe lists the sessions on every server and checks that no session
// is attached by two of them: live without "attached by another
// console-mcp server" in its status reason.
func (ch *chaos) observe() (views []view, owner map[string]int) {
	owner = map[string]int{}
	for _, s := range ch.servers {
		l := mustCall(ch.t, s.c, "console_list_sessions", map[string]any{"include_ended": true})
		v := view{}
		items, _ := l.Structured["sessions"].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			v[m["session_id"].(string)] = m
		}
		views = append(views, v)
	}
	ch.observations++
	for _, cs := range ch.sess {
		var by []string
		for i, v := range views {
			it := v[cs.id]
			if it == nil {
				ch.violate(invFinal, "%s (%s) is not listed by %s", cs.id, cs.prefix, ch.servers[i].name)
				continue
			}
			reason, _ := it["status_reason"].(string)
			switch it["status"] {
			case "starting", "running", "reconnecting":
				if !strings.Contains(reason, "attached by another console-mcp server") {
					by = append(by, ch.servers[i].name)
					owner[cs.id] = i
				}
			}
		}
		ch.maxAttached = max(ch.maxAttached, len(by))
		if len(by) > 1 {
			ch.violate(invTwice, "%s (%s) is attached by %d servers at once: %v", cs.id, cs.prefix, len(by), by)
		}
	}
	return views, owner
}

// settle waits until every session is attached by exactly one server, is
// running at its expected generation (the same process where only servers
// died) and its output grows again.
func (ch *chaos) settle(why string) {
	t := ch.t
	t.Helper()
	flowFrom := map[string]int64{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		views, owner := ch.observe()
		pending := []string{}
		for _, cs := range ch.sess {
			i, ok := owner[cs.id]
			if !ok {
				for j, v := range views {
					if it := v[cs.id]; it != nil && it["status"] != "running" && it["status"] != "reconnecting" && it["status"] != "starting" {
						ch.violate(invRecovery, "%s (%s) is %v on %s: %v", cs.id, cs.prefix, it["status"], ch.servers[j].name, it["status_reason"])
						t.FailNow()
					}
				}
				pending = append(pending, cs.prefix+": no server attached")
				continue
			}
			it := views[i][cs.id]
			gen, pid, cursor := int(it["generation"].(float64)), int(it["pid"].(float64)), int64(it["cursor"].(float64))
			if it["status"] != "running" || gen < cs.minGen {
				pending = append(pending, fmt.Sprintf("%s: %v generation %d (want >= %d) on %s", cs.prefix, it["status"], gen, cs.minGen, ch.servers[i].name))
				continue
			}
			if _, ok := flowFrom[cs.id]; !ok {
				flowFrom[cs.id] = cursor
				if cs.samePid && cs.killed {
					if gen != cs.gen || pid != cs.pid {
						ch.violate(invReattach, "%s (%s) was not reattached after its server died: generation %d pid %d, was generation %d pid %d",
							cs.id, cs.prefix, gen, pid, cs.gen, cs.pid)
					} else {
						ch.reattached++
					}
				}
			}
			if cursor <= flowFrom[cs.id] {
				pending = append(pending, cs.prefix+": no new output yet")
			}
		}
		if len(pending) == 0 {
			for _, cs := range ch.sess {
				it := views[owner[cs.id]][cs.id]
				cs.owner = ch.servers[owner[cs.id]]
				cs.gen, cs.pid, cs.cursor = int(it["generation"].(float64)), int(it["pid"].(float64)), int64(it["cursor"].(float64))
				cs.minGen, cs.samePid, cs.killed = cs.gen, !cs.ssh, false
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, the sessions did not settle in 60s: %v", why, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fault injects one fault chosen by the seeded generator.
func (ch *chaos) fault() {
	faults := []struct {
		name   string
		weight int
		do     func() bool
	}{
		{"kill-server", 30, func() bool { ch.serverDies(ch.servers[ch.rng.IntN(len(ch.servers))], false, true); return true }},
		{"kill-server+holder", 15, func() bool {
			cs := ch.runningLocal()
			if cs == nil {
				return false
			}
			ch.serverDies(cs.owner, true, true)
			return true
		}},
		{"kill-holder", 20, func() bool {
			cs := ch.runningLocal()
			return cs != nil && ch.killHolder(cs)
		}},
		{"drop-ssh", 15, func() bool {
			for _, cs := range ch.sess {
				if cs.ssh {
					cs.minGen = max(cs.minGen, cs.gen+1)
				}
			}
			ch.fx.srv.Drop()
			ch.logf("dropped the SSH connections")
			return true
		}},
		{"second-server", 10, func() bool {
			if len(ch.servers) > 1 {
				return false
			}
			ch.startServers(1)
			return true
		}},
		{"two-at-once", 10, func() bool {
			for len(ch.servers) > 0 {
				ch.serverDies(ch.servers[0], false, false)
			}
			ch.startServers(2)
			ch.twoAtOnce++
			return true
		}},
	}
	total := 0
	for i, f := range faults {
		if *chaosFaults != "" && !slices.Contains(strings.Split(*chaosFaults, ","), f.name) {
			faults[i].weight = 0
		}
		total += faults[i].weight
	}
	if total == 0 {
		ch.t.Fatalf("-chaos.faults=%s names no fault: use %s", *chaosFaults, strings.Join(chaosFaultNames, ","))
	}
	for range 100 { // a fault that does not apply now (a second server while two run) is drawn again
		n := ch.rng.IntN(total)
		for _, f := range faults {
			if n -= f.weight; n < 0 {
				if f.do() {
					ch.faults[f.name]++
					return
				}
				break
			}
		}
	}
}

// runningLocal picks a local session that was running at the last settle
// and still has a live holder.
func (ch *chaos) runningLocal() *chaosSession {
	var c []*chaosSession
	for _, cs := range ch.sess {
		if !cs.ssh && cs.pid > 0 && slices.Contains(ch.servers, cs.owner) {
			if h, ok := procPPid(cs.pid); ok && isHolder(h, ch.stateDir) {
				c = append(c, cs)
			}
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[ch.rng.IntN(len(c))]
}

// killHolder kills the holder of a local session with kill -9: its program
// gets a hang-up and the session must come back as the next generation.
func (ch *chaos) killHolder(cs *chaosSession) bool {
	h, ok := procPPid(cs.pid)
	if !ok || !isHolder(h, ch.stateDir) {
		return false
	}
	kill9(ch.t, h)
	cs.minGen, cs.samePid = max(cs.minGen, cs.gen+1), false
	ch.logf("killed -9 the holder (pid %d) of %s (%s)", h, cs.id, cs.prefix)
	return true
}

// serverDies kills s; with holderToo also the holder of one of its local
// sessions while no server owns it. With replace, sessions left without a
// server get a new one (a running server adopts only at its start), and
// sometimes s is replaced anyway.
func (ch *chaos) serverDies(s *chaosServer, holderToo, replace bool) {
	_, owner := ch.observe()
	orphans := 0
	for _, cs := range ch.sess {
		if i, ok := owner[cs.id]; ok && ch.servers[i] == s {
			orphans++
			cs.killed = true
			if cs.ssh { // the connection dies with the server
				cs.minGen = max(cs.minGen, cs.gen+1)
			}
		}
	}
	var victim *chaosSession
	if holderToo {
		for _, cs := range ch.sess {
			if i, ok := owner[cs.id]; ok && ch.servers[i] == s && !cs.ssh && cs.pid > 0 {
				victim = cs
				break
			}
		}
	}
	ch.killServer(s)
	if victim != nil {
		ch.killHolder(victim)
	}
	if replace && (len(ch.servers) == 0 || orphans > 0 || ch.rng.IntN(2) == 0) {
		ch.startServers(1)
	}
}

// finish ends the run and checks every invariant, then prints them.
func (ch *chaos) finish(baseFds int) {
	t := ch.t
	// One server owns everything at the end: the last restart.
	for len(ch.servers) > 0 {
		ch.serverDies(ch.servers[0], false, false)
	}
	ch.startServers(1)
	ch.settle("the final restart")
	final := ch.servers[0]
	faultTime := time.Since(ch.started)

	// Every session stops and says so.
	for _, cs := range ch.sess {
		r := mustCall(t, final.c, "console_stop_session", map[string]any{"session_id": cs.id, "grace_ms": 2000})
		if r.str("status") != "stopped" {
			ch.violate(invFinal, "%s (%s): console_stop_session says %q: %s", cs.id, cs.prefix, r.str("status"), r.Text)
		}
	}
	views, _ := ch.observe()
	reports := make([]streamReport, len(ch.sess))
	texts := make([]string, len(ch.sess))
	for i, cs := range ch.sess {
		it := views[0][cs.id]
		info := mustCall(t, final.c, "console_session_info", map[string]any{"session_id": cs.id})
		var read streamRead
		read, texts[i] = readStream(t, final.c, cs.id)
		rep := checkStream(cs.prefix, texts[i], truthCounts(t, ch.truthDir, cs.prefix))
		rep.status, rep.gen, rep.lostBytes = it["status"].(string), int(it["generation"].(float64)), read.lost
		if lb := info.num("lost_bytes"); lb != read.lost {
			rep.problems = append(rep.problems, fmt.Sprintf("session_info lost_bytes %d, get_output reported %d", lb, read.lost))
		}
		if rep.status != "stopped" {
			ch.violate(invFinal, "%s (%s): listed as %s after console_stop_session", cs.id, cs.prefix, rep.status)
		}
		if rep.runs > rep.gen || rep.markers > rep.gen-1 {
			rep.problems = append(rep.problems, fmt.Sprintf("%d generations printed and %d restart markers, but generation is %d", rep.runs, rep.markers, rep.gen))
		}
		for _, p := range rep.problems {
			ch.violate(invNumbers, "%s (%s): %s", cs.id, cs.prefix, p)
		}
		reports[i] = rep
	}

	// No fd leaks: stopped sessions release theirs, and sessions that come
	// and go on the final server leave nothing behind.
	afterStop := settledFds(t, final.pid(), ch.stateDir)
	if afterStop > baseFds+fdSlack {
		ch.violate(invFds, "the final server holds %d fds after stopping every session; the first held %d before any: %v", afterStop, baseFds, fdTargets(final.pid()))
	}
	for i := 0; i < len(ch.sess); i++ {
		args := map[string]any{"command": "/bin/sh", "args": []string{"-c", "echo extra-ready; exec sleep 600"}}
		if i == 0 {
			args = ch.fx.sshArgs(nil)
			args["command"] = "echo extra-ready; exec sleep 600"
		}
		id := mustCall(t, final.c, "console_create_session", args).str("session_id")
		if w := mustCall(t, final.c, "console_wait_for_output", map[string]any{"session_id": id, "cursor": 0, "pattern": "extra-ready", "timeout_ms": 20000}); !w.boolean("matched") {
			ch.violate(invRecovery, "extra session %s never printed: %s", id, w.Text)
		}
		mustCall(t, final.c, "console_stop_session", map[string]any{"session_id": id})
	}
	afterExtra := settledFds(t, final.pid(), ch.stateDir)
	if afterExtra > afterStop+fdSlack {
		ch.violate(invFds, "fds of the final server grew from %d to %d over %d sessions created and stopped: %v", afterStop, afterExtra, len(ch.sess), fdTargets(final.pid()))
	}

	// What the server said after the stop survives a kill -9.
	ch.serverDies(final, false, false)
	check := ch.startServers(1)[0]
	for i, cs := range ch.sess {
		it := sessionItem(t, check.c, cs.id)
		if it["status"] != "stopped" || int(it["generation"].(float64)) != reports[i].gen {
			ch.violate(invDurable, "%s (%s) after a kill -9 and restart: %v generation %v, was stopped generation %d", cs.id, cs.prefix, it["status"], it["generation"], reports[i].gen)
		}
		if _, again := readStream(t, check.c, cs.id); again != texts[i] {
			ch.violate(invDurable, "%s (%s): the output read after a restart differs from the one read before (%d vs %d bytes)", cs.id, cs.prefix, len(again), len(texts[i]))
		}
	}
	if l := mustCall(t, check.c, "console_list_sessions", nil); len(l.Structured["sessions"].([]any)) != 0 {
		ch.violate(invFinal, "live sessions remain after stopping all: %s", l.Text)
	}
	if err := check.c.Close(); err != nil {
		ch.violate(invFinal, "%s did not exit cleanly when its client closed: %v", check.name, err)
	}
	ch.servers = nil

	holders := waitGone(func() []int { return holderProcs(ch.stateDir) })
	if len(holders) > 0 {
		ch.violate(invOrphans, "orphan holders after every session stopped: %v", holders)
	}
	programs := waitGone(func() []int { return procsWithArg(ch.truthDir) })
	if len(programs) > 0 {
		ch.violate(invOrphans, "programs of stopped sessions still run: %v", programs)
	}
	integrity := ch.checkDatabase(reports)

	ch.summary(reports, faultTime, baseFds, afterStop, afterExtra, len(holders), len(programs), integrity)
}

// checkDatabase opens the database the servers left behind.
func (ch *chaos) checkDatabase(reports []streamReport) string {
	st, err := persist.Open(ch.stateDir, persist.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		ch.violate(invIntegrity, "open the database after the last server: %v", err)
		return "cannot open"
	}
	defer st.Close()
	result := "ok"
	if err := st.IntegrityCheck(); err != nil {
		ch.violate(invIntegrity, "PRAGMA integrity_check: %v", err)
		result = err.Error()
	}
	for i, cs := range ch.sess {
		rec, err := st.Session(sessions.ID(cs.id))
		if err != nil {
			ch.violate(invFinal, "%s (%s) is not in the database: %v", cs.id, cs.prefix, err)
			continue
		}
		if string(rec.Status) != "stopped" || rec.Generation != reports[i].gen {
			ch.violate(invFinal, "%s (%s) stored as %s generation %d, want stopped generation %d", cs.id, cs.prefix, rec.Status, rec.Generation, reports[i].gen)
		}
	}
	return result
}

func (ch *chaos) summary(reports []streamReport, faultTime time.Duration, baseFds, afterStop, afterExtra, holders, programs int, integrity string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nchaos summary (%v of faults, %v in all)\n", faultTime.Round(time.Millisecond), time.Since(ch.started).Round(time.Millisecond))
	fmt.Fprintf(&b, "faults: %v; servers started: %d\n\n", ch.faults, ch.nServers)
	fmt.Fprintf(&b, "%-14s %-5s %-8s %4s %5s %6s %8s %6s %10s %9s %10s %s\n",
		"session", "kind", "status", "gen", "runs", "lines", "markers", "trunc", "tail-lost", "lost-gens", "lost-bytes", "problems")
	var lines, tail, maxTail int
	for i, cs := range ch.sess {
		r := reports[i]
		kind := "local"
		if cs.ssh {
			kind = "ssh"
		}
		fmt.Fprintf(&b, "%-14s %-5s %-8s %4d %5d %6d %8d %6d %6d(%3d) %9d %10d %d\n",
			cs.id+" "+cs.prefix, kind, r.status, r.gen, r.runs, r.lines, r.markers, r.truncated, r.tailLost, r.maxTail, r.lostGens, r.lostBytes, len(r.problems))
		lines += r.lines
		tail += r.tailLost
		maxTail = max(maxTail, r.maxTail)
	}
	fmt.Fprintf(&b, "\n%-66s %-6s %s\n", "invariant", "result", "figures")
	row := func(inv invariant, detail string, args ...any) {
		verdict := "ok"
		if n := len(ch.violations[inv]); n > 0 {
			verdict = fmt.Sprintf("BROKEN (%d)", n)
		}
		fmt.Fprintf(&b, "%-66s %-6s %s\n", inv, verdict, fmt.Sprintf(detail, args...))
	}
	row(invFinal, "%d sessions", len(ch.sess))
	row(invNumbers, "%d lines; lost at restarts: %d lines (max %d per generation, bound %d)", lines, tail, maxTail, chaosMaxTailLoss)
	row(invDurable, "")
	row(invIntegrity, "%s", integrity)
	row(invOrphans, "%d holders, %d programs", holders, programs)
	row(invFds, "first server %d before any session; final %d after stop, %d after %d more sessions", baseFds, afterStop, afterExtra, len(ch.sess))
	row(invTwice, "max %d over %d observations; two servers started at once %d times", ch.maxAttached, ch.observations, ch.twoAtOnce)
	row(invReattach, "%d reattachments", ch.reattached)
	row(invRecovery, "")
	ch.t.Log(b.String())
}

// waitGone polls list until it is empty or 10s passed, and returns it.
func waitGone(list func() []int) []int {
	var l []int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if l = list(); len(l) == 0 || time.Now().After(deadline) {
			return l
		}
	}
}

// settledFds waits until no holder of stateDir is left (the server closes
// its side as they go) and the fd count of pid stayed the same for a
// second, or 10s passed, and returns the count.
func settledFds(t testing.TB, pid int, stateDir string) int {
	t.Helper()
	waitGone(func() []int { return holderProcs(stateDir) })
	n := fdCount(t, pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		m := fdCount(t, pid)
		if m == n {
			break
		}
		n = m
	}
	return n
}

// streamRead is how a session's output was read.
type streamRead struct {
	pages int
	lost  int64
}

// readStream pages through a session's text output with cursors from 0,
// 16 KiB at a time. A page that reports lost bytes is preceded by a
// "\x00lost N" line, so the check knows where the server admitted a gap.
func readStream(t *testing.T, c *client.Client, id string) (streamRead, string) {
	t.Helper()
	var r streamRead
	var b strings.Builder
	for cursor := int64(0); ; r.pages++ {
		p := mustCall(t, c, "console_get_output", map[string]any{"session_id": id, "cursor": cursor, "max_bytes": 16 << 10})
		if n := p.num("lost_bytes"); n > 0 {
			r.lost += n
			fmt.Fprintf(&b, "\n\x00lost %d\n", n)
		}
		b.WriteString(p.str("output"))
		next := p.num("cursor")
		if !p.boolean("has_more") {
			return r, b.String()
		}
		if next <= cursor {
			t.Fatalf("console_get_output of %s: the cursor did not advance from %d: %s", id, cursor, p.Text)
		}
		cursor = next
	}
}

// truthCounts reads the truth files of the sessions with prefix: for each
// program (its key), how many lines it printed.
func truthCounts(t *testing.T, dir, prefix string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, prefix+"-*"))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		nums := strings.Fields(string(b))
		for i, n := range nums {
			if n != strconv.Itoa(i+1) {
				t.Fatalf("truth file %s is not 1..n: line %d is %q", f, i+1, n)
			}
		}
		counts[strings.TrimPrefix(filepath.Base(f), prefix+"-")] = len(nums)
	}
	return counts
}

// streamReport is what checkStream found in one session's output.
type streamReport struct {
	status    string
	gen       int
	lostBytes int64
	// lines read, generations (programs) seen, restart markers, lines cut
	// short by a restart
	lines, runs, markers, truncated int
	// lines printed but not readable: at generation ends (at a marker) and
	// whole generations never read
	tailLost, maxTail, lostGens int
	problems                    []string
}

var (
	chaosLineRE = regexp.MustCompile(`^([A-Z][0-9]+)/([0-9]+)\.([0-9]+)/L([0-9]+)$`)
	markerGenRE = regexp.MustCompile(`\(generation ([0-9]+)\)`)
)

type streamToken struct {
	kind byte // 'n' numbered line, 'm' restart marker, 'l' lost window, 'o' other
	key  string
	n    int
	raw  string
	cut  bool // a marker or a lost window follows
}

// checkStream checks one session's text output against what its programs
// printed (truth: lines per program key). Each program (generation) must
// appear once, in start order, as L1, L2, ... without duplicates or gaps;
// a new generation only after a "[console-mcp] ..." marker line. Lines may
// be missing only at the end of a generation that a marker ends (the server
// or holder died), or across a window the server reported as lost; the
// last generation (stopped) may miss only the line being printed when it
// was stopped (the truth file is written first).
func checkStream(prefix, text string, truth map[string]int) streamReport {
	var r streamReport
	problem := func(format string, args ...any) { r.problems = append(r.problems, fmt.Sprintf(format, args...)) }
	var toks []streamToken
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "\x00lost "):
			toks = append(toks, streamToken{kind: 'l', raw: line})
		case strings.HasPrefix(line, "[console-mcp] "):
			toks = append(toks, streamToken{kind: 'm', raw: line})
		default:
			m := chaosLineRE.FindStringSubmatch(line)
			if m == nil || m[1] != prefix {
				toks = append(toks, streamToken{kind: 'o', raw: line})
				continue
			}
			n, _ := strconv.Atoi(m[4])
			toks = append(toks, streamToken{kind: 'n', key: m[2] + "." + m[3], n: n, raw: line})
		}
	}
	for i := 0; i+1 < len(toks); i++ {
		toks[i].cut = toks[i+1].kind == 'm' || toks[i+1].kind == 'l'
	}

	type run struct {
		key   string
		start int64 // EPOCHREALTIME in microseconds
		last  int
	}
	var cur *run
	seen := map[string]bool{}
	closeRun := func(final bool) {
		if cur == nil {
			return
		}
		n, ok := truth[cur.key]
		switch tail := n - cur.last; {
		case !ok:
			problem("generation %s printed no truth file", cur.key)
		case tail < 0:
			problem("generation %s: read L%d but it printed %d lines", cur.key, cur.last, n)
		case final && tail > 1:
			problem("generation %s (the last, stopped): L%d..L%d are missing", cur.key, cur.last+1, n)
		case !final:
			r.tailLost += tail
			r.maxTail = max(r.maxTail, tail)
			if tail > chaosMaxTailLoss {
				problem("generation %s lost its last %d lines (L%d..L%d) at a restart: more than %d", cur.key, tail, cur.last+1, n, chaosMaxTailLoss)
			}
		}
	}
	boundary, lost, lastMarkerGen := false, false, 0
	for _, tk := range toks {
		switch tk.kind {
		case 'm':
			r.markers++
			boundary = true
			m := markerGenRE.FindStringSubmatch(tk.raw)
			if m == nil {
				problem("marker without a generation: %q", tk.raw)
				continue
			}
			g, _ := strconv.Atoi(m[1])
			if g <= lastMarkerGen {
				problem("marker of generation %d after one of generation %d: %q", g, lastMarkerGen, tk.raw)
			}
			lastMarkerGen = g
		case 'l':
			boundary, lost = true, true
		case 'o':
			if tk.cut {
				r.truncated++ // a line a restart cut short
				continue
			}
			problem("unexpected line %q", tk.raw)
		case 'n':
			if cur != nil && tk.key == cur.key {
				next := fmt.Sprintf("%s/%s/L%d", prefix, cur.key, cur.last+1)
				switch {
				case tk.cut && tk.n != cur.last+1 && strings.HasPrefix(next, tk.raw):
					r.truncated++
					continue
				case boundary && !lost:
					problem("generation %s: L%d after a restart marker (the old program still prints)", tk.key, tk.n)
				case tk.n == cur.last+1, lost && tk.n > cur.last:
				default:
					problem("generation %s: L%d after L%d", tk.key, tk.n, cur.last)
				}
				cur.last = max(cur.last, tk.n)
			} else {
				if seen[tk.key] {
					problem("generation %s prints again after another generation", tk.key)
				}
				if cur != nil && !boundary {
					problem("generation %s follows %s without a restart marker", tk.key, cur.key)
				}
				if tk.n != 1 && !lost {
					problem("generation %s begins at L%d", tk.key, tk.n)
				}
				closeRun(false)
				start, _ := strconv.ParseInt(tk.key[strings.IndexByte(tk.key, '.')+1:], 10, 64)
				if cur != nil && start <= cur.start {
					problem("generation %s started before %s, which precedes it", tk.key, cur.key)
				}
				cur = &run{key: tk.key, start: start, last: tk.n}
				seen[tk.key] = true
				r.runs++
			}
			r.lines++
			boundary, lost = false, false
		}
	}
	closeRun(!boundary)
	for key, n := range truth {
		if !seen[key] {
			r.lostGens++
			r.tailLost += n
			r.maxTail = max(r.maxTail, n)
			if n > chaosMaxTailLoss {
				problem("generation %s printed %d lines, none readable", key, n)
			}
		}
	}
	return r
}

// TestReattachAfterRespawn is what TestChaos found first: a session whose
// program was re-spawned (its holder died; the server wrote a marker line)
// must still be reattached, with its output continuous, when the server is
// killed afterwards. The marker is in the server's stream but not in the
// new holder's, whose offsets begin where the marker begins.
func TestReattachAfterRespawn(t *testing.T) {
	env := testEnv(t, t.TempDir())
	c1, srv1 := stdioServer(t, env)
	id := mustCall(t, c1, "console_create_session", map[string]any{"command": "/bin/bash",
		"args": []string{"-c", `i=0; while :; do i=$((i+1)); echo n$i; sleep 0.2; done`}}).str("session_id")
	mustCall(t, c1, "console_wait_for_output", map[string]any{"session_id": id, "cursor": 0, "pattern": `^n2$`, "timeout_ms": 10000})
	kill9(t, ppid(t, int(sessionItem(t, c1, id)["pid"].(float64))))
	it := waitStatus(t, c1, id, "running", 2)
	pid := int(it["pid"].(float64))
	mustCall(t, c1, "console_wait_for_output", map[string]any{"session_id": id, "cursor": int64(it["cursor"].(float64)), "pattern": `^n3$`, "timeout_ms": 10000})
	time.Sleep(500 * time.Millisecond) // beyond one flush window (200ms): the server's output is committed
	kill9(t, srv1.Process.Pid)

	c2, _ := stdioServer(t, env)
	it = sessionItem(t, c2, id)
	if it["status"] != "running" || int(it["pid"].(float64)) != pid || it["generation"] != float64(2) {
		info := mustCall(t, c2, "console_session_info", map[string]any{"session_id": id})
		t.Fatalf("after the server was killed, the re-spawned session (generation 2, pid %d) is %v generation %v pid %v, want reattached:\n%s",
			pid, it["status"], it["generation"], it["pid"], info.Text)
	}
	w := mustCall(t, c2, "console_wait_for_output", map[string]any{"session_id": id, "cursor": int64(it["cursor"].(float64)), "pattern": `^n12$`, "timeout_ms": 10000})
	if !w.boolean("matched") {
		t.Fatalf("no n12 after the restart: %s", w.Text)
	}
	out, lost := readAll(t, c2, id, 0)
	gen2 := out[strings.LastIndex(out, "[console-mcp]"):]
	gen2 = gen2[strings.IndexByte(gen2, '\n')+1:]
	var want strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&want, "n%d\n", i)
	}
	if lost != 0 || !strings.HasPrefix(gen2, want.String()) {
		t.Errorf("generation 2 read back (lost_bytes %d) is not n1..n12 once, in order:\n%q", lost, gen2)
	}
}

// TestProgramGetsNoHolderFd is the second finding of TestChaos (a program
// that outlived its holder still held a pipe): a session's program must
// not inherit the holder's status pipe, or any descriptor the server
// inherited, only its terminal. The program's descriptors are read from
// /proc from outside: a shell asked about its own fd 3 would report the
// pipe of its command substitution.
func TestProgramGetsNoHolderFd(t *testing.T) {
	c := stdioClient(t, testEnv(t, t.TempDir()))
	r := mustCall(t, c, "console_create_session", map[string]any{"command": "/bin/sleep", "args": []string{"60"}})
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", int(r.num("pid"))))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fd := range fds {
		names = append(names, fd.Name())
	}
	if strings.Join(names, ",") != "0,1,2" {
		t.Errorf("the program's descriptors are %v, want only 0, 1 and 2 (its terminal)", names)
	}
	mustCall(t, c, "console_stop_session", map[string]any{"session_id": r.str("session_id")})
}
