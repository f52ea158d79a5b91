package dav

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"davd/storage"
)

// BenchmarkPropfindTree answers PROPFIND Depth: infinity over a directory
// tree of 10,000 files on disk; run it with -cpuprofile to see where a
// whole-tree PROPFIND spends its time (cmd/davbench measures it end to end).
func BenchmarkPropfindTree(b *testing.B) {
	dir := b.TempDir()
	for d := range 100 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%04d.txt", f)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	rfs, err := storage.NewRootFs(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer rfs.Close()
	srv := testServer(&testing.T{}, rfs, Config{})
	defer srv.Close()
	for _, body := range []struct{ name, xml string }{
		{"allprop", ""},
		{"3props", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:getlastmodified/><D:resourcetype/></D:prop></D:propfind>`},
	} {
		b.Run(body.name, func(b *testing.B) {
			for b.Loop() {
				req, _ := http.NewRequest("PROPFIND", srv.URL+"/", strings.NewReader(body.xml))
				req.Header.Set("Depth", "infinity")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 207 || n < 10000*100 {
					b.Fatalf("PROPFIND = %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
	}
}
