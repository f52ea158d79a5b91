package processing_test

import (
	"net/http"
	"testing"
	"time"

	"davd/processing"
)

// nopWriter is the cheapest ResponseWriter, so that the benchmark shows
// the Writer's own cost.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkWriterNeverFiring measures what wrapping a small GET costs when
// 102s are off and when they are armed but never due: the emitter's budget
// is 2% of a 4 KiB GET (about 100 µs of server CPU per request here).
func BenchmarkWriterNeverFiring(b *testing.B) {
	body := make([]byte, 4096)
	for _, tc := range []struct {
		name string
		cfg  processing.Config
	}{
		{"off", processing.Config{Mode: processing.ModeOff}},
		{"always", processing.Config{Mode: processing.ModeAlways, After: time.Hour, Interval: time.Second}},
		{"auto", processing.Config{Mode: processing.ModeAuto, After: time.Hour, Interval: time.Second,
			Deny: mustDeny(b, processing.DefaultDeny())}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, _ := http.NewRequest(http.MethodGet, "http://example.com/get-4k.txt", nil)
			r.Header.Set("User-Agent", "Go-http-client/1.1")
			b.ReportAllocs()
			b.SetParallelism(16) // like the 32 connections of davbench on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := &nopWriter{h: make(http.Header)}
					pw, r := processing.Start(w, r, tc.cfg)
					h := pw.Header()
					h.Set("Etag", `"18ed77b6d84560e11000"`)
					h.Set("Content-Type", "text/plain; charset=utf-8")
					h.Set("Last-Modified", "Wed, 02 Dec 2026 14:57:33 GMT")
					h.Set("Accept-Ranges", "bytes")
					h.Set("Content-Length", "4096")
					pw.WriteHeader(http.StatusOK)
					pw.Write(body)
					pw.Finish()
					_ = r
				}
			})
		})
	}
}

func mustDeny(b *testing.B, patterns []string) processing.DenyList {
	res, err := processing.CompileDeny(patterns)
	if err != nil {
		b.Fatal(err)
	}
	return res
}
