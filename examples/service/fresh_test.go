package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
)

// tokenEngine is an engine whose writes return tokens t1, t2, ... and, if
// gate is set, wait for it; it records how many writes run at once.
type tokenEngine struct {
	authz.Authorizer // nil: only writes are called
	gate             chan struct{}
	fail             bool

	mu          sync.Mutex // guards the fields below
	n           int
	running     int
	maxRunning  int
	startedKeys []string
}

func (e *tokenEngine) write(key string) (authz.Token, error) {
	e.mu.Lock()
	e.n++
	n := e.n
	e.running++
	e.maxRunning = max(e.maxRunning, e.running)
	e.startedKeys = append(e.startedKeys, key)
	e.mu.Unlock()
	if e.gate != nil {
		<-e.gate
	}
	e.mu.Lock()
	e.running--
	e.mu.Unlock()
	if e.fail {
		return authz.Token{}, authz.ErrUnavailable
	}
	return authz.NewToken("t" + string(rune('0'+n))), nil
}

func (e *tokenEngine) Grant(_ context.Context, req authz.GrantRequest) (authz.Token, error) {
	return e.write(req.Relationship.Subject.ID)
}

func (e *tokenEngine) Register(_ context.Context, req authz.RegisterRequest) (authz.Token, error) {
	return e.write(req.Resource.ID)
}

func (e *tokenEngine) Deregister(_ context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	return e.write(req.Resource.ID)
}

func viewerOf(task, user string) authz.GrantRequest {
	return authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "task", ID: task}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: user}}}
}

// TestFreshnessKeysWritesByWhatTheyName: a grant's token becomes the
// consistency of its subject and its resource, nobody else's; a
// registration's that of its owner, parent and resource; a failed write
// changes nothing; a token older than the horizon falls back to full
// consistency.
func TestFreshnessKeysWritesByWhatTheyName(t *testing.T) {
	e := &tokenEngine{}
	f := newFreshness(e)
	now := time.Unix(1000, 0)
	f.now = func() time.Time { return now }
	ctx := t.Context()
	full := authz.FullyConsistent()
	want := func(key string, c authz.Consistency) {
		t.Helper()
		if got := f.consistency(key); got != c {
			t.Errorf("consistency(%s) = %v, want %v", key, got, c)
		}
	}
	want("user:bob", full)
	tok, err := f.Grant(ctx, viewerOf("t1", "bob"))
	if err != nil {
		t.Fatal(err)
	}
	want("user:bob", authz.AtLeastAsFresh(tok))
	want("task:t1", authz.AtLeastAsFresh(tok))
	want("user:carol", full)

	p := authz.Resource{Type: "agent", ID: "a1"}
	reg, err := f.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t2"}, Owner: authz.Subject{Type: "user", ID: "carol"}, Parent: &p})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"user:carol", "agent:a1", "task:t2"} {
		want(k, authz.AtLeastAsFresh(reg))
	}
	want("user:bob", authz.AtLeastAsFresh(tok))

	e.fail = true
	if _, err := f.Grant(ctx, viewerOf("t1", "bob")); !errors.Is(err, authz.ErrUnavailable) {
		t.Fatalf("failed grant: %v", err)
	}
	want("user:bob", authz.AtLeastAsFresh(tok)) // unchanged: no token covers a failed write

	now = now.Add(freshHorizon + time.Second)
	want("user:bob", full)
}

// TestFreshnessSerializesWritesNamingOneObject: two writes naming one user
// never run at once, so the token kept is that of the one that ran last;
// writes naming different objects run at once.
func TestFreshnessSerializesWritesNamingOneObject(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a, b     authz.GrantRequest
		together bool
	}{
		{"same subject", viewerOf("t1", "bob"), viewerOf("t2", "bob"), false},
		{"same resource", viewerOf("t1", "bob"), viewerOf("t1", "carol"), false},
		{"nothing shared", viewerOf("t1", "bob"), viewerOf("t2", "carol"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &tokenEngine{gate: make(chan struct{})}
			f := newFreshness(e)
			var wg sync.WaitGroup
			for _, req := range []authz.GrantRequest{tc.a, tc.b} {
				wg.Go(func() { _, _ = f.Grant(t.Context(), req) })
			}
			// Let both start if they may, then release them one by one.
			deadline := time.Now().Add(2 * time.Second)
			for {
				e.mu.Lock()
				running := e.running
				e.mu.Unlock()
				if running == 2 || (!tc.together && running == 1 && time.Now().After(deadline.Add(-1800*time.Millisecond))) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d writes running after 2s", running)
				}
				time.Sleep(time.Millisecond)
			}
			e.gate <- struct{}{}
			e.gate <- struct{}{}
			wg.Wait()
			if got := e.maxRunning == 2; got != tc.together {
				t.Errorf("at most %d writes ran at once, want together=%v", e.maxRunning, tc.together)
			}
			if !tc.together {
				// The second write to run was acknowledged last: its token is kept.
				key := "user:bob"
				if tc.name == "same resource" {
					key = "task:t1"
				}
				if got, want := f.consistency(key), authz.AtLeastAsFresh(authz.NewToken("t2")); got != want {
					t.Errorf("consistency(%s) = %v, want %v", key, got, want)
				}
			}
		})
	}
}

// TestFreshnessIsBounded: beyond the key limit, expired tokens go first,
// then the oldest.
func TestFreshnessIsBounded(t *testing.T) {
	e := &tokenEngine{}
	f := newFreshness(e)
	f.maxKeys = 4
	now := time.Unix(1000, 0)
	f.now = func() time.Time { return now }
	for _, task := range []string{"a", "b", "c", "d", "e"} {
		now = now.Add(time.Second)
		if _, err := f.Deregister(t.Context(), authz.DeregisterRequest{Resource: authz.Resource{Type: "task", ID: task}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.tokens) != 4 {
		t.Errorf("%d keys kept, want 4", len(f.tokens))
	}
	if _, ok := f.tokens["task:a"]; ok {
		t.Error("the oldest key was kept beyond the limit")
	}
	if _, ok := f.tokens["task:e"]; !ok {
		t.Error("the newest key was dropped")
	}
}
