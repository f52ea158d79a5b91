package dav

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"davd/storage"
)

// BenchmarkSmallRequests measures the per-request cost of GET of a 4 KiB
// file and PROPFIND Depth 0 over keep-alive connections on disk storage;
// run it with -cpuprofile (cmd/davbench compares requests/s with x/net).
func BenchmarkSmallRequests(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file.txt"), []byte(strings.Repeat("x", 4096)), 0o644); err != nil {
		b.Fatal(err)
	}
	rfs, err := storage.NewRootFs(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer rfs.Close()
	srv := testServer(&testing.T{}, rfs, Config{})
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	props := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:getlastmodified/><D:resourcetype/></D:prop></D:propfind>`
	for _, tc := range []struct{ name, method, body string }{
		{"GET", "GET", ""},
		{"PROPFIND0", "PROPFIND", props},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(tc.method, srv.URL+"/file.txt", strings.NewReader(tc.body))
					req.Header.Set("Depth", "0")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 && resp.StatusCode != 207 {
						b.Errorf("%s = %d", tc.method, resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
