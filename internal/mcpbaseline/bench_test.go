package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// The result-size sweep of issue 2: what an mcp-go tool call costs as its
// result grows, over stdio (a real subprocess) and over in-process pipes
// (one profile covers client and server), and what the JSON work alone
// costs (Encode: the server's side, Decode: the client's).
//
//	go test -run XXX -bench . -benchtime 0.5s ./internal/mcpbaseline
//	go test -run XXX -bench 'Result/pipe/structured/64KiB' -cpuprofile cpu.out ./internal/mcpbaseline

var sizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"64KiB", 64 << 10}, {"256KiB", 256 << 10}, {"1MiB", 1 << 20}}

var shapes = []string{shapeText, shapeStructured, shapeStructuredOnly}

func BenchmarkResult(b *testing.B) {
	for _, tr := range []struct {
		name string
		dial func(testing.TB) *client.Client
	}{
		{"stdio", func(tb testing.TB) *client.Client { return stdioClient(tb) }},
		{"pipe", pipeClient},
	} {
		b.Run(tr.name, func(b *testing.B) {
			c := tr.dial(b)
			for _, shape := range shapes {
				for _, size := range sizes {
					b.Run(shape+"/"+size.name, func(b *testing.B) {
						b.SetBytes(int64(size.n))
						for b.Loop() {
							callBytes(b, c, size.n, shape, kindLines)
						}
					})
				}
			}
		})
	}
}

// BenchmarkControlBytes is the 64 KiB structured result with an ESC every
// 16 bytes (coloured terminal output): JSON's \u001b escapes.
func BenchmarkControlBytes(b *testing.B) {
	c := pipeClient(b)
	for _, kind := range []string{kindLines, kindControl} {
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(64 << 10)
			for b.Loop() {
				callBytes(b, c, 64<<10, shapeStructured, kind)
			}
		})
	}
}

// response is a tools/call response as the stdio server writes it.
func response(b *testing.B, n int, shape string) []byte {
	b.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Arguments = map[string]any{"n": n, "shape": shape}
	res, err := bytesTool(context.Background(), req)
	if err != nil {
		b.Fatal(err)
	}
	line, err := json.Marshal(mcp.NewJSONRPCResultResponse(mcp.NewRequestId(int64(1)), res))
	if err != nil {
		b.Fatal(err)
	}
	return line
}

// BenchmarkEncode is the server's JSON work for one result: the handler's
// result marshalled as a JSON-RPC response (stdio.go writeResponse).
func BenchmarkEncode(b *testing.B) {
	for _, shape := range shapes {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("%s/%s", shape, size.name), func(b *testing.B) {
				req := mcp.CallToolRequest{}
				req.Params.Arguments = map[string]any{"n": size.n, "shape": shape}
				b.SetBytes(int64(size.n))
				for b.Loop() {
					res, _ := bytesTool(context.Background(), req)
					if _, err := json.Marshal(mcp.NewJSONRPCResultResponse(mcp.NewRequestId(int64(1)), res)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecode is the client's JSON work for one result, step for step
// as client/transport/stdio.go readResponses and mcp.ParseCallToolResult do
// it.
func BenchmarkDecode(b *testing.B) {
	for _, shape := range shapes {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("%s/%s", shape, size.name), func(b *testing.B) {
				line := response(b, size.n, shape)
				b.SetBytes(int64(size.n))
				b.ReportMetric(float64(len(line))/float64(size.n), "wire_bytes/byte")
				for b.Loop() {
					var base struct {
						JSONRPC string         `json:"jsonrpc"`
						ID      *mcp.RequestId `json:"id,omitempty"`
						Method  string         `json:"method,omitempty"`
					}
					if err := json.Unmarshal(line, &base); err != nil {
						b.Fatal(err)
					}
					var resp transport.JSONRPCResponse
					if err := json.Unmarshal(line, &resp); err != nil {
						b.Fatal(err)
					}
					if _, err := mcp.ParseCallToolResult(&resp.Result); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecodeOnce is the least JSON work a client needs for the same
// line: one Unmarshal into the fields it uses, structuredContent kept raw.
// The gap to BenchmarkDecode is what mcp-go's client adds.
func BenchmarkDecodeOnce(b *testing.B) {
	for _, shape := range shapes {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("%s/%s", shape, size.name), func(b *testing.B) {
				line := response(b, size.n, shape)
				b.SetBytes(int64(size.n))
				for b.Loop() {
					var resp struct {
						ID     json.RawMessage `json:"id"`
						Result struct {
							Content []struct {
								Type string `json:"type"`
								Text string `json:"text"`
							} `json:"content"`
							StructuredContent json.RawMessage `json:"structuredContent"`
							IsError           bool            `json:"isError"`
						} `json:"result"`
					}
					if err := json.Unmarshal(line, &resp); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
