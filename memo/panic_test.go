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
				r := memo.New(engine)
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
// authz.NewGuard(memo.New(panickingEngine), ops).Decide, returns an error
// instead of ending the process.
func TestGuardOverPanickingEngineReturnsAnError(t *testing.T) {
	engine := newEngine(t)
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	close(release)
	g := authz.NewGuard(memo.New(&faulty{Reader: engine, release: release, fail: func() { panic("boom") }}), ops)
	_, err = g.Decide(context.Background(), authz.Question{Subject: user("alice"), Resource: task("t1"), Operation: authz.OpRead})
	if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Check = %v, want an unavailable error naming the panic", err)
	}
}
