package authz

import (
	"context"
	"slices"
)

// Decision is the answer to one check: allowed, denied, or conditional
// (denied because caveat parameters were missing; see [Conditional]), and
// nothing else. The zero Decision is a denial: an engine must explicitly
// allow.
// An engine cannot say "bypassed" or "everything": a trusted bypass is the
// [Guard]'s policy, not an engine's answer ([BypassFor] tells whether one
// applied).
type Decision struct {
	allowed bool
	// cond is set for a conditional decision, which is not allowed.
	cond *conditional
}

// Allow returns an allowing Decision.
func Allow() Decision { return Decision{allowed: true} }

// Deny returns a denying Decision (the zero value).
func Deny() Decision { return Decision{} }

// Allowed reports whether the subject may proceed.
func (d Decision) Allowed() bool { return d.allowed }

// String returns "allowed", "denied" or "conditional".
func (d Decision) String() string {
	switch {
	case d.allowed:
		return "allowed"
	case d.cond != nil:
		return "conditional"
	}
	return "denied"
}

// CheckRequest asks whether Subject has Permission on Resource.
type CheckRequest struct {
	// Subject is who is asking. It must pass [Subject.Validate].
	Subject Subject
	// Resource is what is asked about.
	Resource Resource
	// Permission is a relation or permission of Resource.Type's definition.
	Permission string
	// Consistency is the freshness requirement; the zero value minimises
	// latency.
	Consistency Consistency
	// Context supplies caveat parameters; see [Context]. Without the
	// parameters a caveat needs, the decision is [Conditional].
	Context Context
}

// Validate reports whether the request is well formed, matching
// [ErrInvalidRequest] if not. It does not consult a schema.
func (r CheckRequest) Validate() error {
	if err := r.Subject.Validate(); err != nil {
		return err
	}
	if err := r.Resource.Validate(); err != nil {
		return err
	}
	if err := ValidateName(r.Permission); err != nil {
		return err
	}
	return r.Context.Validate()
}

// Checker answers one permission question.
type Checker interface {
	// Check returns the engine's decision. A non-nil error means there was
	// no decision (invalid request, unknown permission or type, backend
	// unavailable); the returned Decision is then the zero denial. Unknown
	// permissions and types are errors matching [ErrInvalidRequest], never a
	// clean deny.
	Check(ctx context.Context, req CheckRequest) (Decision, error)
}

// CheckManyRequest asks several questions at once, all under one
// consistency requirement.
type CheckManyRequest struct {
	// Items are the questions. An item's own Consistency must be zero or
	// equal to the request's: one request has one consistency, and an item
	// that asks for another is an invalid request (see
	// [CheckManyRequest.Validate]) rather than silently overruled.
	Items []CheckRequest
	// Consistency applies to every item.
	Consistency Consistency
}

// Validate reports whether every item's Consistency is zero or the
// request's, matching [ErrInvalidRequest] if not. Engines call it first;
// the items themselves are validated one by one, each in its own result.
func (r CheckManyRequest) Validate() error {
	for i, it := range r.Items {
		if it.Consistency != (Consistency{}) && it.Consistency != r.Consistency {
			return invalidf("item %d asks for consistency %s in a request for %s", i, it.Consistency.Mode(), r.Consistency.Mode())
		}
	}
	return nil
}

// CheckResult is the answer to one item of a [CheckManyRequest].
type CheckResult struct {
	// Decision is the item's decision; it is a denial when Err is set.
	Decision Decision
	// Err is the item's own error, such as an invalid id in that item.
	Err error
}

// BulkChecker answers several questions in one call where the engine can.
type BulkChecker interface {
	// CheckMany returns one result per item, in the order of the items.
	// An error in one item is reported in that item's result; the returned
	// error is non-nil only when no item could be answered (backend
	// unavailable, cancelled context).
	CheckMany(ctx context.Context, req CheckManyRequest) ([]CheckResult, error)
}

// LookupRequest asks for the ids of the resources of one type on which a
// subject has a permission.
type LookupRequest struct {
	// Subject is who is asking.
	Subject Subject
	// ResourceType is the definition whose ids are wanted.
	ResourceType string
	// Permission is the permission the subject must have.
	Permission string
	// Consistency is the freshness requirement.
	Consistency Consistency
	// Limit, if positive, caps the number of ids in one answer; the answer's
	// Cursor then continues the listing. Zero means all ids.
	Limit int
	// Cursor continues a previous limited lookup; empty starts at the
	// beginning. Cursors are opaque and engine-specific.
	Cursor string
	// Context supplies caveat parameters, as in [CheckRequest].
	Context Context
	// IncludeConditional asks for the ids whose access is conditional
	// (caveat parameters missing) as well, in [LookupResult.Conditional].
	// Without it only ids that are definitely allowed are returned.
	IncludeConditional bool
}

// Validate reports whether the request's subject, names, limit and context
// are well formed, matching [ErrInvalidRequest] if not. It does not consult
// a schema or decode the cursor.
func (r LookupRequest) Validate() error {
	if err := r.Subject.Validate(); err != nil {
		return err
	}
	if err := ValidateType(r.ResourceType); err != nil {
		return err
	}
	if err := ValidateName(r.Permission); err != nil {
		return err
	}
	if r.Limit < 0 {
		return invalidf("negative limit %d", r.Limit)
	}
	return r.Context.Validate()
}

// LookupResult is an engine's answer to a lookup: ids and the cursor of
// the next page, nothing else. An engine cannot answer "everything"; an
// empty list means "none". The zero LookupResult is an empty list.
type LookupResult struct {
	ids         []string
	conditional []string
	cursor      string
}

// IDs returns a result holding ids. An empty ids means "no access".
// cursor is the cursor of the next page, or empty if this is the last one.
func IDs(ids []string, cursor string) LookupResult {
	return LookupResult{ids: ids, cursor: cursor}
}

// WithConditional returns r with conditional, the ids whose access is
// conditional, added (for a request with IncludeConditional). They are not
// among [LookupResult.IDs].
func (r LookupResult) WithConditional(conditional []string) LookupResult {
	r.conditional = conditional
	return r
}

// IDs returns the ids that are definitely allowed.
func (r LookupResult) IDs() []string { return r.ids }

// Conditional returns the ids whose access depends on caveat parameters
// the request lacked; it is empty unless the request set
// IncludeConditional. They are denials until a check with a complete
// context allows them.
func (r LookupResult) Conditional() []string { return r.conditional }

// Cursor returns the cursor that continues a limited lookup, or "" when the
// listing is complete.
func (r LookupResult) Cursor() string { return r.cursor }

// Contains reports whether id is among the result's ids.
func (r LookupResult) Contains(id string) bool { return slices.Contains(r.ids, id) }

// Lookuper lists the resources a subject may access.
type Lookuper interface {
	// Lookup returns the ids (in no particular order) of the resources of
	// req.ResourceType on which req.Subject has req.Permission. An engine
	// never returns a partial list as if it were whole: when it cannot finish
	// it returns an error.
	Lookup(ctx context.Context, req LookupRequest) (LookupResult, error)
}

// Default relation names used by [RegisterRequest] when its fields are
// empty.
const (
	DefaultOwnerRelation  = "owner"
	DefaultParentRelation = "parent"
)

// RegisterRequest brings a new resource into the graph with its owner and,
// optionally, its parent.
type RegisterRequest struct {
	// Resource is the new resource.
	Resource Resource
	// Owner becomes Resource#OwnerRelation@Owner.
	Owner Subject
	// OwnerRelation defaults to [DefaultOwnerRelation].
	OwnerRelation string
	// Parent, if non-nil, becomes Resource#ParentRelation@Parent.
	Parent *Resource
	// ParentRelation defaults to [DefaultParentRelation].
	ParentRelation string
}

// Relationships returns the relationships the request writes, with defaults
// applied, owner first.
func (r RegisterRequest) Relationships() []Relationship {
	ownerRel := r.OwnerRelation
	if ownerRel == "" {
		ownerRel = DefaultOwnerRelation
	}
	rels := []Relationship{{Resource: r.Resource, Relation: ownerRel, Subject: r.Owner}}
	if r.Parent != nil {
		parentRel := r.ParentRelation
		if parentRel == "" {
			parentRel = DefaultParentRelation
		}
		rels = append(rels, Relationship{Resource: r.Resource, Relation: parentRel, Subject: Subject{Type: r.Parent.Type, ID: r.Parent.ID}})
	}
	return rels
}

// Validate reports whether the request is well formed. The owner must not
// be a wildcard, and the parent's id must pass [ValidateID] (so "*" is not
// a parent).
func (r RegisterRequest) Validate() error {
	if err := r.Resource.Validate(); err != nil {
		return err
	}
	if err := r.Owner.Validate(); err != nil {
		return err
	}
	if r.Parent != nil {
		if err := r.Parent.Validate(); err != nil {
			return err
		}
	}
	for _, rel := range r.Relationships() {
		if err := rel.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// DeregisterRequest removes a resource from the graph.
type DeregisterRequest struct {
	// Resource is the resource whose relationships are removed.
	Resource Resource
}

// Registrar manages the lifecycle of resources in the graph.
type Registrar interface {
	// Register writes the owner and parent relationships of a new resource
	// in one atomic write. It creates, never overwrites: if the resource
	// already has relationships other than exactly the ones requested, it
	// writes nothing and returns an error matching [ErrConflict]. Repeating
	// an identical registration (a retry after an ambiguous timeout)
	// succeeds without writing twice. Relationships the schema does not
	// allow are errors matching [ErrInvalidRequest].
	Register(ctx context.Context, req RegisterRequest) (Token, error)
	// Deregister removes, atomically, every relationship in which the
	// resource is the resource (its owner, parent and grantees), and no
	// other. Deregistering an unknown resource succeeds.
	Deregister(ctx context.Context, req DeregisterRequest) (Token, error)
}

// GrantRequest writes or removes one relationship, such as a viewer role.
type GrantRequest struct {
	// Relationship is the edge to write or remove. Its subject may be a
	// [Wildcard] where the schema allows one.
	Relationship Relationship
}

// Granter grants and revokes roles.
type Granter interface {
	// Grant writes the relationship; granting an existing one succeeds.
	Grant(ctx context.Context, req GrantRequest) (Token, error)
	// Revoke removes the relationship; revoking a missing one succeeds.
	Revoke(ctx context.Context, req GrantRequest) (Token, error)
}

// Authorizer is the whole port an engine implements.
type Authorizer interface {
	Checker
	BulkChecker
	Lookuper
	Registrar
	Granter
	RelationshipWriter
	Inspector
}

// PermissionSet reports which relations and permissions a loaded schema
// defines. Parsed schemas and engines implement it, so that an
// [OperationMap] can be validated when it is built.
type PermissionSet interface {
	// HasPermission reports whether definition resourceType has a relation
	// or permission named name.
	HasPermission(resourceType, name string) bool
}

// WriteRequest applies several relationship changes in one atomic write.
type WriteRequest struct {
	// Touch relationships are created or left as they are.
	Touch []Relationship
	// Delete relationships are removed if present.
	Delete []Relationship
}

// RelationshipWriter applies arbitrary relationship changes. Services use
// [Registrar] and [Granter]; this is for backfills, repair and tests.
type RelationshipWriter interface {
	// Write applies every change of req atomically: all or nothing. A
	// relationship the schema does not allow is an error matching
	// [ErrInvalidRequest] and nothing is written.
	Write(ctx context.Context, req WriteRequest) (Token, error)
}

// ReadRequest selects the relationships of one resource.
type ReadRequest struct {
	// Resource is the resource whose relationships are read.
	Resource Resource
	// Consistency is the freshness requirement.
	Consistency Consistency
}

// EnumerateRequest pages through every resource of a type that has at
// least one relationship.
type EnumerateRequest struct {
	// ResourceType is the definition to enumerate.
	ResourceType string
	// Limit caps the ids of one page; zero means an engine default.
	Limit int
	// Cursor continues a previous page; empty starts at the beginning.
	Cursor string
	// Consistency is the freshness requirement.
	Consistency Consistency
}

// EnumerateResult is one page of an enumeration.
type EnumerateResult struct {
	// IDs are distinct resource ids, in ascending order within the page.
	IDs []string
	// Cursor continues the enumeration; empty when it is complete.
	Cursor string
}

// Inspector reads the graph itself rather than answering questions: what
// relationships a resource has and which resources are registered. The
// dual-write reconciler and the conformance suite use it.
type Inspector interface {
	// ReadRelationships returns every relationship in which req.Resource is
	// the resource, in no particular order.
	ReadRelationships(ctx context.Context, req ReadRequest) ([]Relationship, error)
	// Enumerate returns one page of the ids of req.ResourceType that appear
	// as the resource of at least one relationship. Every id appears in
	// exactly one page of a complete enumeration. A cursor stays valid when
	// resources are deregistered between pages (a reconciler deletes while
	// it pages).
	Enumerate(ctx context.Context, req EnumerateRequest) (EnumerateResult, error)
}
