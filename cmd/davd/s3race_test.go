package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"davd/storage/s3fs/s3test"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The race tests of dav/race_test.go against a bucket, where no rename
// exists (a MOVE is a copy and a delete of each member): racing requests
// are released together and the outcome is read behind davd's back.

// raceDo sends one request and returns its status and body; 0 when it
// could not be sent. Safe in any goroutine (it never fails the test).
func raceDo(method, url, body string, hdr ...string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// s3Get reads an object behind davd's back; ok is false when it is
// missing.
func s3Get(t *testing.T, s *s3test.Server, key string) (string, bool) {
	t.Helper()
	out, err := s.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return "", false
	}
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(b), true
}

// TestS3RaceLockNullPut: a LOCK of an unmapped URL and a PUT of it,
// released together: an acknowledged PUT's content stays, and only one
// of them claims to have created the resource.
func TestS3RaceLockNullPut(t *testing.T) {
	t.Parallel()
	s, base := startS3Davd(t, "", nil)
	const rounds = 40
	lost, both := 0, 0
	for i := range rounds {
		name := fmt.Sprintf("f%d", i)
		body := fmt.Sprintf("content %d", i)
		var put, lock int
		var putBody, lockBody string
		allAtOnce(
			func() { put, putBody = raceDo("PUT", base+"/"+name, body) },
			func() { lock, lockBody = raceDo("LOCK", base+"/"+name, raceLockXML) },
		)
		if put/100 != 2 && put != http.StatusLocked {
			t.Fatalf("round %d: PUT = %d %s", i, put, putBody)
		}
		if lock/100 != 2 {
			t.Fatalf("round %d: LOCK = %d %s", i, lock, lockBody)
		}
		if got, _ := s3Get(t, s, name); put/100 == 2 && got != body {
			lost++
		}
		if put == http.StatusCreated && lock == http.StatusCreated {
			both++
		}
	}
	if lost > 0 || both > 0 {
		t.Fatalf("of %d rounds: %d acknowledged PUTs lost their content, %d times both created the resource", rounds, lost, both)
	}
}

// TestS3RaceLockDelete: a lock granted while a DELETE of the same
// collection runs (a batch delete on S3) lasts: a PUT without its token
// is refused afterwards.
func TestS3RaceLockDelete(t *testing.T) {
	t.Parallel()
	_, base := startS3Davd(t, "", nil)
	const rounds = 25
	vanished, busy := 0, 0
	defer func() {
		if busy > rounds/2 {
			t.Errorf("%d of %d LOCKs refused as busy: the race was hardly exercised", busy, rounds)
		}
	}()
	for i := range rounds {
		name := fmt.Sprintf("/d%d", i)
		if st, b := raceDo("MKCOL", base+name, ""); st != http.StatusCreated {
			t.Fatalf("MKCOL = %d %s", st, b)
		}
		for j := range 5 {
			raceDo("PUT", fmt.Sprintf("%s%s/m%d", base, name, j), "x")
		}
		var lock int
		var lockBody string
		allAtOnce(
			func() { raceDo("DELETE", base+name, "") },
			func() { lock, lockBody = raceDo("LOCK", base+name, raceLockXML) },
		)
		// A LOCK that waited for the DELETE, a journaled operation,
		// longer than a moment is refused with 423 naming it: nothing
		// was granted, so nothing can vanish.
		if lock == http.StatusLocked && strings.Contains(lockBody, "DELETE of") {
			busy++
			continue
		}
		if lock/100 != 2 {
			t.Fatalf("round %d: LOCK = %d %s", i, lock, lockBody)
		}
		if st, _ := raceDo("PUT", base+name, "intruder"); st/100 == 2 {
			vanished++
		}
	}
	if vanished > 0 {
		t.Fatalf("in %d of %d rounds a granted lock vanished: a PUT without its token succeeded", vanished, rounds)
	}
}

// TestS3SlowPutUnderNewLock: a PUT (a multipart upload on S3) whose body
// is still arriving when another client locks the file does not commit
// once it has arrived, and the object stays as it was.
func TestS3SlowPutUnderNewLock(t *testing.T) {
	t.Parallel()
	s, base := startS3Davd(t, "", nil)
	if st, b := raceDo("PUT", base+"/f", "original"); st/100 != 2 {
		t.Fatalf("PUT = %d %s", st, b)
	}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", base+"/f", pr)
	req.ContentLength = -1
	putDone := make(chan int, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			putDone <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		putDone <- resp.StatusCode
	}()
	pw.Write([]byte("half of the new "))
	time.Sleep(100 * time.Millisecond) // the PUT is past its first checks
	if st, b := raceDo("LOCK", base+"/f", raceLockXML); st != http.StatusOK {
		t.Fatalf("LOCK = %d %s", st, b)
	}
	pw.Write([]byte("content"))
	pw.Close()
	if st := <-putDone; st != http.StatusLocked {
		t.Fatalf("the PUT begun before the LOCK answered %d once its body arrived, want 423", st)
	}
	if got, _ := s3Get(t, s, "f"); got != "original" {
		t.Fatalf("the locked object changed under its holder: %q", got)
	}
}

// TestS3RaceMovesOntoOneDestination: MOVEs of four collections onto one
// existing destination, released together. On S3 each MOVE copies and
// deletes member by member; the destination must still end as one of
// the sources wholly (no mix of members, nothing of the old destination),
// and a source whose MOVE failed keeps every member: nothing is lost.
func TestS3RaceMovesOntoOneDestination(t *testing.T) {
	t.Parallel()
	s, base := startS3Davd(t, "", nil)
	members := []string{"x", "y", "z"}
	for i := range 8 {
		d := fmt.Sprintf("r%d", i)
		raceDo("MKCOL", base+"/"+d, "")
		raceDo("MKCOL", base+"/"+d+"/dst", "")
		raceDo("PUT", base+"/"+d+"/dst/old", "old")
		var fns []func()
		status := make([]int, 4)
		for j := range status {
			src := fmt.Sprintf("%s/src%d", d, j)
			raceDo("MKCOL", base+"/"+src, "")
			for _, m := range members {
				raceDo("PUT", base+"/"+src+"/"+m, src)
			}
			fns = append(fns, func() {
				status[j], _ = raceDo("MOVE", base+"/"+src, "", "Destination", base+"/"+d+"/dst")
			})
		}
		allAtOnce(fns...)
		t.Logf("round %d: MOVEs %v", i, status)
		winner := ""
		for _, m := range members {
			got, ok := s3Get(t, s, d+"/dst/"+m)
			if !ok || !strings.HasPrefix(got, d+"/src") {
				t.Fatalf("round %d: destination member %s holds %q (%v), want one of the sources; MOVEs %v", i, m, got, ok, status)
			}
			if winner == "" {
				winner = got
			} else if got != winner {
				t.Fatalf("round %d: the destination mixes sources %q and %q; MOVEs %v", i, winner, got, status)
			}
		}
		if _, ok := s3Get(t, s, d+"/dst/old"); ok {
			t.Fatalf("round %d: the old destination's member survived into the new one; MOVEs %v", i, status)
		}
		for j, st := range status {
			src := fmt.Sprintf("%s/src%d", d, j)
			if st/100 == 2 {
				if keys := s3KeysUnder(t, s, src+"/"); len(keys) > 0 {
					t.Fatalf("round %d: MOVE of %s answered %d but left %q", i, src, st, keys)
				}
				continue
			}
			for _, m := range members {
				if got, ok := s3Get(t, s, src+"/"+m); !ok || got != src {
					t.Fatalf("round %d: MOVE of %s answered %d and lost member %s (%q, %v)", i, src, st, m, got, ok)
				}
			}
		}
	}
}

// s3KeysUnder lists the keys below prefix.
func s3KeysUnder(t *testing.T, s *s3test.Server, prefix string) []string {
	t.Helper()
	out, err := s.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}
