package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// slowTree starts davd on latency-slowed memory storage with a tree whose
// COPY takes about a second, and 102s due every 200ms.
func slowTree(t *testing.T) string {
	t.Helper()
	base := startDavd(t, "--storage", "mem://?latency=15ms",
		"--processing-after", "200ms", "--processing-interval", "200ms", "--processing-max", "0")
	mk := func(method, path, body string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s = %d", method, path, resp.StatusCode)
		}
	}
	mk("MKCOL", "/tree", "")
	for i := range 4 {
		mk("MKCOL", fmt.Sprintf("/tree/d%d", i), "")
		for j := range 6 {
			mk("PUT", fmt.Sprintf("/tree/d%d/f%d", i, j), strings.Repeat("x", 100))
		}
	}
	return base
}

// TestSlowCopyCurl is the demonstration in the README: curl -v shows 102
// Processing while a COPY on slow storage runs, then 201.
func TestSlowCopyCurl(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl")
	base := slowTree(t)
	out, err := exec.Command(curl, "-sv", "-X", "COPY", "-H", "Destination: "+base+"/copy", base+"/tree").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	interim := regexp.MustCompile(`(?m)^< HTTP/1.1 102 Processing`).FindAllString(string(out), -1)
	final := regexp.MustCompile(`(?m)^< HTTP/1.1 201 Created`).FindStringIndex(string(out))
	if len(interim) < 2 || final == nil {
		t.Fatalf("want at least two 102s and then 201, curl printed:\n%s", out)
	}
	if last := strings.LastIndex(string(out), "102 Processing"); last > final[0] {
		t.Errorf("a 102 came after the final status:\n%s", out)
	}
	if got := status(t, "GET", base+"/copy/d3/f5"); got != 200 {
		t.Errorf("copied tree incomplete: GET = %d", got)
	}
}
