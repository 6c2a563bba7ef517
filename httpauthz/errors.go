package httpauthz

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/fgac-go/fgac/authz"
)

// Code is the machine-readable reason of an error response.
type Code string

// The codes the middleware answers with.
const (
	CodeInvalidJSON          Code = "invalid_json"
	CodeInvalidField         Code = "invalid_field"
	CodeDuplicateKey         Code = "duplicate_key"
	CodeConflictingIDs       Code = "conflicting_ids"
	CodeUnknownMethod        Code = "unknown_method"
	CodeInvalidContext       Code = "invalid_context"
	CodeInvalidRequest       Code = "invalid_request"
	CodeBodyTooLarge         Code = "body_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeUnauthenticated      Code = "unauthenticated"
	CodeForbidden            Code = "forbidden"
	CodeNotFound             Code = "not_found"
	CodeUnavailable          Code = "unavailable"
	CodeInternal             Code = "internal"
)

// Problem is an error answer: an HTTP status, a code and a message that
// never contains an id or anything the caller did not send as a field name.
type Problem struct {
	// Status is the HTTP status code.
	Status int
	// Code is the machine-readable reason.
	Code Code
	// Message is a fixed, human-readable text.
	Message string

	absent bool // an identifying input was not given at all
}

// Error implements error.
func (p *Problem) Error() string { return "httpauthz: " + p.Message }

func problem(status int, code Code, msg string) *Problem {
	return &Problem{Status: status, Code: code, Message: msg}
}

// absentInput is the problem of an identifying input that is not there.
func absentInput(what string) *Problem {
	return &Problem{Status: http.StatusBadRequest, Code: CodeInvalidField, Message: what + " is missing", absent: true}
}

// Fixed problems; their messages never vary, so two answers with the same
// code are byte-identical.
var (
	problemNotFound    = &Problem{Status: http.StatusNotFound, Code: CodeNotFound, Message: "not found"}
	problemForbidden   = &Problem{Status: http.StatusForbidden, Code: CodeForbidden, Message: "permission denied"}
	problemUnavailable = &Problem{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "authorization unavailable"}
	problemInternal    = &Problem{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	// problemUnrecorded is the 500 of a middleware without a Hook: the
	// library does not log, so without a hook nothing records the cause;
	// the answer says so (and how to fix it) instead of failing silently.
	// It is a fixed text, the same for every request and every cause.
	problemUnrecorded      = &Problem{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error (not recorded: httpauthz.Config.Hook is nil; set it, e.g. to audit.Slog, to see the cause)"}
	problemUnauthenticated = &Problem{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "authentication required"}
	// problemInvalidContext answers a request whose context
	// (Config.Context) is invalid.
	problemInvalidContext = &Problem{Status: http.StatusBadRequest, Code: CodeInvalidContext, Message: "request context is invalid"}
	// problemInvalidRequest answers any other request the engine refused
	// as invalid ([authz.ErrInvalidRequest]).
	problemInvalidRequest = &Problem{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "invalid request"}
)

// ProblemFor maps an error of the enforcement path to the answer a client
// gets. Not-found, denied and unavailable map to 404, 403 and 503; a
// [*Problem] is answered as it is; an [*authz.ContextError] (a request
// context the engine refused before reading any relationship) is 400
// invalid_context and any other [authz.ErrInvalidRequest] 400
// invalid_request; anything else is a 500 whose body says nothing about
// the cause. (A [*authz.CaveatError] never gets here: the Guard answers
// it as a denial.)
func ProblemFor(err error) *Problem {
	var (
		p  *Problem
		ce *authz.ContextError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ce):
		return problemInvalidContext
	case errors.Is(err, authz.ErrNotFound):
		return problemNotFound
	case errors.Is(err, authz.ErrDenied):
		return problemForbidden
	case errors.Is(err, authz.ErrUnavailable):
		return problemUnavailable
	case errors.Is(err, authz.ErrInvalidRequest):
		return problemInvalidRequest
	default:
		return problemInternal
	}
}

// ErrorWriter writes an error answer. The default, [WriteJSONError], writes
// {"error":{"code":...,"message":...}}.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, p *Problem)

// WriteJSONError is the default [ErrorWriter]. Its output depends only on
// the problem, so equal problems give byte-identical answers, headers
// included.
func WriteJSONError(w http.ResponseWriter, _ *http.Request, p *Problem) {
	body := make([]byte, 0, 64+len(p.Message))
	body = append(body, `{"error":{"code":`...)
	body = strconv.AppendQuote(body, string(p.Code))
	body = append(body, `,"message":`...)
	body = strconv.AppendQuote(body, p.Message)
	body = append(body, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	w.Write(body)
}
