package sshhost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
)

// UnknownHostError is a destination that is neither resolvable nor, when
// Configured is false, a Host alias of the ssh config.
type UnknownHostError struct {
	Host       string // as asked
	HostName   string // the name looked up (the config's HostName, else Host)
	Configured bool   // a Host block of ConfigFile matches Host
	ConfigFile string // "" when no config file was read
	Aliases    []string
	ConfigErr  error // why ConfigFile was not used, if it was not
	Err        error // the resolver's error
}

func (e *UnknownHostError) Error() string {
	if e.Configured {
		return fmt.Sprintf("ssh: host %q (HostName %q in %s) does not resolve: %v", e.Host, e.HostName, e.ConfigFile, e.Err)
	}
	where := "no ssh config was read"
	switch {
	case e.ConfigErr != nil:
		where = fmt.Sprintf("the ssh config was not used (%v)", e.ConfigErr)
	case e.ConfigFile != "":
		aliases := "none"
		if len(e.Aliases) > 0 {
			aliases = strings.Join(e.Aliases, ", ")
		}
		where = fmt.Sprintf("it is not a Host alias in %s (aliases there: %s)", e.ConfigFile, aliases)
	}
	return fmt.Sprintf("ssh: unknown host %q: %s and it does not resolve: %v", e.Host, where, e.Err)
}

func (e *UnknownHostError) Unwrap() error { return e.Err }

// chain is the connected clients of one session: jump hosts first, the
// target last. Each client after the first runs over a channel of the one
// before it.
type chain []*ssh.Client

func (c chain) target() *ssh.Client { return c[len(c)-1] }

// close closes the clients, the target first; idempotent.
func (c chain) close() {
	for i := len(c) - 1; i >= 0; i-- {
		_ = c[i].Close() // best effort: a dead connection reports an error here
	}
}

// hopPlan is everything needed to connect one hop.
type hopPlan struct {
	hop   hop
	auth  authSources
	creds *authPlan // loaded from auth before dialing
	keys  *hostKeys
}

// dial connects the hops in order, each through the one before. The
// credentials are loaded first, so that a bad key fails before anything
// is dialed and a slow key derivation does not eat the dial timeout.
func (b *Backend) dial(ctx context.Context, hops []hopPlan, cfg *sshConfig) (chain, error) {
	for i := range hops {
		creds, err := b.newAuthPlan(hops[i].auth)
		if err != nil {
			return nil, err
		}
		hops[i].creds = creds
		defer creds.close()
	}
	var c chain
	for i, hp := range hops {
		client, err := b.dialHop(ctx, hp, c, cfg, i == 0)
		if err != nil {
			c.close()
			return nil, err
		}
		c = append(c, client)
	}
	return c, nil
}

func (b *Backend) dialHop(ctx context.Context, hp hopPlan, via chain, cfg *sshConfig, first bool) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, b.opt.DialTimeout,
		fmt.Errorf("ssh: connecting to %s took longer than %s", hp.hop.label(), b.opt.DialTimeout))
	defer cancel()

	var conn net.Conn
	var err error
	if first {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", hp.hop.addr())
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return nil, &UnknownHostError{
				Host: hp.hop.alias, HostName: hp.hop.hostname, Configured: hp.hop.configured,
				ConfigFile: cfg.path, Aliases: cfg.aliases(), ConfigErr: cfg.parseErr, Err: dnsErr,
			}
		}
		if err != nil {
			if cause := context.Cause(ctx); ctx.Err() != nil {
				return nil, cause
			}
			return nil, fmt.Errorf("ssh: connect to %s: %w", hp.hop.label(), err)
		}
	} else {
		conn, err = via.target().DialContext(ctx, "tcp", hp.hop.addr())
		if err != nil {
			if cause := context.Cause(ctx); ctx.Err() != nil {
				return nil, cause
			}
			return nil, fmt.Errorf("ssh: connect to %s through jump host: %w", hp.hop.label(), err)
		}
	}

	db, err := hp.keys.db()
	if err != nil {
		_ = conn.Close() // best effort: nothing was sent yet
		return nil, err
	}
	plan := hp.creds
	config := &ssh.ClientConfig{
		User:              hp.hop.user,
		AuthCallback:      plan.next, // in plan's order; Auth stays empty
		HostKeyCallback:   hp.keys.callback(db),
		HostKeyAlgorithms: hp.keys.algorithms(db),
	}
	// The handshake has no deadline of its own: closing the connection is
	// what ends it when ctx is done.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, hp.hop.addr(), config)
	if !stop() {
		if err == nil {
			_ = sc.Close() // best effort: the deadline passed just as it finished
		}
		return nil, context.Cause(ctx)
	}
	refused, verified := hp.keys.outcome()
	switch {
	case err == nil:
		return ssh.NewClient(sc, chans, reqs), nil
	case refused != nil:
		return nil, refused
	case verified && strings.Contains(strings.ToLower(err.Error()), "authenticat"):
		// "unable to authenticate", or OpenSSH's "Too many authentication
		// failures" disconnect.
		return nil, &AuthError{
			User: hp.hop.user, Host: hp.hop.label(),
			Tried: plan.tried, Allowed: plan.allowed, Skipped: plan.skipped,
		}
	default:
		return nil, fmt.Errorf("ssh: handshake with %s: %w", hp.hop.label(), err)
	}
}

func without(list []string, s string) []string {
	var out []string
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}
