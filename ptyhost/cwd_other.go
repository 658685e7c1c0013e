//go:build !linux

package ptyhost

// processCwd is unknown where there is no /proc; sessions track the
// directory from command markers instead.
func processCwd(pid int) string { return "" }
