// Package calllog records the calls an engine receives, so tests can
// compare the backend call sequences of two requests. It records the shape
// of each call (method, resource type, permissions), never ids, because
// requests for a missing and for an unreadable resource necessarily differ
// in the id they check.
package calllog

import (
	"context"
	"strings"
	"sync"

	"github.com/fgac-go/fgac/authz"
)

// Recorder wraps an [authz.Authorizer] and records every call. It is safe
// for concurrent use.
type Recorder struct {
	authz.Authorizer

	mu    sync.Mutex // guards calls
	calls []string
}

// New returns a Recorder around a.
func New(a authz.Authorizer) *Recorder { return &Recorder{Authorizer: a} }

func (r *Recorder) add(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}

// Calls returns the calls recorded since the last Reset.
func (r *Recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// Reset forgets the recorded calls.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

// Check implements [authz.Checker].
func (r *Recorder) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	r.add("check " + req.Resource.Type + "#" + req.Permission)
	return r.Authorizer.Check(ctx, req)
}

// CheckMany implements [authz.BulkChecker].
func (r *Recorder) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	parts := make([]string, len(req.Items))
	for i, it := range req.Items {
		parts[i] = it.Resource.Type + "#" + it.Permission
	}
	r.add("checkmany " + strings.Join(parts, ","))
	return r.Authorizer.CheckMany(ctx, req)
}

// Lookup implements [authz.Lookuper].
func (r *Recorder) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	r.add("lookup " + req.ResourceType + "#" + req.Permission)
	return r.Authorizer.Lookup(ctx, req)
}
