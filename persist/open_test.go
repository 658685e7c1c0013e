package persist

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestDefaultStateDir(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home dir:", err)
	}
	for _, tc := range []struct {
		name, env, xdg, want string
	}{
		{"env wins", "/srv/state", "/x", "/srv/state"},
		{"xdg", "", "/x/state", "/x/state/console-mcp"},
		{"relative xdg ignored", "", "rel", filepath.Join(home, ".local/state/console-mcp")},
		{"home", "", "", filepath.Join(home, ".local/state/console-mcp")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONSOLE_MCP_STATE_DIR", tc.env)
			t.Setenv("XDG_STATE_HOME", tc.xdg)
			got, err := DefaultStateDir()
			if err != nil || got != tc.want {
				t.Errorf("DefaultStateDir() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestOpenModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	s := openIn(t, dir, Options{})
	mustSave(t, s, testRecord("s-a")) // creates the -wal file
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600, s.Path() + "-wal": 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
	if s.Path() != filepath.Join(dir, DBName) {
		t.Errorf("Path = %s", s.Path())
	}
}

func TestOpenPermissions(t *testing.T) {
	t.Run("group-writable dir refused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o770); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{}, nil)
		if err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Fatalf("Open = %v, want a refusal naming chmod 700", err)
		}
		if _, err := os.Stat(filepath.Join(dir, DBName)); !os.IsNotExist(err) {
			t.Error("refused Open created the database")
		}
	})
	t.Run("loose file tightened", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		s := openIn(t, dir, Options{})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(s.Path(), 0o644); err != nil {
			t.Fatal(err)
		}
		s = openIn(t, dir, Options{})
		fi, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
		}
	})
}

// refusedUnchanged opens dir, expects an error wrapping want and naming the
// database path, and checks the file's bytes did not change and no other
// file appeared.
func refusedUnchanged(t *testing.T, dir string, want error) error {
	t.Helper()
	dbPath := filepath.Join(dir, DBName)
	before := fileBytes(t, dbPath)
	entries, _ := os.ReadDir(dir)
	_, err := Open(dir, Options{}, testLogger(t))
	if err == nil {
		t.Fatal("Open succeeded")
	}
	t.Logf("Open: %v", err)
	if want != nil && !errors.Is(err, want) {
		t.Errorf("Open = %v, want %v", err, want)
	}
	if !strings.Contains(err.Error(), dbPath) {
		t.Errorf("error does not name %s", dbPath)
	}
	if after := fileBytes(t, dbPath); !bytes.Equal(before, after) {
		t.Error("the database file changed")
	}
	if after, _ := os.ReadDir(dir); len(after) != len(entries) {
		t.Errorf("files in the state dir: %d before, %d after", len(entries), len(after))
	}
	return err
}

func TestOpenRefusesGarbage(t *testing.T) {
	for name, content := range map[string][]byte{
		"text":  bytes.Repeat([]byte("this is not a database\n"), 500),
		"short": []byte("SQLite"),
		// A valid header followed by garbage: SQLite itself must refuse.
		"header then garbage": append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xa5}, 8192)...),
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, DBName), content, 0o600); err != nil {
				t.Fatal(err)
			}
			refusedUnchanged(t, dir, ErrNotDatabase)
		})
	}
}

// TestOpenRefusesCorruptPages damages the pages of a real database behind
// a valid header.
func TestOpenRefusesCorruptPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := openIn(t, dir, Options{})
	mustSave(t, s, testRecord("s-a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b := fileBytes(t, s.Path())
	for i := 100; i < len(b); i++ { // keep the 100-byte header, wreck the rest
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(s.Path(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	refusedUnchanged(t, dir, ErrNotDatabase)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := openIn(t, dir, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawExec(t, s.Path(), "PRAGMA user_version = 7")
	err := refusedUnchanged(t, dir, ErrNewerSchema)
	want := "was written by a newer console-mcp (schema 7, this binary knows 2); upgrade console-mcp or use another --state-dir"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

func TestOpenRefusesForeignDatabase(t *testing.T) {
	for name, stmts := range map[string][]string{
		"tables without version": {"CREATE TABLE notes (body TEXT)"},
		"other application":      {"CREATE TABLE notes (body TEXT)", "PRAGMA user_version = 1", "PRAGMA application_id = 42"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			rawExec(t, filepath.Join(dir, DBName), stmts...)
			refusedUnchanged(t, dir, ErrNotDatabase)
		})
	}
}

// rawExec runs statements on a database file without the store.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestMigrationsContiguous(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 2 || ms[1].name != "0002_http_sessions.sql" {
		t.Fatalf("migrations = %v", ms)
	}
	if schemaVersion() != len(ms) {
		t.Errorf("SchemaVersion = %d, want %d", schemaVersion(), len(ms))
	}
}

// TestConcurrentFirstOpen: several processes' worth of Opens on one new
// dir apply each migration exactly once.
func TestConcurrentFirstOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	stores := make([]*Store, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(dir, Options{}, testLogger(t)) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		mustSave(t, s, testRecord(sid(i)))
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
	s := openIn(t, dir, Options{})
	recs, err := s.Sessions(true)
	if err != nil || len(recs) != 4 {
		t.Errorf("Sessions = %d records, %v; want 4", len(recs), err)
	}
}

// TestOpenReadOnly: a state dir and database the user cannot write give a
// clear error and leave the file alone. Root ignores permissions, so as
// root the Open runs in a child process as nobody.
func TestOpenReadOnly(t *testing.T) {
	base, err := os.MkdirTemp("", "persist-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.Walk(base, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o700) }) // best effort: so RemoveAll can descend
		os.RemoveAll(base)                                                                              // best effort: a temp dir
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "state")
	s, err := Open(dir, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, testRecord("s-a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, DBName)
	before := fileBytes(t, dbPath)

	if os.Geteuid() != 0 {
		if err := os.Chmod(dbPath, 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{}, nil)
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), dbPath) {
			t.Fatalf("Open = %v, want ErrReadOnly naming %s", err, dbPath)
		}
	} else {
		const nobody = 65534
		bin := filepath.Join(base, "persist.test")
		exe, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, exe, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir, dbPath} {
			if err := os.Chown(p, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dbPath, 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=open", "PERSIST_TEST_DIR="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		t.Logf("child as nobody: %s", out)
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		if !strings.Contains(string(out), "read-only: true") || !strings.Contains(string(out), dbPath) {
			t.Fatalf("child's Open did not fail with ErrReadOnly naming %s", dbPath)
		}
	}
	if after := fileBytes(t, dbPath); !bytes.Equal(before, after) {
		t.Error("the database file changed")
	}
}

// helperOpen is the child of TestOpenReadOnly: it reports what Open said.
func helperOpen() {
	s, err := Open(os.Getenv("PERSIST_TEST_DIR"), Options{}, nil)
	if err == nil {
		s.Close()
		os.Stdout.WriteString("open succeeded\n")
		return
	}
	os.Stdout.WriteString("error: " + err.Error() + "\n")
	if errors.Is(err, ErrReadOnly) {
		os.Stdout.WriteString("read-only: true\n")
	}
}
