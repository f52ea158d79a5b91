package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"davd/storage/s3fs/s3test"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// startS3Davd starts versitygw and a davd serving its bucket (or prefix
// in it), with its state in a temporary SQLite file.
func startS3Davd(t *testing.T, prefix string, opts []string, args ...string) (*s3test.Server, string) {
	t.Helper()
	s := s3test.Start(t)
	state := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	base := startDavd(t, append([]string{"--storage", s.URL(prefix, opts...), "--state", state}, args...)...)
	return s, base
}

// s3Keys lists every key of the bucket.
func s3Keys(t *testing.T, s *s3test.Server) []string {
	t.Helper()
	out, err := s.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// s3Put stores an object behind davd's back (faster than through a slow
// davd).
func s3Put(t *testing.T, s *s3test.Server, key, content string) {
	t.Helper()
	_, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: strings.NewReader(content)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// TestS3Litmus runs the litmus suites against davd serving a bucket.
func TestS3Litmus(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "litmus")
	_, base := startS3Davd(t, "litmus", nil)
	cmd := exec.Command(bin, "-k", base+"/")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TESTS=basic copymove props locks http")
	out, _ := cmd.CombinedOutput()
	text := strings.ReplaceAll(string(out), "\r", "\n")
	seen := map[string]bool{}
	skipped, total := 0, 0
	for _, line := range strings.Split(text, "\n") {
		if m := litmusSkipped.FindStringSubmatch(line); m != nil {
			skipped, _ = strconv.Atoi(m[1])
		}
		m := litmusSummary.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		run, _ := strconv.Atoi(m[2])
		passed, _ := strconv.Atoi(m[3])
		seen[m[1]] = true
		total += passed
		if passed != run || skipped != 0 || run == 0 {
			t.Errorf("litmus suite %s over s3: %d of %d passed, %d skipped", m[1], passed, run, skipped)
		}
		skipped = 0
	}
	for suite := range litmusRequired {
		if !seen[suite] {
			t.Errorf("litmus suite %s did not report a summary", suite)
		}
	}
	if n := strings.Count(text, "WARNING"); n > 0 {
		t.Errorf("litmus printed %d warnings", n)
	}
	t.Logf("litmus over s3://: %d passed", total)
	if t.Failed() {
		t.Logf("litmus output:\n%s", failureLines(text))
	}
}

// TestS3Cadaver drives cadaver through a session on a bucket and checks
// the objects behind davd's back.
func TestS3Cadaver(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "cadaver")
	s, base := startS3Davd(t, "", nil)
	cadaverSession(t, bin, base, false, "mkcol dir2", "move dir1 dir2/moved", "ls dir2/moved")
	keys := strings.Join(s3Keys(t, s), " ")
	if keys != "dir2/ dir2/moved/ dir2/moved/c.txt" {
		t.Errorf("objects after the session: %s", keys)
	}
}

// TestS3Rclone copies a tree into a bucket with rclone and checks it.
func TestS3Rclone(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "rclone")
	_, base := startS3Davd(t, "drive", nil)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub dir", "deeper"), 0o755)
	files := map[string]string{"a.txt": "alpha", "b c.txt": "bravo charlie", "100%+#.txt": "odd", "sub dir/déjà vu.txt": "deep",
		"sub dir/emoji 😀.bin": "\x00\x01\x02", "sub dir/deeper/big.bin": strings.Repeat("x", 3<<20)}
	for name, content := range files {
		os.WriteFile(filepath.Join(src, name), []byte(content), 0o644)
	}
	rclone := rcloneAt(t, bin, base, false)
	rclone("copy", src, ":webdav:up")
	if out := rclone("check", src, ":webdav:up"); !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check after copy:\n%s", out)
	}
	os.Remove(filepath.Join(src, "a.txt"))
	os.WriteFile(filepath.Join(src, "new.txt"), []byte("new"), 0o644)
	rclone("sync", src, ":webdav:up")
	if out := rclone("check", src, ":webdav:up"); !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check after sync:\n%s", out)
	}
	rclone("moveto", ":webdav:up/sub dir", ":webdav:moved")
	if out := rclone("lsf", "-R", ":webdav:"); !strings.Contains(out, "moved/deeper/big.bin") || strings.Contains(out, "up/sub dir") {
		t.Errorf("listing after a folder move:\n%s", out)
	}
}

// s3Request sends one request and returns status, headers and body.
func s3Request(t *testing.T, method, url, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestS3MoveProgress: a folder MOVE on a slow bucket sends 102s whose
// Progress counts the members moved, and ends with every member at the
// destination and none at the source.
func TestS3MoveProgress(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl")
	s, base := startS3Davd(t, "", []string{"latency=20ms", "parallel=4"}, "--processing", "always",
		"--processing-after", "200ms", "--processing-interval", "200ms", "--processing-max", "0")
	const n = 60
	s3Put(t, s, "tree/", "")
	for i := range n {
		s3Put(t, s, fmt.Sprintf("tree/f%02d", i), "content")
	}
	start := time.Now()
	out, err := exec.Command(curl, "-sv", "--max-time", "60", "-X", "MOVE", "-H", "Destination: "+base+"/moved", base+"/tree").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "< HTTP/1.1 201") {
		t.Fatalf("MOVE did not answer 201:\n%s", text)
	}
	progress := regexp.MustCompile(`(?m)^< Progress: (\d+)/\d* (?:"[^"]*" )?\d+/\d* \(bytes\)\r?$`).FindAllStringSubmatch(text, -1)
	if len(progress) == 0 {
		t.Fatalf("MOVE took %v and no 102 carried Progress:\n%s", time.Since(start), text)
	}
	last, _ := strconv.Atoi(progress[len(progress)-1][1])
	first, _ := strconv.Atoi(progress[0][1])
	if last <= 0 || last < first || last > n+2 {
		t.Errorf("Progress counts %d..%d of %d members", first, last, n)
	}
	keys := s3Keys(t, s)
	if len(keys) != n+1 || keys[0] != "moved/" {
		t.Errorf("after the MOVE: %d keys %q", len(keys), keys)
	}
}

// TestS3Unavailable: with the S3 server stopped, requests answer 503 with
// a reason (a folder COPY under way reports its members 503), and davd
// serves again, with nothing lost, once the server is back.
func TestS3Unavailable(t *testing.T) {
	t.Parallel()
	s, base := startS3Davd(t, "", []string{"latency=10ms", "parallel=2"})
	s3Put(t, s, "tree/", "")
	for i := range 40 {
		s3Put(t, s, fmt.Sprintf("tree/f%02d", i), "content")
	}
	// Stopped in the middle of a folder COPY.
	var wg sync.WaitGroup
	var copyStatus int
	var copyBody string
	wg.Go(func() {
		copyStatus, _, copyBody = s3Request(t, "COPY", base+"/tree", "", "Destination", base+"/copy")
	})
	time.Sleep(150 * time.Millisecond)
	s.Stop()
	wg.Wait()
	if copyStatus != http.StatusMultiStatus && copyStatus != http.StatusServiceUnavailable {
		t.Errorf("COPY interrupted by the S3 server: %d %s", copyStatus, copyBody)
	} else if copyStatus == http.StatusMultiStatus && !strings.Contains(copyBody, "503") {
		t.Errorf("COPY's 207 names no member 503:\n%s", copyBody)
	}
	for _, m := range []string{"GET", "PUT", "PROPFIND"} {
		body := ""
		if m == "PUT" {
			body = "new"
		}
		st, hdr, body := s3Request(t, m, base+"/tree/f01", body, "Depth", "0")
		if st != http.StatusServiceUnavailable || !strings.Contains(body, "storage server is unavailable") || hdr.Get("Retry-After") == "" {
			t.Errorf("%s with S3 down: %d %q (Retry-After %q)", m, st, body, hdr.Get("Retry-After"))
		}
	}
	s.Restart()
	st, _, body := s3Request(t, "GET", base+"/tree/f01", "")
	if st != http.StatusOK || body != "content" {
		t.Errorf("GET once S3 is back: %d %q", st, body)
	}
	st, _, body = s3Request(t, "PROPFIND", base+"/tree", "", "Depth", "1")
	if st != http.StatusMultiStatus || strings.Count(body, "<D:href>") != 41 {
		t.Errorf("PROPFIND once S3 is back: %d, %d hrefs", st, strings.Count(body, "<D:href>"))
	}
}

// TestS3StartErrors: davd serve stops with one clear line, before it
// listens, when the bucket is missing or the server unreachable, and
// never shows a credential.
func TestS3StartErrors(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	for _, tc := range []struct{ url, want string }{
		{strings.Replace(s.URL(""), "s3://davd", "s3://missing", 1), "the bucket does not exist"},
		{strings.Replace(s.URL(""), s.Endpoint(), "http://127.0.0.1:1", 1), "connection refused"},
		{"s3://AKIA:" + s3test.SecretKey + "@davd", "must not carry credentials"},
	} {
		var logs bytes.Buffer
		listened := false
		err := runApp(context.Background(), []string{"davd", "serve", "--addr", "127.0.0.1:0", "--storage", tc.url, "--state", "memory:"},
			io.Discard, &logs, func(net.Addr) { listened = true })
		if err == nil || listened || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") ||
			strings.Contains(err.Error()+logs.String(), s3test.SecretKey) {
			t.Errorf("serve --storage %s: listened %v, err %v; want one line with %q and no secret", tc.url, listened, err, tc.want)
		}
	}
}

// TestS3MovePartial: a folder MOVE whose copy of one member fails answers
// 207 naming that member, which stays at the source with its dead
// properties; the others are at the destination with theirs.
func TestS3MovePartial(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s3Put(t, s, "tree/", "")
	s3Put(t, s, "tree/ok.txt", "ok")
	s3Put(t, s, "tree/poison.txt", "poison")
	state := "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	base := startDavd(t, "--storage", s.URLVia(s.RefusingCopies(t, "poison"), ""), "--state", state)
	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:color xmlns:x="urn:x">%s</x:color></D:prop></D:set></D:propertyupdate>`
	for _, name := range []string{"ok.txt", "poison.txt"} {
		if st, _, body := s3Request(t, "PROPPATCH", base+"/tree/"+name, fmt.Sprintf(patch, name)); st != http.StatusMultiStatus {
			t.Fatalf("PROPPATCH %s: %d %s", name, st, body)
		}
	}
	st, _, body := s3Request(t, "MOVE", base+"/tree", "", "Destination", base+"/moved")
	if st != http.StatusMultiStatus || !strings.Contains(body, "/tree/poison.txt") || strings.Contains(body, "ok.txt") {
		t.Fatalf("MOVE with a failing member: %d\n%s", st, body)
	}
	propfind := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:color xmlns:x="urn:x"/></D:prop></D:propfind>`
	for path, want := range map[string]string{"/moved/ok.txt": "ok.txt", "/tree/poison.txt": "poison.txt"} {
		st, _, body := s3Request(t, "PROPFIND", base+path, propfind, "Depth", "0")
		if st != http.StatusMultiStatus || !strings.Contains(body, ">"+want+"<") {
			t.Errorf("PROPFIND %s after the MOVE: %d\n%s", path, st, body)
		}
	}
	for path, want := range map[string]int{"/moved/ok.txt": 200, "/tree/poison.txt": 200, "/tree/ok.txt": 404, "/moved/poison.txt": 404} {
		if st, _, _ := s3Request(t, "GET", base+path, ""); st != want {
			t.Errorf("GET %s after the MOVE: %d, want %d", path, st, want)
		}
	}
}

// TestS3UserRoots: a user's root may be an s3:// URL of its own, or a
// sub-directory of s3:// storage; each lands under its own prefix, and
// the state of a bucket of its own lives in the user's state directory,
// not in the bucket. (Not parallel: it sets XDG_STATE_HOME.)
func TestS3UserRoots(t *testing.T) {
	stateHome := t.TempDir()
	t.Setenv("XDG_STATE_HOME", stateHome)
	s := s3test.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, fmt.Sprintf("users:\n  - name: alice\n    password: %q\n    root: %q\n  - name: bob\n    password: %q\n    root: bob\n",
		userHash(t, "alice"), s.URL("alice"), userHash(t, "bob")))
	base := startDavd(t, "--config", file, "--storage", s.URL("main"), "--state", "memory:")
	for _, user := range []string{"alice", "bob"} {
		st, _, body := s3Request(t, "PUT", base+"/"+user+".txt", user, "Authorization", strings.TrimPrefix(basicAuth(user), "Authorization: "))
		if st != http.StatusCreated {
			t.Fatalf("PUT as %s: %d %s", user, st, body)
		}
	}
	if keys := strings.Join(s3Keys(t, s), " "); keys != "alice/alice.txt main/bob/ main/bob/bob.txt" {
		t.Errorf("keys: %s", keys)
	}
	dbs, _ := filepath.Glob(filepath.Join(stateHome, "davd", "davd_alice-*.db"))
	if len(dbs) != 1 {
		entries, _ := os.ReadDir(filepath.Join(stateHome, "davd"))
		t.Errorf("state of alice's bucket: %v (state dir holds %v)", dbs, entries)
	}
}
