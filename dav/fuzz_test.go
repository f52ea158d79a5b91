package dav

import (
	"errors"
	"net/http"
	"path"
	"strings"
	"testing"

	"davd/storage"
)

// The fuzz targets below run their seed corpora (testdata/fuzz/FuzzX, in
// the format `go test` reads) as ordinary tests; `make fuzz` explores
// beyond them for a bounded time. Each checks what must hold for any
// input: no panic, and either a 4xx with a reason or a result within the
// rules.

// wantClientError fails unless err is an httpError with a 4xx status (or
// 502 for a Destination on another server) and a reason.
func wantClientError(t *testing.T, err error) {
	t.Helper()
	var he *httpError
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) carries no status", err, err)
	}
	if (he.status < 400 || he.status >= 500) && he.status != http.StatusBadGateway {
		t.Fatalf("status %d for client input: %v", he.status, err)
	}
	if he.reason == "" {
		t.Fatal("error without a reason")
	}
}

func FuzzIfHeader(f *testing.F) {
	f.Add(`(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>)`)
	f.Add(`<http://h/a> (Not <DAV:no-lock> ["etag"])`)
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parseIfHeader(s)
		if !ok {
			return
		}
		if len(h.lists) == 0 {
			t.Fatalf("%q parsed to no lists", s)
		}
		for _, l := range h.lists {
			if len(l.conditions) == 0 {
				t.Fatalf("%q parsed to an empty list", s)
			}
			for _, c := range l.conditions {
				if c.Token != "" && c.ETag != "" {
					t.Fatalf("%q: condition with both a token and an ETag: %+v", s, c)
				}
			}
		}
	})
}

func FuzzDestination(f *testing.F) {
	f.Add("http://example.com/dav/a", "example.com")
	f.Add("/dav/%2e%2e/x", "example.com")
	f.Fuzz(func(t *testing.T, dest, host string) {
		h := &Handler{prefix: "/dav"}
		r, err := http.NewRequest("COPY", "http://example.com/dav/src", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Host = host
		r.Header.Set("Destination", dest)
		name, err := h.destination(r)
		if err != nil {
			wantClientError(t, err)
			return
		}
		switch {
		case !strings.HasPrefix(name, "/") || path.Clean(name) != name:
			t.Fatalf("Destination %q gave unclean name %q", dest, name)
		case validatePath(name) != nil:
			t.Fatalf("Destination %q gave invalid name %q", dest, name)
		case storage.IsReserved(name):
			t.Fatalf("Destination %q reaches reserved %q", dest, name)
		}
	})
}

func FuzzXMLBody(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`))
	f.Add([]byte(`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		root, err := parseXML(body)
		if err != nil {
			wantClientError(t, err)
			return
		}
		// Every method's reading of a well-formed body either succeeds or
		// refuses with a 4xx; which one depends on the root element.
		if _, err := parsePropfind(root); err != nil {
			wantClientError(t, err)
		}
		if ops, err := parsePropertyUpdate(body, root); err != nil {
			wantClientError(t, err)
		} else {
			for _, op := range ops {
				if op.prop.Name.Local == "" {
					t.Fatalf("PROPPATCH op without a name: %+v", op)
				}
			}
		}
		if _, err := parseLockinfo(body, root); err != nil {
			wantClientError(t, err)
		}
	})
}
