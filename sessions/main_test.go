package sessions_test

import (
	"os"
	"testing"

	"github.com/console-mcp/console-mcp/ptyhost"
)

// TestMain lets the test binary act as a ptyhost holder, so benchmarks and
// tests can use the holder backend: Exe is os.Args[0], Args ["ptyhost"].
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "ptyhost" {
		os.Exit(ptyhost.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}
