package memo_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memo"
)

// faulty is an engine whose checks wait for release and then end with
// fail: a panic or runtime.Goexit.
type faulty struct {
	authz.Reader
	release chan struct{}
	fail    func()
}

func (f *faulty) Check(ctx context.Context, _ authz.CheckRequest) (authz.Decision, error) {
	<-f.release
	f.fail()
	return authz.Allow(), nil
}

// TestSharedCallPanicOrGoexitIsAnErrorForEveryCaller: an engine that
// panics, or calls runtime.Goexit, during a shared check neither crashes
// the process nor leaves a caller waiting (none of them has a deadline):
// the caller that started the call and the one that joined it both get an
// error matching authz.ErrUnavailable, and a panic's value is reported in a
// *memo.PanicError. Without the fix the panic ends the test binary and the
// Goexit hangs both callers.
func TestSharedCallPanicOrGoexitIsAnErrorForEveryCaller(t *testing.T) {
	for name, fail := range map[string]func(){
		"panic":  func() { panic("engine bug: index out of range") },
		"goexit": runtime.Goexit,
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				engine := &faulty{release: make(chan struct{}), fail: fail}
				r := memo.New(engine, nil)
				errs := make([]error, 2)
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() {
						_, errs[i] = r.Check(context.Background(), ask("alice", "t1", "read"))
					})
					synctest.Wait() // the first starts the call, the second joins it
				}
				close(engine.release)
				wg.Wait()
				for i, err := range errs {
					if !errors.Is(err, authz.ErrUnavailable) {
						t.Errorf("caller %d: err = %v, want %v", i, err, authz.ErrUnavailable)
					}
					var pe *memo.PanicError
					if got := errors.As(err, &pe); got != (name == "panic") {
						t.Errorf("caller %d: errors.As(*PanicError) = %v", i, got)
					} else if got && (pe.Value != "engine bug: index out of range" || !strings.Contains(string(pe.Stack), "faulty")) {
						t.Errorf("caller %d: panic reported as %v with stack %q", i, pe.Value, pe.Stack)
					}
				}
				// The next check starts afresh rather than joining a dead call.
				engine.fail = func() {}
				if d, err := r.Check(context.Background(), ask("alice", "t1", "read")); err != nil || !d.Allowed() {
					t.Errorf("check after the failed call = %v, %v", d, err)
				}
			})
		})
	}
}

// TestGuardOverPanickingEngineReturnsAnError: the reviewer's reproduction,
// authz.NewGuard(memo.New(panickingEngine, nil), ops).Decide, returns an error
// instead of ending the process.
func TestGuardOverPanickingEngineReturnsAnError(t *testing.T) {
	engine := newEngine(t)
	ops := testfixture.OperationMap(t)
	release := make(chan struct{})
	close(release)
	g := authz.NewGuard(memo.New(&faulty{Reader: engine, release: release, fail: func() { panic("boom") }}, nil), ops)
	_, err := g.Decide(context.Background(), authz.Question{Subject: user("alice"), Resource: task("t1"), Operation: authz.OpRead})
	var pe *memo.PanicError
	if !errors.Is(err, authz.ErrUnavailable) || !errors.As(err, &pe) || pe.Value != "boom" {
		t.Errorf("Check = %v, want an unavailable *memo.PanicError holding the panic's value", err)
	}
	if strings.Contains(err.Error(), "boom") {
		t.Errorf("message %q carries the panic's value (it may hold a secret)", err)
	}
}

// panicky is an engine whose every call panics while panics is set.
type panicky struct {
	authz.Reader
	panics bool
}

func (p *panicky) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if p.panics {
		panic("check boom")
	}
	return p.Reader.Check(ctx, req)
}

func (p *panicky) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	if p.panics {
		panic(nil) // a *runtime.PanicNilError since Go 1.21
	}
	return p.Reader.CheckMany(ctx, req)
}

func (p *panicky) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	if p.panics {
		panic(errors.New("lookup boom"))
	}
	return p.Reader.Lookup(ctx, req)
}

// TestEnginePanicIsAnErrorOnEveryPath: whichever Reader method reaches a
// panicking engine (a check shared or not, fully consistent or not, from
// the request cache's miss path or not, a bulk check, a lookup) returns a
// *PanicError matching authz.ErrUnavailable instead of panicking, and the
// in-flight slot is given back.
func TestEnginePanicIsAnErrorOnEveryPath(t *testing.T) {
	engine := &panicky{Reader: newEngine(t), panics: true}
	shared := memo.New(engine, &memo.Config{MaxInFlight: 1})
	unshared := memo.New(engine, &memo.Config{MaxInFlight: 1, NoSharing: true})
	q := ask("alice", "t1", "read")
	full := q
	full.Consistency = authz.FullyConsistent()
	many := authz.CheckManyRequest{Items: []authz.CheckRequest{q, ask("bob", "t1", "read")}}
	for name, r := range map[string]*memo.Reader{"shared": shared, "unshared": unshared} {
		for _, ctx := range []context.Context{context.Background(), memo.WithRequestCache(context.Background())} {
			calls := map[string]func() error{
				"Check":                  func() error { _, err := r.Check(ctx, q); return err },
				"Check fully consistent": func() error { _, err := r.Check(ctx, full); return err },
				"CheckMany":              func() error { _, err := r.CheckMany(ctx, many); return err },
				"Lookup": func() error {
					_, err := r.Lookup(ctx, authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read"})
					return err
				},
			}
			for call, f := range calls {
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Errorf("%s %s: panicked with %v", name, call, p)
						}
					}()
					err = f()
				}()
				var pe *memo.PanicError
				if !errors.As(err, &pe) || !errors.Is(err, authz.ErrUnavailable) {
					t.Errorf("%s %s: err = %v, want a *memo.PanicError", name, call, err)
				}
			}
		}
		// The one call slot came back after every panic.
		engine.panics = false
		if _, err := r.Check(context.Background(), q); err != nil {
			t.Errorf("%s: check after the panics = %v", name, err)
		}
		engine.panics = true
	}
}
