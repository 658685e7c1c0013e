package persist

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// helperEnv makes the test binary run a helper instead of the tests (see
// TestMain): "writer" for TestKill9, "open" for TestOpenReadOnly.
const helperEnv = "PERSIST_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "writer":
		helperWriter()
		os.Exit(0)
	case "open":
		helperOpen()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	crashChunk = 200
	crashBatch = 64
	crashID    = sessions.ID("s-crash")
)

// helperWriter appends numbered chunks of the pattern as fast as it can
// until it is killed. It prints "committed END" after each commit (the
// store's commit hook: END is durable) and "appended END" after every 16th
// AppendOutput returned.
func helperWriter() {
	s, err := Open(os.Getenv("PERSIST_TEST_DIR"), Options{BatchRecords: crashBatch}, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	var committed int64
	s.onCommit = func(b *batch) {
		for _, c := range b.chunks[crashID] {
			committed = max(committed, c.end())
		}
		fmt.Printf("committed %d\n", committed)
	}
	rec := testRecord(crashID)
	if err := s.SaveSession(rec); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	base := time.Now()
	for i := int64(0); ; i++ {
		off := i * crashChunk
		// 20ms apart: no coalescing, so a record is a chunk.
		c := sessions.Chunk{Offset: off, At: base.Add(time.Duration(i) * 20 * time.Millisecond), Data: pattern(off, crashChunk)}
		if err := s.AppendOutput(crashID, 1, c); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if i%16 == 15 {
			fmt.Printf("appended %d\n", off+crashChunk)
		}
	}
}

// TestKill9 kills a process in the middle of heavy writing and checks that
// the database opens cleanly, holds a prefix of the stream, everything
// acknowledged as committed, and at most one batch less than what the
// process had appended.
func TestKill9(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=writer", "PERSIST_TEST_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed, appended int64
	commits := 0
	parse := func(line string) {
		kind, num, _ := strings.Cut(line, " ")
		n, err := strconv.ParseInt(num, 10, 64)
		switch {
		case kind == "committed" && err == nil:
			committed = max(committed, n)
			commits++
		case kind == "appended" && err == nil:
			appended = max(appended, n)
		default:
			t.Errorf("helper: %s", line)
		}
	}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		parse(sc.Text())
		if !killed && commits >= 300 {
			if err := cmd.Process.Signal(os.Kill); err != nil {
				t.Fatal(err)
			}
			killed = true // keep reading: lines written before the kill count
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("helper ended by itself: %v", werr)
	}
	t.Logf("helper killed after %d commits: committed %d, appended at least %d bytes", commits, committed, appended)

	s := openIn(t, dir, Options{})
	if err := s.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
	data, start, err := s.ReadOutput(crashID, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	end := start + int64(len(data))
	t.Logf("stored %d bytes", end)
	if start != 0 {
		t.Fatalf("stored output starts at %d, want 0", start)
	}
	checkPattern(t, data, 0)
	if oe, err := s.OutputEnd(crashID); err != nil || oe != end {
		t.Errorf("OutputEnd = %d, %v; want %d", oe, err, end)
	}
	if end < committed {
		t.Errorf("stored %d bytes, but %d were acknowledged as committed", end, committed)
	}
	if window := int64(crashBatch * crashChunk); end < appended-window {
		t.Errorf("stored %d bytes of at least %d appended: more than one batch (%d bytes) lost", end, appended, window)
	}
	if end%crashChunk != 0 {
		t.Errorf("stored %d bytes: a partial chunk", end)
	}
}
