package ui

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Search bounds: a search answers at most maxResults matches, visits at
// most maxVisited members, and runs at most searchTime; the last line says
// whether it was cut short.
const (
	maxResults  = 1000
	maxVisited  = 200_000
	searchTime  = 20 * time.Second
	maxQueryLen = 256
)

// errSearchDone stops a walk that has found or visited enough.
var errSearchDone = errors.New("search bound reached")

// hit is a search result line; done is the last line.
type hit struct {
	Path  string `json:"p"`
	Dir   bool   `json:"d,omitempty"`
	Size  int64  `json:"s"`
	MTime int64  `json:"m"`
}

type searchEnd struct {
	Done      bool   `json:"done"`
	Visited   int    `json:"visited"`
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// serveSearch answers GET search?path=/x&q=word with the members below /x
// whose name contains word (case-insensitively), one JSON object per line,
// streamed as they are found (the page shows them as they come), and a
// last line {"done":true,...}. The walk is bounded (see maxResults) and
// stops when the client goes away.
func (u *UI) serveSearch(w http.ResponseWriter, r *http.Request, tree Tree) error {
	root, err := queryPath(r)
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if q == "" || len(q) > maxQueryLen || !utf8.ValidString(q) {
		return refusef(http.StatusBadRequest, "q must be 1 to %d bytes of UTF-8", maxQueryLen)
	}
	fi, err := tree.Stat(r.Context(), root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return refusef(http.StatusConflict, "%s%s is not a collection", u.prefix, root)
	}
	h := w.Header()
	setCommonHeaders(h)
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Content-Security-Policy", jsonCSP)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	deadline := time.Now().Add(searchTime)
	lastFlush := time.Now()
	end := searchEnd{Done: true}
	found := 0
	err = walk(r.Context(), tree, root, func(name string, fi fs.FileInfo) error {
		end.Visited++
		if strings.Contains(strings.ToLower(fi.Name()), q) {
			found++
			if err := enc.Encode(hit{Path: name, Dir: fi.IsDir(), Size: sizeOf(fi), MTime: fi.ModTime().UnixMilli()}); err != nil {
				return err
			}
			if time.Since(lastFlush) > 50*time.Millisecond || found < 20 {
				rc.Flush()
				lastFlush = time.Now()
			}
		}
		if found >= maxResults || end.Visited >= maxVisited || time.Now().After(deadline) {
			return errSearchDone
		}
		return nil
	})
	switch {
	case errors.Is(err, errSearchDone):
		end.Truncated = true
	case err != nil:
		if r.Context().Err() != nil {
			return nil // the page went elsewhere
		}
		end.Error = "the search stopped: " + err.Error()
	}
	return enc.Encode(end)
}

func sizeOf(fi fs.FileInfo) int64 {
	if fi.IsDir() {
		return 0
	}
	return fi.Size()
}
