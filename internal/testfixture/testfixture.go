// Package testfixture is the agent/task world that fgac's tests share: one
// schema, its operation map, and a [authz.Guard] over memadapter whose
// engine calls are recorded, so that every package's tests ask their
// questions of the same model instead of a pasted copy of it.
//
// The schema is the reference system of behaviour.md: users own agents and
// tasks; a task's parent agent lends it its read and update permissions.
// Tests that need a different schema for a reason (a setup mistake, a
// relation the schema lacks) build their own and say why.
package testfixture

import (
	"context"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/calllog"
	"github.com/fgac-go/fgac/memadapter"
)

// Schema models the reference system: agents own tasks; tasks carry the
// permissions of their children (messages, checked as their task).
const Schema = `
definition user {}

definition agent {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
	permission update = owner
	permission execute = owner
	permission delete = owner
}

definition task {
	relation parent: agent
	relation owner: user
	relation editor: user
	relation viewer: user
	permission read = owner + editor + viewer + parent->read
	permission update = owner + editor + parent->update
	permission delete = owner
	permission cancel = owner
}
`

// ConditionSchema is a task world whose grants may hang on the client's
// network (a caveat), for the tests of conditional decisions: a viewer or
// a canceller "with on_network" is allowed only when the request's
// context carries an ip inside the stored cidr.
const ConditionSchema = `
caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}

definition user {}

definition task {
	relation owner: user
	relation viewer: user | user with on_network
	relation canceller: user with on_network
	permission read = owner + viewer
	permission cancel = owner + canceller
}
`

// Operations returns the operation mapping of [Schema], for
// [authz.NewOperationMap]. It returns a new map on every call, so a test
// may change its copy.
func Operations() map[string]map[authz.Operation]string {
	return map[string]map[authz.Operation]string{
		"agent": {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpExecute: "execute", authz.OpDelete: "delete"},
		"task":  {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpDelete: "delete", authz.OpCancel: "cancel", authz.OpExecute: "update"},
	}
}

// Engine returns a new, empty memadapter engine on [Schema].
func Engine(t testing.TB) *memadapter.Authorizer {
	t.Helper()
	engine, err := memadapter.New(Schema)
	if err != nil {
		t.Fatalf("testfixture: %v", err)
	}
	return engine
}

// OperationMap returns [Operations] validated against [Schema].
func OperationMap(t testing.TB) *authz.OperationMap {
	t.Helper()
	ops, err := authz.NewOperationMap(Engine(t), Operations())
	if err != nil {
		t.Fatalf("testfixture: %v", err)
	}
	return ops
}

// World is an engine on [Schema] and a Guard over it that records the
// calls the engine receives. Its helpers write through Engine and keep the
// token of the last write in Token; they are not safe for concurrent use.
type World struct {
	// Engine is the graph.
	Engine *memadapter.Authorizer
	// Calls records the calls that reach the engine through Guard.
	Calls *calllog.Recorder
	// Guard answers with [Operations] over Calls.
	Guard *authz.Guard
	// Token is the token of the last write made by the World's helpers.
	Token authz.Token
}

// New returns a World whose Guard asks the engine directly.
func New(t testing.TB) *World { return NewWrapped(t, nil) }

// NewWrapped returns a World whose Guard asks wrap(engine), for tests that
// inject faults between the Guard and the engine; the recorder sees the
// calls that reach wrap. A nil wrap means the engine itself.
func NewWrapped(t testing.TB, wrap func(authz.Authorizer) authz.Authorizer) *World {
	t.Helper()
	w := &World{Engine: Engine(t)}
	var backend authz.Authorizer = w.Engine
	if wrap != nil {
		backend = wrap(w.Engine)
	}
	w.Calls = calllog.New(backend)
	ops, err := authz.NewOperationMap(w.Engine, Operations())
	if err != nil {
		t.Fatalf("testfixture: %v", err)
	}
	w.Guard = authz.NewGuard(w.Calls, ops)
	return w
}

// Register registers res with owner (and parent, if not nil).
func (w *World) Register(t testing.TB, res authz.Resource, owner authz.Subject, parent *authz.Resource) {
	t.Helper()
	tok, err := w.Engine.Register(context.Background(), authz.RegisterRequest{Resource: res, Owner: owner, Parent: parent})
	if err != nil {
		t.Fatalf("testfixture: register %s: %v", res, err)
	}
	w.Token = tok
}

// RegisterTask registers task id, owned by user owner.
func (w *World) RegisterTask(t testing.TB, id, owner string) {
	t.Helper()
	w.Register(t, Task(id), User(owner), nil)
}

// Grant writes the relationship res#relation@subject.
func (w *World) Grant(t testing.TB, res authz.Resource, relation string, subject authz.Subject) {
	t.Helper()
	tok, err := w.Engine.Grant(context.Background(), authz.GrantRequest{Relationship: authz.Relationship{Resource: res, Relation: relation, Subject: subject}})
	if err != nil {
		t.Fatalf("testfixture: grant %s#%s@%s: %v", res, relation, subject, err)
	}
	w.Token = tok
}

// Fresh returns a consistency at least as fresh as the World's last write.
func (w *World) Fresh() authz.Consistency { return authz.AtLeastAsFresh(w.Token) }

// User returns the subject user:id.
func User(id string) authz.Subject { return authz.Subject{Type: "user", ID: id} }

// Task returns the resource task:id.
func Task(id string) authz.Resource { return authz.Resource{Type: "task", ID: id} }
