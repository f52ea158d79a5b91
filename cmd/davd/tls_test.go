package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number to certFile and keyFile and returns it parsed, for a
// client to trust.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "davd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Key first, then certificate, each renamed into place, as a renewal
	// tool would do it.
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{keyFile, "EC PRIVATE KEY", keyDER}, {certFile, "CERTIFICATE", der}} {
		tmp := f.name + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.name); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// tlsClient trusts the given certificates and speaks HTTP/2.
func tlsClient(certs ...*x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}}
}

func send(t *testing.T, c *http.Client, method, url, body string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestTLSHTTP2Processing checks HTTPS with HTTP/2, TLS 1.2 as the floor,
// and 102 Processing reaching an HTTP/2 client during a slow COPY.
func TestTLSHTTP2Processing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := writeCert(t, certFile, keyFile, 1)
	base := startDavd(t, "--tls-cert", certFile, "--tls-key", keyFile,
		"--storage", "mem://?latency=20ms",
		"--processing", "always", "--processing-after", "200ms", "--processing-interval", "200ms", "--processing-max", "1",
		"--write-timeout", "150ms")
	base = strings.Replace(base, "http://", "https://", 1)
	c := tlsClient(cert)

	resp := send(t, c, "MKCOL", base+"/tree", "")
	if resp.ProtoMajor != 2 {
		t.Fatalf("HTTPS spoke %s, want HTTP/2", resp.Proto)
	}
	for i := range 4 {
		send(t, c, "MKCOL", fmt.Sprintf("%s/tree/d%d", base, i), "")
		for j := range 6 {
			send(t, c, "PUT", fmt.Sprintf("%s/tree/d%d/f%d", base, i, j), "content")
		}
	}

	var interim atomic.Int32
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		if code == http.StatusProcessing {
			interim.Add(1)
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "COPY", base+"/tree", nil)
	req.Header.Set("Destination", base+"/copy")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusCreated || resp.ProtoMajor != 2 {
		t.Fatalf("COPY = %s over %s, want 201 over HTTP/2", resp.Status, resp.Proto)
	}
	// The COPY goes on working well past the 150ms write timeout after
	// its only 102 (at 200ms): on HTTP/2 a write deadline left set would
	// reset the stream then.
	t.Logf("COPY over HTTP/2 took %v with %d 102s", took, interim.Load())
	if n := interim.Load(); n != 1 || took < 500*time.Millisecond {
		t.Errorf("COPY took %v and sent %d 102s over HTTP/2; want ≥ 500ms and 1", took, n)
	}
	if got := send(t, c, "GET", base+"/copy/d3/f5", "").StatusCode; got != 200 {
		t.Errorf("copied tree incomplete: GET = %d", got)
	}

	// TLS 1.1 is refused; plain HTTP on the TLS port gets no WebDAV answer.
	old := &tls.Config{RootCAs: x509.NewCertPool(), MaxVersion: tls.VersionTLS11}
	old.RootCAs.AddCert(cert)
	if conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), old); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	if resp, err := http.Get(strings.Replace(base, "https://", "http://", 1) + "/tree"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port = %d, want net/http's 400", resp.StatusCode)
		}
	}
}

// serial dials addr and returns the serial number of the certificate the
// server presents.
func serial(t *testing.T, addr string, certs ...*x509.Certificate) int64 {
	t.Helper()
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestCertificateReloadOnSIGHUP renews the certificate files and sends the
// process a real SIGHUP. The test subscribes to SIGHUP itself for its whole
// run, so the signal can never fall through to the default action (which
// would kill the test binary), whatever the servers are doing.
func TestCertificateReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	self, _ := os.FindProcess(os.Getpid())
	first := writeCert(t, certFile, keyFile, 1)
	base := startDavd(t, "--tls-cert", certFile, "--tls-key", keyFile, "--storage", "mem://")
	addr := strings.TrimPrefix(base, "http://")
	if got := serial(t, addr, first); got != 1 {
		t.Fatalf("serving serial %d, want 1", got)
	}

	// A broken renewal keeps the old certificate in service.
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	self.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	if got := serial(t, addr, first); got != 1 {
		t.Fatalf("after a broken renewal serving serial %d, want the old 1", got)
	}

	second := writeCert(t, certFile, keyFile, 2)
	self.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for serial(t, addr, first, second) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("certificate not reloaded 5s after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCertHolderReload drives the reload path directly: the holder serves
// the new pair after reload and keeps the old one when the new is bad.
func TestCertHolderReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 7)
	h, err := loadCert(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	serialOf := func() int64 {
		c, _ := h.getCertificate(nil)
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x.SerialNumber.Int64()
	}
	reload := make(chan os.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.watchReload(ctx, reload, discardLogger()); close(done) }()
	defer func() { cancel(); <-done }()

	writeCert(t, certFile, keyFile, 8)
	reload <- syscall.SIGHUP
	reload <- syscall.SIGHUP // the second send returns once the first reload is done
	if got := serialOf(); got != 8 {
		t.Errorf("after reload serial %d, want 8", got)
	}
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	reload <- syscall.SIGHUP
	reload <- syscall.SIGHUP
	if got := serialOf(); got != 8 {
		t.Errorf("a failed reload replaced the certificate: serial %d", got)
	}
	if _, err := loadCert(certFile, keyFile); err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("a bad key pair at startup gave %v", err)
	}
}

// TestSIGHUPWithoutTLS runs davd as a child process (this test binary
// again), as systemd would, and sends it SIGHUP — what `systemctl reload
// davd` does. Without TLS there is nothing to reload, but the server must
// keep serving rather than die of the signal's default action.
func TestSIGHUPWithoutTLS(t *testing.T) {
	if os.Getenv("DAVD_SIGHUP_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := newApp(os.Stdout, os.Stderr, func(a net.Addr) { fmt.Println("LISTENING", a) }).
			RunContext(ctx, []string{"davd", "serve", "--addr", "127.0.0.1:0", "--storage", "mem://", "--log-level", "warn"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSIGHUPWithoutTLS$")
	cmd.Env = append(os.Environ(), "DAVD_SIGHUP_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if err != nil || !ok {
		t.Fatalf("child did not start: %q %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("davd died of SIGHUP: %v", err)
	}
	resp.Body.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("davd exited with %v after SIGTERM", err)
	}
}
