//go:build !linux

package ptyhost

import "os/exec"

// waitCmd is cmd.Wait; see the Linux version.
func waitCmd(cmd *exec.Cmd) error { return cmd.Wait() }
