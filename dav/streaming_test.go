package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// largestWrite records the largest single Write a handler makes: every
// buffer the response is built in is written whole, so it bounds the
// largest one.
type largestWrite struct {
	http.ResponseWriter
	max *atomic.Int64
}

func (w largestWrite) Write(p []byte) (int, error) {
	for {
		m := w.max.Load()
		if int64(len(p)) <= m || w.max.CompareAndSwap(m, int64(len(p))) {
			break
		}
	}
	return w.ResponseWriter.Write(p)
}

// TestPropfindStreamsLargeState: a resource whose stored state is large
// (50 dead properties of 60 KB, under the per-property limit, and 20 locks
// with 20 KB owners: 3.4 MB) is answered a property at a time. Four
// concurrent PROPFINDs of it, Depth 0 and Depth 1 (where listers format
// members), allprop, named and propname, each get the whole well-formed
// answer, and no buffer the handler writes is larger than 256 KiB: the
// old code built each 3.4 MB response in one buffer.
func TestPropfindStreamsLargeState(t *testing.T) {
	t.Parallel()
	const props, propSize, locks, ownerSize = 50, 60_000, 20, 20_000
	ctx := context.Background()
	st, err := state.Open(ctx, "memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fs := afero.NewMemMapFs()
	for _, name := range []string{"/f", "/d/f"} {
		afero.WriteFile(fs, name, []byte("x"), 0o644)
		var set []state.Property
		for i := range props {
			x := fmt.Sprintf(`<Z:p%d xmlns:Z="urn:z">%s</Z:p%d>`, i, strings.Repeat("v", propSize), i)
			set = append(set, state.Property{Name: xml.Name{Space: "urn:z", Local: fmt.Sprint("p", i)}, XML: []byte(x)})
		}
		if err := st.PatchProps(ctx, name, set, nil); err != nil {
			t.Fatal(err)
		}
		for range locks {
			owner := `<D:owner xmlns:D="DAV:">` + strings.Repeat("o", ownerSize) + `</D:owner>`
			if _, err := st.CreateLock(ctx, state.Lock{Root: name, Shared: true, Owner: owner}); err != nil {
				t.Fatal(err)
			}
		}
	}
	h, err := NewHandler(storage.NewFileSystem(fs), st, Config{Processing: processing.Config{Mode: processing.ModeOff}})
	if err != nil {
		t.Fatal(err)
	}
	var largest atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(largestWrite{w, &largest}, r)
	}))
	t.Cleanup(srv.Close)

	cases := []struct {
		path, depth, body string
		want              []string
	}{
		{"/f", "0", "", []string{"p0", "p49", "<D:activelock>", "</D:lockdiscovery>"}},
		{"/d/", "1", "", []string{"p0", "p49", "<D:activelock>", "/d/f</D:href>"}},
		{"/f", "0", `<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:lockdiscovery/><Z:p7/><Z:none/></D:prop></D:propfind>`,
			[]string{"<D:activelock>", "p7", "none", "404 Not Found"}},
		{"/d/", "1", `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, []string{"<D:lockdiscovery/>", "p49"}},
	}
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Go(func() {
			req, _ := http.NewRequest("PROPFIND", srv.URL+c.path, strings.NewReader(c.body))
			req.Header.Set("Depth", c.depth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 207 {
				t.Errorf("PROPFIND %s Depth %s = %d, %v", c.path, c.depth, resp.StatusCode, err)
				return
			}
			for _, w := range c.want {
				if !bytes.Contains(body, []byte(w)) {
					t.Errorf("PROPFIND %s Depth %s %.30q: no %q", c.path, c.depth, c.body, w)
				}
			}
			if n := bytes.Count(body, []byte("<D:activelock>")); c.body == "" && n != locks {
				t.Errorf("PROPFIND %s Depth %s: %d activelocks", c.path, c.depth, n)
			}
			dec := xml.NewDecoder(bytes.NewReader(body))
			for {
				if _, err := dec.Token(); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Errorf("PROPFIND %s Depth %s: not well-formed: %v", c.path, c.depth, err)
					}
					break
				}
			}
		})
	}
	wg.Wait()
	if n := largest.Load(); n > 256<<10 {
		t.Errorf("the largest buffer written was %d bytes; want at most 256 KiB (a property is %d)", n, propSize)
	} else {
		t.Logf("largest buffer written: %d bytes", n)
	}
}
