package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func status(t *testing.T, method, url string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestConfigSources checks that a setting comes from the flag first, then
// the environment, then the YAML file. It sets environment variables, so it
// cannot run in parallel with tests that start servers from flags alone.
func TestConfigSources(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "davd.yaml")
	os.WriteFile(cfgFile, []byte("prefix: /fromfile\nread-only: true\nstorage: mem://\n"), 0o644)

	base := startDavd(t, "--config", cfgFile)
	if got := status(t, "GET", base+"/fromfile/"); got != 200 {
		t.Errorf("prefix from file: GET = %d", got)
	}
	if got := status(t, "MKCOL", base+"/fromfile/x"); got != 403 {
		t.Errorf("read-only from file: MKCOL = %d, want 403", got)
	}

	t.Setenv("DAVD_PREFIX", "/fromenv")
	t.Setenv("DAVD_READ_ONLY", "false")
	base = startDavd(t, "--config", cfgFile)
	if got := status(t, "GET", base+"/fromenv/"); got != 200 {
		t.Errorf("env beats file: GET = %d", got)
	}
	if got := status(t, "MKCOL", base+"/fromenv/x"); got != 201 {
		t.Errorf("env read-only=false beats file: MKCOL = %d, want 201", got)
	}

	base = startDavd(t, "--config", cfgFile, "--prefix", "/fromflag")
	if got := status(t, "GET", base+"/fromflag/"); got != 200 {
		t.Errorf("flag beats env: GET = %d", got)
	}
	if got := status(t, "GET", base+"/fromenv/"); got != 404 {
		t.Errorf("env prefix still served: GET = %d", got)
	}
}

func TestDefaultStorageCreated(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "data")
	base := startDavd(t, dir, "--create") // only ./data is created without it
	if got := status(t, "MKCOL", base+"/made"); got != 201 {
		t.Fatalf("MKCOL = %d", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "made")); err != nil || !fi.IsDir() {
		t.Errorf("positional DIR not used as storage: %v", err)
	}
}
