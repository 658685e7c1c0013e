package sshhost

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// hop is one SSH server on the way to a session: a jump host or the target.
type hop struct {
	alias    string // the name as asked (a config alias or a host name)
	hostname string // what is dialed: the config's HostName, else alias
	port     int
	user     string
	// identityFiles are the config's IdentityFile values, expanded.
	identityFiles []string
	// knownHostsFiles are the config's UserKnownHostsFile values, expanded.
	knownHostsFiles []string
	proxyJump       string // the config's ProxyJump, as written
	configured      bool   // a Host block other than "*" matches alias
}

// addr is the hop's "host:port", the form dialed and looked up in
// known_hosts.
func (h hop) addr() string { return net.JoinHostPort(h.hostname, strconv.Itoa(h.port)) }

// label names the hop in messages: the alias, and where it leads when that
// differs.
func (h hop) label() string {
	if h.alias != h.hostname {
		return fmt.Sprintf("%s (%s)", h.alias, h.addr())
	}
	return h.addr()
}

// sshConfig is a parsed ~/.ssh/config; the zero value (no file) answers
// nothing.
type sshConfig struct {
	path string
	cfg  *ssh_config.Config
	// parseErr is why the file at path is not used: the parser does not
	// know every keyword ssh(1) does (Match exec, Match user, ...), and
	// such a config must not make every session fail, only its aliases
	// unknown, with this error in the message.
	parseErr error
}

// loadConfig parses the OpenSSH client config at path. A missing file (or
// path "") is an empty config; a file that cannot be parsed is an empty
// config with parseErr set; a file that cannot be read is an error.
func loadConfig(path string) (*sshConfig, error) {
	if path == "" {
		return &sshConfig{}, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &sshConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return &sshConfig{path: path, parseErr: fmt.Errorf("parse ssh config %s: %w", path, err)}, nil
	}
	return &sshConfig{path: path, cfg: cfg}, nil
}

func (c *sshConfig) get(alias, key string) string {
	if c.cfg == nil {
		return ""
	}
	v, err := c.cfg.Get(alias, key)
	if err != nil {
		return ""
	}
	return v
}

func (c *sshConfig) getAll(alias, key string) []string {
	if c.cfg == nil {
		return nil
	}
	v, err := c.cfg.GetAll(alias, key)
	if err != nil {
		return nil
	}
	return v
}

// configured reports whether a Host block names alias by a pattern other
// than the catch-all "*".
func (c *sshConfig) configured(alias string) bool {
	if c.cfg == nil {
		return false
	}
	for _, h := range c.cfg.Hosts {
		if !h.Matches(alias) {
			continue
		}
		for _, p := range h.Patterns {
			if s := p.String(); s != "*" && !strings.HasPrefix(s, "!") {
				return true
			}
		}
	}
	return false
}

// aliases lists the config's Host names that are not patterns.
func (c *sshConfig) aliases() []string {
	if c.cfg == nil {
		return nil
	}
	var out []string
	for _, h := range c.cfg.Hosts {
		for _, p := range h.Patterns {
			s := p.String()
			if strings.ContainsAny(s, "*?!") || slices.Contains(out, s) {
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

// resolver turns destinations into hops using the config, the way ssh(1)
// does for the keywords this package honours.
type resolver struct {
	cfg       *sshConfig
	home      string
	localUser string
}

// resolve looks up dest ("alias", "host", "user@host:port", "[v6]:port").
// user and port, when non-zero, override both dest and the config.
func (r *resolver) resolve(dest, user string, port int) (hop, error) {
	du, host, dport, err := parseDestination(dest)
	if err != nil {
		return hop{}, err
	}
	h := hop{alias: host, configured: r.cfg.configured(host)}
	switch {
	case user != "":
		h.user = user
	case du != "":
		h.user = du
	default:
		h.user = r.cfg.get(host, "User")
	}
	if h.user == "" {
		h.user = r.localUser
	}

	h.hostname = host
	if hn := r.cfg.get(host, "HostName"); hn != "" {
		hn, err := expandTokens(hn, map[byte]string{'h': host})
		if err != nil {
			return hop{}, fmt.Errorf("ssh config %s: HostName of %s: %w", r.cfg.path, host, err)
		}
		h.hostname = hn
	}

	switch {
	case port != 0:
		h.port = port
	case dport != 0:
		h.port = dport
	default:
		h.port = 22
		if p := r.cfg.get(host, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return hop{}, fmt.Errorf("ssh config %s: Port of %s is %q, not a port number", r.cfg.path, host, p)
			}
			h.port = n
		}
	}
	if h.port <= 0 || h.port > 65535 {
		return hop{}, fmt.Errorf("port %d of %s is not a port number", h.port, host)
	}

	tokens := map[byte]string{
		'd': r.home,
		'h': h.hostname,
		'n': host,
		'p': strconv.Itoa(h.port),
		'r': h.user,
		'u': r.localUser,
	}
	for _, f := range r.cfg.getAll(host, "IdentityFile") {
		p, err := r.expandPath(f, tokens)
		if err != nil {
			return hop{}, fmt.Errorf("ssh config %s: IdentityFile of %s: %w", r.cfg.path, host, err)
		}
		if !slices.Contains(h.identityFiles, p) {
			h.identityFiles = append(h.identityFiles, p)
		}
	}
	if v := r.cfg.get(host, "UserKnownHostsFile"); v != "" && v != "none" {
		for _, f := range strings.Fields(v) {
			p, err := r.expandPath(f, tokens)
			if err != nil {
				return hop{}, fmt.Errorf("ssh config %s: UserKnownHostsFile of %s: %w", r.cfg.path, host, err)
			}
			h.knownHostsFiles = append(h.knownHostsFiles, p)
		}
	}
	h.proxyJump = r.cfg.get(host, "ProxyJump")
	return h, nil
}

// expandPath expands ssh_config tokens and a leading "~/".
func (r *resolver) expandPath(p string, tokens map[byte]string) (string, error) {
	p, err := expandTokens(p, tokens)
	if err != nil {
		return "", err
	}
	return expandHome(p, r.home), nil
}

// expandHome replaces a leading "~" or "~/" by home.
func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

// expandTokens replaces ssh_config's %-tokens found in tokens and "%%".
func expandTokens(s string, tokens map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q ends in a lone %%", s)
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := tokens[s[i]]
		if !ok {
			return "", fmt.Errorf("token %%%c in %q is not supported", s[i], s)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// parseDestination splits "[user@]host[:port]"; host may be a bracketed
// IPv6 address ("[::1]:22") or a bare one ("::1", no port then).
func parseDestination(s string) (user, host string, port int, err error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		user, s = s[:i], s[i+1:]
		if user == "" {
			return "", "", 0, fmt.Errorf("destination %q has an empty user", s)
		}
	}
	portStr := ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", 0, fmt.Errorf("destination %q: missing ]", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return "", "", 0, fmt.Errorf("destination %q: unexpected %q after ]", s, rest)
			}
			portStr = p
		}
	case strings.Count(s, ":") == 1:
		host, portStr, _ = strings.Cut(s, ":")
	default:
		host = s
	}
	if host == "" {
		return "", "", 0, errors.New("destination has no host")
	}
	if strings.ContainsAny(host, " \t/") {
		return "", "", 0, fmt.Errorf("destination host %q is not a host name", host)
	}
	if portStr != "" {
		port, err = strconv.Atoi(portStr)
		if err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("destination %q: %q is not a port number", s, portStr)
		}
	}
	return user, host, port, nil
}

// splitJumps splits ProxyJump-style lists ("a,b", or one hop per element).
func splitJumps(list ...string) []string {
	var out []string
	for _, l := range list {
		for j := range strings.SplitSeq(l, ",") {
			if j = strings.TrimSpace(j); j != "" {
				out = append(out, j)
			}
		}
	}
	return out
}
