package spicedbadapter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
)

// ErrAuthentication reports that SpiceDB refused the client's credentials
// (a wrong or missing preshared key). Errors matching it also match
// [authz.ErrUnavailable]: nothing can be decided, and it is never a denial.
var ErrAuthentication = errors.New("spicedbadapter: spicedb rejected the client's credentials")

// translate turns an error of a SpiceDB call into the authz vocabulary. It
// is the package's single boundary for provider errors, in the manner of
// SpiceDB's own rewriteError. The original error stays in the chain, so
// status.Code and errors.Is still see the gRPC status:
//
//   - a done ctx: its error, matching [authz.ErrUnavailable];
//   - a caveat that failed to evaluate, or a context value not of its
//     parameter's type (InvalidArgument with reason
//     CAVEAT_EVALUATION_ERROR or CAVEAT_PARAMETER_TYPE_ERROR): an
//     [*authz.CaveatError] naming the caveat only, without SpiceDB's
//     message or the status (either may quote a stored value), which the
//     Guard answers as a denial: SpiceDB meets these only on the data it
//     reaches, so they must not tell an existing resource from a missing
//     one;
//   - InvalidArgument, FailedPrecondition, OutOfRange, NotFound (an unknown
//     definition, relation or permission, a relationship the schema does
//     not allow, a malformed or expired cursor): [authz.ErrInvalidRequest];
//   - AlreadyExists: [authz.ErrConflict];
//   - Unauthenticated, PermissionDenied: [ErrAuthentication] and
//     [authz.ErrUnavailable];
//   - anything else (Unavailable, ResourceExhausted, Aborted,
//     DeadlineExceeded, Internal, ...) and non-gRPC errors:
//     [authz.ErrUnavailable].
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: spicedbadapter: %w", authz.ErrUnavailable, ctxErr)
	}
	if ce := caveatError(err); ce != nil {
		return ce
	}
	if depthExceeded(err) {
		return &authz.UndecidableError{Reason: "spicedbadapter: SpiceDB exceeded its maximum dispatch depth (a cycle or too deep a nesting in the relationships)"}
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange, codes.NotFound:
		return fmt.Errorf("%w: spicedbadapter: %w", authz.ErrInvalidRequest, err)
	case codes.AlreadyExists:
		return fmt.Errorf("%w: spicedbadapter: %w", authz.ErrConflict, err)
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("%w: %w: %w", authz.ErrUnavailable, ErrAuthentication, err)
	default:
		return fmt.Errorf("%w: spicedbadapter: %w", authz.ErrUnavailable, err)
	}
}

// caveatError returns the [*authz.CaveatError] of a SpiceDB caveat
// evaluation or parameter type error, or nil.
func caveatError(err error) *authz.CaveatError {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return nil
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok {
			continue
		}
		switch info.GetReason() {
		case v1.ErrorReason_ERROR_REASON_CAVEAT_EVALUATION_ERROR.String():
			return &authz.CaveatError{Caveat: info.GetMetadata()["caveat_name"], Reason: "evaluation failed in SpiceDB"}
		case v1.ErrorReason_ERROR_REASON_CAVEAT_PARAMETER_TYPE_ERROR.String():
			return &authz.CaveatError{Caveat: info.GetMetadata()["caveat_name"], Reason: "a context value is not of its parameter's type in SpiceDB"}
		}
	}
	return nil
}

// depthExceeded reports whether err is SpiceDB's maximum depth error
// (ResourceExhausted with ERROR_REASON_MAXIMUM_DEPTH_EXCEEDED): the
// relationships reached make the check undecidable, so repeating it
// cannot help.
func depthExceeded(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == v1.ErrorReason_ERROR_REASON_MAXIMUM_DEPTH_EXCEEDED.String() {
			return true
		}
	}
	return false
}

// transient reports whether a failed call may succeed if repeated.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded:
		return true
	case codes.ResourceExhausted:
		return !depthExceeded(err)
	}
	return false
}

// tokenRejected reports whether SpiceDB may have refused the ZedToken of a
// request: it answers InvalidArgument for a token it cannot decode and
// OutOfRange for a revision it cannot serve.
func tokenRejected(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange:
		return true
	}
	return false
}

// retryPolicy repeats transient failures with jittered exponential backoff.
// It is fgac's only retry loop: package dualwrite, the adapter's main
// caller for writes, makes one call per operation and relies on it.
type retryPolicy struct {
	attempts   int           // calls in all, the first included; at least 1
	base       time.Duration // the first backoff, before jitter
	max        time.Duration // the longest backoff
	minAttempt time.Duration // the shortest time a read attempt but the last is given
}

// callKind says whether an abandoned attempt of a call may be repeated
// while it could still run.
type callKind int

const (
	// writeCall: every attempt may use all the time left. An attempt abandoned
	// on a node that stalled (rather than died) may still be applied when
	// the node resumes, after the repeat and after the caller's next write
	// (a grant abandoned, repeated, then revoked would come back), so a
	// write is repeated only after a failure that says it did not run or
	// that the caller sees (its own deadline).
	writeCall callKind = iota
	// readCall: each attempt but the last is given an equal share of the
	// time left before the caller's deadline (the time left divided by the
	// attempts left), at least minAttempt, and repeated when that passes; a
	// late answer to an abandoned read is simply dropped.
	readCall
)

// do calls op until it succeeds, fails for good, has been called
// p.attempts times, or ctx is done; it returns op's last error untranslated
// (or ctx's error if op was never called). It never calls op once ctx is
// done and never sleeps past ctx's deadline. For a read, op's context ends
// at the attempt's deadline (see [readCall]); a read attempt that runs out of
// its share fails with DeadlineExceeded, which is transient, so it is
// repeated, on a client from [Dial] by the next node.
func (p retryPolicy) do(ctx context.Context, kind callKind, op func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := p.attempt(ctx, kind, attempt, op)
		if err == nil || attempt >= p.attempts || !transient(ctx, err) {
			return err
		}
		wait := p.backoff(attempt)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// attempt makes attempt n of op, limited to [retryPolicy.attemptTimeout].
func (p retryPolicy) attempt(ctx context.Context, kind callKind, n int, op func(context.Context) error) error {
	d, ok := p.attemptTimeout(ctx, kind, n)
	if !ok {
		return op(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return op(ctx)
}

// attemptTimeout returns how long attempt n of a call may take, or false
// when it may take until ctx's deadline: every attempt of a write, the
// last attempt of a read, and every attempt without a deadline. Otherwise
// it is the time left divided by the attempts left (a third of the
// deadline for the first of three), at least p.minAttempt: a read held by
// a node that stalled while still passing its health checks is repeated
// on another node in time, and the floor keeps short deadlines from
// being cut into attempts too short for a healthy node.
func (p retryPolicy) attemptTimeout(ctx context.Context, kind callKind, n int) (time.Duration, bool) {
	deadline, ok := ctx.Deadline()
	if kind != readCall || !ok || n >= p.attempts {
		return 0, false
	}
	left := time.Until(deadline)
	d := max(left/time.Duration(p.attempts-n+1), p.minAttempt)
	if d >= left {
		return 0, false
	}
	return d, true
}

// backoff returns the wait after failed attempt n (1 for the first): base
// doubled n-1 times, capped at max, then jittered down by up to a half.
func (p retryPolicy) backoff(n int) time.Duration {
	d := p.base
	for range n - 1 {
		if d >= p.max/2 {
			d = p.max
			break
		}
		d *= 2
	}
	d = min(d, p.max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}
