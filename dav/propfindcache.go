package dav

import (
	"net/http"
	"sync"
)

// Clients send PROPFIND bodies from a handful of fixed templates — Finder,
// the Windows redirector, davfs2 and gvfs each repeat theirs on every
// request — and parsing one with encoding/xml took a third of the server's
// CPU for a Depth 0 PROPFIND in a profile. So parsed bodies are
// remembered by their exact bytes: the same bytes always parse to the same
// request, so the answer cannot change, and only bodies that parsed
// cleanly are kept.
const (
	// propfindCacheEntries bounds the cache; a server sees few templates,
	// and a client sending ever new bodies only replaces entries.
	propfindCacheEntries = 64
	// propfindCacheBody is the largest body kept: templates are a few
	// hundred bytes, and a big body costs more to hold than to parse.
	propfindCacheBody = 2048
)

// propfindCache maps PROPFIND bodies to what they ask for. Its requests
// are shared between concurrent PROPFINDs and must not be modified.
type propfindCache struct {
	mu      sync.Mutex
	entries map[string]propfindRequest
}

// parse returns the request of r's body, from the cache when the same
// bytes were parsed before.
func (c *propfindCache) parse(r *http.Request) (propfindRequest, error) {
	body, err := readBody(r)
	if err != nil {
		return propfindRequest{}, err
	}
	cacheable := len(body) <= propfindCacheBody
	if cacheable {
		c.mu.Lock()
		req, ok := c.entries[string(body)] // no allocation for the lookup
		c.mu.Unlock()
		if ok {
			return req, nil
		}
	}
	root, err := parseXMLBody(body)
	if err != nil {
		return propfindRequest{}, err
	}
	req, err := parsePropfind(root)
	if err != nil || !cacheable {
		return req, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]propfindRequest, propfindCacheEntries)
	}
	if len(c.entries) >= propfindCacheEntries {
		for k := range c.entries { // Go's map order: a random victim
			delete(c.entries, k)
			break
		}
	}
	c.entries[string(body)] = req
	return req, nil
}
