package s3fs_test

import (
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"

	"davd/storage/s3fs/s3test"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/afero"
)

// seedHalfDone stores a source tree s/ and a destination d/ that an
// interrupted copy left half done: d/kept-a and d/sub/kept-c have their
// source's size (other content, so a copy would show), d/b another size,
// d/deep missing, and d/x a file where the source has a collection.
func seedHalfDone(t *testing.T, s *s3test.Server) {
	t.Helper()
	for key, content := range map[string]string{
		"s/": "", "s/kept-a": "aaaa", "s/b": "bbbbbb", "s/sub/kept-c": "cc", "s/deep/d": "ddd", "s/x/e": "eeeee",
		"d/": "", "d/kept-a": "AAAA", "d/b": "x", "d/sub/kept-c": "CC", "d/x": "stale",
	} {
		put(t, s, key, content)
	}
}

// wantResumed is what d/ holds once the copy is resumed.
var wantResumed = map[string]string{
	"d/": "", "d/kept-a": "AAAA", "d/b": "bbbbbb", "d/sub/kept-c": "CC", "d/deep/d": "ddd", "d/x/e": "eeeee",
}

// objects returns the keys below prefix with their content.
func objects(t *testing.T, s *s3test.Server, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if strings.HasSuffix(*o.Key, "/") && *o.Key != prefix {
				continue // markers made by the copy, or directories of the posix backend
			}
			r, err := s.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[*o.Key] = string(b)
		}
	}
	return out
}

func sameObjects(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var g, w []string
	for k, v := range got {
		g = append(g, k+"="+v)
	}
	for k, v := range want {
		w = append(w, k+"="+v)
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, " ") != strings.Join(w, " ") {
		t.Errorf("%s:\n got %q\nwant %q", what, g, w)
	}
}

// resumeVisits records a tree operation's reports.
type resumeVisits struct {
	mu     sync.Mutex
	ok     map[string]int64
	failed map[string]error
}

func (v *resumeVisits) visit(rel string, isDir bool, size int64, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.failed[rel] = err
		return
	}
	v.ok[rel] = size
}

func newResumeVisits() *resumeVisits {
	return &resumeVisits{ok: map[string]int64{}, failed: map[string]error{}}
}

// TestResumeCopyTree resumes a copy into a half done destination through
// a proxy that refuses every copy of a "kept" object: those, present at
// the right size, must be reported without being copied; the others are
// copied over what is there, and copied hears of their bytes only.
func TestResumeCopyTree(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	seedHalfDone(t, s)
	fs := open(t, s.URLVia(s.RefusingCopies(t, "kept"), "", "parallel=3"))
	var mu sync.Mutex
	var copied int64
	v := newResumeVisits()
	err := fs.ResumeCopyTree(context.Background(), "/s", "/d", v.visit, func(n int64) {
		mu.Lock()
		copied += n
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.failed) != 0 {
		t.Fatalf("failures: %v", v.failed)
	}
	for rel, size := range map[string]int64{"kept-a": 4, "b": 6, "sub/kept-c": 2, "deep/d": 3, "x/e": 5} {
		if v.ok[rel] != size {
			t.Errorf("%s reported with %d bytes, want %d (%v)", rel, v.ok[rel], size, v.ok)
		}
	}
	if copied != 6+3+5 {
		t.Errorf("copied heard of %d bytes, want %d", copied, 6+3+5)
	}
	sameObjects(t, "destination", objects(t, s, "d/"), wantResumed)
	if fi, err := fs.Stat("/d/x"); err != nil || !fi.IsDir() {
		t.Errorf("/d/x is not a collection: %v", err)
	}
	if got := objects(t, s, "s/"); len(got) != 6 {
		t.Errorf("the source changed: %v", got)
	}
}

// TestResumeMoveTree resumes a move into a half done destination: the
// objects present at the right size are not copied again (the proxy
// would refuse), every source object is deleted, and dst is complete.
func TestResumeMoveTree(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	seedHalfDone(t, s)
	fs := open(t, s.URLVia(s.RefusingCopies(t, "kept"), ""))
	v := newResumeVisits()
	if err := fs.ResumeMoveTree(context.Background(), "/s", "/d", v.visit); err != nil {
		t.Fatal(err)
	}
	if len(v.failed) != 0 {
		t.Fatalf("failures: %v", v.failed)
	}
	for _, rel := range []string{"kept-a", "b", "sub/kept-c", "deep/d", "x/e", ""} {
		if _, ok := v.ok[rel]; !ok {
			t.Errorf("%q not reported moved (%v)", rel, v.ok)
		}
	}
	sameObjects(t, "destination", objects(t, s, "d/"), wantResumed)
	if left := objects(t, s, "s"); len(left) != 0 {
		t.Errorf("the move left source objects: %v", left)
	}
	// A lone file, its copy present: not copied, its source deleted.
	put(t, s, "f/kept", "1234")
	put(t, s, "g", "ABCD")
	if err := fs.ResumeMoveTree(context.Background(), "/f/kept", "/g", v.visit); err != nil {
		t.Fatal(err)
	}
	if ok, _ := afero.Exists(fs, "/f/kept"); ok {
		t.Error("the moved file is still at its source")
	}
	if b, _ := afero.ReadFile(fs, "/g"); string(b) != "ABCD" {
		t.Errorf("/g = %q, want the copy already there", b)
	}
}
