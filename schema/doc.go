// Package schema parses the SpiceDB schema language into a validated syntax
// tree, so that an in-process engine can evaluate exactly the schema that
// SpiceDB is given, and so that setup code can check operation mappings
// against it.
//
// The accepted language is SpiceDB's (v1.56) without imports and partials:
//
//	use expiration
//
//	caveat on_network(ip ipaddress, cidr string) {
//		ip.in_cidr(cidr)
//	}
//
//	definition user {}
//
//	/** task is a unit of work owned by an agent. */
//	definition org/task {
//		relation parent: agent
//		relation viewer: user | user:* | group#member
//		permission read = viewer + parent->read
//		permission edit = owner & (editor - banned)
//		permission audit = reviewers.all(approve)
//		relation guest: user with on_network and expiration
//	}
//
// A caveat's CEL expression is type-checked and compiled once, by [Parse],
// with SpiceDB's parameter types (int, uint, bool, string, double, bytes,
// duration, timestamp, ipaddress with in_cidr, any, list<T>, map<T>); an
// expression that does not compile, is not boolean or leaves a parameter
// unused is an error at its line and column. [Caveat.Eval] evaluates it as
// SpiceDB does, partially when parameters are missing. `use self` lets
// permissions name `self`, the object itself.
//
// Statements end at a newline that follows a name, a keyword, "}", ")" or
// "*", or at a ";", exactly as in SpiceDB, so an expression continues on the
// next line only after an operator. Operators bind as in SpiceDB: "+"
// tighter than "&", and "&" tighter than "-", all left-associative; the
// arrow forms rel->perm, rel.any(perm) and rel.all(perm) bind tightest and do
// not nest.
//
// Everything SpiceDB accepts but this package does not support is rejected
// with an error naming its line and column, never skipped: `import` and
// `partial` statements, `...partial` references and permission type
// annotations.
//
// Beyond the grammar, [Parse] checks what SpiceDB checks when a schema is
// written (unknown types and relations, duplicates, arrows over permissions
// or over relations that include a wildcard directly or through subject
// sets, subject sets that include a wildcard), and two things SpiceDB lets
// through but cannot evaluate usefully: an arrow whose target exists on none
// of the arrow relation's subject types (SpiceDB only warns), and a cycle of
// permissions referring to each other within one definition (SpiceDB rejects
// only pure aliases; any other such cycle fails every negative check with
// a depth error).
package schema
