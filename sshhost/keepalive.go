package sshhost

import (
	"fmt"
	"sync"
	"time"
)

// keepaliveFailures is how many keepalives in a row may go unanswered
// before the connection counts as dead.
const keepaliveFailures = 2

// requester sends a global request; *ssh.Client is one.
type requester interface {
	SendRequest(name string, wantReply bool, payload []byte) (bool, []byte, error)
}

// keepalive sends keepalive@openssh.com every interval and calls dead once,
// with the reason, when keepaliveFailures requests in a row got no answer
// within timeout or one failed to be sent. After a timeout the next request
// goes out at once, so with the defaults (10 s, 10 s) a dead connection is
// found within interval + 2*timeout = 30 s.
//
// A reply of false is an answer: servers that do not know the request say
// so. keepalive returns when stop is closed or after calling dead, once
// every request it started has returned; dead must make pending requests
// return (by closing the connection).
func keepalive(c requester, interval, timeout time.Duration, stop <-chan struct{}, dead func(reason string)) {
	var pending sync.WaitGroup
	defer pending.Wait()
	timer := time.NewTimer(interval)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		answered := make(chan error, 1) // buffered: a late answer must not block
		pending.Go(func() {
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		})
		deadline := time.NewTimer(timeout)
		select {
		case <-stop:
			deadline.Stop()
			return
		case err := <-answered:
			deadline.Stop()
			if err != nil {
				dead(fmt.Sprintf("keepalive failed: %v", err))
				return
			}
			failures = 0
			timer.Reset(interval)
		case <-deadline.C:
			failures++
			if failures >= keepaliveFailures {
				dead(fmt.Sprintf("no keepalive answer in %d tries of %s", failures, timeout))
				return
			}
			timer.Reset(0)
		}
	}
}
