// Package s3test starts a real S3 server (versitygw over a temporary
// directory, on 127.0.0.1) for tests. Without versitygw the test is
// skipped, except under CI=true, where that is a failure (.ci/run
// installs it).
package s3test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The credentials of every test server. The AWS SDK reads them from the
// environment, as davd does in production; every server of the process
// shares them, so setting the variables once is safe for parallel tests.
const (
	AccessKey = "davdtestkey"
	SecretKey = "davdtestsecret0123456789"
	Region    = "us-east-1"
)

var setEnv = sync.OnceFunc(func() {
	os.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	os.Unsetenv("AWS_SESSION_TOKEN")
	os.Unsetenv("AWS_PROFILE")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
})

// Binary finds versitygw: on PATH, in $HOME/go/bin, or in the CI cache
// ($DAVD_CI_CACHE/bin, /var/cache/davd-ci/bin). It skips t without it,
// or fails t under CI.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if c := os.Getenv("DAVD_CI_CACHE"); c != "" {
		dirs = append(dirs, filepath.Join(c, "bin"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"), filepath.Join(h, ".cache", "davd-ci", "bin"))
	}
	dirs = append(dirs, "/var/cache/davd-ci/bin")
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	const hint = "versitygw is not installed (GOBIN=/var/cache/davd-ci/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; .ci/run must install it", hint)
	}
	t.Skip(hint)
	return ""
}

// Server is a running versitygw.
type Server struct {
	t      testing.TB
	bin    string
	dir    string
	addr   string
	mu     sync.Mutex
	proc   *os.Process // nil while stopped
	waitc  chan struct{}
	Bucket string
}

// Start starts a server with one empty bucket, stopped when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	setEnv()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir(), Bucket: "davd"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ln.Close()
	s.Restart()
	t.Cleanup(s.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return s
}

// Endpoint is the server's URL.
func (s *Server) Endpoint() string { return "http://" + s.addr }

// URL is the davd storage URL of the bucket, or of prefix in it; extra
// options ("latency=5ms") are appended.
func (s *Server) URL(prefix string, extra ...string) string {
	u := "s3://" + s.Bucket
	if prefix != "" {
		u += "/" + strings.Trim(prefix, "/")
	}
	q := append([]string{"endpoint=" + s.Endpoint(), "region=" + Region, "use_path_style=true"}, extra...)
	return u + "?" + strings.Join(q, "&")
}

// Dir is the directory versitygw stores the buckets in.
func (s *Server) Dir() string { return s.dir }

// Client is a raw S3 client of the server, to look behind davd's back.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(s.Endpoint()),
		Region:                     Region,
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Stop stops the server (as a crash would: SIGKILL). Its data stays.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Kill()
	<-s.waitc
	s.proc = nil
}

// Restart starts the server again, on the same address and data, and
// waits until it accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return
	}
	cmd := exec.Command(s.bin, "--port", s.addr, "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--quiet", "posix", s.dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			s.t.Fatalf("versitygw exited: %s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			s.t.Fatalf("versitygw did not listen on %s: %s", s.addr, out.String())
		}
	}
	// cmd.Wait runs in the goroutine above; Stop kills and waits for it.
	s.proc, s.waitc = cmd.Process, exited
}

// Seed stores files straight into the bucket's directory, behind the
// server's back, which its posix backend serves as objects: far faster
// than PUTs for building large trees. Keys ending in "/" make
// directories.
func (s *Server) Seed(keys map[string]string) {
	s.t.Helper()
	for key, content := range keys {
		p := filepath.Join(s.dir, s.Bucket, filepath.FromSlash(key))
		if strings.HasSuffix(key, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				s.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}

// RefusingCopies is an endpoint in front of the server that refuses
// (403 AccessDenied) every server-side copy whose source key contains
// poison, and forwards the rest: a member that fails, for tests of
// partial failures.
func (s *Server) RefusingCopies(t testing.TB, poison string) string {
	t.Helper()
	target, _ := url.Parse(s.Endpoint())
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if src := r.Header.Get("X-Amz-Copy-Source"); strings.Contains(src, poison) {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>refused by the test</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// URLVia is URL with the endpoint replaced by another (a proxy).
func (s *Server) URLVia(endpoint, prefix string, extra ...string) string {
	return strings.Replace(s.URL(prefix, extra...), "endpoint="+s.Endpoint(), "endpoint="+endpoint, 1)
}

// Watching is an endpoint in front of the server that calls seen with
// each request before forwarding it: tests count the requests davd makes.
// seen may be called from several goroutines at once.
func (s *Server) Watching(t testing.TB, seen func(*http.Request)) string {
	t.Helper()
	target, _ := url.Parse(s.Endpoint())
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen(r)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// IsList reports whether r, seen by Watching, lists the bucket's objects
// (ListObjects or ListObjectsV2, path-style).
func IsList(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 &&
		r.URL.Path != "/" && (r.URL.Query().Has("list-type") || r.URL.Query().Has("prefix") || r.URL.Query().Has("delimiter"))
}
