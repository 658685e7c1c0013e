package sshtest

import (
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// directTCPIPMsg is the payload of a "direct-tcpip" channel open (RFC 4254
// section 7.2).
type directTCPIPMsg struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

// directTCPIP connects the channel to the TCP address it asks for, the way
// a jump host does. Host names found in ServerOptions.Hosts are dialed at
// the address given there.
func (s *Server) directTCPIP(nch ssh.NewChannel) {
	var m directTCPIPMsg
	if err := ssh.Unmarshal(nch.ExtraData(), &m); err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request") // best effort
		return
	}
	host := m.Host
	if ip, ok := s.opt.Hosts[host]; ok {
		host = ip
	}
	s.mu.Lock()
	s.forwards = append(s.forwards, net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))))
	s.mu.Unlock()
	tc, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(int(m.Port))), 5*time.Second)
	if err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, err.Error()) // best effort
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		_ = tc.Close() // best effort
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		ssh.DiscardRequests(reqs) // ends when the channel or the connection closes
		_ = tc.Close()            // wakes the copy below if the client went away
	})
	wg.Go(func() {
		_, _ = io.Copy(tc, ch)
		_ = tc.(*net.TCPConn).CloseWrite() // best effort: pass the EOF on
	})
	_, _ = io.Copy(ch, tc)
	_ = ch.CloseWrite() // best effort: pass the EOF on
	_ = ch.Close()      // best effort: the client may be gone
	_ = tc.Close()      // best effort: closed already when the client went away
	wg.Wait()
}
