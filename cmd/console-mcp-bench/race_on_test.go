//go:build race

package main

// raceEnabled: this test binary has the race detector, so the smoke test
// builds the binaries with -race too (the build cache has those packages).
const raceEnabled = true
