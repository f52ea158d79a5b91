package dav

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// batchStore is a Store that says it reads many paths at once
// (state.BatchReader), over a memory store, and counts its reads.
type batchStore struct {
	state.Store
	fits             bool // PropsAtOrBelow answers (else: does not fit)
	props, propsOf   atomic.Int64
	atOrBelow, locks atomic.Int64
}

func (s *batchStore) Props(ctx context.Context, p string) ([]state.Property, error) {
	s.props.Add(1)
	return s.Store.Props(ctx, p)
}

func (s *batchStore) LocksCovering(ctx context.Context, p string) ([]state.Lock, error) {
	s.locks.Add(1)
	return s.Store.LocksCovering(ctx, p)
}

func (s *batchStore) PropsOf(ctx context.Context, paths []string) ([][]state.Property, error) {
	s.propsOf.Add(1)
	out := make([][]state.Property, len(paths))
	for i, p := range paths {
		var err error
		if out[i], err = s.Store.Props(ctx, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *batchStore) PropsAtOrBelow(ctx context.Context, root string, _ int64) (map[string][]state.Property, bool, error) {
	s.atOrBelow.Add(1)
	if !s.fits {
		return nil, false, nil
	}
	out := map[string][]state.Property{}
	err := s.Store.StatePaths(ctx, root, func(p string) error {
		ps, err := s.Store.Props(ctx, p)
		if len(ps) > 0 {
			out[p] = ps
		}
		return err
	})
	return out, true, err
}

// responses returns the responses of a 207 body, sorted: listers answer
// in no fixed order.
func responses(body string) []string {
	parts := strings.Split(body, "<D:response>")[1:]
	for i, p := range parts {
		parts[i], _, _ = strings.Cut(p, "</D:response>")
	}
	slices.Sort(parts)
	return parts
}

// TestPropfindReadsTreeState: on a store that reads many paths at once,
// a PROPFIND of a collection reads the properties of the tree in one call
// (or, when they do not fit, those of each batch of members in one
// call) and the locks once, never path by path, and answers exactly
// what it answers reading path by path: each resource's own properties,
// the locks rooted at it and the deep locks above it.
func TestPropfindReadsTreeState(t *testing.T) {
	t.Parallel()
	_, rfs := tempRoot(t)
	mem, err := state.Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	cfg := Config{Processing: processing.Config{Mode: processing.ModeOff}}
	serve := func(st state.Store) string {
		h, err := NewHandler(storage.NewFileSystem(rfs), st, cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	plain := serve(mem)
	for _, d := range []string{"/a", "/a/b", "/a/b/c", "/z"} {
		do(t, "MKCOL", plain+d, nil, "")
	}
	for i := range 60 {
		name := fmt.Sprintf("%s/f%02d", []string{"/a", "/a/b", "/a/b/c", "/z"}[i%4], i)
		do(t, "PUT", plain+name, nil, "x")
		if i%3 == 0 {
			do(t, "PROPPATCH", plain+name, nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>`+name+`</Z:p></D:prop></D:set></D:propertyupdate>`)
		}
	}
	shared := strings.Replace(exclusiveLock, "exclusive", "shared", 1)
	for _, l := range []struct{ path, depth string }{{"/a", "infinity"}, {"/a/b", "0"}, {"/a/b/f01", "0"}, {"/a/b/c", "infinity"}, {"/a/b/c/f02", "0"}} {
		if r := do(t, "LOCK", plain+l.path, map[string]string{"Depth": l.depth}, shared); r.status != 200 {
			t.Fatalf("LOCK %s = %d %s", l.path, r.status, r.body)
		}
	}
	named := `<D:propfind xmlns:D="DAV:"><D:prop><Z:p xmlns:Z="urn:z"/><D:getcontentlength/></D:prop></D:propfind>`
	for _, fits := range []bool{true, false} {
		bs := &batchStore{Store: mem, fits: fits}
		batched := serve(bs)
		for _, q := range []struct{ path, depth, body string }{
			{"/", "infinity", ""}, {"/a/b", "1", ""}, {"/a", "infinity", named}, {"/a/b/c/f02", "0", ""},
		} {
			hdr := map[string]string{"Depth": q.depth}
			want, got := do(t, "PROPFIND", plain+q.path, hdr, q.body), do(t, "PROPFIND", batched+q.path, hdr, q.body)
			if got.status != 207 || !slices.Equal(responses(got.body), responses(want.body)) {
				t.Errorf("fits %v: PROPFIND %s Depth %s %.30q differs from path by path:\n%s\nwant\n%s", fits, q.path, q.depth, q.body, got.body, want.body)
			}
		}
		if !strings.Contains(do(t, "PROPFIND", batched+"/a/b/c/f02", map[string]string{"Depth": "0"}, "").body, "/a/b/c</D:href></D:lockroot>") {
			t.Error("the comparison proves little: no lock shown")
		}
		// Each Depth 0 PROPFIND reads its path (2 reads each); a tree
		// PROPFIND showing locks reads those covering its collection
		// (1 read), and no path on its own.
		if n := bs.props.Load() + bs.locks.Load(); n != 2*2+2 {
			t.Errorf("fits %v: %d reads path by path, want 6", fits, n)
		}
		if bs.atOrBelow.Load() != 3 || (fits && bs.propsOf.Load() != 0) || (!fits && bs.propsOf.Load() == 0) {
			t.Errorf("fits %v: %d PropsAtOrBelow, %d PropsOf", fits, bs.atOrBelow.Load(), bs.propsOf.Load())
		}
	}
}
