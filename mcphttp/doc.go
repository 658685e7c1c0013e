// Package mcphttp serves an MCP server (mark3labs/mcp-go) over streamable
// HTTP for `console-mcp serve`: everything between the network and the
// *server.MCPServer, which is built elsewhere and handed to New.
//
// # Shape
//
// A request passes, in order:
//
//  1. guard (every path): a loopback connection must carry a loopback Host
//     (DNS rebinding), and a present Origin must be a loopback origin
//     (http or https on localhost, 127.0.0.0/8 or [::1], any port) or one of
//     Options.AllowedOrigins. Both refusals are 403.
//  2. /healthz answers 200 {"status":"ok"} without a token: it reveals only
//     that the process serves HTTP.
//  3. /mcp: the bearer token when configured (constant-time compare of
//     SHA-256 digests; 401 with WWW-Authenticate), methods GET, POST and
//     DELETE only (405), the body cap (413), then the session gate and
//     mcp-go's StreamableHTTPServer.
//
// Both protocol eras share /mcp; mcp-go picks the era per request. A
// 2026-07-28 client has no Mcp-Session-Id: its state is the console session
// ids it passes as tool arguments, and this package stores nothing for it.
// A client of the 2025 era (up to 2025-11-25) gets an id from IDManager.
//
// # Session ids that survive a restart
//
// IDManager implements server.SessionIdManager. Ids are "mcp-" followed by
// crypto/rand.Text (130 bits of base32). They live in memory; the store
// (SessionStore, SQLite in production) is written when an id is issued
// (synchronously, so that a kill -9 right after initialize does not lose
// it), after initialize (client name, version, negotiated protocol version,
// through the AfterInitialize hook), on DELETE (synchronously), and for last
// access by a dual trigger: after TouchRequests requests or when a request
// comes TouchInterval after the last save, plus a background flush of every
// changed id each FlushInterval and a final flush on Close. The TTL slides
// with each request; expired, terminated and unknown ids get 404, which
// makes clients initialize again. An id missing from memory is looked up in
// the store once, which is how ids issued before a restart resume; the
// answer is remembered either way (dead ids in a bounded set), so a request
// never waits for the store on the hot path.
//
// # mcp-go quirks worked around
//
//   - StreamableHTTPServer.Shutdown calls Terminate on every active id,
//     which would end every persisted session on a graceful stop. Server
//     never calls it: Shutdown and Close stop the http.Server and flush.
//   - mcp-go does not validate Origin (the spec's MUST). The guard does.
//   - mcp-go checks Host on loopback connections only inside its handler.
//     The guard does the same check for every path, so mcp-go's is disabled
//     (WithDisableLocalhostProtection) to keep one rule and one answer.
//   - A GET with an unknown id opens a stream without Validate, and a GET
//     without an id gets one made up by Generate. The gate validates every
//     2025-era request carrying an id (POST, GET, DELETE: 404) and refuses a
//     GET or DELETE without one (400). It also counts the request (Touch);
//     mcp-go's own Validate on POST then answers from memory.
//   - An unknown id on DELETE reaches Terminate without Validate; the gate
//     answers it 404 first.
//   - mcp-go reads the body with io.ReadAll and turns a read error into a
//     JSON-RPC parse error; the gate reads the capped body first to answer
//     413, and hands mcp-go the bytes.
//   - An id resumed after a restart is served by mcp-go's ephemeral
//     per-request session (it keeps the id, so tools see it, but not the
//     client info), because mcp-go registers sessions only at initialize.
//   - mcp-go keeps per-session state (registered session, log level,
//     session tools) until a DELETE; its idle sweeper would start a
//     goroutine only its Shutdown stops. When an id expires, Server sends
//     mcp-go an in-process DELETE for it instead.
//   - mcp-go answers 404 to any Validate error, store failures included. The
//     gate validates first and answers 503 when the store fails.
//   - Long-lived GET streams would keep http.Server.Shutdown waiting; their
//     contexts end when shutdown starts, while POSTs in flight may finish.
//
// # Resumable streams
//
// Options.EventStore hands mcp-go an EventStore, which makes the SSE
// streams of 2025-era clients resumable with Last-Event-ID (and records
// the notifications mcp-go could otherwise drop when a response ends).
// mcp-go's in-memory store works within one process; one that outlives the
// process would let a stream resume across a restart.
package mcphttp
