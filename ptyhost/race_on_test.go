//go:build race

package ptyhost

const raceEnabled = true
