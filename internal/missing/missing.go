// Package missing carries, from package collapse to package enforce, the
// caveat parameters a conditional decision lacked when collapse answers it
// as not found: the 404 itself must stay the bare authz.ErrNotFound (the
// same bytes and the same error as for a resource that does not exist),
// but the decision's audit event may name what was missing.
package missing

import "context"

// Recorder holds the names recorded during one decision. It is also the
// context that carries itself (one allocation per decision, not two).
type Recorder struct {
	context.Context
	names []string
}

type key struct{}

// Value returns r for its own key and defers to the parent otherwise.
func (r *Recorder) Value(k any) any {
	if k == (key{}) {
		return r
	}
	return r.Context.Value(k)
}

// With returns a context that records into a new Recorder, and the
// Recorder.
func With(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{Context: ctx}
	return r, r
}

// Record keeps names in the Recorder of ctx, if it has one; a later
// record replaces an earlier one.
func Record(ctx context.Context, names []string) {
	if len(names) == 0 {
		return
	}
	if r, ok := ctx.Value(key{}).(*Recorder); ok {
		r.names = names
	}
}

// Names returns what was recorded, or nil. A nil Recorder has none.
func (r *Recorder) Names() []string {
	if r == nil {
		return nil
	}
	return r.names
}
