package dav

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"davd/storage"
)

// statDown is an afero.Fs whose Stat of one name fails as a storage
// server that went down fails.
type statDown struct {
	afero.Fs
	name string
}

func (s statDown) Stat(name string) (os.FileInfo, error) {
	if name == s.name {
		return nil, &os.PathError{Op: "stat", Path: name, Err: storage.ErrUnavailable}
	}
	return s.Fs.Stat(name)
}

// TestParentDownIs503: a COPY, MOVE, PUT or MKCOL whose destination's
// parent cannot be looked at answers 503 with Retry-After, never 409
// "parent collection does not exist" (TestS3Unavailable met the 409 when
// the S3 server stopped just before a COPY's destination check).
func TestParentDownIs503(t *testing.T) {
	t.Parallel()
	mem := afero.NewMemMapFs()
	mem.MkdirAll("/down", 0o755)
	mem.MkdirAll("/tree/sub", 0o755)
	afero.WriteFile(mem, "/file", []byte("f"), 0o644)
	srv := testServer(t, statDown{mem, "/down"}, Config{})
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		body         string
	}{
		{"COPY", "/file", map[string]string{"Destination": srv.URL + "/down/f"}, ""},
		{"COPY", "/tree", map[string]string{"Destination": srv.URL + "/down/t"}, ""},
		{"MOVE", "/file", map[string]string{"Destination": srv.URL + "/down/f"}, ""},
		{"PUT", "/down/new", nil, "new"},
		{"MKCOL", "/down/col", nil, ""},
	} {
		resp := do(t, tc.method, srv.URL+tc.path, tc.hdr, tc.body)
		if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" || strings.Contains(resp.body, "parent") {
			t.Errorf("%s %s with the parent down: %d %q (Retry-After %q), want 503", tc.method, tc.path, resp.status, resp.body, resp.header.Get("Retry-After"))
		}
	}
	if _, err := mem.Stat("/file"); err != nil {
		t.Errorf("the MOVE's source: %v", err)
	}
	// A parent that is missing is still a 409.
	if resp := do(t, "COPY", srv.URL+"/file", map[string]string{"Destination": srv.URL + "/missing/f"}, ""); resp.status != http.StatusConflict {
		t.Errorf("COPY below a missing parent: %d %q", resp.status, resp.body)
	}
}
