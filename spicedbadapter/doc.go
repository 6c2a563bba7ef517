// Package spicedbadapter implements the fgac authorization port
// ([authz.Authorizer]) over SpiceDB's v1 gRPC API.
//
// The caller dials SpiceDB (with authzed-go, or with [Dial] for the nodes
// of a cluster, balanced round robin with health checks) and hands the
// client to [New]; the adapter itself never dials, logs or starts
// goroutines that outlive a call.
// SpiceDB's protos never appear in the adapter's results or errors.
//
// # Requests
//
// Every request is validated locally first (ids, names, wildcards), so a
// malformed request costs no round trip and fails with an error matching
// [authz.ErrInvalidRequest].
//
// # Errors
//
// Every error matches one sentinel of package authz with errors.Is; the
// SpiceDB error stays in the chain, so status.Code still reports its gRPC
// code:
//
//   - an unknown definition, relation or permission, a relationship the
//     schema does not allow, a malformed or expired cursor:
//     [authz.ErrInvalidRequest];
//   - a registration of a resource that already has other relationships:
//     [authz.ErrConflict];
//   - SpiceDB unreachable, overloaded, aborting or timing out:
//     [authz.ErrUnavailable], once the retries below are spent;
//   - rejected credentials: [authz.ErrUnavailable] and [ErrAuthentication],
//     never a denial;
//   - a cancelled or expired context: [authz.ErrUnavailable] and the
//     context's error. No call starts once the context is done.
//
// # Retries
//
// The adapter is fgac's one retry layer: callers, package dualwrite among
// them, make one call per operation and leave retrying to it, because it
// knows which failures are transient and which writes are safe to repeat.
// A SpiceDB call that fails with Unavailable, ResourceExhausted, Aborted or
// DeadlineExceeded is made at most three times in all
// ([DefaultMaxAttempts], [Config].MaxAttempts), waiting by default 25–50ms
// before the second attempt and 50–100ms before the third
// ([DefaultBackoffBase], [Config].BackoffBase); every other error is returned at
// once. No attempt
// starts, and no wait runs, past the caller's deadline, so the budget
// always fits inside it. Repeating a write is safe: Grant, Revoke, Write
// and Deregister are idempotent, and Register recognises its own earlier
// write after an ambiguous failure. The budget is per SpiceDB call: an
// operation that makes several (a Register that reads back after a
// conflict, a read repeated fully consistent after SpiceDB refused its
// token, a lookup or an enumeration over several pages) gives each its
// own. Under an outage every operation makes at most three calls: its
// first call fails, and it goes no further. On a client from [Dial] a
// repeat goes to the next healthy node, so a call that a dying node drops
// is answered by another within the same budget.
//
// A node can also stall without dying (a stopped process, a hung disk):
// its connection stays open and its health checks pass, but it answers
// nothing. So when the caller's context has a deadline, each attempt of a
// read but the last gets the time left divided by the attempts left, at
// least [Config].MinAttemptTimeout ([DefaultMinAttemptTimeout], 1s), and is
// then abandoned (DeadlineExceeded) and repeated; the last attempt gets
// what is left. Write attempts are never cut short: a write abandoned on a
// stalled node could still be applied when the node resumes, after its
// repeat and after the caller's next write (a revoked grant would come
// back), so a write on a stalled node fails at the caller's deadline, an
// ambiguous failure as any other.
//
// # Consistency
//
// Writes return the ZedToken of the write as an [authz.Token]. Reads map
// [authz.MinimizeLatency], [authz.AtLeastAsFresh] and [authz.FullyConsistent]
// to SpiceDB's requirements; a requirement without a token is fully
// consistent. If SpiceDB refuses a token (one from another engine, a
// malformed one, one older than the garbage-collection window), the read is
// repeated once fully consistent rather than failing or being answered
// with less freshness.
//
// # Paging
//
// Cursors are opaque. SpiceDB's LookupResources may repeat an id across its
// own cursors, so [Adapter.Lookup] with a limit pages over the whole,
// deduplicated set read at the exact snapshot of the first page: each id
// is returned once, and each page costs one full lookup.
// [Adapter.LookupSubjects] pages the same way, because SpiceDB's
// LookupSubjects has no cursors: each page reads the whole set at the
// snapshot of the first.
// [Adapter.Enumerate] follows SpiceDB's ReadRelationships cursors, which
// it carries with the consistency and page size they were made with, as
// SpiceDB requires.
//
// # Explanations
//
// [Adapter.Explain] converts SpiceDB's debug trace of a check. The trace
// has one node per relation or permission SpiceDB dispatched, and nothing
// for the operations between them, the arrows it walked or the
// relationships it found, so the adapter fills those in: the nodes of
// another object below a permission are grouped under an arrow node, those
// below a relation under a subject-set node; a relation that holds without
// a subject set that does ends in the relationship with the subject (or
// the wildcard that admits it: the trace does not say which), and one that
// does not in the relationships that were missing. When package schema can
// parse the schema SpiceDB reports it used, permissions show their
// expression, arrows their relation, permissions that SpiceDB checked
// through what they name show that step, and branches are listed in the
// order of the expression; otherwise (a schema with an import, for one)
// arrows show only their target and branches come in SpiceDB's order.
// Results SpiceDB took from its cache are marked and not expanded, and
// objects SpiceDB checked in one batch appear as one node with their ids
// joined by commas.
package spicedbadapter
