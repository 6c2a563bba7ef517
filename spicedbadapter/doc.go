// Package spicedbadapter implements the fgac authorization port
// ([authz.Authorizer]) over SpiceDB's v1 gRPC API.
//
// The caller dials SpiceDB (with authzed-go) and hands the client to [New];
// the adapter never dials, logs or starts goroutines that outlive a call.
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
//     [authz.ErrUnavailable], after at most three repeats (by default)
//     with jittered exponential backoff that never outlasts the caller's
//     deadline;
//   - rejected credentials: [authz.ErrUnavailable] and [ErrAuthentication],
//     never a denial;
//   - a cancelled or expired context: [authz.ErrUnavailable] and the
//     context's error. No call starts once the context is done.
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
// [Adapter.Enumerate] follows SpiceDB's ReadRelationships cursors, which
// it carries with the consistency and page size they were made with, as
// SpiceDB requires.
package spicedbadapter
