package dav

import (
	"fmt"
	"io/fs"
	"testing"
	"time"
)

type fakeInfo struct {
	fs.FileInfo
	mod  time.Time
	size int64
}

func (f fakeInfo) ModTime() time.Time { return f.mod }
func (f fakeInfo) Size() int64        { return f.size }

// TestETagForm keeps the entity tag what it has always been, so that tags
// handed out before an upgrade still match (If-Match, If headers).
func TestETagForm(t *testing.T) {
	t.Parallel()
	for _, fi := range []fakeInfo{
		{mod: time.Unix(0, 0)},
		{mod: time.Unix(1764670000, 123456789), size: 4096},
		{mod: time.Unix(-5, 0), size: 1 << 40},
		{mod: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), size: 1},
	} {
		want := fmt.Sprintf(`"%x%x"`, fi.mod.UnixNano(), fi.size)
		if got := etag(fi); got != want {
			t.Errorf("etag = %s, want %s", got, want)
		}
		if got, want := string(appendETag(nil, fi, "&quot;")), string(appendEscaped(nil, want)); got != want {
			t.Errorf("appendETag in XML = %s, want %s", got, want)
		}
	}
}
