package httpauthz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fgac-go/fgac/authz"
)

// Extractor finds the id a request addresses. Extractors never validate the
// id against the grammar: a malformed id is answered like a missing
// resource by the middleware, so that malformed and missing look the same.
type Extractor interface {
	// Extract returns the id. body is the request body when
	// [Extractor.UsesBody] is true (already size-checked and valid JSON),
	// nil otherwise. A [*Problem] error is answered as it is; [ErrMissing]
	// means the addressed thing does not exist (answered as not-found).
	Extract(r *http.Request, body []byte) (string, error)
	// UsesBody reports whether Extract needs the JSON body.
	UsesBody() bool
}

// ErrMissing is returned by an [Extractor] when what the request names does
// not exist, such as a name that resolves to no id.
var ErrMissing = fmt.Errorf("httpauthz: %w: addressed resource does not exist", authz.ErrNotFound)

type pathValue string

// PathValue extracts the id from a [http.ServeMux] pattern wildcard, such
// as {task_id}.
func PathValue(name string) Extractor { return pathValue(name) }

func (p pathValue) Extract(r *http.Request, _ []byte) (string, error) {
	v := r.PathValue(string(p))
	if v == "" {
		return "", absentInput("path value " + string(p))
	}
	return v, nil
}

func (pathValue) UsesBody() bool { return false }

type query string

// Query extracts the id from a query parameter. A query string that does
// not parse (such as one with a ";" separator, which net/url refuses), a
// parameter given more than once and a parameter given empty (?task_id=)
// are rejected with 400; only a parameter that is not there at all is
// absent (which a list route takes as "no narrowing").
func Query(name string) Extractor { return query(name) }

func (q query) Extract(r *http.Request, _ []byte) (string, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", problem(http.StatusBadRequest, CodeInvalidField, "query string is malformed")
	}
	vs, given := values[string(q)]
	switch {
	case !given:
		return "", absentInput("query parameter " + string(q))
	case len(vs) > 1:
		return "", problem(http.StatusBadRequest, CodeDuplicateKey, "query parameter "+string(q)+" appears more than once")
	case vs[0] == "":
		return "", problem(http.StatusBadRequest, CodeInvalidField, "query parameter "+string(q)+" is empty")
	}
	return vs[0], nil
}

func (query) UsesBody() bool { return false }

type jsonPath struct {
	path []string
	name string
}

// JSONField extracts the id from a string field of the JSON body object,
// such as "thread_id". Further names descend into nested objects:
// JSONField("params", "task_id") reads {"params":{"task_id":...}}. The body
// must be a JSON object; the field must be present, a non-empty string, and
// appear once (in any letter case) in its object.
func JSONField(path ...string) Extractor {
	if len(path) == 0 {
		panic("httpauthz: JSONField needs a field name")
	}
	return jsonPath{path: path, name: strings.Join(path, ".")}
}

func (j jsonPath) Extract(_ *http.Request, body []byte) (string, error) {
	raw, found, p := jsonField(body, j.path)
	if p != nil {
		return "", p
	}
	if !found {
		return "", absentInput("field " + j.name)
	}
	s, p := jsonString(raw, j.name)
	if p != nil {
		return "", p
	}
	return s, nil
}

func (jsonPath) UsesBody() bool { return true }

// NameLookup resolves a name to an id. It returns an error matching
// [authz.ErrNotFound] when no resource has the name.
type NameLookup func(ctx context.Context, name string) (string, error)

type byName struct {
	inner  Extractor
	lookup NameLookup
}

// ByName extracts a name with inner and resolves it to an id with lookup.
// The check then runs on the id, never on the name. A name that resolves to
// nothing is answered exactly like an unreadable resource.
//
// Make names unique per owner (or tenant), not globally, and have lookup
// resolve a name only among the caller's own, taking the caller from the
// request context it is given: a globally unique name is an existence
// oracle that no answer here can hide, because creating a name another
// tenant uses fails (409) where a free name succeeds. examples/service
// does this (names unique per (owner, name); lookup in the caller's
// names).
func ByName(inner Extractor, lookup NameLookup) Extractor {
	return byName{inner: inner, lookup: lookup}
}

func (b byName) Extract(r *http.Request, body []byte) (string, error) {
	name, err := b.inner.Extract(r, body)
	if err != nil {
		return "", err
	}
	if len(name) > authz.MaxIDLength || !utf8.ValidString(name) {
		return "", ErrMissing
	}
	id, err := b.lookup(r.Context(), name)
	if errors.Is(err, authz.ErrNotFound) {
		return "", ErrMissing
	}
	if err != nil {
		return "", err
	}
	return id, nil
}

func (b byName) UsesBody() bool { return b.inner.UsesBody() }

type either []Extractor

// Either takes the id from exactly one of several extractors, such as a
// task_id or a task_name field: giving none or more than one is a 400.
func Either(alternatives ...Extractor) Extractor { return either(alternatives) }

func (e either) Extract(r *http.Request, body []byte) (string, error) {
	var id string
	var idErr error
	n := 0
	for _, x := range e {
		v, err := x.Extract(r, body)
		var p *Problem
		if errors.As(err, &p) {
			if p.absent {
				continue
			}
			return "", err
		}
		n++
		id, idErr = v, err
	}
	switch n {
	case 0:
		return "", problem(http.StatusBadRequest, CodeInvalidField, "exactly one identifying field is required")
	case 1:
		return id, idErr
	default:
		return "", problem(http.StatusBadRequest, CodeConflictingIDs, "give only one identifying field")
	}
}

// resolves reports whether x may look its id up (by name), so that the id
// it returns, or its ErrMissing, depends on what exists.
func resolves(x Extractor) bool {
	switch x := x.(type) {
	case byName:
		return true
	case either:
		return slices.ContainsFunc(x, resolves)
	}
	return false
}

func (e either) UsesBody() bool {
	for _, x := range e {
		if x.UsesBody() {
			return true
		}
	}
	return false
}
