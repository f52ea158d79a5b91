package state

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"davd/storage/state/pgtest"
)

// sampleOp is an operation with every field the caller sets.
func sampleOp(id, instance string) Operation {
	return Operation{ID: id, User: "alice", Method: "MOVE", Src: "/src/dir", Dst: "/dst/dir", Depth: "infinity",
		Overwrite: true, Async: true, Instance: instance, Phase: "copy", Resources: 3, TotalResources: 10,
		Bytes: 300, TotalBytes: 1000, Current: "/src/dir/c"}
}

// sameOp reports whether a and b are equal, their times compared as
// instants.
func sameOp(a, b Operation) bool {
	for _, op := range []*Operation{&a, &b} {
		op.Started, op.Heartbeat, op.Finished = time.Unix(0, nanos(op.Started)), time.Unix(0, nanos(op.Heartbeat)), time.Unix(0, nanos(op.Finished))
		if len(op.Failures) == 0 {
			op.Failures = nil
		}
	}
	return reflect.DeepEqual(a, b)
}

func mustStart(t *testing.T, s Store, op Operation) Operation {
	t.Helper()
	got, err := s.StartOperation(bg, op)
	if err != nil {
		t.Fatalf("StartOperation(%s): %v", op.ID, err)
	}
	return got
}

func mustOperation(t *testing.T, s Store, id string) Operation {
	t.Helper()
	op, err := s.Operation(bg, id)
	if err != nil {
		t.Fatalf("Operation(%s): %v", id, err)
	}
	return op
}

func ids(ops []Operation) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = op.ID
	}
	return out
}

// TestJournalRoundTrip: every field an operation is started, saved and
// finished with is read back as given; the store sets the times, in UTC,
// and the state.
func TestJournalRoundTrip(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		in := sampleOp("op-1", "i1")
		in.State, in.Status, in.Resumed, in.CancelRequested, in.Error = OpFailed, 500, 7, true, "ignored"
		in.Failures = []MemberFailure{{Path: "/ignored", Status: 423}}
		before := time.Now().Add(-time.Second)
		got := mustStart(t, s, in)
		want := sampleOp("op-1", "i1")
		want.State, want.Started, want.Heartbeat = OpRunning, got.Started, got.Heartbeat
		if !sameOp(got, want) {
			t.Errorf("StartOperation = %+v, want %+v", got, want)
		}
		if got.Started.Before(before) || got.Started.After(time.Now().Add(time.Second)) || got.Started.Location() != time.UTC ||
			!got.Heartbeat.Equal(got.Started) || !got.Finished.IsZero() {
			t.Errorf("times of a started operation: started %v, heartbeat %v, finished %v", got.Started, got.Heartbeat, got.Finished)
		}
		if read := mustOperation(t, s, "op-1"); !sameOp(read, want) {
			t.Errorf("Operation = %+v, want %+v", read, want)
		}
		if _, err := s.StartOperation(bg, sampleOp("op-1", "i2")); err == nil {
			t.Error("StartOperation of a recorded ID succeeded")
		}
		for _, bad := range []Operation{{ID: "x", Instance: "i", Src: "rel"}, {ID: "", Instance: "i", Src: "/a"}, {ID: "x", Src: "/a"},
			{ID: "x", Instance: "i", Src: "/a", Dst: "/b/../c"}} {
			if _, err := s.StartOperation(bg, bad); err == nil {
				t.Errorf("StartOperation(%+v) succeeded", bad)
			}
		}

		time.Sleep(5 * time.Millisecond)
		save := want
		save.Phase, save.Resources, save.TotalResources, save.Bytes, save.TotalBytes, save.Current = "delete", 8, 11, 800, 1100, "/src/dir/h"
		save.User, save.Src = "mallory", "/elsewhere" // not the store's to change
		if cancel, err := s.SaveOperation(bg, save); err != nil || cancel {
			t.Fatalf("SaveOperation = %v, %v", cancel, err)
		}
		read := mustOperation(t, s, "op-1")
		if !read.Heartbeat.After(got.Heartbeat) || !read.Started.Equal(got.Started) {
			t.Errorf("after a save: heartbeat %v (was %v), started %v (was %v)", read.Heartbeat, got.Heartbeat, read.Started, got.Started)
		}
		want.Phase, want.Resources, want.TotalResources, want.Bytes, want.TotalBytes, want.Current = "delete", 8, 11, 800, 1100, "/src/dir/h"
		want.Heartbeat = read.Heartbeat
		if !sameOp(read, want) {
			t.Errorf("after SaveOperation: %+v, want %+v", read, want)
		}

		end := want
		end.State, end.Status, end.Error, end.Resources, end.Bytes, end.Current = OpFinished, 207, "some failed", 11, 1100, ""
		end.Failures = []MemberFailure{{Path: "/src/dir/x", Status: 423}, {Path: "/src/dir/y", Status: 403}}
		if err := s.FinishOperation(bg, end); err != nil {
			t.Fatal(err)
		}
		read = mustOperation(t, s, "op-1")
		if read.Finished.Before(read.Started) || read.Finished.Location() != time.UTC {
			t.Errorf("Finished = %v, started %v", read.Finished, read.Started)
		}
		end.Finished, end.Heartbeat = read.Finished, read.Heartbeat
		if !sameOp(read, end) {
			t.Errorf("after FinishOperation: %+v, want %+v", read, end)
		}
		if _, err := s.SaveOperation(bg, want); !errors.Is(err, ErrNotOwner) {
			t.Errorf("SaveOperation of a finished operation = %v, want ErrNotOwner", err)
		}
		if err := s.FinishOperation(bg, end); !errors.Is(err, ErrNotOwner) {
			t.Errorf("FinishOperation twice = %v, want ErrNotOwner", err)
		}
		end.ID = "op-2"
		if err := s.FinishOperation(bg, end); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("FinishOperation of an unknown ID = %v, want ErrNoSuchOperation", err)
		}
		if _, err := s.Operation(bg, "op-2"); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("Operation of an unknown ID = %v, want ErrNoSuchOperation", err)
		}
		end.ID, end.State = "op-1", OpRunning
		if err := s.FinishOperation(bg, end); err == nil {
			t.Error("FinishOperation to state running succeeded")
		}
	})
}

// TestJournalTake: a running operation is taken from its owner only once
// its heartbeat is stale, and at once after it was released; the old
// owner then loses it.
func TestJournalTake(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		const stale = 200 * time.Millisecond
		mustStart(t, s, sampleOp("op", "a"))
		if op, took, err := s.TakeOperation(bg, "op", "b", stale); err != nil || took || op.Instance != "a" {
			t.Fatalf("TakeOperation with a fresh heartbeat = %v, %v, %v; want the record of a, not taken", op.Instance, took, err)
		}
		if op, took, err := s.TakeOperation(bg, "op", "a", stale); err != nil || !took || op.Resumed != 0 {
			t.Errorf("TakeOperation by its owner = %v, %v (resumed %d)", took, err, op.Resumed)
		}
		time.Sleep(stale + 100*time.Millisecond)
		op, took, err := s.TakeOperation(bg, "op", "b", stale)
		if err != nil || !took || op.Instance != "b" || op.Resumed != 1 || op.Src != "/src/dir" || op.Phase != "copy" {
			t.Fatalf("TakeOperation of a stale operation = %+v, %v, %v", op, took, err)
		}
		if time.Since(op.Heartbeat) > stale {
			t.Errorf("heartbeat not renewed by the take: %v", op.Heartbeat)
		}
		if _, took, _ := s.TakeOperation(bg, "op", "c", stale); took {
			t.Error("taken again at once from its new owner")
		}
		if _, err := s.SaveOperation(bg, sampleOp("op", "a")); !errors.Is(err, ErrNotOwner) {
			t.Errorf("SaveOperation by the old owner = %v, want ErrNotOwner", err)
		}
		end := sampleOp("op", "a")
		end.State = OpFinished
		if err := s.FinishOperation(bg, end); !errors.Is(err, ErrNotOwner) {
			t.Errorf("FinishOperation by the old owner = %v, want ErrNotOwner", err)
		}
		if err := s.ReleaseOperation(bg, "op", "a"); !errors.Is(err, ErrNotOwner) {
			t.Errorf("ReleaseOperation by the old owner = %v, want ErrNotOwner", err)
		}
		if _, err := s.SaveOperation(bg, sampleOp("op", "b")); err != nil {
			t.Errorf("SaveOperation by the new owner: %v", err)
		}

		if err := s.ReleaseOperation(bg, "op", "b"); err != nil {
			t.Fatal(err)
		}
		if got := mustOperation(t, s, "op"); got.Instance != "" || got.State != OpRunning {
			t.Errorf("released: instance %q, state %s", got.Instance, got.State)
		}
		if _, err := s.SaveOperation(bg, sampleOp("op", "b")); !errors.Is(err, ErrNotOwner) {
			t.Errorf("SaveOperation after release = %v, want ErrNotOwner", err)
		}
		op, took, err = s.TakeOperation(bg, "op", "c", time.Hour)
		if err != nil || !took || op.Instance != "c" || op.Resumed != 2 {
			t.Errorf("TakeOperation of a released operation = %+v, %v, %v", op, took, err)
		}

		end = sampleOp("op", "c")
		end.State = OpCancelled
		if err := s.FinishOperation(bg, end); err != nil {
			t.Fatal(err)
		}
		time.Sleep(stale + 100*time.Millisecond)
		if op, took, err := s.TakeOperation(bg, "op", "d", stale); err != nil || took || op.State != OpCancelled {
			t.Errorf("TakeOperation of a finished operation = %v, %v, %v", op.State, took, err)
		}
		if _, _, err := s.TakeOperation(bg, "nope", "d", stale); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("TakeOperation of an unknown ID = %v", err)
		}
		if _, err := s.SaveOperation(bg, sampleOp("nope", "d")); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("SaveOperation of an unknown ID = %v", err)
		}
		if err := s.ReleaseOperation(bg, "nope", "d"); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("ReleaseOperation of an unknown ID = %v", err)
		}
	})
}

// raceStale is the staleness of takeRace: long enough for every taker
// to have tried (on a loaded machine, under the race detector) before the
// winner's heartbeat is stale in its turn.
const raceStale = time.Second

// takeRace has n instances, on the stores given in turn, take the
// operation id, stale by raceStale, at once, and checks that exactly one
// wins.
func takeRace(t *testing.T, stores []Store, id string, n int) {
	t.Helper()
	var wins atomic.Int32
	var winner atomic.Value
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			inst := fmt.Sprintf("racer-%d", i)
			op, took, err := stores[i%len(stores)].TakeOperation(bg, id, inst, raceStale)
			if err != nil {
				t.Error(err)
				return
			}
			if took {
				wins.Add(1)
				winner.Store(inst)
				if op.Instance != inst || op.Resumed != 1 {
					t.Errorf("winner %s got %+v", inst, op)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Fatalf("%d instances took the operation, want 1", got)
	}
	if op := mustOperation(t, stores[0], id); op.Instance != winner.Load() || op.Resumed != 1 {
		t.Errorf("after the race: owner %q, resumed %d; winner %v", op.Instance, op.Resumed, winner.Load())
	}
}

// TestJournalTakeRace: of 8 instances taking a stale operation at once,
// one wins.
func TestJournalTakeRace(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		for round := range 3 {
			id := fmt.Sprintf("op-%d", round)
			mustStart(t, s, sampleOp(id, "dead"))
			time.Sleep(raceStale + 100*time.Millisecond)
			takeRace(t, []Store{s}, id, 8)
		}
	})
}

// TestPGJournalTakeRace: two instances on one database, four takers each,
// one winner.
func TestPGJournalTakeRace(t *testing.T) {
	t.Parallel()
	st := openPG(t, 2)
	for round := range 3 {
		id := fmt.Sprintf("op-%d", round)
		mustStart(t, st[round%2], sampleOp(id, "dead"))
		time.Sleep(raceStale + 100*time.Millisecond)
		takeRace(t, st, id, 8)
	}
	// The other instance sees the owner's records and its cancel request
	// reaches the owner.
	op := mustOperation(t, st[1], "op-0")
	if err := st[1].RequestCancel(bg, "op-0"); err != nil {
		t.Fatal(err)
	}
	if cancel, err := st[0].SaveOperation(bg, op); err != nil || !cancel {
		t.Errorf("SaveOperation on the other instance after RequestCancel = %v, %v", cancel, err)
	}
	if !st[0].SharedJournal() || !st[0].DurableJournal() {
		t.Error("PostgreSQL's journal is not shared and durable")
	}
}

// TestJournalCancel: a cancellation is seen by the owner's next save; a
// finished operation is left as it is.
func TestJournalCancel(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		op := mustStart(t, s, sampleOp("op", "a"))
		if cancel, err := s.SaveOperation(bg, op); err != nil || cancel {
			t.Fatalf("SaveOperation = %v, %v", cancel, err)
		}
		if err := s.RequestCancel(bg, "op"); err != nil {
			t.Fatal(err)
		}
		if !mustOperation(t, s, "op").CancelRequested {
			t.Error("CancelRequested not recorded")
		}
		if cancel, err := s.SaveOperation(bg, op); err != nil || !cancel {
			t.Errorf("SaveOperation after RequestCancel = %v, %v", cancel, err)
		}
		op.State = OpCancelled
		if err := s.FinishOperation(bg, op); err != nil {
			t.Fatal(err)
		}
		if err := s.RequestCancel(bg, "op"); err != nil {
			t.Errorf("RequestCancel of a finished operation = %v", err)
		}
		if got := mustOperation(t, s, "op"); got.State != OpCancelled {
			t.Errorf("state %s", got.State)
		}
		if err := s.RequestCancel(bg, "nope"); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("RequestCancel of an unknown ID = %v", err)
		}
	})
}

// TestJournalFailuresCut: at most MaxFailures failures are stored.
func TestJournalFailuresCut(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		op := mustStart(t, s, sampleOp("op", "a"))
		for i := range MaxFailures + 5 {
			op.Failures = append(op.Failures, MemberFailure{Path: fmt.Sprintf("/src/dir/m%05d", i), Status: 423})
		}
		op.State, op.Status = OpFinished, 207
		if err := s.FinishOperation(bg, op); err != nil {
			t.Fatal(err)
		}
		got := mustOperation(t, s, "op")
		if len(got.Failures) != MaxFailures || got.Failures[0] != op.Failures[0] || got.Failures[MaxFailures-1] != op.Failures[MaxFailures-1] {
			t.Errorf("%d failures stored (first %v), want the first %d", len(got.Failures), got.Failures[:1], MaxFailures)
		}
		if len(op.Failures) != MaxFailures+5 {
			t.Error("the caller's failures were changed")
		}
	})
}

// TestJournalListAndPrune: running operations are listed first, oldest
// first, then the finished ones, newest first; pruning by age and by
// count removes only finished ones, the oldest.
func TestJournalListAndPrune(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		finish := func(id string) {
			t.Helper()
			op := mustStart(t, s, sampleOp(id, "a"))
			op.State = OpFinished
			if err := s.FinishOperation(bg, op); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		mustStart(t, s, sampleOp("run-1", "a"))
		time.Sleep(5 * time.Millisecond)
		finish("old")
		time.Sleep(300 * time.Millisecond)
		finish("f1")
		finish("f2")
		finish("f3")
		mustStart(t, s, sampleOp("run-2", "a"))

		list := func(runningOnly bool) []string {
			t.Helper()
			ops, err := s.Operations(bg, runningOnly)
			if err != nil {
				t.Fatal(err)
			}
			return ids(ops)
		}
		if got, want := list(false), []string{"run-1", "run-2", "f3", "f2", "f1", "old"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Operations = %v, want %v", got, want)
		}
		if got, want := list(true), []string{"run-1", "run-2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Operations(running only) = %v, want %v", got, want)
		}
		if err := s.PruneOperations(bg, 0, 0); err != nil {
			t.Fatal(err)
		}
		if got := list(false); len(got) != 6 {
			t.Errorf("PruneOperations without bounds removed records: %v", got)
		}
		if err := s.PruneOperations(bg, 200*time.Millisecond, 0); err != nil {
			t.Fatal(err)
		}
		if got, want := list(false), []string{"run-1", "run-2", "f3", "f2", "f1"}; !reflect.DeepEqual(got, want) {
			t.Errorf("after pruning by age: %v, want %v", got, want)
		}
		if err := s.PruneOperations(bg, time.Hour, 1); err != nil {
			t.Fatal(err)
		}
		if got, want := list(false), []string{"run-1", "run-2", "f3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("after pruning by count: %v, want %v", got, want)
		}
		if err := s.PruneOperations(bg, time.Nanosecond, 1); err != nil {
			t.Fatal(err)
		}
		if got, want := list(false), []string{"run-1", "run-2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("after pruning everything finished: %v, want %v", got, want)
		}
	})
}

// TestJournalPrefixed: a view records operations with its paths mapped
// into the store, lists them rebased, and knows nothing of the
// operations of other views or of those leaving it.
func TestJournalPrefixed(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		alice, err := WithPrefix(s, "/home/alice")
		if err != nil {
			t.Fatal(err)
		}
		bob, _ := WithPrefix(s, "/home/bob")
		op := mustStart(t, alice, sampleOp("a1", "i"))
		if op.Src != "/src/dir" || op.Dst != "/dst/dir" {
			t.Errorf("view's StartOperation = %s → %s", op.Src, op.Dst)
		}
		if raw := mustOperation(t, s, "a1"); raw.Src != "/home/alice/src/dir" || raw.Dst != "/home/alice/dst/dir" {
			t.Errorf("stored as %s → %s", raw.Src, raw.Dst)
		}
		del := Operation{ID: "a2", Method: "DELETE", Src: "/", Depth: "infinity", Instance: "i"}
		if got := mustStart(t, alice, del); got.Src != "/" || got.Dst != "" {
			t.Errorf("DELETE of the view's root = %q → %q", got.Src, got.Dst)
		}
		if raw := mustOperation(t, s, "a2"); raw.Src != "/home/alice" || raw.Dst != "" {
			t.Errorf("DELETE of the view's root stored as %q → %q", raw.Src, raw.Dst)
		}
		leaving := sampleOp("out", "i")
		leaving.Src, leaving.Dst = "/home/alice/x", "/home/bob/x"
		mustStart(t, s, leaving)
		mustStart(t, bob, sampleOp("b1", "i"))

		ops, err := alice.Operations(bg, false)
		if err != nil || !reflect.DeepEqual(ids(ops), []string{"a1", "a2"}) || ops[0].Src != "/src/dir" {
			t.Errorf("alice's Operations = %+v, %v", ops, err)
		}
		if ops, _ := bob.Operations(bg, true); !reflect.DeepEqual(ids(ops), []string{"b1"}) {
			t.Errorf("bob's Operations = %v", ids(ops))
		}
		if ops, _ := s.Operations(bg, true); len(ops) != 4 {
			t.Errorf("the store lists %v", ids(ops))
		}
		if _, err := bob.Operation(bg, "a1"); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("bob reads alice's operation: %v", err)
		}
		if err := bob.RequestCancel(bg, "a1"); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("bob cancels alice's operation: %v", err)
		}
		if _, _, err := bob.TakeOperation(bg, "a1", "i", time.Hour); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("bob takes alice's operation: %v", err)
		}
		if _, err := alice.Operation(bg, "out"); !errors.Is(err, ErrNoSuchOperation) {
			t.Errorf("alice reads an operation leaving her tree: %v", err)
		}
		if err := alice.RequestCancel(bg, "a1"); err != nil {
			t.Fatal(err)
		}
		if cancel, err := alice.SaveOperation(bg, op); err != nil || !cancel {
			t.Errorf("view's SaveOperation = %v, %v", cancel, err)
		}
		if got, took, err := alice.TakeOperation(bg, "a1", "i", time.Hour); err != nil || !took || got.Src != "/src/dir" {
			t.Errorf("view's TakeOperation = %+v, %v, %v", got, took, err)
		}
		op.State = OpFinished
		if err := alice.FinishOperation(bg, op); err != nil {
			t.Fatal(err)
		}
		if alice.SharedJournal() != s.SharedJournal() || alice.DurableJournal() != s.DurableJournal() {
			t.Error("the view's journal is not the store's")
		}
		alice.Close()
		if _, err := alice.Operations(bg, false); err == nil {
			t.Error("Operations of a closed view succeeded")
		}
	})
}

// TestJournalKinds: only the memory journal is lost on restart, only
// PostgreSQL's is shared.
func TestJournalKinds(t *testing.T) {
	t.Parallel()
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			s := im.open(t)
			if s.DurableJournal() == (im.name == "memory" || im.name == "prefixed") {
				t.Errorf("DurableJournal = %v", s.DurableJournal())
			}
			if s.SharedJournal() != (im.name == "postgres") {
				t.Errorf("SharedJournal = %v", s.SharedJournal())
			}
		})
	}
}

// TestJournalSurvivesRestart: a running operation is there, as it was,
// after the SQLite database is closed and opened again, as after a crash.
func TestJournalSurvivesRestart(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.db")
	s := openFile(t, file)
	want := mustStart(t, s, sampleOp("op", "a"))
	s.Close()
	s = openFile(t, file)
	defer s.Close()
	if got := mustOperation(t, s, "op"); !sameOp(got, want) {
		t.Errorf("after reopening: %+v, want %+v", got, want)
	}
}

// TestJournalOldSQLite: a database made before the operations table
// existed gets it on open; opened read-only, it shows an empty journal.
func TestJournalOldSQLite(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.db")
	s := openFile(t, file)
	mustPatch(t, s, "/kept", []Property{prop("urn:x", "p", `<x:p xmlns:x="urn:x">1</x:p>`)}, nil)
	if _, err := s.db.Exec(`DROP TABLE operations`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	ro, err := OpenReadOnly(bg, "sqlite://"+file)
	if err != nil {
		t.Fatal(err)
	}
	if ops, err := ro.Operations(bg, false); err != nil || len(ops) != 0 {
		t.Errorf("read-only Operations of an old database = %v, %v", ops, err)
	}
	if _, err := ro.Operation(bg, "x"); !errors.Is(err, ErrNoSuchOperation) {
		t.Errorf("read-only Operation of an old database = %v", err)
	}
	ro.Close()

	s = openFile(t, file)
	defer s.Close()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name IN ('operations', 'operations_state')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("operations table and index after open: %d, %v", n, err)
	}
	mustStart(t, s, sampleOp("op", "a"))
	if ops, err := s.Operations(bg, false); err != nil || len(ops) != 1 {
		t.Errorf("Operations = %v, %v", ops, err)
	}
	if len(mustProps(t, s, "/kept")) != 1 {
		t.Error("properties lost")
	}
}

// TestJournalOldPostgres: a database made before the operations table
// existed gets it when instances start on it, several at once.
func TestJournalOldPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.Database(t)
	s, err := Open(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.(*pgStore).db.Exec(`DROP TABLE operations`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Operations(bg, false); err == nil {
		t.Fatal("Operations without the table succeeded")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := Open(bg, url)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	mustStart(t, s, sampleOp("op", "a"))
	if ops, err := s.Operations(bg, false); err != nil || len(ops) != 1 {
		t.Errorf("Operations = %v, %v", ops, err)
	}
}
