package s3fs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"davd/storage/s3fs"
	"davd/storage/s3fs/s3test"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func open(t testing.TB, raw string) *s3fs.Fs {
	t.Helper()
	cfg, err := s3fs.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := s3fs.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func put(t *testing.T, s *s3test.Server, key, content string) {
	t.Helper()
	_, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: strings.NewReader(content)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func names(t *testing.T, fs *s3fs.Fs, dir string) []string {
	t.Helper()
	d, err := fs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out []string
	for {
		infos, err := d.Readdir(2) // small batches: paging and buffering
		for _, fi := range infos {
			n := fi.Name()
			if fi.IsDir() {
				n += "/"
			}
			out = append(out, n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

// TestDirectorySemantics: collections are common prefixes or markers,
// never prefixes of names; a file and a collection of one name are
// refused; listings page with a delimiter.
func TestDirectorySemantics(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	put(t, s, "tree/reports/q1.txt", "q1")
	put(t, s, "tree/top.txt", "top")
	fs := open(t, s.URL("tree"))

	for name, want := range map[string]string{"/": "dir", "/reports": "dir", "/reports/q1.txt": "file", "/top.txt": "file",
		"/rep": "missing", "/reports/q1": "missing", "/top": "missing", "/reports/q1.txt/x": "missing"} {
		fi, err := fs.Stat(name)
		got := "missing"
		switch {
		case err == nil && fi.IsDir():
			got = "dir"
		case err == nil:
			got = "file"
		case !errors.Is(err, os.ErrNotExist):
			t.Fatalf("stat %s: %v", name, err)
		}
		if got != want {
			t.Errorf("stat %s: %s, want %s", name, got, want)
		}
	}
	if err := fs.Mkdir("/empty", 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, err := fs.Stat("/empty"); err != nil || !fi.IsDir() {
		t.Fatalf("empty collection after Mkdir: %v %v", fi, err)
	}
	if got := names(t, fs, "/empty"); len(got) != 0 {
		t.Errorf("empty collection lists %q", got)
	}
	if err := fs.Mkdir("/top.txt", 0o755); !errors.Is(err, os.ErrExist) {
		t.Errorf("mkdir over a file: %v, want ErrExist", err)
	}
	if err := fs.Mkdir("/reports", 0o755); !errors.Is(err, os.ErrExist) {
		t.Errorf("mkdir over a collection: %v, want ErrExist", err)
	}
	if _, err := fs.OpenFile("/reports", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err == nil {
		t.Error("a file was created over a collection")
	}
	for i := range 5 {
		put(t, s, "tree/many/f"+string(rune('a'+i)), "x")
	}
	put(t, s, "tree/many/sub/deep", "x")
	want := []string{"empty/", "many/", "reports/", "top.txt"}
	if got := names(t, fs, "/"); !slices.Equal(got, want) {
		t.Errorf("root lists %q, want %q", got, want)
	}
	if got := names(t, fs, "/many"); len(got) != 6 || got[5] != "sub/" {
		t.Errorf("/many lists %q", got)
	}
	if err := fs.Remove("/many"); err == nil {
		t.Error("a non-empty collection was removed")
	}
	if err := fs.Remove("/empty"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat("/empty"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed collection: %v", err)
	}
}

// TestNamesRoundTrip: awkward names are stored and listed unchanged.
func TestNamesRoundTrip(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	fs := open(t, s.URL(""))
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	awkward := []string{"with space", "100%", "a+b", "hash#tag", `quo"te`, "it's", "emoji 😀", nfc, nfd, "%2F", "x  y"}
	if err := fs.Mkdir("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range awkward {
		f, err := fs.Create("/d/" + n)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(f, "content of "+n)
		if err := f.Close(); err != nil {
			t.Fatalf("%q: %v", n, err)
		}
		if err := fs.Mkdir("/d/dir "+n, 0o755); err != nil {
			t.Fatalf("mkdir %q: %v", n, err)
		}
	}
	got := names(t, fs, "/d")
	var want []string
	for _, n := range awkward {
		want = append(want, n, "dir "+n+"/")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listing:\n got %q\nwant %q", got, want)
	}
	for _, n := range awkward {
		f, err := fs.Open("/d/" + n)
		if err != nil {
			t.Fatalf("open %q: %v", n, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "content of "+n {
			t.Errorf("%q reads %q", n, b)
		}
	}
}

// countingProxy forwards to the S3 server, counts the bytes of the
// GET responses and records their Range headers.
func countingProxy(t *testing.T, s *s3test.Server, got *atomic.Int64, ranges chan<- string) string {
	t.Helper()
	target, _ := url.Parse(s.Endpoint())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodGet && r.Request.URL.Query().Get("list-type") == "" {
			r.Body = countingBody{r.Body, got}
			select {
			case ranges <- r.Request.Header.Get("Range"):
			default:
			}
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestRangedReads: reading a small range of a large object fetches about
// that range, never the object.
func TestRangedReads(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	const size = 8 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	if _, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("big"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	var fetched atomic.Int64
	ranges := make(chan string, 100)
	proxy := countingProxy(t, s, &fetched, ranges)
	fs := open(t, strings.Replace(s.URL(""), s.Endpoint(), proxy, 1))
	f, err := fs.Open("/big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// As http.ServeContent serves "Range: bytes=5000000-5000099".
	if _, err := f.Seek(5_000_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(f, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[5_000_000:5_000_100]) {
		t.Fatalf("range reads %q", buf)
	}
	if n := fetched.Load(); n > 512<<10 {
		t.Errorf("a 100-byte range fetched %d bytes of an object of %d", n, size)
	}
	if r := <-ranges; r != "bytes=5000000-5262143" {
		t.Errorf("the first read after a seek asked for %q, want 256 KiB from the offset", r)
	}
	b := make([]byte, 10)
	if n, err := f.(io.ReaderAt).ReadAt(b, size-10); n != 10 || err != nil || !bytes.Equal(b, data[size-10:]) {
		t.Fatalf("ReadAt: %d %v %q", n, err, b)
	}
	if r := <-ranges; r != fmt.Sprintf("bytes=%d-%d", size-10, size-1) {
		t.Errorf("ReadAt of the last 10 bytes asked for %q", r)
	}
	// The whole object, sequentially, comes out intact.
	f.Seek(0, io.SeekStart)
	all, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("whole read: %d bytes, %v", len(all), err)
	}
}

// TestAbortedUpload: a staged write that is not committed leaves the old
// object as it was and no upload behind; a committed one replaces it.
func TestAbortedUpload(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	put(t, s, "f", "old content")
	fs := open(t, s.URL(""))
	f, err := fs.CreateStaged("/f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("n"), 12<<20) // more than two parts
	if _, err := f.Write(big); err != nil {
		t.Fatal(err)
	}
	f.Close() // no Commit: abandoned
	r, _ := fs.Open("/f")
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "old content" {
		t.Fatalf("after an aborted upload /f holds %d bytes %.20q", len(b), b)
	}
	ups, err := s.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(s.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left behind", len(ups.Uploads))
	}

	f, _ = fs.CreateStaged("/f", 0o644)
	f.Write([]byte("new content"))
	if err := f.(interface{ Commit() error }).Commit(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, _ = fs.Open("/f")
	b, _ = io.ReadAll(r)
	r.Close()
	if string(b) != "new content" {
		t.Fatalf("after a committed upload /f holds %q", b)
	}
}

// TestOpenErrors: a missing bucket, refused credentials and an
// unreachable server fail Open with one clear line.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	for _, tc := range []struct{ url, want string }{
		{strings.Replace(s.URL(""), "s3://davd", "s3://nosuchbucket", 1), "bucket does not exist"},
		{strings.Replace(s.URL(""), s.Endpoint(), "http://127.0.0.1:1", 1), "connect"},
	} {
		cfg, err := s3fs.ParseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s3fs.Open(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("open %s: %v, want one line with %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), s3test.SecretKey) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	if _, err := s3fs.ParseURL("s3://key:secret@bucket"); err == nil || strings.Contains(err.Error(), "secret@") {
		t.Errorf("credentials in the URL: %v", err)
	}
}
