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
// are still answered from memory, from the version of the relationships
// current when they start: they take no lock and wait for nothing, as
// in memory (a committed batch becomes a new version, published at
// once). Caveats (with their stored contexts) and
// expirations are stored with their relationships. Opening loads the file
// and validates every relationship, its caveat and expiration included,
// against the schema given; [Authorizer.Backup] copies a
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
//   - A relationship with an expiration exists until that instant
//     ([Config.Now]) and is invisible to every read from it on: checks,
//     lookups, subject lookups, ReadRelationships and Enumerate. In the
//     compact index a relationship's caveat and expiration are kept in a
//     side map, which checks consult only when it is not empty, so that
//     relationships without either cost nothing more.
//   - A caveated relationship counts as far as its caveat holds for the
//     relationship's stored context and the request's context (a stored
//     value wins). A caveat that lacks parameters makes the answer
//     conditional ([authz.Conditional], naming them) unless the rest of the
//     expression decides without it: HAS + COND is HAS, HAS & COND and
//     HAS − COND are COND, COND − HAS is NO, and COND with COND is COND
//     needing the parameters of both. Arrows over caveated relationships,
//     caveated subject sets and caveated wildcards carry the condition.
//   - `self` (with `use self`) holds for a subject that is the object
//     itself: of the object's type, with its id and no relation. On
//     org:o0, `permission view = self` holds for org:o0 and not for
//     user:o0, a subject of another type with the same id, in checks,
//     lookups and subject lookups alike, as the pinned SpiceDB's
//     CheckPermission, CheckBulkPermissions and LookupResources answer.
//     SpiceDB's LookupSubjects contradicts them (it lists user:o0 when
//     asked for the users of org:o0#view); this engine follows the checks.
//
// # Cycles and depth
//
// SpiceDB fails a check that dispatches 50 levels deep, which happens on
// cyclic relationships (a group that contains itself, directly or not) and
// on long chains, and whether its answer or its error wins can vary between
// runs. This engine answers instead, deterministically, with the least
// fixpoint: what SpiceDB answers on the same data with every cycle
// unrolled (every group given its transitive members). A check first runs
// without bookkeeping; one that goes 50 levels deep is run again in a
// cycle-aware mode that keeps the relations and permissions being
// evaluated on a stack and iterates to the fixpoint (see the evaluator's
// documentation). Two errors remain, both matching [authz.ErrInvalidRequest]:
//
//   - A value that depends on itself through the right side of an
//     exclusion (`permission view = viewer - parent->view` over a cycle of
//     parents, when the left side holds all around the cycle) has no least
//     fixpoint and no well-defined answer.
//   - A chain deeper than [MaxDepth] (100,000 levels) fails, to protect
//     the stack from hostile data.
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
//     graphs where the check of every resource answers; here it answers.
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
// subject the wildcard covers anyway, which this engine does not list. The
// same holds for `self`: SpiceDB's subject lookup lists user:o0 for
// org:o0's `permission view = self` while its checks deny user:o0; this
// engine lists only org:o0. Through rel.all(perm), every relationship
// that has not expired must hold: one whose caveat needs parameters or
// fails empties the arrow for a lookup (Check answers it conditional or
// NO), it is not skipped.
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
