package processing

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeWriter records WriteHeader calls with the headers they would send. It
// has no locking of its own, so the race detector reports any unserialised
// use by Writer.
type fakeWriter struct {
	h     http.Header
	calls []call
	body  bytes.Buffer
}

type call struct {
	code   int
	header http.Header
}

func (f *fakeWriter) Header() http.Header {
	if f.h == nil {
		f.h = make(http.Header)
	}
	return f.h
}

func (f *fakeWriter) WriteHeader(code int) {
	f.calls = append(f.calls, call{code, f.Header().Clone()})
}

func (f *fakeWriter) Write(b []byte) (int, error) { return f.body.Write(b) }

// readerFromWriter also implements io.ReaderFrom, like net/http's response.
type readerFromWriter struct {
	fakeWriter
	readFroms int
}

func (f *readerFromWriter) ReadFrom(r io.Reader) (int64, error) {
	f.readFroms++
	return f.body.ReadFrom(r)
}

func TestStartDisabledIsCheap(t *testing.T) {
	t.Parallel()
	fw := &fakeWriter{}
	fw.Header().Set("X-Before", "1")
	body := io.NopCloser(strings.NewReader("abc"))
	r := httptest.NewRequest("PUT", "/", nil)
	r.Body, r.ContentLength = body, 3
	pw, r2 := Start(fw, r, Config{Mode: ModeOff, Interval: time.Millisecond})
	defer pw.Finish()
	if pw.enabled || pw.hdr != nil {
		t.Fatal("disabled Start started a ticker or copied headers")
	}
	pw.Header().Set("X-Handler", "1")
	if fw.h.Get("X-Handler") != "1" || pw.Header().Get("X-Before") != "1" {
		t.Error("Header() is not the underlying map")
	}
	if r2.Body != body {
		t.Error("disabled Start wrapped the body")
	}
	if FromContext(r2.Context()) == nil {
		t.Error("no Progress in the request context")
	}
	if pw.Status() != 0 {
		t.Errorf("Status before writing = %d", pw.Status())
	}
	pw.WriteHeader(http.StatusEarlyHints)
	io.WriteString(pw, "hello")
	pw.WriteHeader(http.StatusTeapot) // superfluous: Status keeps the first final status
	if pw.Status() != 200 || pw.BytesWritten() != 5 || pw.InterimSent() != 0 {
		t.Errorf("Status %d BytesWritten %d InterimSent %d, want 200 5 0", pw.Status(), pw.BytesWritten(), pw.InterimSent())
	}
	pw.Finish()
	pw.Finish() // idempotent
}

func TestStartReusesProgress(t *testing.T) {
	t.Parallel()
	p := new(Progress)
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(WithProgress(r.Context(), p))
	for _, mode := range []Mode{ModeOff, ModeAlways} {
		pw, r2 := Start(&fakeWriter{}, r, Config{Mode: mode, After: time.Hour, Interval: time.Hour})
		if FromContext(r2.Context()) != p {
			t.Errorf("%v: Start replaced the caller's Progress", mode)
		}
		pw.Finish()
	}
}

func TestStartKeepsCallersBody(t *testing.T) {
	t.Parallel()
	body := io.NopCloser(strings.NewReader("abc"))
	r := httptest.NewRequest("PUT", "/", nil)
	r.Body, r.ContentLength = body, 3
	pw, r2 := Start(&fakeWriter{}, r, Config{Mode: ModeAlways, After: time.Hour, Interval: time.Hour})
	defer pw.Finish()
	if r.Body != body || r2.Body == body {
		t.Fatal("Start must wrap the body in a copy of the request only")
	}
	if pw.armed.Load() {
		t.Fatal("armed before the body was read")
	}
	if b, err := io.ReadAll(r2.Body); string(b) != "abc" || err != nil {
		t.Fatalf("body %q %v", b, err)
	}
	if !pw.armed.Load() {
		t.Fatal("not armed after the body was read to EOF")
	}
}

func TestReadFrom(t *testing.T) {
	t.Parallel()
	const data = "some file contents"
	for _, delegate := range []bool{true, false} {
		rf := &readerFromWriter{}
		var w http.ResponseWriter = &rf.fakeWriter
		if delegate {
			w = rf
		}
		pw, _ := Start(w, httptest.NewRequest("GET", "/", nil), Config{Mode: ModeAlways, After: time.Hour, Interval: time.Hour})
		pw.Header().Set("X-A", "1")
		// Hide strings.Reader's WriteTo, which io.Copy would prefer.
		n, err := io.Copy(pw, struct{ io.Reader }{strings.NewReader(data)})
		pw.Finish()
		if n != int64(len(data)) || err != nil || rf.body.String() != data {
			t.Errorf("delegate=%v: io.Copy = %d, %v; body %q", delegate, n, err, rf.body.String())
		}
		if delegate && rf.readFroms != 1 {
			t.Errorf("underlying ReadFrom called %d times, want 1", rf.readFroms)
		}
		if pw.BytesWritten() != int64(len(data)) || pw.Status() != 200 {
			t.Errorf("delegate=%v: BytesWritten %d Status %d", delegate, pw.BytesWritten(), pw.Status())
		}
		if len(rf.calls) != 1 || rf.calls[0].code != 200 || rf.calls[0].header.Get("X-A") != "1" {
			t.Errorf("delegate=%v: WriteHeader calls %+v, want one 200 with X-A", delegate, rf.calls)
		}
	}
}

// TestConcurrentTicks races the ticker (ticking every millisecond) against
// a handler that edits headers and then commits, many times, and checks the
// invariants on what reached the underlying writer: 102s never carry the
// handler's headers, nothing follows the final status, the count matches,
// and the ticker is gone after Finish.
func TestConcurrentTicks(t *testing.T) {
	t.Parallel()
	for i := range 200 {
		fw := &fakeWriter{}
		r := httptest.NewRequest("DELETE", "/", nil)
		cfg := Config{Mode: ModeAlways, After: 0, Interval: time.Millisecond, WriteTimeout: time.Second}
		if i%2 == 1 {
			r.Header.Set("Prefer", "processing")
			cfg.Max = 1
		}
		p := new(Progress)
		p.AddResource("/x") // before Start: the first 102 may go out at once
		r = r.WithContext(WithProgress(r.Context(), p))
		pw, r := Start(fw, r, cfg)
		for j := range i % 7 {
			pw.Header().Set("X-Handler", "1")
			FromContext(r.Context()).AddBytes(int64(j))
			time.Sleep(100 * time.Microsecond)
		}
		if i%3 == 0 {
			pw.WriteHeader(http.StatusNoContent)
		}
		pw.Finish()
		if !TickerExited(pw) {
			t.Fatalf("%d: ticker running after Finish", i)
		}
		n := 0
		for k, c := range fw.calls {
			if c.code == http.StatusProcessing {
				n++
				if c.header.Get("X-Handler") != "" || c.header.Get("Progress") == "" {
					t.Fatalf("%d: 102 headers %v", i, c.header)
				}
			} else if k != len(fw.calls)-1 {
				t.Fatalf("%d: calls after the final status: %+v", i, fw.calls)
			}
		}
		if n != pw.InterimSent() {
			t.Fatalf("%d: %d 102s written, InterimSent %d", i, n, pw.InterimSent())
		}
		if fw.h.Get("Progress") != "" {
			t.Fatalf("%d: Progress left in the final headers", i)
		}
	}
}
