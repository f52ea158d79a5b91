package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"davd/storage/s3fs/s3test"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func s3Backend(t *testing.T, s *s3test.Server, prefix string, opts ...string) *Backend {
	t.Helper()
	b, err := Open(s.URL(prefix, opts...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func s3Put(t *testing.T, s *s3test.Server, key, content string) {
	t.Helper()
	_, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: strings.NewReader(content)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func s3Keys(t *testing.T, s *s3test.Server, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			keys = append(keys, *o.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

// visits records what a tree operation reports.
type visits struct {
	mu     sync.Mutex
	ok     map[string]bool
	failed map[string]error
}

func newVisits() *visits { return &visits{ok: map[string]bool{}, failed: map[string]error{}} }

func (v *visits) visit(rel string, isDir bool, size int64, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.failed[rel] = err
	} else {
		v.ok[rel] = true
	}
}

// TestS3Trees: COPY, MOVE and DELETE of a tree of more than one
// DeleteObjects batch, through FileSystem, report every member and leave
// exactly the expected keys.
func TestS3Trees(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	const dirs, per = 4, 260 // 1,040 objects: two delete batches
	seed := map[string]string{"t/src/": ""}
	for d := range dirs {
		seed[fmt.Sprintf("t/src/d%d/", d)] = ""
		for i := range per {
			seed[fmt.Sprintf("t/src/d%d/f%03d", d, i)] = "x"
		}
	}
	s.Seed(seed)
	start := time.Now()
	lap := func(what string) { t.Logf("%s: %v", what, time.Since(start)); start = time.Now() }
	lap("setup")
	fs := s3Backend(t, s, "t").FileSystem()
	ctx := context.Background()
	if !fs.MovesByCopy() {
		t.Fatal("s3 storage claims a rename")
	}
	// Seeded directories are implicit (no marker): only objects are members.
	members := dirs * per

	v := newVisits()
	if err := fs.CopyTree(ctx, "/src", "/copy", true, v.visit); err != nil {
		t.Fatal(err)
	}
	if len(v.failed) != 0 || len(v.ok) != members+1 {
		t.Fatalf("copy: %d reported, %d failed (%v)", len(v.ok), len(v.failed), v.failed)
	}
	lap("copy")
	if got := len(s3Keys(t, s, "t/copy/")); got != members+1 {
		t.Errorf("copy made %d keys, want %d", got, members+1)
	}

	v = newVisits()
	if err := fs.MoveTree(ctx, "/copy", "/moved", v.visit); err != nil {
		t.Fatal(err)
	}
	if len(v.failed) != 0 || len(v.ok) != members+1 {
		t.Fatalf("move: %d reported, %d failed (%v)", len(v.ok), len(v.failed), v.failed)
	}
	lap("move")
	if left := s3Keys(t, s, "t/copy"); len(left) != 0 {
		t.Errorf("move left %d keys at the source: %q...", len(left), left[0])
	}
	if got := len(s3Keys(t, s, "t/moved/")); got != members+1 {
		t.Errorf("move made %d keys, want %d", got, members+1)
	}
	if _, err := fs.Stat(ctx, "/copy"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("moved source still there: %v", err)
	}

	v = newVisits()
	if err := fs.RemoveTree(ctx, "/moved", v.visit); err != nil {
		t.Fatal(err)
	}
	if len(v.failed) != 0 || len(v.ok) != members+1 {
		t.Fatalf("delete: %d reported, %d failed (%v)", len(v.ok), len(v.failed), v.failed)
	}
	lap("delete")
	if left := s3Keys(t, s, "t/moved"); len(left) != 0 {
		t.Errorf("delete left %d keys", len(left))
	}
}

// TestS3MoveKeepsFailedMembers: a member whose copy fails stays at the
// source with its collections, is reported, and the rest moves.
func TestS3MoveKeepsFailedMembers(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s3Put(t, s, "s/", "")
	s3Put(t, s, "s/a", "a")
	s3Put(t, s, "s/sub/", "")
	s3Put(t, s, "s/sub/b", "b")
	s3Put(t, s, "s/bad/", "")
	s3Put(t, s, "s/bad/poison", "p")
	s3Put(t, s, "s/bad/c", "c")
	b, err := Open(s.URLVia(s.RefusingCopies(t, "poison"), ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fs := b.FileSystem()
	ctx := context.Background()
	v := newVisits()
	if err := fs.MoveTree(ctx, "/s", "/d", v.visit); err != nil {
		t.Fatal(err)
	}
	if len(v.failed) != 1 || v.failed["bad/poison"] == nil {
		t.Fatalf("failures %v, want bad/poison only", v.failed)
	}
	for _, rel := range []string{"a", "sub/b", "sub", "bad/c"} {
		if !v.ok[rel] {
			t.Errorf("%s not reported moved (%v)", rel, v.ok)
		}
	}
	if v.ok[""] || v.ok["bad"] {
		t.Errorf("an ancestor of the failed member was reported moved: %v", v.ok)
	}
	keys := strings.Join(s3Keys(t, s, ""), " ")
	if want := "d/ d/a d/bad/ d/bad/c d/sub/ d/sub/b s/ s/bad/ s/bad/poison"; keys != want {
		t.Errorf("keys after a partly failed move:\n%s\nwant\n%s", keys, want)
	}
}

// TestS3Upload: WriteAtomic goes straight to the object (no temporary
// key), and a failed body leaves the old content.
func TestS3Upload(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	fs := s3Backend(t, s, "").FileSystem()
	ctx := context.Background()
	if _, err := fs.WriteAtomic(ctx, "/f", strings.NewReader("old"), 0o644, -1); err != nil {
		t.Fatal(err)
	}
	_, err := fs.WriteAtomic(ctx, "/f", io.MultiReader(strings.NewReader(strings.Repeat("n", 6<<20)), failing{}), 0o644, -1)
	if !errors.Is(err, ErrIncompleteBody) {
		t.Fatalf("failed body: %v", err)
	}
	if keys := s3Keys(t, s, ""); len(keys) != 1 || keys[0] != "f" {
		t.Errorf("keys after a failed upload: %q", keys)
	}
	f, _ := fs.OpenFile(ctx, "/f", os.O_RDONLY, 0)
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "old" {
		t.Errorf("after a failed upload /f reads %.20q", b)
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("client went away") }

// TestS3Probe: the health probe asks the store, and fails while it is
// down.
func TestS3Probe(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	b := s3Backend(t, s, "")
	ctx := context.Background()
	if err := b.Probe(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := b.Probe(ctx, 5*time.Second); !errors.Is(err, ErrUnavailable) {
		t.Errorf("probe with the store down: %v", err)
	}
	s.Restart()
	if err := b.Probe(ctx, 5*time.Second); err != nil {
		t.Errorf("probe once the store is back: %v", err)
	}
}

// TestS3Resume: ResumeCopy and ResumeMove of FileSystem reach the
// backend's resumable operations: an object present at its source's size
// is kept, WithCopied hears only of the bytes copied, and the move leaves
// nothing at the source.
func TestS3Resume(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	for key, content := range map[string]string{"s/": "", "s/a": "aaaa", "s/b": "bb", "d/": "", "d/a": "AAAA"} {
		s3Put(t, s, key, content)
	}
	fs := s3Backend(t, s, "").FileSystem()
	var mu sync.Mutex
	var copied int64
	ctx := WithCopied(context.Background(), func(n int64) { mu.Lock(); copied += n; mu.Unlock() })
	v := newVisits()
	if err := fs.ResumeCopy(ctx, "/s", "/d", v.visit); err != nil {
		t.Fatal(err)
	}
	if len(v.failed) != 0 || !v.ok["a"] || !v.ok["b"] || copied != 2 {
		t.Errorf("copy: ok %v, failed %v, %d bytes copied (want 2)", v.ok, v.failed, copied)
	}
	v = newVisits()
	if err := fs.ResumeMove(ctx, "/s", "/m", v.visit); err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(s3Keys(t, s, ""), " "); keys != "d/ d/a d/b m/ m/a m/b" {
		t.Errorf("keys: %s", keys)
	}
	if err := fs.ResumeMove(ctx, "/m", "/m/in", v.visit); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("a move into itself: %v", err)
	}
}
