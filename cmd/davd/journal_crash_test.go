package main

// The journal's guarantee, tested with real davd processes: a started
// COPY, MOVE or DELETE of a collection finishes, even across a kill -9, a
// client that goes away, or a shutdown that stops it half way. After the
// restart the tree is exactly what the uninterrupted operation gives,
// dead properties and locks where they belong, nothing reserved left.

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"davd/storage/s3fs/s3test"
)

// The tree of the crash trials: 8 collections of 5 of 50 files (2,000
// files, 49 collections); on a bucket, where each member is a request
// to the S3 server and the race detector slows davd down, 25 files each
// (1,000 files), to keep the 20 trials within a minute or two.
const (
	jtop, jsub, jper = 8, 5, 50
	jperS3           = 25
	jtrials          = 20
	// jgiveUp stops a scenario after this many incomplete trials: one
	// is enough to fail, and each costs up to jstall.
	jgiveUp = 3
)

// TestJournalCrash kills davd with SIGKILL at random points of a MOVE
// across devices, a COPY and a DELETE of a tree of 2,000 files on a
// directory, and of a MOVE, a COPY and a DELETE of 1,000 files on a
// bucket, 20 trials
// each, restarts it on the same storage and state, and checks that every
// trial ends with the uninterrupted operation's result (or, killed before
// the operation began, with the tree untouched): no split tree, no member
// lost or duplicated, contents and dead properties where they belong,
// the unrelated lock still held, nothing reserved left, and the members
// already copied not copied again. The kill delays are drawn up to the
// duration of one uninterrupted run, measured first.
func TestJournalCrash(t *testing.T) {
	t.Parallel()
	for _, sc := range []jscenario{
		{name: "MOVE across devices", method: "MOVE", cross: true},
		{name: "COPY", method: "COPY"},
		{name: "DELETE", method: "DELETE"},
		{name: "S3 MOVE", method: "MOVE", s3: true},
		{name: "S3 COPY", method: "COPY", s3: true},
		{name: "S3 DELETE", method: "DELETE", s3: true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			crashScenario(t, sc)
		})
	}
}

// crashScenario runs one uninterrupted operation, then jtrials
// interrupted ones, and reports what happened.
func crashScenario(t *testing.T, sc jscenario) {
	var srv *s3test.Server
	if sc.s3 {
		srv = s3test.Start(t)
	}
	j := newJTrial(t, sc, srv, 0, jtop, jsub, sc.per())
	d := j.site.start(t)
	j.prepare(t, d.base)
	start := time.Now()
	status := <-j.send(d.base)
	full := time.Since(start)
	if status != sc.wantStatus() {
		t.Fatalf("%s, not interrupted, answered %d, want %d; the storage holds %s",
			sc.name, status, sc.wantStatus(), sc.describe(j.tr, j.site.scan(t, false)))
	}
	if problems := append(j.awaitWritable(t, d.base), j.verify(t, d.base, "complete")...); len(problems) > 0 {
		t.Fatalf("%s, not interrupted:\n\t%s", sc.name, strings.Join(problems, "\n\t"))
	}
	d.kill()
	t.Logf("%s of %d files, not interrupted: %s", sc.name, len(j.tr.files), full.Round(time.Millisecond))

	when := map[string]int{}
	outcomes := map[string]int{}
	probes := map[string]int{}
	failed := 0
	for n := 1; n <= jtrials && failed < jgiveUp; n++ {
		r := crashTrial(t, sc, srv, n, full)
		when[r.when]++
		outcomes[r.outcome]++
		if r.probe != "" {
			probes[r.probe]++
		}
		if len(r.problems) > 0 {
			failed++
			t.Errorf("%s, trial %d (killed %s after %s, %s at the kill): after the restart %s:\n\t%s",
				sc.name, n, r.when, r.delay.Round(time.Millisecond), r.atKill, r.outcome, strings.Join(r.problems, "\n\t"))
		}
	}
	if failed >= jgiveUp {
		t.Errorf("%s: gave up after %d incomplete trials", sc.name, failed)
	}
	ran := when["before start"] + when["during"] + when["after"]
	t.Logf("%s: %d/%d complete, %d untouched (killed before it began); killed before start %d, during %d, after %d; writes inside the tree during the resume: %v",
		sc.name, outcomes["complete"], ran, outcomes["untouched"], when["before start"], when["during"], when["after"], probes)
}

// per is the number of files per collection of sc's crash trials.
func (sc jscenario) per() int {
	if sc.s3 {
		return jperS3
	}
	return jper
}

// jresult is what one crash trial saw.
type jresult struct {
	delay    time.Duration
	when     string // "before start", "during", "after" (the answer came)
	atKill   string // the storage's state right after the kill
	outcome  string // "complete", "untouched" or "partial" after the restart
	probe    string // what a write inside the tree got during the resume
	problems []string
}

// crashTrial builds trial n's tree, starts the operation, kills davd
// after a random delay up to full, restarts it, waits for the result and
// checks it.
func crashTrial(t *testing.T, sc jscenario, srv *s3test.Server, n int, full time.Duration) jresult {
	t.Helper()
	j := newJTrial(t, sc, srv, n, jtop, jsub, sc.per())
	d := j.site.start(t)
	j.prepare(t, d.base)
	r := jresult{delay: rand.N(full + 1), when: "during"}
	done := j.send(d.base)
	answered := 0
	select {
	case answered = <-done:
	case <-time.After(r.delay):
	}
	d.kill()
	if answered == 0 {
		answered = <-done
	}
	before := j.site.scan(t, true)
	r.atKill = sc.state(j.tr, before)
	switch {
	case answered != 0:
		r.when = "after"
		if answered != sc.wantStatus() {
			r.problems = append(r.problems, fmt.Sprintf("the operation answered %d, want %d", answered, sc.wantStatus()))
		}
	case r.atKill == "untouched":
		r.when = "before start"
	}

	d = j.site.start(t)
	defer d.kill()
	if r.atKill == "partial" {
		r.probe, r.problems = j.probeResume(t, d.base, r.problems)
	}
	st, after := j.await(t)
	r.outcome = st
	switch {
	case st == "complete":
		r.problems = append(r.problems, j.awaitWritable(t, d.base)...)
		if j.probed != "" {
			if c, _, _ := sendReq("DELETE", d.base+j.probed, nil, ""); c != http.StatusNoContent {
				r.problems = append(r.problems, fmt.Sprintf("DELETE %s = %d", j.probed, c))
			}
		}
	case st == "untouched" && r.atKill == "untouched":
		// Killed before the operation was journaled: it never began.
	default:
		r.problems = append(r.problems, fmt.Sprintf("the tree is not complete (%s) and stayed so for %s", sc.describe(j.tr, after), jstall))
		return r
	}
	r.problems = append(r.problems, j.verify(t, d.base, st)...)
	r.problems = append(r.problems, j.checkRecreated(t, d.base)...)
	r.problems = append(r.problems, j.notCopiedAgain(before)...)
	return r
}

// probeResume writes inside the tree right after the restart, while the
// resumed operation runs: inside the destination, or the source of a
// DELETE. davd must refuse with 423 and a reason, or accept only once the
// operation has finished; an accepted file is removed again.
func (j *jtrial) probeResume(t *testing.T, base string, problems []string) (string, []string) {
	t.Helper()
	top := j.sc.dst()
	if top == "" {
		top = jsrc
	}
	name := top + "/probe-resume.txt"
	code, _, body := sendReq("PUT", base+name, nil, "probe")
	if code == http.StatusLocked {
		if strings.TrimSpace(body) == "" {
			problems = append(problems, "PUT "+name+" during the resume answered 423 without a reason")
		}
		return "423", problems
	}
	label := fmt.Sprintf("%d after the end", code)
	if s := j.site.scan(t, false); j.sc.state(j.tr, s) != "complete" {
		label = fmt.Sprintf("%d while it ran", code)
		problems = append(problems, fmt.Sprintf("PUT %s during the resume answered %d, not 423, while the operation ran (%s)", name, code, j.sc.describe(j.tr, s)))
	}
	if code/100 == 2 {
		j.probed = name
	}
	return label, problems
}

// notCopiedAgain checks that the members found copied at the kill were
// not copied again by the resume: each such file is still the same file
// (on S3, in versitygw's storage, where a copy writes a new file).
func (j *jtrial) notCopiedAgain(atKill jscan) []string {
	if j.sc.method == "DELETE" {
		return nil
	}
	var again []string
	for _, f := range j.tr.files {
		name := under(j.sc.dst(), f)
		old, ok := atKill.infos[name]
		if !ok || atKill.files[name] != j.tr.content[f] {
			continue
		}
		now, err := os.Stat(j.site.file(name))
		if err == nil && !os.SameFile(old, now) {
			again = append(again, name)
		}
	}
	if len(again) > 0 {
		return []string{"copied again though complete at the kill: " + few(again)}
	}
	return nil
}

// TestDisconnectedOperationCompletes: a client starts a long COPY and
// closes its connection after 100 ms; the copy goes on (the default
// --on-disconnect finish); davd is killed while it runs, and the copy
// completes after the restart.
func TestDisconnectedOperationCompletes(t *testing.T) {
	t.Parallel()
	sc := jscenario{name: "disconnected COPY", method: "COPY"}
	j := newJTrial(t, sc, nil, 0, jtop, jsub, jper)
	d := j.site.startSlow(t, "1ms")
	j.prepare(t, d.base)
	host := strings.TrimPrefix(d.base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "COPY %s HTTP/1.1\r\nHost: %s\r\nDestination: %s%s\r\nContent-Length: 0\r\n\r\n", jsrc, host, d.base, sc.dst())
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	atClose, _ := j.site.scan(t, false).count(j.tr, sc.dst())
	time.Sleep(600 * time.Millisecond)
	running, _ := j.site.scan(t, false).count(j.tr, sc.dst())
	d.kill()
	atKill := j.site.scan(t, false)
	if running <= atClose {
		t.Errorf("the COPY stopped with its client: %d files copied when it left, %d 600 ms later", atClose, running)
	}
	if st := sc.state(j.tr, atKill); st != "partial" {
		t.Fatalf("the COPY was %s at the kill (%s): the tree is too small to interrupt it", st, sc.describe(j.tr, atKill))
	}
	d = j.site.start(t)
	st, after := j.await(t)
	if st != "complete" {
		t.Fatalf("after the restart the COPY is not complete: %s (at the kill: %s)", sc.describe(j.tr, after), sc.describe(j.tr, atKill))
	}
	problems := append(j.awaitWritable(t, d.base), j.verify(t, d.base, st)...)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestShutdownStopsAndResumes: SIGTERM with --shutdown-timeout 200ms in
// the middle of a long COPY, and of a MOVE across devices, stops the
// operation at a member boundary, the process exits promptly, and the
// next start completes the operation.
func TestShutdownStopsAndResumes(t *testing.T) {
	t.Parallel()
	for _, sc := range []jscenario{
		{name: "COPY", method: "COPY"},
		{name: "MOVE across devices", method: "MOVE", cross: true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			j := newJTrial(t, sc, nil, 0, jtop, jsub, jper)
			d := j.site.startSlow(t, "1ms", "--shutdown-timeout", "200ms")
			j.prepare(t, d.base)
			done := j.send(d.base)
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-d.done:
			case <-time.After(10 * time.Second):
				t.Fatal("davd did not exit within 10 s of SIGTERM with --shutdown-timeout 200ms")
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("davd took %s to exit after SIGTERM with --shutdown-timeout 200ms", took)
			}
			status := <-done
			stopped := j.site.scan(t, false)
			if st := sc.state(j.tr, stopped); st != "partial" {
				t.Fatalf("the %s was %s at the shutdown (%s, answer %d): the tree is too small to interrupt it", sc.method, st, sc.describe(j.tr, stopped), status)
			}
			if len(stopped.reserved) > 0 {
				t.Errorf("reserved names left by the shutdown: %s", few(stopped.reserved))
			}
			d = j.site.start(t)
			st, after := j.await(t)
			if st != "complete" {
				t.Fatalf("after the restart the %s is not complete: %s (at the shutdown: %s)", sc.method, sc.describe(j.tr, after), sc.describe(j.tr, stopped))
			}
			problems := append(j.awaitWritable(t, d.base), j.verify(t, d.base, st)...)
			problems = append(problems, j.checkRecreated(t, d.base)...)
			for _, p := range problems {
				t.Error(p)
			}
			t.Logf("%s: stopped by SIGTERM at %s, answer %d; completed after the restart", sc.name, sc.describe(j.tr, stopped), status)
		})
	}
}
