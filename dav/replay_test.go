package dav

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// exchange is one request of a recorded client sequence and what its
// response must show (format: testdata/clients/README.md).
type exchange struct {
	line     int
	method   string
	path     string
	header   http.Header
	body     string
	status   int
	contains []string
	absent   []string
	headers  [][2]string
	captures [][2]string // variable, response header
}

func loadExchanges(t *testing.T, file string) []exchange {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out   []exchange
		cur   *exchange
		phase int // 0 headers, 1 body, 2 expectations
		body  []string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#") && phase != 1:
		case strings.HasPrefix(line, "=== "):
			method, path, _ := strings.Cut(strings.TrimPrefix(line, "=== "), " ")
			out = append(out, exchange{line: n, method: method, path: path, header: http.Header{}})
			cur, phase, body = &out[len(out)-1], 0, nil
		case cur == nil:
		case strings.HasPrefix(line, "--- "):
			cur.body = strings.TrimRight(strings.Join(body, "\n"), "\n")
			cur.status, err = strconv.Atoi(strings.TrimPrefix(line, "--- "))
			if err != nil {
				t.Fatalf("%s:%d: bad status line", file, n)
			}
			phase = 2
		case phase == 0 && line == "":
			phase = 1
		case phase == 0:
			k, v, _ := strings.Cut(line, ":")
			cur.header.Add(k, strings.TrimSpace(v))
		case phase == 1:
			body = append(body, line)
		case phase == 2 && line != "":
			kind, v, _ := strings.Cut(line, ": ")
			switch kind {
			case "contains":
				cur.contains = append(cur.contains, v)
			case "absent":
				cur.absent = append(cur.absent, v)
			case "header":
				name, val, _ := strings.Cut(v, ": ")
				cur.headers = append(cur.headers, [2]string{name, val})
			case "capture":
				name, from, _ := strings.Cut(v, " from ")
				cur.captures = append(cur.captures, [2]string{name, from})
			default:
				t.Fatalf("%s:%d: unknown expectation %q", file, n, kind)
			}
		}
	}
	return out
}

// TestReplayClients replays recorded Windows and macOS sessions.
func TestReplayClients(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../testdata/clients/*.txt")
	if len(files) < 2 {
		t.Fatalf("client fixtures missing: %v", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			backend := afero.NewMemMapFs()
			afero.WriteFile(backend, "/existing.txt", []byte("already here"), 0o644)
			srv := testServer(t, backend, Config{})
			vars := map[string]string{"base": srv.URL}
			expand := func(s string) string {
				for k, v := range vars {
					s = strings.ReplaceAll(s, "{{"+k+"}}", v)
				}
				return s
			}
			for _, ex := range loadExchanges(t, file) {
				var body io.Reader
				if ex.body != "" {
					body = strings.NewReader(expand(ex.body))
					if ex.header.Get("Transfer-Encoding") == "chunked" {
						body = struct{ io.Reader }{body} // unknown length: sent chunked
					}
				}
				req, err := http.NewRequest(ex.method, srv.URL+ex.path, body)
				if err != nil {
					t.Fatal(err)
				}
				for k, vs := range ex.header {
					if k == "Transfer-Encoding" || k == "Content-Length" {
						continue // the client library sets framing itself
					}
					for _, v := range vs {
						req.Header.Add(k, expand(v))
					}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("line %d: %v", ex.line, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				where := filepath.Base(file) + ":" + strconv.Itoa(ex.line) + " " + ex.method + " " + ex.path
				if resp.StatusCode != ex.status {
					t.Fatalf("%s: status %d, want %d\n%s", where, resp.StatusCode, ex.status, got)
				}
				for _, c := range ex.contains {
					if !strings.Contains(string(got), expand(c)) {
						t.Errorf("%s: body lacks %q:\n%s", where, c, got)
					}
				}
				for _, c := range ex.absent {
					if strings.Contains(string(got), c) {
						t.Errorf("%s: body has %q:\n%s", where, c, got)
					}
				}
				for _, hv := range ex.headers {
					if !strings.Contains(resp.Header.Get(hv[0]), hv[1]) {
						t.Errorf("%s: header %s = %q, want %q", where, hv[0], resp.Header.Get(hv[0]), hv[1])
					}
				}
				for _, c := range ex.captures {
					vars[c[0]] = strings.Trim(resp.Header.Get(c[1]), "<>")
				}
			}
		})
	}
}
