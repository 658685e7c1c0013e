package tools

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// FuzzBind decodes arbitrary arguments into every tool's input struct:
// never a panic, and an error unless the input is a JSON object (or empty).
func FuzzBind(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, ``, `[]`, `"x"`, `{"session_id":"s-1","cursor":5}`,
		`{"keys":["ctrl+c","enter"]}`, `{"cols":"wide"}`, `{"env":{"A":"b"}}`,
		`{"ssh":{"host":"h","jump":["a","b"]}}`, `{"cursor":-1,"max_bytes":1e99}`,
		`{"input":"\u0000\u001b[A"}`, `{"session_id":1}`, `{"x":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := mcp.CallToolRequest{}
		req.Params.RawArguments = raw
		targets := []any{
			new(CreateIn), new(SendInputIn), new(SendKeysIn), new(GetOutputIn), new(WaitIn),
			new(ExecuteIn), new(ScreenIn), new(ResizeIn), new(ListIn), new(StopIn),
			new(ExportIn), new(InfoIn), new(RecoverIn),
		}
		for _, in := range targets {
			err := bind(req, in)
			var obj map[string]json.RawMessage
			blank := len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
			if err == nil && !blank && json.Unmarshal(raw, &obj) != nil {
				t.Fatalf("%T accepted non-object arguments %q", in, raw)
			}
		}
	})
}
