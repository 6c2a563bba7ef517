// Package dualwrite keeps a service's own store and the authorization graph
// in step when resources are created, deleted and shared, so that no
// committed row is left without its owner's permissions and no stale
// registration can ever serve anything.
//
// A service owns two sources of truth that cannot share a transaction: its
// store (which rows exist) and the authorization engine (who may do what to
// them). [Writer] orders the two writes so that every failure leaves, at
// worst, a registration without a row (an "orphan"), never the reverse, and
// [Reconciler] finds and removes orphans later. An orphan is harmless
// because every read path needs both the row and the permission: with no
// row there is nothing to serve, whatever the graph says. A row without a
// registration, by contrast, is a resource its owner cannot reach, so the
// order of writes is chosen to avoid it.
//
// # Create
//
// [Writer.Create] registers first, then persists:
//
//  1. Register the resource's owner and parent in one atomic write
//     ([authz.Registrar.Register]). If this fails nothing is persisted and
//     nothing is compensated. Register has create semantics: a resource
//     registered by someone else is an [authz.ErrConflict] and nothing is
//     written, so a later compensation can never remove relationships that
//     this create did not write. It is one Register call: the engine
//     retries unavailability, and because an identical registration is
//     accepted as a retry, its retry after an ambiguous timeout succeeds
//     without writing twice.
//  2. Persist the row. If Persist returns an error, panics, exits its
//     goroutine, or returns because the caller's context was cancelled or
//     timed out, Create compensates: it first asks the store (the optional
//     Exists function) whether the row committed anyway, and keeps the
//     registration if so; otherwise it deregisters. The compensation runs
//     under context.WithoutCancel of the caller's context with its own
//     timeout, because the moment it is most needed is when the caller's
//     context is already done.
//
// The caller always gets Persist's own error: a compensation failure (a
// read-back that panicked included) is attached ([CompensationError],
// which unwraps to the original only) and never replaces it; a panic of
// Persist is re-raised with its original value after compensating (not
// converted to an error, so that values such as http.ErrAbortHandler keep
// their meaning and a programmer error is not mistaken for a storage
// failure). This holds even when the read-back found the row committed: dualwrite keeps the graph in step with the store but
// never changes the store's answer. With the gate on, Create returns nil
// only when the row is committed and registered.
//
// Registering before persisting is what makes the failure modes one-sided.
// Persisting first would leave, after a register failure or a crash, a
// committed row with no owner; registering first leaves, after a persist
// failure or a crash, an orphan, which grants nothing.
//
// Create waits for Persist to return before it compensates, so Persist must
// honour its context. If Persist cannot tell whether it committed, supply
// Exists, which must recognise this create's row (id and owner, or an
// idempotency key), not merely a row with the id. A read-back that itself
// fails, panics or exits its goroutine keeps the registration: an orphan
// at worst.
//
// # Delete
//
// [Writer.Delete] resolves the id (by name if need be), deletes the row,
// then deregisters. The row goes first because the store is the source of
// truth for existence: once the row is gone nothing is served, whatever
// the graph says, while deregistering first would leave, if the row delete
// then failed, a live row without permissions. The deregistration is best
// effort: one Deregister call, detached from the caller's context and
// bounded by its own timeout; if it fails, the delete succeeds anyway and
// the failure is reported (a DeregisterFailed event) for the reconciler
// and the operators. A missing row is a no-op and deregisters nothing.
//
// # Grants
//
// [Writer.Grant] shares a resource (a viewer, an editor) without leaving
// a grant on a row that a concurrent delete removed: a request authorized
// to share reaches its write after another request deleted the row and
// deregistered the resource, and its grant would outlive the row. Grant
// writes the relationship, then asks the store (Exists) whether the row is
// still there, and revokes the grant if it is not, answering
// [authz.ErrNotFound]. Its documentation explains why this order, and no
// other, closes the race against Delete's. If the store cannot tell, the
// grant stays and Grant returns the store's error: revoking then could
// remove a share that existed before the call from a live row, while a
// grant left on a row that is gone grants nothing to a service that
// confirms rows in every decision, and the reconciler removes it. Grant
// refuses the owner and parent relations, which registration alone writes.
//
// # Retries and time
//
// dualwrite does not retry; the engine does, at most three attempts within
// the caller's deadline (package spicedbadapter states the budget). Each
// authorization write of a [Writer] and each repair of a [Reconciler] is
// one engine call, so a deregistration under an outage costs at most three
// calls to SpiceDB, not one engine budget per dualwrite retry. Detached
// cleanup (compensation, deregistration after delete, the revocation of a
// grant on a deleted row) runs under its own CleanupTimeout
// ([DefaultCleanupTimeout], two seconds), which is also the longest a
// Delete whose deregistration hangs holds its caller once the row is
// gone. A cleanup that fails or runs out of time leaves an orphan for the
// reconciler.
//
// # Gating
//
// Writer.Gate turns the authorization writes off per call (per tenant or
// resource type) while the store writes go on, for staged rollouts; Grant
// then writes nothing. Each skipped write is reported (SkippedByGate), and
// the reconciler reports the rows written while the gate was off, and
// registers them once it is on: that is the backfill. Nothing is skipped silently: unlike a bypass, the
// gate is configuration, not something a request can carry.
//
// # Hook
//
// The package never logs. Writer and Reconciler report every step that
// operators care about through [Hook]: registered, compensated,
// compensation failed, registration kept, read-back failed, deregistered,
// deregister failed, granted, grant revoked, grant revoke failed, grant
// unconfirmed, skipped by the gate, and the reconciler's findings and
// repairs. Events name the
// resource, never the owner or caller. [Counter] counts them with atomic
// counters.
//
// # Reconciliation
//
// [Reconciler.Reconcile] compares the two views of one resource type in
// pages. It enumerates the graph's registrations
// ([authz.Inspector.Enumerate]) a page at a time and asks the store which
// of them have rows (one batch query per page); those without are orphans
// and are deregistered. It then pages through the store's rows and reads
// each one's relationships ([authz.Inspector.ReadRelationships], a few rows
// at a time); a row with none is registered again from the owner and parent
// the store records. Memory is bounded by the page size, not by the table:
// no id list outlives its page. A pass is idempotent: a second pass over an
// unchanged store finds nothing. Because an orphan may be a create in
// flight, the reconciler asks the store again after removing orphans and
// re-registers any row that has appeared.
//
// A row that has relationships is taken as registered unless
// Reconciler.VerifyOwnership is set. Then the reconciler also compares the
// row's owner and parent in the graph with those the store records (one
// Registration call per registered row) and, if they differ, reports an
// OwnershipMismatch and replaces them in one atomic write
// ([authz.RelationshipWriter]) that leaves every other relation, such as a
// viewer grant, alone. What the store provides is what Register would
// write from the request Registration returns
// ([authz.RegisterRequest.Relationships]): the owner in its OwnerRelation
// and the parent, if any, in its ParentRelation, "owner" and "parent" where
// the request leaves them empty. Both relations of the row are the store's
// to decide: another subject in either, or a parent where the store
// records none, is a mismatch and is removed. So turn it on only where
// those two relations are written by registration alone. Ownership, too,
// is the store's: a service that changes a row's owner must change the row
// before the graph, or a verifying pass in between puts the old owner back
// until the next pass.
//
// # Limits
//
// Every gap below fails closed (a row its owner cannot reach, never a
// resource someone else can) except the last two, which is why they come
// with advice.
//
//   - Without Exists, a row that committed although Persist reported an
//     error loses its registration until the next reconciler pass. So does
//     a row committed by a store after Persist has returned (a driver that
//     gives up on a commit the server still applies).
//   - A create whose Persist commits after the reconciler's second look at
//     an apparent orphan leaves its row unregistered until the next pass.
//   - A grant that the engine applies after Grant has returned (a write
//     the client abandoned and the server applied anyway), whose row's
//     existence Exists could not tell, or whose revocation failed, stays
//     on a deleted row until the reconciler removes it; like any orphan, it serves nothing while the row is
//     gone. Exists must read the store's committed state: a replica that
//     lags may report a deleted row as present.
//   - Because Register accepts an identical registration as a retry, a
//     create repeated with the same owner for an existing resource reuses
//     that resource's registration; if its Persist then fails, only Exists
//     keeps the compensation from removing it.
//   - Register's create semantics protect registered resources only. A row
//     that has no registration (written while the gate was off, or left by
//     the first gap) can be registered by a create for the same id by
//     someone else. Its Persist then fails on the duplicate key and the
//     compensation removes that registration; but if the compensation or
//     the read-back fails (reported as CompensationFailed or
//     ReadBackFailed), or the process dies in between, the foreign
//     registration stays. A reconciler without VerifyOwnership sees a
//     registered row and leaves it so; with VerifyOwnership the next pass
//     reports it and gives the row its owner and parent back, but until
//     then the foreign owner can reach the row. (A compensation that comes
//     after that repair removes the row's registration altogether, which
//     fails closed until the pass after.) Generate ids on the server, not
//     from client input, backfill (reconcile with the gate on) before
//     enabling reads for a tenant, and reconcile with VerifyOwnership
//     wherever rows were ever written unregistered.
//   - An id used again for a new row after its old row was deleted (a
//     name-derived or client-chosen id) is, to every engine call, the same
//     resource. A grant in flight while the old row is deleted and the new
//     one created can land after the new registration; Exists then finds a
//     row and the grant stays, on the new row: its grantee reaches a row
//     whose owner never shared it. Likewise a verifying pass that read the
//     old row's owner can write it beside the new row's owner, until the
//     next pass; and a deletion's deregistration, or a compensation, still
//     in flight when the id is created again removes the new row's owner
//     and shares (this one fails closed, but the shares are lost; the
//     reconciler restores only the owner). None of this happens with ids
//     that are never reused: generate them on the server (random or
//     sequential, never recycled). Where ids must be reused, give Exists
//     the row's identity, not just its id (a generation or creation time
//     read when the grant was authorized), so that it answers false for a
//     new row with the old id.
//   - CleanupTimeout bounds a cleanup step only where the step honours its
//     context: the engine's calls do (the SpiceDB adapter and memadapter
//     return at the deadline), but Exists, Registration and a custom
//     Registrar that ignore ctx hold Create, Delete and Reconcile for as
//     long as they take.
package dualwrite
