// Package memadapter is an in-process authorization engine that evaluates
// a SpiceDB schema as SpiceDB does, for tests, examples and single-process
// deployments that need no SpiceDB.
//
// An [Authorizer] holds its relationships in memory and implements the
// whole [authz.Authorizer] port. Every read sees every acknowledged write,
// so consistency requirements and tokens are accepted and need nothing.
//
// # Durability
//
// [New] keeps relationships in memory only, for tests. [Open] keeps them
// in a file as well (a bbolt database: go.etcd.io/bbolt, etcd's embedded
// store): a write is acknowledged only once it is committed and fsynced,
// concurrent writers share one commit and fsync (group commit), and reads
// are still answered from memory, waiting for nothing but the in-memory
// apply of a committed batch. Opening loads the file and validates every
// relationship against the schema given; [Authorizer.Backup] copies a
// consistent state while the engine serves; [Authorizer.Close] releases
// the file. The engine starts no goroutines.
//
// # Evaluation
//
// Checks follow SpiceDB's dispatch (v1.56, internal/graph/check.go):
//
//   - A relation holds for a relationship with exactly the subject (type,
//     id and subject relation), for a wildcard relationship (user:*) of the
//     type of a subject without a subject relation, and through a
//     subject-set relationship (group:eng#member) whose set holds the
//     subject. A subject set group:eng#member is itself a member of
//     group:eng#member.
//   - "+", "&", "-" and nil are union, intersection, exclusion and the
//     empty set. rel->perm and rel.any(perm) hold if perm holds on the
//     object of any subject of rel (the subject relation is ignored;
//     subject types without perm are skipped); rel.all(perm) holds if rel
//     has a subject and perm holds on all of them.
//   - Every relation or permission reached is one level of depth, the
//     checked one being level 0, except that a permission that only names
//     another (permission view = viewer) is replaced by what it names at
//     the same level when the subject's type is not the resource's. A check
//     that reaches level [MaxDepth] fails with a depth error, which matches
//     [authz.ErrInvalidRequest]: SpiceDB answers FAILED_PRECONDITION, which
//     spicedbadapter translates the same way.
//
// Depth errors come from cycles or very long chains in the relationships.
// SpiceDB evaluates branches concurrently and answers with the first that
// decides, except where it waits for all of them, so whether an error or
// an answer wins can vary between runs. This engine is deterministic and as
// close as a deterministic rule gets: the branches of a union or an
// intersection are taken in source order and the first that decides (an
// allow for a union, a denial for an intersection, or an error) wins;
// under an intersection or an exclusion, where SpiceDB waits for every
// branch, any error in a union or arrow wins; elsewhere an allow through
// any subject of an arrow or any subject set of a relation wins; an
// all-arrow fails if any of its subjects fails. On 40 random graphs with
// cycles (45,760 checks) this agreed with SpiceDB v1.56.2 on all but 37
// checks, each between an answer and a depth error, 7 of which SpiceDB did
// not finish within 10 seconds.
//
// # Lookups
//
// [Authorizer.Lookup] returns exactly the ids that [Authorizer.Check]
// allows. Two places where SpiceDB itself is inconsistent are therefore
// resolved in favour of agreement:
//
//   - SpiceDB's check lets a wildcard admit a subject set of its type
//     (group:eng#member through group:*), while its lookup does not; here
//     neither does.
//   - SpiceDB's lookup fails with a depth error on many cyclic or deep
//     graphs where the check of every resource answers; here a lookup fails
//     only if the check of one of its candidates fails.
//
// # Subject lookups
//
// [Authorizer.LookupSubjects] answers "who holds this permission?" as
// SpiceDB's LookupSubjects does: a wildcard relationship stays a wildcard,
// exclusions become its excluded subjects, and the subjects listed beside
// a wildcard are those SpiceDB lists. It differs where SpiceDB's subject
// lookup disagrees with its check, and follows the check: rel.all(perm)
// over an object without perm holds for nobody (SpiceDB's lookup skips that
// object). Beside a wildcard, that skip can also make SpiceDB list a
// subject the wildcard covers anyway, which this engine does not list.
// Recursive groups are computed as a least fixpoint, so a subject
// lookup never fails with a depth error where a check would, in time and
// memory about linear in the relationships it reaches: the lookup finds
// the strongly connected components of the (relation, object) pairs it
// reaches, gathers a union of nested or cyclic groups in one walk, and
// iterates only a component with a cycle through an intersection, an
// exclusion or an all-arrow. A permission that excludes something derived
// from itself gets its well-founded value (the alternating fixpoint); a
// lookup that reads a set holding a subject neither in nor out of it (view
// = viewer - view) is an error matching [authz.ErrInvalidRequest].
// On two runs of 200 random graphs (57,315 and 60,136 subject lookups)
// this agreed with SpiceDB v1.56.2 everywhere except in 55 and 40 lookups
// where SpiceDB's lookup contradicted its own checks, all in schemas with
// rel.all; there it agreed with SpiceDB's checks.
//
// # Explanations
//
// [Authorizer.Explain] evaluates a check as [Authorizer.Check] does,
// branch for branch, and records the evaluation: permissions with their
// expression, the union, intersection and exclusion nodes, arrows with the
// relation walked and one child per object walked to, subject sets, and
// the relationships (or wildcards) that granted access or were missing.
// The root's result is always Check's decision.
package memadapter
