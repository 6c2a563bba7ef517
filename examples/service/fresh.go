package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fgac-go/fgac/authz"
)

// SpiceDB's fully consistent reads are not read-your-writes under
// concurrent load: it shares one in-flight HeadRevision query among the
// fully consistent requests that arrive while it runs, so a request sent
// after a write was acknowledged may be answered at a snapshot taken before
// the write committed (spicedbadapter's TestFullyConsistentIsNotReadYourWrites).
// Reading at least as fresh as the write's ZedToken closes that gap. So the
// service keeps the tokens of its writes (package-level doc in README,
// "Consistency"):
//
//   - Every write the service makes goes through [freshness], which records
//     the write's token under a key for each object the write names: the
//     resources written and the subjects of the relationships written. A
//     check or list then reads AtLeastAsFresh(the caller's token) (httpauthz
//     Config.ConsistencyFor), and the access review of a task
//     AtLeastAsFresh(the task's token).
//   - That token covers every write that can change what the caller may do,
//     its own included, because in this schema every relationship that
//     gives a user or an agent access names it as its subject (owner,
//     editor, viewer, parent: no groups, no arrows). The writer is not a
//     key: an owner's share changes what the reader may do, not what the
//     owner may, and keying writes by their author would serialize all of
//     one user's writes. A deleted task's relationships are removed
//     without naming their subjects, but its row goes first, and every
//     decision and list also needs the row (Config.Rows, the store's list
//     query).
//   - Two writes naming one object are never in flight at once: each write
//     holds a lock per key from before it is sent until its token is
//     recorded, taken in key order (no deadlock). Tokens cannot be compared
//     (they are opaque), so "the token of the write acknowledged last" is
//     the newest only because writes to a key are serialized; otherwise two
//     concurrent writes could be acknowledged in the opposite order to their
//     commits and the key would keep the older token. Writes to different
//     keys run concurrently.
//   - A failed write leaves the keys' tokens as they were: whether it
//     applied is unknown (its caller got an error), and no token covers it.
//   - Memory is bounded: a token older than freshHorizon is dropped, and the
//     key's reads go back to fully consistent, which sees every write
//     acknowledged more than one HeadRevision query (milliseconds) before;
//     at most freshMaxKeys keys are kept (beyond that, the oldest are
//     dropped early, with the same fallback).
//   - One service process: several replicas would need to share the tokens
//     (for instance, store each write's token with the row it concerns).

// freshHorizon is how long a write's token is kept.
const freshHorizon = time.Minute

// freshMaxKeys bounds the keys whose tokens are kept.
const freshMaxKeys = 100_000

// freshness is an [authz.Authorizer] that serializes the writes naming one
// object and records their tokens, and chooses the consistency of reads
// from them. It is safe for concurrent use.
type freshness struct {
	authz.Authorizer
	now     func() time.Time
	horizon time.Duration
	maxKeys int

	locks keyLocks

	mu     sync.Mutex // guards tokens
	tokens map[string]stamp
}

// stamp is the token of the last write acknowledged on a key, and when.
type stamp struct {
	tok authz.Token
	at  time.Time
}

func newFreshness(e authz.Authorizer) *freshness {
	return &freshness{Authorizer: e, now: time.Now, horizon: freshHorizon, maxKeys: freshMaxKeys, tokens: map[string]stamp{}}
}

// consistency returns AtLeastAsFresh of the token kept for key, or full
// consistency if none is.
func (f *freshness) consistency(key string) authz.Consistency {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.tokens[key]
	if !ok || s.tok.IsZero() || f.now().Sub(s.at) > f.horizon {
		return authz.FullyConsistent()
	}
	return authz.AtLeastAsFresh(s.tok)
}

// subjectKey and resourceKey name the objects a write concerns.
func subjectKey(s authz.Subject) string   { return s.Type + ":" + s.ID }
func resourceKey(r authz.Resource) string { return r.Type + ":" + r.ID }

// write runs op holding the locks of the keys of rels and of extra, and
// records its token under each if it succeeds.
func (f *freshness) write(rels []authz.Relationship, extra []authz.Resource, op func() (authz.Token, error)) (authz.Token, error) {
	keys := make([]string, 0, 2*len(rels)+len(extra))
	for _, r := range rels {
		keys = append(keys, resourceKey(r.Resource), subjectKey(r.Subject))
	}
	for _, r := range extra {
		keys = append(keys, resourceKey(r))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	unlock := f.locks.lock(keys)
	defer unlock()
	tok, err := op()
	if err == nil && !tok.IsZero() {
		f.record(keys, tok)
	}
	return tok, err
}

// record keeps tok as the token of keys, dropping expired tokens (and, if
// there are still too many keys, the oldest) when the map is full.
func (f *freshness) record(keys []string, tok authz.Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for _, k := range keys {
		f.tokens[k] = stamp{tok: tok, at: now}
	}
	if len(f.tokens) <= f.maxKeys {
		return
	}
	for k, s := range f.tokens {
		if now.Sub(s.at) > f.horizon {
			delete(f.tokens, k)
		}
	}
	if over := len(f.tokens) - f.maxKeys; over > 0 {
		type aged struct {
			key string
			at  time.Time
		}
		all := make([]aged, 0, len(f.tokens))
		for k, s := range f.tokens {
			all = append(all, aged{k, s.at})
		}
		slices.SortFunc(all, func(a, b aged) int { return a.at.Compare(b.at) })
		for _, a := range all[:over] {
			delete(f.tokens, a.key)
		}
	}
}

// Register records the token under the resource, its owner and its parent.
func (f *freshness) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	return f.write(req.Relationships(), []authz.Resource{req.Resource}, func() (authz.Token, error) { return f.Authorizer.Register(ctx, req) })
}

// Deregister records the token under the resource.
func (f *freshness) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	return f.write(nil, []authz.Resource{req.Resource}, func() (authz.Token, error) { return f.Authorizer.Deregister(ctx, req) })
}

// Grant records the token under the relationship's resource and subject.
func (f *freshness) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return f.write([]authz.Relationship{req.Relationship}, nil, func() (authz.Token, error) { return f.Authorizer.Grant(ctx, req) })
}

// Revoke records the token under the relationship's resource and subject.
func (f *freshness) Revoke(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return f.write([]authz.Relationship{req.Relationship}, nil, func() (authz.Token, error) { return f.Authorizer.Revoke(ctx, req) })
}

// Write records the token under the resources and subjects of every
// relationship touched or deleted.
func (f *freshness) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	return f.write(slices.Concat(req.Touch, req.Delete), nil, func() (authz.Token, error) { return f.Authorizer.Write(ctx, req) })
}

// keyLocks is a mutex per key, kept only while some write holds or waits
// for it.
type keyLocks struct {
	mu    sync.Mutex // guards locks
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; guarded by keyLocks.mu
}

// lock locks keys, which must be sorted and distinct, in order, and
// returns the function that unlocks them.
func (l *keyLocks) lock(keys []string) (unlock func()) {
	held := make([]*keyLock, len(keys))
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*keyLock{}
	}
	for i, k := range keys {
		kl := l.locks[k]
		if kl == nil {
			kl = &keyLock{}
			l.locks[k] = kl
		}
		kl.refs++
		held[i] = kl
	}
	l.mu.Unlock()
	for _, kl := range held {
		kl.mu.Lock()
	}
	return func() {
		for _, kl := range held {
			kl.mu.Unlock()
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, k := range keys {
			if held[i].refs--; held[i].refs == 0 {
				delete(l.locks, k)
			}
		}
	}
}

// LookupSubjects passes the lookup to the engine, so that the guard's
// subject lookups work through freshness as without it.
func (f *freshness) LookupSubjects(ctx context.Context, req authz.SubjectLookupRequest) (authz.SubjectLookupResult, error) {
	l, ok := f.Authorizer.(authz.SubjectLookuper)
	if !ok {
		return authz.SubjectLookupResult{}, authz.Invalidf("service: the engine cannot look up subjects")
	}
	return l.LookupSubjects(ctx, req)
}

var _ authz.SubjectLookuper = (*freshness)(nil)
