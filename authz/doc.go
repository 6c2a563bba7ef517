// Package authz is the provider-neutral core of fgac: the value types of an
// authorization graph, the port that engines implement, the error vocabulary,
// the mapping from operations to schema permissions, and the trusted bypass.
//
// The port is split into small interfaces ([Checker], [BulkChecker],
// [Lookuper], [Registrar], [Granter]) that take request structs, so that
// callers declare only what they need and adapters can grow fields without
// breaking callers. [Authorizer] combines them; memadapter and
// spicedbadapter implement it.
//
// Everything here fails closed. A [Decision] is a denial unless an engine
// explicitly allowed it; a zero Decision denies. An error is never an allow.
// [Guard] is the operation-level entry point services use: it maps an
// [Operation] to the permission of a resource type (validated against the
// schema when the mapping is built), honours a [Bypass] that only Go code can
// put in a context, and returns an error for anything but an allow, so that a
// caller who forgets to look at the answer still cannot proceed by accident.
//
// Identifiers follow one grammar everywhere (see [ValidateID]); nothing is
// normalised and comparisons are case-sensitive.
package authz
