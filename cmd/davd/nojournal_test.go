package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoJournal: the hidden --no-journal turns the journal off, which is
// seen from outside in that a COPY of a collection with Prefer:
// respond-async, answered 202 while journaled, runs in the request and is
// answered 201 without the journal. The flag is left out of the help, and
// a config file cannot set it: there it is an unknown key.
func TestNoJournal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want int
	}{
		{nil, 202},
		{[]string{"--no-journal"}, 201},
	} {
		t.Run(strings.Join(append([]string{"davd"}, tt.args...), " "), func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			writeFile(t, filepath.Join(data, "src", "a.txt"), "a")
			writeFile(t, filepath.Join(data, "src", "sub", "b.txt"), "b")
			addr := strings.TrimPrefix(startDavd(t, append([]string{"--storage", data}, tt.args...)...), "http://")
			res := rawDo(t, addr, rawRequest(addr, "COPY", "/src", "",
				"Destination: http://HOST/dst", "Depth: infinity", "Prefer: respond-async"))
			if res[0].status != tt.want {
				t.Fatalf("COPY with Prefer: respond-async = %d, want %d", res[0].status, tt.want)
			}
			if tt.want == 201 {
				// Answered once done: the copy is complete now.
				if b, err := os.ReadFile(filepath.Join(data, "dst", "sub", "b.txt")); err != nil || string(b) != "b" {
					t.Errorf("dst/sub/b.txt after 201: %q, %v", b, err)
				}
			}
		})
	}

	t.Run("hidden", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		if err := runApp(context.Background(), []string{"davd", "help", "serve"}, &out, &out, func(net.Addr) {}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "no-journal") || !strings.Contains(out.String(), "--no-ui") {
			t.Errorf("davd help serve shows --no-journal, or not --no-ui:\n%s", out.String())
		}
		file := filepath.Join(t.TempDir(), "davd.yaml")
		writeFile(t, file, "no-journal: true\n")
		if err := cliError(t, "serve", "--storage", "mem://", "--config", file); !strings.Contains(err, `unknown key "no-journal"`) {
			t.Errorf("no-journal in a config file: %q, want an unknown key", err)
		}
	})
}
