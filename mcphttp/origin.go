package mcphttp

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// IsLoopbackOrigin reports whether origin (an Origin header value) is an
// http or https origin on localhost or a loopback IP, with any port:
// "http://localhost:3000", "https://127.0.0.1", "http://[::1]:8080".
func IsLoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	if !validPort(u.Port()) {
		return false
	}
	return isLoopbackName(u.Hostname())
}

// IsLoopbackHost reports whether hostport (a Host header value, with or
// without a port) names localhost or a loopback IP.
func IsLoopbackHost(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		} else if strings.Contains(host, ":") {
			return false // an IPv6 literal must be bracketed in a Host header
		}
	}
	return validPort(port) && isLoopbackName(host)
}

// isLoopbackName reports whether host is "localhost" or a loopback IP.
func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}

func validPort(port string) bool {
	if len(port) > 5 {
		return false
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// normalizeOrigin lower-cases an origin and drops a trailing slash, so that
// configured origins compare with Origin headers exactly.
func normalizeOrigin(origin string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(origin)), "/")
}
