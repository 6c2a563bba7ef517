package dualwrite

import (
	"context"
	"sync/atomic"

	"github.com/fgac-go/fgac/authz"
)

// Kind says what happened in an [Event].
type Kind uint8

// The kinds of [Event]. Writer emits the first eight and the last four;
// Reconciler emits SkippedByGate and OrphanFound through OwnershipRepaired.
const (
	// Registered: Create registered the resource and is about to persist it.
	Registered Kind = iota + 1
	// SkippedByGate: the gate turned authorization writes off for the
	// resource; the store write went ahead (or, in a reconciler, the repair
	// was left undone). The reconciler reports such rows until the gate is on.
	SkippedByGate
	// Compensated: Persist failed and the registration was removed.
	Compensated
	// CompensationFailed: Persist failed and removing the registration failed
	// too (Event.Err says why). The orphan registration grants nothing,
	// because the row does not exist; the reconciler removes it.
	CompensationFailed
	// RegistrationKept: Persist reported an error but the read-back found
	// the row committed, so the registration was kept.
	RegistrationKept
	// ReadBackFailed: Persist reported an error and the read-back failed
	// (Event.Err), so whether the row exists is unknown. The registration
	// was kept rather than risk a committed row without permissions; the
	// reconciler decides later.
	ReadBackFailed
	// Deregistered: Delete removed the resource's relationships after
	// deleting its row.
	Deregistered
	// DeregisterFailed: Delete deleted the row but could not remove its
	// relationships (Event.Err). The delete still succeeded; the orphan
	// grants nothing and the reconciler removes it.
	DeregisterFailed
	// OrphanFound: the reconciler found a registration without a row.
	OrphanFound
	// OrphanRemoved: the reconciler deregistered an orphan.
	OrphanRemoved
	// UnregisteredFound: the reconciler found a row without a registration.
	UnregisteredFound
	// Reregistered: the reconciler registered a row from the owner and
	// parent the store gave.
	Reregistered
	// RepairFailed: a reconciler repair (removal, registration or
	// ownership repair) failed (Event.Err); the next pass tries again.
	RepairFailed
	// OwnershipMismatch: a reconciler with VerifyOwnership found a row whose
	// owner or parent relationships in the graph are not the ones the store
	// records, such as another user's registration. The event names the
	// resource only, neither the owner found nor the one expected.
	OwnershipMismatch
	// OwnershipRepaired: the reconciler replaced the wrong owner and parent
	// relationships with the store's, leaving every other relationship.
	OwnershipRepaired
	// Granted: Grant wrote the relationship and found the resource's row
	// still there.
	Granted
	// GrantRevoked: Grant revoked the relationship it wrote (or tried to)
	// because the resource's row was gone.
	GrantRevoked
	// GrantRevokeFailed: Grant had to revoke the relationship, the row
	// being gone, and could not (Event.Err). The reconciler removes it.
	GrantRevokeFailed
	// GrantUnconfirmed: Grant wrote the relationship (or may have) but
	// Exists failed, panicked or exited its goroutine (Event.Err), so
	// whether the row exists is unknown. The relationship was left in
	// place rather than risk revoking a live row's share; if the row is
	// gone, it grants nothing and the reconciler removes it.
	GrantUnconfirmed

	numKinds
)

// String returns the kind in snake case, such as "compensation_failed",
// suitable as a metric label.
func (k Kind) String() string {
	switch k {
	case Registered:
		return "registered"
	case SkippedByGate:
		return "skipped_by_gate"
	case Compensated:
		return "compensated"
	case CompensationFailed:
		return "compensation_failed"
	case RegistrationKept:
		return "registration_kept"
	case ReadBackFailed:
		return "read_back_failed"
	case Deregistered:
		return "deregistered"
	case DeregisterFailed:
		return "deregister_failed"
	case OrphanFound:
		return "orphan_found"
	case OrphanRemoved:
		return "orphan_removed"
	case UnregisteredFound:
		return "unregistered_found"
	case Reregistered:
		return "reregistered"
	case RepairFailed:
		return "repair_failed"
	case OwnershipMismatch:
		return "ownership_mismatch"
	case OwnershipRepaired:
		return "ownership_repaired"
	case Granted:
		return "granted"
	case GrantRevoked:
		return "grant_revoked"
	case GrantRevokeFailed:
		return "grant_revoke_failed"
	case GrantUnconfirmed:
		return "grant_unconfirmed"
	}
	return "unknown"
}

// Event reports one step of a dual write. It names the resource and never
// the owner, parent or caller.
type Event struct {
	// Kind is what happened.
	Kind Kind
	// Resource is the resource concerned.
	Resource authz.Resource
	// Err is the error of the failed step for CompensationFailed,
	// ReadBackFailed, DeregisterFailed, RepairFailed, GrantRevokeFailed and
	// GrantUnconfirmed; nil otherwise.
	Err error
}

// Hook receives the events of a [Writer] or [Reconciler], so that a
// service can log, count and alert. The package itself never logs.
// Observe is called synchronously, outside any lock, possibly from several
// goroutines at once; it must be safe for concurrent use and should return
// quickly. ctx carries the caller's values but, for cleanup steps, not its
// cancellation.
type Hook interface {
	// Observe receives one event.
	Observe(ctx context.Context, e Event)
}

// HookFunc adapts a function to [Hook].
type HookFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f HookFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// Counter is a [Hook] that counts events by kind. The zero Counter is
// ready to use and it is safe for concurrent use.
type Counter struct {
	counts [numKinds]atomic.Int64
}

var _ Hook = (*Counter)(nil)

// Observe counts e.
func (c *Counter) Observe(_ context.Context, e Event) {
	if e.Kind > 0 && e.Kind < numKinds {
		c.counts[e.Kind].Add(1)
	}
}

// Count returns the number of events of kind k observed so far.
func (c *Counter) Count(k Kind) int64 {
	if k == 0 || k >= numKinds {
		return 0
	}
	return c.counts[k].Load()
}

// Counts returns the non-zero counts by kind.
func (c *Counter) Counts() map[Kind]int64 {
	m := make(map[Kind]int64)
	for k := Kind(1); k < numKinds; k++ {
		if n := c.counts[k].Load(); n != 0 {
			m[k] = n
		}
	}
	return m
}

// observe sends e to h if h is set.
func observe(ctx context.Context, h Hook, e Event) {
	if h != nil {
		h.Observe(ctx, e)
	}
}
