package state

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
)

// TestWithPrefixIsolation checks what the conformance suite cannot: that a
// view maps its paths into the shared store and never lets a token of a
// lock outside it be used, refreshed or removed.
func TestWithPrefixIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := Open(ctx, "memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice, _ := WithPrefix(st, "/home/alice")
	bob, _ := WithPrefix(st, "/home/bob")

	bobLock, err := bob.CreateLock(ctx, Lock{Root: "/f", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if bobLock.Root != "/f" {
		t.Errorf("bob's lock root in his view = %q, want /f", bobLock.Root)
	}
	if l, err := st.LookupLock(ctx, bobLock.Token); err != nil || l.Root != "/home/bob/f" {
		t.Errorf("shared store has bob's lock at %q (%v), want /home/bob/f", l.Root, err)
	}
	if _, err := alice.LookupLock(ctx, bobLock.Token); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("alice LookupLock(bob's token) = %v, want ErrNoSuchLock", err)
	}
	if _, err := alice.RefreshLock(ctx, bobLock.Token, 0); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("alice RefreshLock(bob's token) = %v, want ErrNoSuchLock", err)
	}
	if err := alice.Unlock(ctx, bobLock.Token); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("alice Unlock(bob's token) = %v, want ErrNoSuchLock", err)
	}
	if _, err := bob.LookupLock(ctx, bobLock.Token); err != nil {
		t.Errorf("bob's lock is gone after alice's attempts: %v", err)
	}
	// Alice's /f is another resource: she can lock it exclusively too.
	aliceLock, err := alice.CreateLock(ctx, Lock{Root: "/f"})
	if err != nil {
		t.Fatalf("alice cannot lock her own /f: %v", err)
	}
	if got, _ := alice.LocksCovering(ctx, "/f"); len(got) != 1 || got[0].User == "bob" {
		t.Errorf("alice sees locks %+v on her /f", got)
	}
	if err := alice.Unlock(ctx, aliceLock.Token); err != nil {
		t.Fatal(err)
	}
	if err := bob.Unlock(ctx, bobLock.Token); err != nil {
		t.Fatal(err)
	}

	// An administrator's deep lock on /home covers both views, rooted at
	// their "/"; a new exclusive lock conflicts with it.
	admin, err := st.CreateLock(ctx, Lock{Root: "/home", Deep: true, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := alice.LocksCovering(ctx, "/x")
	if err != nil || len(got) != 1 || got[0].Root != "/" || got[0].Token != admin.Token {
		t.Errorf("alice LocksCovering(/x) = %+v, %v; want the admin lock rooted at /", got, err)
	}
	var ce *ConflictError
	if _, err := alice.CreateLock(ctx, Lock{Root: "/x"}); !errors.As(err, &ce) || len(ce.Locks) != 1 || ce.Locks[0].Root != "/" {
		t.Errorf("exclusive lock under the admin lock: %v", err)
	}

	name := xml.Name{Space: "x:", Local: "p"}
	if err := alice.PatchProps(ctx, "/", []Property{{Name: name, XML: []byte(`<p xmlns="x:"/>`)}}, nil); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.Props(ctx, "/home/alice"); len(p) != 1 {
		t.Errorf("alice's / props not at /home/alice in the shared store: %v", p)
	}
	if p, _ := bob.Props(ctx, "/"); len(p) != 0 {
		t.Errorf("bob sees alice's props: %v", p)
	}
	if _, err := WithPrefix(st, "home/x"); err == nil {
		t.Error("relative prefix accepted")
	}
}
