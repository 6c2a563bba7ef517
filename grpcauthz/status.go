package grpcauthz

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
)

// Domain is the domain of the google.rpc.ErrorInfo detail that every
// status the interceptors answer carries.
const Domain = "fgac"

// The reasons of the ErrorInfo details, one per answer.
const (
	ReasonNotFound        = "NOT_FOUND"
	ReasonForbidden       = "PERMISSION_DENIED"
	ReasonUnavailable     = "UNAVAILABLE"
	ReasonInternal        = "INTERNAL"
	ReasonUnauthenticated = "UNAUTHENTICATED"
	ReasonUnknownMethod   = "UNKNOWN_METHOD"
	ReasonInvalidField    = "INVALID_FIELD"
	ReasonTooLarge        = "MESSAGE_TOO_LARGE"
	ReasonInvalidRequest  = "INVALID_REQUEST"
)

// problem is an answer of the interceptors: a gRPC status built once, at
// setup, with a fixed message that never contains an id. It matches its
// sentinel (authz.ErrInvalidRequest for bad input) with errors.Is, and
// the status with status.FromError.
type problem struct {
	msg      string
	sentinel error
	err      error // the status error, shared by every answer
}

func newProblem(code codes.Code, reason, msg string, sentinel error) *problem {
	st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: Domain})
	if err != nil {
		panic("grpcauthz: " + err.Error())
	}
	return &problem{msg: msg, sentinel: sentinel, err: st.Err()}
}

// Error returns "grpcauthz: " and the status message.
func (p *problem) Error() string { return "grpcauthz: " + p.msg }

// Unwrap returns the sentinel the problem matches, if any.
func (p *problem) Unwrap() error { return p.sentinel }

// GRPCStatus returns the status the client gets.
func (p *problem) GRPCStatus() *status.Status { return status.Convert(p.err) }

// Fixed answers; their messages and details never vary, so two answers
// with the same code are identical.
var (
	errNotFound        = newProblem(codes.NotFound, ReasonNotFound, "not found", authz.ErrNotFound)
	errForbidden       = newProblem(codes.PermissionDenied, ReasonForbidden, "permission denied", authz.ErrDenied)
	errUnavailable     = newProblem(codes.Unavailable, ReasonUnavailable, "authorization unavailable", authz.ErrUnavailable)
	errInternal        = newProblem(codes.Internal, ReasonInternal, "internal error", authz.ErrInternal)
	errOtherResource   = newProblem(codes.InvalidArgument, ReasonInvalidRequest, "every message of a stream must name the resource its first message named", authz.ErrInvalidRequest)
	errUnauthenticated = newProblem(codes.Unauthenticated, ReasonUnauthenticated, "authentication required", nil)
	errUnknownMethod   = newProblem(codes.PermissionDenied, ReasonUnknownMethod, "method has no authorization route", authz.ErrInvalidRequest)
	errTooLarge        = newProblem(codes.InvalidArgument, ReasonTooLarge, "request message is too large", authz.ErrInvalidRequest)
	errNoMessage       = newProblem(codes.InvalidArgument, ReasonInvalidField, "request message is missing", authz.ErrInvalidRequest)
	errInvalidRequest  = newProblem(codes.InvalidArgument, ReasonInvalidRequest, "invalid request", authz.ErrInvalidRequest)
)

// Status returns the gRPC status error a client gets for err, an error of
// the enforcement path: NotFound, PermissionDenied and Unavailable for
// errors matching [authz.ErrNotFound], [authz.ErrDenied] and
// [authz.ErrUnavailable] (a context that ended counts as unavailable), the
// interceptors' own answers (InvalidArgument, Unauthenticated) as they
// are, InvalidArgument for any other [authz.ErrInvalidRequest], and
// Internal, saying nothing about the cause, for anything else. Messages
// are fixed texts that never carry an id.
func Status(err error) error {
	if p, ok := err.(*problem); ok {
		return p.err
	}
	var p *problem
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return p.err
	case errors.Is(err, authz.ErrNotFound):
		return errNotFound.err
	case errors.Is(err, authz.ErrDenied):
		return errForbidden.err
	case errors.Is(err, authz.ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errUnavailable.err
	case errors.Is(err, authz.ErrInvalidRequest):
		return errInvalidRequest.err
	default:
		return errInternal.err
	}
}
