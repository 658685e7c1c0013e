package sessions

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/console-mcp/console-mcp/offring"
)

// Options are the Manager's settings; the zero value of each is documented.
type Options struct {
	// MaxLive is the most sessions with a program at once; zero means 64.
	MaxLive int
	// RingBytes is the most recent output kept in memory per session; zero
	// means 4 MiB. Older output is read from the Store (or is lost without one).
	RingBytes int
	// DefaultShell is the program of a session created without a command;
	// zero means $SHELL, else /bin/sh.
	DefaultShell string
	// Environ is the base environment of local programs; zero means os.Environ.
	Environ func() []string
	// Owner is this server's id in the owner lease (see Leaser); zero means
	// no lease (one server per state dir, or memory only).
	Owner string
	// ReconnectAttempts bounds the re-dials after an SSH drop; zero means 60.
	ReconnectAttempts int
	// ReconnectMaxDelay caps the backoff between re-dials; zero means 1s,
	// so a session is back within about a second of its server returning.
	ReconnectMaxDelay time.Duration
	// Logger receives the manager's logs; zero means slog.Default().
	Logger *slog.Logger
	// Now is the clock; zero means time.Now.
	Now func() time.Time
	// Echoes reports whether the terminal of a local program (by pid)
	// echoes input; a secret is not typed into an echoing terminal. Zero
	// means unknown: secrets are typed, and redacted from the output.
	Echoes func(pid int) (bool, error)
}

// Manager holds this server's sessions. It is safe for concurrent use.
// Close detaches from (or, in-process, ends) every program, waits for every
// session goroutine and flushes the store.
type Manager struct {
	backends map[Kind]Backend
	store    Store
	opt      Options
	log      *slog.Logger
	owner    string

	mu       sync.Mutex
	sessions map[ID]*Session
	closed   bool
	stopBeat chan struct{} // closed by Close to end the lease heartbeat

	wg sync.WaitGroup
}

// NewManager returns a Manager that starts programs with backends (by kind)
// and keeps history in store (nil: memory only).
func NewManager(backends map[Kind]Backend, store Store, opt Options) *Manager {
	if opt.MaxLive <= 0 {
		opt.MaxLive = 64
	}
	if opt.RingBytes <= 0 {
		opt.RingBytes = 4 << 20
	}
	if opt.DefaultShell == "" {
		opt.DefaultShell = os.Getenv("SHELL")
		if opt.DefaultShell == "" {
			opt.DefaultShell = "/bin/sh"
		}
	}
	if opt.Environ == nil {
		opt.Environ = os.Environ
	}
	if opt.ReconnectAttempts <= 0 {
		opt.ReconnectAttempts = 60
	}
	if opt.ReconnectMaxDelay <= 0 {
		opt.ReconnectMaxDelay = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Manager{
		backends: backends, store: store, opt: opt, log: opt.Logger, owner: opt.Owner,
		sessions: make(map[ID]*Session),
	}
}

func (m *Manager) now() time.Time { return m.opt.Now() }

// DefaultShell is the program of a session created without a command.
func (m *Manager) DefaultShell() string { return m.opt.DefaultShell }

// MaxLive is the limit of live sessions.
func (m *Manager) MaxLive() int { return m.opt.MaxLive }

func newID() ID {
	var b [7]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return ID("s-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:10])
}

// normalize fills a spec's defaults and checks it, naming the field and the
// fix in every error.
func (m *Manager) normalize(spec *Spec) error {
	if spec.Kind == "" {
		spec.Kind = KindLocal
	}
	if _, ok := m.backends[spec.Kind]; !ok {
		return fmt.Errorf("kind %q is not available on this server", spec.Kind)
	}
	if spec.Kind == KindSSH && spec.SSH == nil {
		return errors.New("ssh: an ssh session needs the ssh object with at least host")
	}
	if spec.Kind == KindSSH && strings.TrimSpace(spec.SSH.Host) == "" {
		return errors.New("ssh.host is empty: give a host name or an alias from ~/.ssh/config")
	}
	if spec.Command == "" && spec.Kind == KindLocal {
		if len(spec.Args) > 0 {
			return errors.New("args given without command: set command to the program to run")
		}
		spec.Command = m.opt.DefaultShell
	} else if spec.Command != "" && strings.TrimSpace(spec.Command) == "" {
		return errors.New("command is blank: give a program name, or omit it for the login shell")
	}
	if spec.Cols == 0 {
		spec.Cols = 120
	}
	if spec.Rows == 0 {
		spec.Rows = 40
	}
	if err := checkSize(spec.Cols, spec.Rows); err != nil {
		return err
	}
	if len(spec.Name) > 200 {
		return errors.New("name is longer than 200 characters: use a shorter name")
	}
	switch spec.OnRestart {
	case "":
		spec.OnRestart = ReattachOrRestart
	case ReattachOrRestart, ReattachOnly, Never:
	default:
		return fmt.Errorf("on_restart %q is not a policy: use %q, %q or %q", spec.OnRestart, ReattachOrRestart, ReattachOnly, Never)
	}
	for k := range spec.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("env: %q is not a valid variable name", k)
		}
	}
	if spec.Kind == KindLocal && spec.Cwd != "" {
		if !filepath.IsAbs(spec.Cwd) {
			abs, err := filepath.Abs(spec.Cwd)
			if err != nil {
				return fmt.Errorf("cwd %q: %w", spec.Cwd, err)
			}
			spec.Cwd = abs
		}
		st, err := os.Stat(spec.Cwd)
		if err != nil {
			return fmt.Errorf("cwd %q does not exist: give an existing directory", spec.Cwd)
		}
		if !st.IsDir() {
			return fmt.Errorf("cwd %q is not a directory", spec.Cwd)
		}
	}
	return nil
}

// environ is the environment of a local program of spec.
func (m *Manager) environ(spec Spec) []string {
	if spec.Kind != KindLocal {
		env := make([]string, 0, len(spec.Env))
		for k, v := range spec.Env {
			env = append(env, k+"="+v)
		}
		slices.Sort(env)
		return env
	}
	base := m.opt.Environ()
	env := make([]string, 0, len(base)+len(spec.Env)+2)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := spec.Env[k]; over || k == "TERM" || k == "COLORTERM" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "TERM=xterm-256color", "COLORTERM=truecolor")
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+spec.Env[k])
	}
	return env
}

// Create starts a new session. The context bounds the start only; the
// program lives until it exits or is stopped.
func (m *Manager) Create(ctx context.Context, spec Spec) (*Session, error) {
	if err := m.normalize(&spec); err != nil {
		return nil, err
	}
	now := m.now()
	s := &Session{
		id: newID(), m: m, shell: shellOf(spec),
		spec: spec, status: StatusStarting, cwd: spec.Cwd,
		createdAt: now, lastActivity: now,
		out: offring.New(m.opt.RingBytes, 0), changed: make(chan struct{}),
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	if n := m.liveLocked(); n >= m.opt.MaxLive {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %d of %d are live; stop one with console_stop_session (list them with console_list_sessions) or raise --max-sessions", ErrTooMany, n, m.opt.MaxLive)
	}
	m.sessions[s.id] = s
	m.mu.Unlock()

	p, err := m.backends[spec.Kind].Start(ctx, StartRequest{
		ID: s.id, Generation: 1, Offset: 0, Spec: spec, Cwd: spec.Cwd, Env: m.environ(spec),
	})
	if err != nil {
		m.mu.Lock()
		delete(m.sessions, s.id)
		m.mu.Unlock()
		return nil, err
	}
	s.startGeneration(p, 1)
	s.event(Event{Generation: 1, Kind: EventResize, Data: fmt.Sprintf("%dx%d", spec.Cols, spec.Rows)})
	if spec.Cwd == "" {
		s.mu.Lock()
		s.cwd = p.Cwd()
		s.mu.Unlock()
	}
	m.save(s)
	return s, nil
}

func (m *Manager) liveLocked() int {
	n := 0
	for _, s := range m.sessions {
		s.mu.Lock()
		if s.status.Live() {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// Get returns the session id: one of this server's, or the history of one
// from an earlier run (read from the store).
func (m *Manager) Get(id ID) (*Session, error) {
	m.mu.Lock()
	s, ok := m.sessions[id]
	m.mu.Unlock()
	if ok {
		return s, nil
	}
	if m.store == nil {
		return nil, fmt.Errorf("%w: no session %q", ErrNotFound, id)
	}
	rec, err := m.store.Session(id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: no session %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("load session %s: %w", id, err)
	}
	// Not cached: an ended session is read-only history in the store, and
	// a live one belongs to another server.
	return m.fromRecord(rec), nil
}

// retire lets go of an ended session's memory once its history is safe in
// the store (SaveSession committed it): its ring and screen go, and it
// leaves the map, so a server that runs thousands of sessions stays flat.
// Reads of it then come from the store, through a Session loaded by Get.
func (m *Manager) retire(s *Session) {
	if m.store == nil {
		return
	}
	s.mu.Lock()
	if s.status.Live() {
		s.mu.Unlock()
		return
	}
	s.out = offring.New(m.opt.RingBytes, s.out.End())
	s.mu.Unlock()
	s.screenMu.Lock()
	s.screen = nil
	s.screenMu.Unlock()
	m.mu.Lock()
	if m.sessions[s.id] == s {
		delete(m.sessions, s.id)
	}
	m.mu.Unlock()
}

// fromRecord makes a Session without a program from a stored record.
func (m *Manager) fromRecord(rec Record) *Session {
	s := &Session{
		id: rec.ID, m: m, shell: shellOf(rec.Spec),
		spec: rec.Spec, status: rec.Status, reason: rec.StatusReason, gen: rec.Generation,
		pid: rec.Pid, exit: rec.Exit, cwd: rec.Cwd,
		createdAt: rec.CreatedAt, lastActivity: rec.LastActivityAt, endedAt: rec.EndedAt,
		out: offring.New(m.opt.RingBytes, rec.OutputEnd), lost: rec.LostBytes,
		changed: make(chan struct{}),
	}
	if s.status.Live() && rec.Owner != "" && rec.Owner != m.owner {
		s.reason = "attached by another console-mcp server (" + rec.Owner + ")"
	}
	return s
}

// List returns this server's sessions and the stored ones of earlier runs,
// oldest first; ended ones only when includeEnded.
func (m *Manager) List(includeEnded bool) ([]Info, error) {
	m.mu.Lock()
	seen := make(map[ID]bool, len(m.sessions))
	infos := make([]Info, 0, len(m.sessions))
	for id, s := range m.sessions {
		seen[id] = true
		in := s.Info()
		if in.Status.Live() || includeEnded {
			infos = append(infos, in)
		}
	}
	m.mu.Unlock()
	if m.store != nil {
		recs, err := m.store.Sessions(includeEnded)
		if err != nil {
			return infos, fmt.Errorf("list stored sessions: %w", err)
		}
		for _, rec := range recs {
			if !seen[rec.ID] {
				infos = append(infos, m.fromRecord(rec).Info())
			}
		}
	}
	slices.SortFunc(infos, func(a, b Info) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return infos, nil
}

// save writes s's record (a state transition) to the store.
func (m *Manager) save(s *Session) {
	if m.store == nil {
		return
	}
	if err := m.store.SaveSession(s.record()); err != nil {
		s.storeFailed(err)
	}
}

// Close detaches from every program (in-process programs end), waits for
// the session goroutines and flushes the store. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(s.detach)
	}
	wg.Wait()
	if m.stopBeat != nil {
		close(m.stopBeat)
	}
	m.wg.Wait()
	if m.store == nil {
		return nil
	}
	for _, s := range all {
		if s.Info().Status.Live() {
			m.save(s)
		}
	}
	if err := m.store.Flush(); err != nil {
		return fmt.Errorf("flush store: %w", err)
	}
	if l, ok := m.store.(Leaser); ok && m.owner != "" {
		if err := l.Release(m.owner); err != nil {
			return fmt.Errorf("release owner lease: %w", err)
		}
	}
	return nil
}
