//go:build !linux

package ptyhost

import "errors"

// TTYEchoes is unknown where there is no /proc.
func TTYEchoes(pid int) (bool, error) {
	return false, errors.New("terminal echo state is not available on this OS")
}
