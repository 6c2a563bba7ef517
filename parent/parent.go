// Package parent maps child resources, which carry no permissions of their
// own (messages, checkpoints, events), to the registered resource they
// inherit them from.
//
// A [Registry] holds one [Resolver] per child type together with the type
// of its parent. A parent can itself be a child: [Registry.Resolve] walks up
// until it reaches a type that is not registered as a child, within a depth
// bound. Because the chain of types is known statically, callers can tell
// which type a child resolves to even when the child does not exist, which
// is what lets enforcement spend an equivalent check on a missing child.
//
// # Operations on children
//
// A child's operation is checked as the same operation on its parent:
// reading a message is reading its task, deleting a message is deleting its
// task. When a child needs another rule (deleting a message should need
// only update on the task, not the task owner's delete), give it an
// operation of its own, mapped on the parent type, and use that on the
// child's routes:
//
//	const opDeleteMessage authz.Operation = "delete_message"
//	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
//		"task": {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpDelete: "delete", opDeleteMessage: "update"},
//	})
//	mux.Handle("DELETE /messages/{id}", mw.Require("message", opDeleteMessage, httpauthz.PathValue("id"))(h))
package parent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sync"

	"github.com/fgac-go/fgac/authz"
)

// DefaultMaxDepth is the default bound on how many child links
// [Registry.Resolve] follows.
const DefaultMaxDepth = 8

// ErrUnregistered reports a resource type that has no resolver. It is a
// setup error: enforcement answers it with a server error, never by skipping
// authorization.
var ErrUnregistered = fmt.Errorf("parent: %w: no resolver registered for type", authz.ErrInternal)

// ErrBadParent reports a resolver that returned an empty or malformed parent
// id, a cycle, or a chain deeper than the bound. Enforcement fails closed on
// it.
var ErrBadParent = fmt.Errorf("parent: %w: resolver returned no valid parent", authz.ErrInternal)

// Resolver finds the id of a child's parent.
type Resolver interface {
	// Parent returns the id of the parent of the child with id childID.
	// When the child does not exist it returns an error matching
	// [authz.ErrNotFound], or the store's own not-found as the natural
	// code would: [sql.ErrNoRows] and [fs.ErrNotExist] are recognised too,
	// so that a missing child answers not-found rather than a server error.
	Parent(ctx context.Context, childID string) (string, error)
}

// ResolverFunc adapts a function to a [Resolver].
type ResolverFunc func(ctx context.Context, childID string) (string, error)

// Parent calls f.
func (f ResolverFunc) Parent(ctx context.Context, childID string) (string, error) {
	return f(ctx, childID)
}

type entry struct {
	parentType string
	resolver   Resolver
}

// Registry maps child types to resolvers. The zero value is an empty
// registry with [DefaultMaxDepth]. A Registry is safe for concurrent use;
// registrations normally all happen at setup.
type Registry struct {
	// MaxDepth bounds the number of child links followed; zero means
	// [DefaultMaxDepth].
	MaxDepth int

	mu      sync.RWMutex // guards entries
	entries map[string]entry
}

// Register makes childType a child of parentType, resolved by r. It panics
// if childType is already registered, if either type is malformed, if r is
// nil, or if the registration closes a cycle of types: these are programmer
// errors at setup, like a duplicate [http.ServeMux] pattern.
func (g *Registry) Register(childType, parentType string, r Resolver) {
	if err := authz.ValidateType(childType); err != nil {
		panic(fmt.Sprintf("parent: Register: %v", err))
	}
	if err := authz.ValidateType(parentType); err != nil {
		panic(fmt.Sprintf("parent: Register: %v", err))
	}
	if isNil(r) {
		panic("parent: Register: nil resolver for " + childType)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.entries[childType]; dup {
		panic("parent: Register: duplicate registration for " + childType)
	}
	for t, seen := parentType, 0; ; seen++ {
		if t == childType {
			panic("parent: Register: " + childType + " would be its own ancestor")
		}
		e, ok := g.entries[t]
		if !ok || seen > len(g.entries) {
			break
		}
		t = e.parentType
	}
	if g.entries == nil {
		g.entries = make(map[string]entry)
	}
	g.entries[childType] = entry{parentType: parentType, resolver: r}
}

// IsChild reports whether typ is registered as a child type.
func (g *Registry) IsChild(typ string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.entries[typ]
	return ok
}

// TargetType returns the type that a resource of type typ is authorized
// as: typ itself if it is not a child, otherwise the nearest ancestor type
// that is not a child. It returns [ErrBadParent] if the chain is deeper
// than the bound.
func (g *Registry) TargetType(typ string) (string, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for range g.maxDepth() + 1 {
		e, ok := g.entries[typ]
		if !ok {
			return typ, nil
		}
		typ = e.parentType
	}
	return "", fmt.Errorf("%w: chain deeper than %d", ErrBadParent, g.maxDepth())
}

func (g *Registry) maxDepth() int {
	if g.MaxDepth > 0 {
		return g.MaxDepth
	}
	return DefaultMaxDepth
}

// Resolve returns the registered (non-child) resource that child inherits
// its permissions from, following child links up to the depth bound. A
// resource whose type is not a child is returned unchanged.
//
// Errors: whatever a resolver returns (an [authz.ErrNotFound] for a missing
// child is passed through unchanged, and [sql.ErrNoRows] or [fs.ErrNotExist]
// become [authz.ErrNotFound]); [ErrBadParent] for an empty or
// malformed parent id, a cycle or a chain over the bound. Resolve never
// returns a resource it did not validate.
func (g *Registry) Resolve(ctx context.Context, child authz.Resource) (authz.Resource, error) {
	cur := child
	for depth := 0; ; depth++ {
		g.mu.RLock()
		e, ok := g.entries[cur.Type]
		g.mu.RUnlock()
		if !ok {
			return cur, nil
		}
		if depth >= g.maxDepth() {
			return authz.Resource{}, fmt.Errorf("%w: chain deeper than %d", ErrBadParent, g.maxDepth())
		}
		id, err := e.resolver.Parent(ctx, cur.ID)
		if err != nil {
			if !errors.Is(err, authz.ErrNotFound) && (errors.Is(err, sql.ErrNoRows) || errors.Is(err, fs.ErrNotExist)) {
				// A store's not-found: the child does not exist.
				return authz.Resource{}, authz.ErrNotFound
			}
			return authz.Resource{}, err
		}
		if !authz.ValidID(id) {
			return authz.Resource{}, fmt.Errorf("%w: %s resolver returned a malformed id", ErrBadParent, cur.Type)
		}
		next := authz.Resource{Type: e.parentType, ID: id}
		if next == child || next == cur {
			return authz.Resource{}, fmt.Errorf("%w: cycle at %s", ErrBadParent, cur.Type)
		}
		cur = next
	}
}

// Require returns an error matching [ErrUnregistered] unless typ is a
// registered child type.
func (g *Registry) Require(typ string) error {
	if !g.IsChild(typ) {
		return fmt.Errorf("%w %q", ErrUnregistered, typ)
	}
	return nil
}

// isNil reports whether r is nil or a typed nil (a nil ResolverFunc, a nil
// pointer), which would panic at request time.
func isNil(r Resolver) bool {
	if r == nil {
		return true
	}
	switch v := reflect.ValueOf(r); v.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Interface, reflect.Chan, reflect.Slice:
		return v.IsNil()
	}
	return false
}
