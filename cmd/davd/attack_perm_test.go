package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPermissionRuleAttacks runs a real davd with an administrator who
// sees the whole storage and bob, rooted at bob/, whose rules hide a few
// names from him, and checks that the rules hold for names with brackets,
// names stored decomposed (NFD, as macOS writes them), members of a tree
// bob works on, and what bob's locks cover.
func TestPermissionRuleAttacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	bobDir := filepath.Join(data, "bob")
	for name, content := range map[string]string{
		"Team [HR]/salaries.txt": "HR salaries",
		"Team H":                 "team H",
		"docs/readme":            "readme",
		"docs/salary-2026.pdf":   "salary 2026",
		"x/private/p":            "x private",
		"x/f":                    "x f",
		"cafe\u0301/secret":      "cafe secret", // NFD on disk
	} {
		writeFile(t, filepath.Join(bobDir, name), content)
	}
	cfg := fmt.Sprintf(`storage: %s
users:
  - name: alice
    password: %q
  - name: bob
    password: %q
    root: bob
    rules:
      - path: "/Team [HR]"
        permissions: none
      - path: /docs/salary-2026.pdf
        permissions: none
      - path: /docs/salary-2027.pdf
        permissions: none
      - path: /x/private
        permissions: none
      - path: "/caf\u00e9"
        permissions: none
`, data, userHash(t, "alice"), userHash(t, "bob"))
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, cfg)
	addr := strings.TrimPrefix(startDavd(t, "--config", file, "--max-auth-failures", "0"), "http://")
	bob, admin := "Authorization: "+basicAuth("bob"), "Authorization: "+basicAuth("alice")
	send := func(who, method, target, body string, hdr ...string) rawResult {
		t.Helper()
		return rawDo(t, addr, rawRequest(addr, method, target, body, append([]string{who}, hdr...)...))[0]
	}

	tests := []struct {
		name, method, target string
		hdr                  []string
		want                 int
	}{
		{"item 4: a name with brackets", "GET", "/Team%20%5BHR%5D/salaries.txt", nil, 403},
		{"item 4: PROPFIND it", "PROPFIND", "/Team%20%5BHR%5D", []string{"Depth: 1"}, 403},
		{"item 4: a name its pattern reading would match", "GET", "/Team%20H", nil, 200},
		{"item 9: the rule's name sent in NFD", "GET", "/cafe%CC%81/secret", nil, 403},
		{"item 9: DELETE it", "DELETE", "/cafe%CC%81", nil, 403},
		{"item 7: DELETE above a hidden file", "DELETE", "/docs", nil, 403},
		{"item 7: MOVE above a hidden file", "MOVE", "/docs", []string{"Destination: /moved"}, 403},
		{"item 7: COPY onto a hidden existing name", "COPY", "/docs/readme", []string{"Destination: /docs/salary-2026.pdf", "Overwrite: F"}, 403},
		{"item 7: COPY onto a hidden missing name", "COPY", "/docs/readme", []string{"Destination: /docs/salary-2027.pdf", "Overwrite: F"}, 403},
		{"item 8: a deep LOCK over a hidden folder", "LOCK", "/x", []string{"Depth: infinity"}, 403},
		{"item 8: a deep LOCK of the root", "LOCK", "/", []string{"Depth: infinity"}, 403},
	}
	bodies := map[string]string{}
	for _, tt := range tests {
		body := ""
		if tt.method == "LOCK" {
			body = lockBody
		}
		r := send(bob, tt.method, tt.target, body, tt.hdr...)
		bodies[tt.name] = r.body
		if r.status != tt.want {
			t.Errorf("%s: %s %s = %d, want %d (%s)", tt.name, tt.method, tt.target, r.status, tt.want, strings.TrimSpace(r.body))
		}
		if strings.Contains(r.body, "salary-2026") && !strings.Contains(strings.Join(tt.hdr, " "), "salary-2026") {
			t.Errorf("%s: the answer names a file bob cannot see: %s", tt.name, r.body)
		}
	}
	if a, b := bodies["item 7: COPY onto a hidden existing name"], bodies["item 7: COPY onto a hidden missing name"]; strings.ReplaceAll(a, "2026", "2027") != b {
		t.Errorf("COPY onto a hidden name answers differently whether it exists: %q / %q", a, b)
	}
	if r := send(bob, "PROPFIND", "/", "", "Depth: 1"); r.status != 207 || strings.Contains(r.body, "cafe") ||
		strings.Contains(r.body, "Team%20%5BHR") || !strings.Contains(r.body, "Team%20H") {
		t.Errorf("bob PROPFIND / = %d, lists hidden names or misses Team H:\n%s", r.status, r.body)
	}

	// item 8: bob may lock /x at Depth 0; that lock does not reach the
	// administrator's writes into a folder bob has no rights in.
	if r := send(bob, "LOCK", "/x", lockBody, "Depth: 0"); r.status != 200 {
		t.Errorf("bob Depth 0 LOCK /x = %d %s", r.status, r.body)
	}
	if r := send(admin, "PUT", "/bob/x/private/new", "admin's"); r.status != 201 {
		t.Errorf("admin PUT /bob/x/private/new = %d %s, want 201: bob's lock must not cover it", r.status, r.body)
	}

	for name, content := range map[string]string{
		"Team [HR]/salaries.txt": "HR salaries", "docs/readme": "readme", "docs/salary-2026.pdf": "salary 2026",
		"x/private/p": "x private", "cafe\u0301/secret": "cafe secret",
	} {
		if b, err := os.ReadFile(filepath.Join(bobDir, name)); err != nil || string(b) != content {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
	for _, name := range []string{"moved", "docs/salary-2027.pdf"} {
		if _, err := os.Lstat(filepath.Join(bobDir, name)); err == nil {
			t.Errorf("a refused request created %s", name)
		}
	}
}

// TestRuleConfig: a rule is a literal path or a pattern; a path with * or
// ? (a pattern in configs written before pattern: existed) and a rule with
// both or neither stop davd before it listens. A pattern works as one.
func TestRuleConfig(t *testing.T) {
	t.Parallel()
	h := userHash(t, "bob")
	rule := func(r string) string {
		return fmt.Sprintf("users:\n  - name: bob\n    password: %q\n    rules:\n%s", h, r)
	}
	for _, tt := range []struct{ name, yaml, want string }{
		{"old-style pattern under path", rule("      - path: /*/private\n        permissions: none\n"), "write pattern:"},
		{"question mark under path", rule("      - path: /a?\n        permissions: none\n"), "write pattern:"},
		{"path and pattern", rule("      - path: /a\n        pattern: /b*\n        permissions: none\n"), "both path and pattern"},
		{"neither", rule("      - permissions: none\n"), "needs a path"},
		{"pattern not absolute", rule("      - pattern: '*/private'\n        permissions: none\n"), "must start with /"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "davd.yaml")
			writeFile(t, file, tt.yaml)
			listened := false
			err := runApp(context.Background(), []string{"davd", "serve", "--addr", "127.0.0.1:0", "--storage", "mem://", "--config", file},
				io.Discard, io.Discard, func(net.Addr) { listened = true })
			if err == nil || listened {
				t.Fatalf("err %v, listened %v", err, listened)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not mention %q on one line", err, tt.want)
			}
		})
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "data", "a", "private", "p"), "p")
	writeFile(t, filepath.Join(dir, "data", "a[1]", "f"), "f")
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, fmt.Sprintf("storage: %s\n", filepath.Join(dir, "data"))+
		rule("      - pattern: /*/private\n        permissions: none\n      - path: /a[1]\n        permissions: none\n"))
	addr := strings.TrimPrefix(startDavd(t, "--config", file, "--max-auth-failures", "0"), "http://")
	b := "Authorization: " + basicAuth("bob")
	for target, want := range map[string]int{"/a/private/p": 403, "/a%5B1%5D/f": 403, "/a": 200} {
		if r := rawDo(t, addr, rawRequest(addr, "GET", target, "", b))[0]; r.status != want {
			t.Errorf("GET %s = %d, want %d", target, r.status, want)
		}
	}
}
