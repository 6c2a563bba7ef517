package benchmarks

import (
	"context"
	"fmt"
	"net/http"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// schema is the model of every benchmark: agents own tasks, and whoever
// may read an agent may read its tasks.
const schema = `
definition user {}

definition agent {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
	permission update = owner
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user
	permission read = owner + viewer + parent->read
	permission update = owner + parent->update
}
`

var ops = map[string]map[authz.Operation]string{
	"agent": {authz.OpRead: "read", authz.OpUpdate: "update"},
	"task":  {authz.OpRead: "read", authz.OpUpdate: "update"},
}

// tasksPerAgent is how many tasks each agent of a check graph has.
const tasksPerAgent = 100

func agentID(i int) string { return fmt.Sprintf("a%05d", i) }
func ownerID(i int) string { return fmt.Sprintf("owner-%05d", i) }
func taskID(i int) string  { return fmt.Sprintf("t%07d", i) }

func userSubject(id string) authz.Subject { return authz.Subject{Type: "user", ID: id} }

// checkGraph returns the relationships of n tasks under n/tasksPerAgent
// agents: task i has parent agent i/tasksPerAgent, which user owner-<that
// agent> owns. It is the fgac side of the casbin comparison: one
// relationship per casbin policy line.
func checkGraph(n int) []authz.Relationship {
	rels := make([]authz.Relationship, 0, n+n/tasksPerAgent)
	for a := range n / tasksPerAgent {
		rels = append(rels, authz.Relationship{Resource: authz.Resource{Type: "agent", ID: agentID(a)}, Relation: "owner", Subject: userSubject(ownerID(a))})
	}
	for i := range n {
		rels = append(rels, authz.Relationship{
			Resource: authz.Resource{Type: "task", ID: taskID(i)}, Relation: "parent",
			Subject: authz.Subject{Type: "agent", ID: agentID(i / tasksPerAgent)},
		})
	}
	return rels
}

// writer is the write side of an engine.
type writer interface {
	Write(context.Context, authz.WriteRequest) (authz.Token, error)
}

// writeAll writes rels in batches of at most 500 (SpiceDB takes 1,000 per
// call) and returns the last token.
func writeAll(ctx context.Context, w writer, rels []authz.Relationship) (authz.Token, error) {
	var tok authz.Token
	for start := 0; start < len(rels); start += 500 {
		var err error
		tok, err = w.Write(ctx, authz.WriteRequest{Touch: rels[start:min(start+500, len(rels))]})
		if err != nil {
			return authz.Token{}, err
		}
	}
	return tok, nil
}

// memEngine returns a memadapter engine holding rels.
func memEngine(rels []authz.Relationship) (*memadapter.Authorizer, error) {
	a, err := memadapter.New(schema)
	if err != nil {
		return nil, err
	}
	if _, err := writeAll(context.Background(), a, rels); err != nil {
		return nil, err
	}
	return a, nil
}

// statusWriter is a ResponseWriter that keeps only the status.
type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(code int)        { w.code = code }
