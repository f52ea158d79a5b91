// Package processing keeps WebDAV clients waiting for long operations by
// sending "102 Processing" interim responses (RFC 2518 §10.1).
//
// A COPY, MOVE or DELETE of a large tree can run for minutes before its
// final status is known. Without any bytes on the wire, clients and proxies
// give up (read timeouts, proxy_read_timeout, the server's own
// WriteTimeout). RFC 2518 lets the server send 102 Processing every so often
// once it has accepted the complete request, and suggests doing so for
// requests that take longer than about 20 seconds.
//
// 102 is not universally safe: RFC 4918 dropped it, and several clients take
// a 102 as the final response (Python http.client/requests, Java's
// HttpURLConnection before JDK 20, OkHttp 4, wget2) or cap the number of
// interim responses (Go clients up to 1.23: 5; neon before 0.33: 127). The
// policy in this package therefore has a mode (off, auto, always), a
// User-Agent deny-list for auto mode, a per-response cap, and honours the
// draft-wright-http-progress "Prefer: processing" request header, with which
// a client explicitly asks for 102s.
//
// Go's net/http has sharp edges here that shape the design of [Writer]:
//
//   - it does not suppress 1xx responses for HTTP/1.0 clients, so the policy
//     does (RFC 9110 §15.2 forbids them);
//   - every header in ResponseWriter.Header() goes out with each 1xx, so the
//     handler's headers are kept in a separate map until the final status;
//   - a ResponseWriter is not safe for concurrent use, so the ticker
//     goroutine and the handler share a mutex;
//   - a 1xx does not extend http.Server.WriteTimeout, so the write deadline
//     is pushed out before each 102 when configured.
//
// Work done so far is counted by a [Progress] carried in the request context
// and reported in a Progress header on each 102. A [Registry] lists the
// operations running, with their progress and 102s, keeps Prometheus
// metrics of the finished ones, and lets a server shutting down wait until
// none is left.
package processing
