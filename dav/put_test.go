package dav

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"davd/storage"
)

func TestKilledUploadKeepsOldContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := make([]byte, 300<<10)
	rand.Read(old)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	rfs, err := storage.NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	srv := testServer(t, rfs, Config{})
	addr := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		name string
		send func(conn net.Conn)
	}{
		{"half of a Content-Length body", func(conn net.Conn) {
			fmt.Fprintf(conn, "PUT /big.bin HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, 1<<20)
			conn.Write(bytes.Repeat([]byte("N"), 512<<10))
		}},
		{"chunked body cut mid-chunk", func(conn net.Conn) {
			fmt.Fprintf(conn, "PUT /big.bin HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n", addr)
			fmt.Fprintf(conn, "%x\r\n%s\r\n", 64<<10, bytes.Repeat([]byte("N"), 64<<10))
			fmt.Fprintf(conn, "%x\r\n%s", 64<<10, bytes.Repeat([]byte("N"), 1000))
		}},
		{"headers only", func(conn net.Conn) {
			fmt.Fprintf(conn, "PUT /big.bin HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\n", addr)
		}},
	}
	for _, tt := range tests {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		tt.send(conn)
		time.Sleep(50 * time.Millisecond) // let the server start storing
		conn.Close()

		// The handler notices the cut asynchronously; wait until its
		// temporary file is gone, then compare.
		deadline := time.Now().Add(5 * time.Second)
		for {
			entries, _ := os.ReadDir(dir)
			if len(entries) == 1 {
				break
			}
			if time.Now().After(deadline) {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("%s: stray files left: %v", tt.name, names)
			}
			time.Sleep(20 * time.Millisecond)
		}
		got := do(t, "GET", srv.URL+"/big.bin", nil, "")
		if got.status != 200 || got.body != string(old) {
			t.Errorf("%s: old content not intact (status %d, %d bytes)", tt.name, got.status, len(got.body))
		}
		if listing := do(t, "PROPFIND", srv.URL+"/", map[string]string{"Depth": "1"}, ""); strings.Contains(listing.body, ".davd") {
			t.Errorf("%s: PROPFIND shows a temporary file", tt.name)
		}
	}
	// A complete upload replaces the content.
	if got := do(t, "PUT", srv.URL+"/big.bin", nil, "new"); got.status != 204 {
		t.Fatalf("complete PUT = %d", got.status)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "big.bin")); string(b) != "new" {
		t.Errorf("content after complete PUT = %q", b)
	}
}
