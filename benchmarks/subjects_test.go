package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// subjectsSchema gives tasks readers through groups and their agent.
const subjectsSchema = `
definition user {}

definition group {
	relation member: user | group#member
}

definition agent {
	relation owner: user
	relation viewer: user | group#member
	permission read = owner + viewer
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user | group#member
	permission read = owner + viewer + parent->read
}
`

// subjectsReaders is how many users may read the task of the subject
// lookup benchmarks: its owner, its agent's owner and the members of 10
// groups that may view the agent.
const subjectsReaders = 1_000

// subjectsGraph returns the relationships of task t1 under agent a1.
func subjectsGraph() []authz.Relationship {
	agent, task := authz.Resource{Type: "agent", ID: "a1"}, authz.Resource{Type: "task", ID: "t1"}
	rels := []authz.Relationship{
		{Resource: agent, Relation: "owner", Subject: userSubject("agent-owner")},
		{Resource: task, Relation: "parent", Subject: authz.Subject{Type: "agent", ID: "a1"}},
		{Resource: task, Relation: "owner", Subject: userSubject("task-owner")},
	}
	for g := range 10 {
		rels = append(rels, authz.Relationship{Resource: agent, Relation: "viewer", Subject: authz.Subject{Type: "group", ID: fmt.Sprintf("g%d", g), Relation: "member"}})
	}
	for i := range subjectsReaders - 2 {
		rels = append(rels, authz.Relationship{Resource: authz.Resource{Type: "group", ID: fmt.Sprintf("g%d", i%10)}, Relation: "member", Subject: userSubject(fmt.Sprintf("u%04d", i))})
	}
	return rels
}

// BenchmarkSpiceDBSubjectsOverhead compares the adapter's LookupSubjects
// (who may read a task readable by 1,000 users through 10 groups and its
// agent) with the raw authzed-go LookupSubjects a user would write, reading
// the stream into a slice of ids, paired and interleaved as
// BenchmarkSpiceDBAdapterOverhead is. overhead-% is (adapter - raw) / raw
// for the adapter as raw as the raw call (UnverifiedLookups: it does not
// confirm the answer with checks); verified-us/lookup is the default
// adapter, which confirms every subject with one bulk check.
func BenchmarkSpiceDBSubjectsOverhead(b *testing.B) {
	ctx := context.Background()
	client := spicedbtest.Client(b)
	if _, err := spicedbadapter.WriteSchema(ctx, client, subjectsSchema); err != nil {
		b.Fatal(err)
	}
	adapter := spicedbadapter.New(client, &spicedbadapter.Config{UnverifiedLookups: true})
	verified := spicedbadapter.New(client, nil)
	tok, err := writeAll(ctx, adapter, subjectsGraph())
	if err != nil {
		b.Fatal(err)
	}
	raw := func() error {
		stream, err := client.LookupSubjects(ctx, &v1.LookupSubjectsRequest{
			Consistency:       &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: &v1.ZedToken{Token: tok.Value()}}},
			Resource:          &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
			Permission:        "read",
			SubjectObjectType: "user",
		})
		if err != nil {
			return err
		}
		var ids []string
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			ids = append(ids, resp.GetSubject().GetSubjectObjectId())
		}
		if len(ids) < subjectsReaders {
			return fmt.Errorf("raw lookup found %d subjects, want %d", len(ids), subjectsReaders)
		}
		return nil
	}
	req := authz.SubjectLookupRequest{Resource: authz.Resource{Type: "task", ID: "t1"}, Permission: "read", SubjectType: "user", Consistency: authz.AtLeastAsFresh(tok)}
	viaAdapter := func() error {
		res, err := adapter.LookupSubjects(ctx, req)
		if err == nil && len(res.Subjects) != subjectsReaders {
			err = fmt.Errorf("adapter found %d subjects, want %d", len(res.Subjects), subjectsReaders)
		}
		return err
	}
	viaVerified := func() error {
		res, err := verified.LookupSubjects(ctx, req)
		if err == nil && len(res.Subjects) != subjectsReaders {
			err = fmt.Errorf("verified adapter found %d subjects, want %d", len(res.Subjects), subjectsReaders)
		}
		return err
	}
	var raws, adapters, verifieds []time.Duration
	timed := func(f func() error, into *[]time.Duration) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(start))
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			timed(raw, &raws)
			timed(viaAdapter, &adapters)
		} else {
			timed(viaAdapter, &adapters)
			timed(raw, &raws)
		}
		if i%4 == 0 {
			timed(viaVerified, &verifieds)
		}
		i++
	}
	r, a := median(raws), median(adapters)
	b.ReportMetric(float64(median(verifieds).Microseconds()), "verified-us/lookup")
	b.ReportMetric(float64(r.Microseconds()), "raw-us/lookup")
	b.ReportMetric(float64(a.Microseconds()), "adapter-us/lookup")
	b.ReportMetric(100*float64(a-r)/float64(r), "overhead-%")
}
