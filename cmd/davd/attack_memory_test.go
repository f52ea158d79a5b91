package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAttackStoredStateMemory replays issue 11's memory attack on stored
// state against a real davd with its default limits: LOCKs with 500 KB
// owners and Timeout: Infinite, piles of shared locks on one resource,
// 1 MB-class dead properties, then concurrent PROPFINDs of the result.
// Every oversized request is refused with a 4xx or 507 and a reason, and
// what the server ends up storing (all of which PROPFIND reports) stays
// within the limits: before them, the same requests stored 50 MB of lock
// owners alone.
func TestAttackStoredStateMemory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := startDavd(t, dir)
	lockBody := func(scope string, owner int) string {
		return `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:` + scope + `/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>` +
			strings.Repeat("o", owner) + `</D:owner></D:lockinfo>`
	}
	infinite := map[string]string{"Timeout": "Infinite"}

	// Locks with 500 KB owners, on new resources: refused, nothing
	// created.
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			resp, body := request(t, "LOCK", fmt.Sprintf("%s/big%d", base, i), infinite, lockBody("exclusive", 500_000))
			if resp.StatusCode != 413 || !strings.Contains(body, "DAV:owner") {
				t.Errorf("LOCK with a 500 KB owner = %d %q, want 413", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()

	t.Logf("big owners: %v", time.Since(start))
	start = time.Now()
	// Infinite is granted the one-week maximum, and said so: the time
	// left, which a loaded machine may have shortened by a second or two
	// between the grant and the answer.
	resp, body := request(t, "LOCK", base+"/doc", infinite, lockBody("exclusive", 100))
	var left int
	if i := strings.Index(body, "<D:timeout>Second-"); i >= 0 {
		fmt.Sscanf(body[i+len("<D:timeout>Second-"):], "%d", &left)
	}
	if resp.StatusCode != 201 || left < 604790 || left > 604800 {
		t.Errorf("LOCK Timeout: Infinite = %d %s, want 201 with Second-604800", resp.StatusCode, body)
	}

	// Shared locks with 4 KB owners on one resource: 16, then 507.
	request(t, "PUT", base+"/shared", nil, "x")
	refused := 0
	for range 40 {
		resp, body := request(t, "LOCK", base+"/shared", infinite, lockBody("shared", 4000))
		switch resp.StatusCode {
		case 200:
		case 507:
			refused++
			if !strings.Contains(body, "locks") {
				t.Errorf("507 without a reason: %q", body)
			}
		default:
			t.Fatalf("shared LOCK = %d %s", resp.StatusCode, body)
		}
	}
	if refused != 40-16 {
		t.Errorf("%d of 40 shared locks refused, want %d", 40-refused, 16)
	}

	t.Logf("shared locks: %v", time.Since(start))
	start = time.Now()
	// A 900 KB dead property: 413. 60 KB ones: up to 1 MiB, then 507.
	set := func(name string, n int) string {
		return `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:` + name + `>` + strings.Repeat("v", n) +
			`</Z:` + name + `></D:prop></D:set></D:propertyupdate>`
	}
	request(t, "PUT", base+"/props", nil, "x")
	if resp, body := request(t, "PROPPATCH", base+"/props", nil, set("huge", 900_000)); resp.StatusCode != 413 {
		t.Errorf("PROPPATCH of 900 KB = %d %q, want 413", resp.StatusCode, body)
	}
	stored := 0
	for i := range 20 {
		resp, body := request(t, "PROPPATCH", base+"/props", nil, set(fmt.Sprint("p", i), 60_000))
		if resp.StatusCode == 207 {
			stored++
		} else if resp.StatusCode != 507 || !strings.Contains(body, "per resource") {
			t.Fatalf("PROPPATCH %d = %d %q, want 207 or 507", i, resp.StatusCode, body)
		}
	}
	if want := (1 << 20) / 60_000; stored < want-1 || stored > want {
		t.Errorf("%d properties of 60 KB stored, want about %d (1 MiB)", stored, want)
	}

	t.Logf("properties: %v", time.Since(start))
	start = time.Now()
	// Four concurrent PROPFINDs of everything: each reports what is
	// stored, which is bounded by the limits.
	for range 4 {
		wg.Go(func() {
			resp, body := request(t, "PROPFIND", base+"/", map[string]string{"Depth": "infinity"}, "")
			if resp.StatusCode != 207 {
				t.Errorf("PROPFIND = %d", resp.StatusCode)
			}
			if n := strings.Count(body, "<D:activelock>"); n != 17 {
				t.Errorf("PROPFIND shows %d locks, want 17", n)
			}
			if strings.Contains(body, "big") {
				t.Error("a refused LOCK left a resource")
			}
			if len(body) > 1<<20+16*5000+200_000 {
				t.Errorf("PROPFIND of everything is %d bytes: more is stored than the limits allow", len(body))
			}
		})
	}
	wg.Wait()
	t.Logf("PROPFINDs: %v", time.Since(start))
}
