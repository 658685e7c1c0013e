package persist

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/console-mcp/console-mcp/sessions"
)

// TestSecretsNeverStored plants secret values where a careless store would
// write them and greps the raw database and WAL bytes for them.
func TestSecretsNeverStored(t *testing.T) {
	secrets := map[string]string{
		"GITHUB_TOKEN":     "planted-token-5d1c9e",
		"db_password":      "planted-password-77aa01",
		"AWS_SECRET_KEY":   "planted-aws-0b3f",
		"SSH_PASSPHRASE":   "planted-passphrase-c0ffee",
		"MY_CREDENTIALS":   "planted-credential-42",
		"OPENAI_API_KEY":   "planted-openai-9876",
		"Client_Secret_ID": "planted-client-secret-1",
	}
	const keep = "visible-editor-value-31337" // proves the grep sees stored values
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir, Options{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecord("s-a")
	rec.Spec.Env = map[string]string{"EDITOR": keep}
	for k, v := range secrets {
		rec.Spec.Env[k] = v
	}
	rec.Spec.EnvRefs = []string{"ALREADY_REF"}
	rec.Spec.SSH = &sessions.SSHSpec{Host: "example.org", PasswordEnv: "SSH_PASSWORD", PassphraseEnv: "SSH_PASSPHRASE"}
	mustSave(t, s, rec)
	for _, ev := range []sessions.Event{
		{Session: "s-a", Kind: sessions.EventSecret, Data: "GITHUB_TOKEN", At: t0},
		// A caller passing the value by mistake: not stored either.
		{Session: "s-a", Kind: sessions.EventSecret, Data: secrets["db_password"], At: t0},
	} {
		if err := s.AppendEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	grep := func(when string) {
		t.Helper()
		var all []byte
		for _, p := range dbFiles(dir) {
			all = append(all, fileBytes(t, p)...)
		}
		if !bytes.Contains(all, []byte(keep)) {
			t.Fatalf("%s: the plain value %q is not in the files: the grep cannot see stored values", when, keep)
		}
		for k, v := range secrets {
			if bytes.Contains(all, []byte(v)) {
				t.Errorf("%s: the value of %s is in the database files", when, k)
			}
		}
	}
	grep("open")

	got, err := s.Session("s-a")
	if err != nil {
		t.Fatal(err)
	}
	wantRefs := []string{"ALREADY_REF", "AWS_SECRET_KEY", "Client_Secret_ID", "GITHUB_TOKEN", "MY_CREDENTIALS", "OPENAI_API_KEY", "SSH_PASSPHRASE", "db_password"}
	if !reflect.DeepEqual(got.Spec.EnvRefs, wantRefs) {
		t.Errorf("EnvRefs = %v, want %v", got.Spec.EnvRefs, wantRefs)
	}
	if !reflect.DeepEqual(got.Spec.Env, map[string]string{"EDITOR": keep}) {
		t.Errorf("Env = %v, want only EDITOR", got.Spec.Env)
	}
	if rec.Spec.Env["GITHUB_TOKEN"] == "" {
		t.Error("SaveSession modified the caller's spec")
	}
	evs, err := s.Events("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Data != "GITHUB_TOKEN" || evs[1].Data != "?" {
		t.Errorf("secret events = %+v, want data GITHUB_TOKEN and ?", evs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grep("closed")
}

func TestSecretPatterns(t *testing.T) {
	s := openTest(t, Options{SecretEnvPatterns: []string{"X_*"}})
	for name, want := range map[string]bool{"X_ANY": true, "x_lower": true, "GITHUB_TOKEN": false, "X": false} {
		if got := s.secretName(name); got != want {
			t.Errorf("secretName(%q) = %v, want %v", name, got, want)
		}
	}
	if _, err := Open(t.TempDir(), Options{SecretEnvPatterns: []string{"[bad"}}, nil); err == nil {
		t.Error("Open accepted a malformed pattern")
	}
}
