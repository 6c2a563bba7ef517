package memo

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/fgac-go/fgac/authz"
)

// PanicError is the error every caller of a shared engine call gets when
// the engine panicked during it: the panic becomes an error for each of
// them, so that it neither crashes the process nor leaves a caller
// waiting, and its value and stack are kept for whoever reports the error.
// It matches [authz.ErrUnavailable].
type PanicError struct {
	// Value is the value the engine panicked with.
	Value any
	// Stack is the stack of the goroutine that panicked.
	Stack []byte
}

// Error says that the engine panicked, without the value or the stack.
func (e *PanicError) Error() string {
	// The value stays out of the message: it may hold anything, secrets
	// included, and messages end up in logs and events.
	return fmt.Sprintf("memo: %v: engine panicked (see PanicError.Value)", authz.ErrUnavailable)
}

// Unwrap returns [authz.ErrUnavailable].
func (e *PanicError) Unwrap() error { return authz.ErrUnavailable }

// errGoexit is the error of a shared call whose engine called
// runtime.Goexit: the call's goroutine ended without an answer.
var errGoexit = fmt.Errorf("memo: %w: engine call ended its goroutine (runtime.Goexit)", authz.ErrUnavailable)

// flight is one shared engine call. Its results are written before done is
// closed and read only after.
type flight struct {
	done chan struct{}
	d    authz.Decision
	err  error
	// gone reports that the call failed because the context of the caller
	// that started it ended: callers whose own context is live ask again.
	gone bool
}

// flights are the shared calls in progress, by question key. Unlike
// golang.org/x/sync/singleflight, which re-panics a callback's panic on a
// goroutine of its own (ending the process) and leaves DoChan's waiters
// blocked forever after a runtime.Goexit, every way a call can end here
// delivers an answer to its waiters.
type flights struct {
	mu sync.Mutex // guards m
	m  map[string]*flight
}

// join returns the call in progress for k, or registers a new one and
// starts it with start.
func (fs *flights) join(k string, start func(*flight)) *flight {
	fs.mu.Lock()
	if f, ok := fs.m[k]; ok {
		fs.mu.Unlock()
		return f
	}
	f := &flight{done: make(chan struct{})}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	fs.m[k] = f
	fs.mu.Unlock()
	start(f)
	return f
}

// finish removes f, so later callers start a new call, and wakes its
// waiters.
func (fs *flights) finish(k string, f *flight) {
	fs.mu.Lock()
	if fs.m[k] == f {
		delete(fs.m, k)
	}
	fs.mu.Unlock()
	close(f.done)
}

// run asks the engine for the shared call f under the context of the
// caller that started it. A panic or runtime.Goexit in the engine is turned
// into an error for every waiter; the goroutine ends when the engine call
// does, which honours ctx.
func (r *Reader) run(ctx context.Context, k string, f *flight, req authz.CheckRequest) {
	returned := false
	defer func() {
		if !returned {
			f.d = authz.Deny()
			if p := recover(); p != nil {
				f.err = &PanicError{Value: p, Stack: debug.Stack()}
			} else {
				f.err = errGoexit
			}
		}
		r.flights.finish(k, f)
	}()
	f.d, f.err = r.check(ctx, req)
	f.gone = f.err != nil && ctx.Err() != nil
	returned = true
}
