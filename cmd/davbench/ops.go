package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// sample is one timed operation.
type sample struct {
	dur     time.Duration
	bytes   int64 // response body, output or upload bytes
	entries int64 // PROPFIND responses, or lines of find output
}

// mbps is the sample's throughput in MB/s (10^6 bytes per second).
func (s sample) mbps() float64 {
	if s.dur <= 0 {
		return 0
	}
	return float64(s.bytes) / 1e6 / s.dur.Seconds()
}

// The PROPFIND request bodies.
const (
	allpropBody = `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`
	threePropsBody = `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:getlastmodified/><D:resourcetype/></D:prop></D:propfind>`
)

// davClient sends the big, single WebDAV requests of the timed rows to one
// server, over a keep-alive connection with large buffers.
type davClient struct {
	base string
	hc   *http.Client
}

func newDavClient(addr string) *davClient {
	tr := &http.Transport{
		DisableCompression:  true,
		MaxIdleConnsPerHost: 2,
		ReadBufferSize:      256 << 10,
		WriteBufferSize:     256 << 10,
	}
	return &davClient{base: "http://" + addr, hc: &http.Client{Transport: tr}}
}

// close drops the client's idle connections.
func (c *davClient) close() { c.hc.CloseIdleConnections() }

// do sends req, expects one of want, and drains the body into w, timing
// from the send to the last byte.
func (c *davClient) do(req *http.Request, w io.Writer, want ...int) (time.Duration, int64, error) {
	buf := make([]byte, 1<<20)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	ok := false
	for _, code := range want {
		ok = ok || resp.StatusCode == code
	}
	if !ok {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, 0, fmt.Errorf("%s %s: status %d, want %v: %s", req.Method, req.URL.Path, resp.StatusCode, want, bytes.TrimSpace(msg))
	}
	n, err := io.CopyBuffer(onlyWriter{w}, resp.Body, buf)
	d := time.Since(start)
	if err != nil {
		return 0, n, fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL.Path, err)
	}
	return d, n, nil
}

// onlyWriter hides ReaderFrom, so that io.CopyBuffer uses its large buffer.
type onlyWriter struct{ io.Writer }

// propfind times a PROPFIND of path with the given Depth and body. It
// expects 207 and a complete multistatus, and counts its responses.
func (c *davClient) propfind(ctx context.Context, path, depth, body string) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", c.base+path, strings.NewReader(body))
	if err != nil {
		return sample{}, err
	}
	req.Header.Set("Depth", depth)
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	var ms multistatusCounter
	d, n, err := c.do(req, &ms, http.StatusMultiStatus)
	if err != nil {
		return sample{}, err
	}
	if err := ms.finish(); err != nil {
		return sample{}, fmt.Errorf("PROPFIND %s: %w", path, err)
	}
	return sample{dur: d, bytes: n, entries: ms.responses}, nil
}

// copyMove times a COPY or MOVE of the collection src to dst (which must
// not exist) with Depth: infinity.
func (c *davClient) copyMove(ctx context.Context, method, src, dst string) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+src, nil)
	if err != nil {
		return sample{}, err
	}
	req.Header.Set("Destination", c.base+dst)
	req.Header.Set("Depth", "infinity")
	req.Header.Set("Overwrite", "F")
	d, n, err := c.do(req, io.Discard, http.StatusCreated, http.StatusNoContent)
	return sample{dur: d, bytes: n}, err
}

// delete times a DELETE of path.
func (c *davClient) delete(ctx context.Context, path string) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.base+path, nil)
	if err != nil {
		return sample{}, err
	}
	d, n, err := c.do(req, io.Discard, http.StatusNoContent, http.StatusOK)
	return sample{dur: d, bytes: n}, err
}

// get times a GET of path, counting the body bytes.
func (c *davClient) get(ctx context.Context, path string) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return sample{}, err
	}
	d, n, err := c.do(req, io.Discard, http.StatusOK)
	return sample{dur: d, bytes: n}, err
}

// put times a PUT of size bytes of generated text to path.
func (c *davClient) put(ctx context.Context, path string, size int64) (sample, error) {
	body := &patternReader{left: size, pattern: fileContent(1 << 20)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+path, body)
	if err != nil {
		return sample{}, err
	}
	req.ContentLength = size
	d, _, err := c.do(req, io.Discard, http.StatusCreated, http.StatusNoContent)
	return sample{dur: d, bytes: size}, err
}

// patternReader yields left bytes of pattern, repeated, without touching
// the disk.
type patternReader struct {
	left    int64
	pattern []byte
	off     int
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	r.left -= int64(n)
	return n, nil
}

// runCmd times an external command from start to exit, draining its
// standard output through a pipe and counting bytes and lines, as an HTTP
// client drains a response body.
func runCmd(ctx context.Context, name string, args ...string) (sample, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	stderr := &tailWriter{max: 2048}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	var lc lineCounter
	buf := make([]byte, 1<<20)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, fmt.Errorf("%s: %w", name, err)
	}
	_, copyErr := io.CopyBuffer(onlyWriter{&lc}, out, buf)
	err = cmd.Wait()
	d := time.Since(start)
	if err == nil {
		err = copyErr
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr)
	}
	return sample{dur: d, bytes: lc.bytes, entries: lc.lines}, nil
}

// lineCounter counts the bytes and newlines written to it.
type lineCounter struct{ bytes, lines int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// multistatusCounter consumes a PROPFIND response body as it streams: it
// counts the bytes and the closing </response> tags (with any namespace
// prefix), and keeps the tail to check that the document is complete.
type multistatusCounter struct {
	n         int64
	responses int64
	buf       []byte // the carried tail of the previous write, then p
}

// carry is how many bytes of the previous write are kept: enough for a
// closing tag with a long prefix split across two writes.
const carry = 128

var responseTag = []byte("response>")

func (m *multistatusCounter) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	old := len(m.buf)
	m.buf = append(m.buf, p...)
	// Count each match once: when its last byte is in p.
	from := max(old-len(responseTag)+1, 0)
	for {
		i := bytes.Index(m.buf[from:], responseTag)
		if i < 0 {
			break
		}
		at := from + i
		if at+len(responseTag) > old && isClosingTag(m.buf[:at]) {
			m.responses++
		}
		from = at + 1
	}
	if len(m.buf) > carry {
		m.buf = append(m.buf[:0], m.buf[len(m.buf)-carry:]...)
	}
	return len(p), nil
}

// isClosingTag reports whether before, the text preceding "response>",
// ends in "</" or "</prefix:".
func isClosingTag(before []byte) bool {
	i := len(before)
	if i > 0 && before[i-1] == ':' {
		i--
		for i > 0 && i > len(before)-64 && isNameByte(before[i-1]) {
			i--
		}
		if i == len(before)-1 { // empty prefix
			return false
		}
	}
	return i >= 2 && before[i-1] == '/' && before[i-2] == '<'
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.'
}

var multistatusEnd = regexp.MustCompile(`(?i)</(?:[a-z_][a-z0-9_.-]*:)?multistatus>$`)

// finish fails unless the body ended with the closing multistatus tag.
func (m *multistatusCounter) finish() error {
	tail := bytes.TrimSpace(m.buf)
	if !multistatusEnd.Match(tail) {
		return fmt.Errorf("body of %d bytes does not end with </multistatus>: ...%q", m.n, tail[max(len(tail)-60, 0):])
	}
	return nil
}

// contender is one side of an alternating comparison: davd, a reference
// command, or x/net.
type contender[T any] struct {
	label string
	// prep, when not nil, runs untimed before every run: fresh sources,
	// sync and settle.
	prep func(ctx context.Context) error
	// run is the timed part.
	run func(ctx context.Context) (T, error)
	// check, when not nil, runs untimed after every run: it verifies the
	// result and may restore state.
	check func(ctx context.Context, v T) error
}

// alternate runs every contender once per round for runs rounds and
// returns each contender's results in the order of cs. Each round starts
// one contender further along (davd, reference, x/net; reference, x/net,
// davd; ...): in a first run of 3 with the load generator in the same
// process, the first side of every round was slower by 4–11%, an order
// bias as large as the 2% the emitter row looks for. show formats a
// result for progress.
func alternate[T any](ctx context.Context, runs int, cs []contender[T], show func(T) string, progress func(string)) ([][]T, error) {
	res := make([][]T, len(cs))
	for round := range runs {
		line := fmt.Sprintf("run %d/%d:", round+1, runs)
		for k := range cs {
			i := (round + k) % len(cs)
			c := cs[i]
			if c.prep != nil {
				if err := c.prep(ctx); err != nil {
					return res, fmt.Errorf("%s: preparing: %w", c.label, err)
				}
			}
			v, err := c.run(ctx)
			if err != nil {
				return res, fmt.Errorf("%s: %w", c.label, err)
			}
			if c.check != nil {
				if err := c.check(ctx, v); err != nil {
					return res, fmt.Errorf("%s: %w", c.label, err)
				}
			}
			res[i] = append(res[i], v)
			line += fmt.Sprintf("  %s %s", c.label, show(v))
		}
		progress(line)
	}
	return res, nil
}
