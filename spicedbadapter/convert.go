package spicedbadapter

// This file is the only place where fgac values become SpiceDB protos and
// back. Everything else in the package speaks authz.

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

func objectRef(r authz.Resource) *v1.ObjectReference {
	return &v1.ObjectReference{ObjectType: r.Type, ObjectId: r.ID}
}

func subjectRef(s authz.Subject) *v1.SubjectReference {
	return &v1.SubjectReference{
		Object:           &v1.ObjectReference{ObjectType: s.Type, ObjectId: s.ID},
		OptionalRelation: s.Relation,
	}
}

func relationshipProto(r authz.Relationship) *v1.Relationship {
	return &v1.Relationship{Resource: objectRef(r.Resource), Relation: r.Relation, Subject: subjectRef(r.Subject)}
}

// relationshipFrom converts a relationship read from SpiceDB. plain is
// false if it carries a caveat or an expiry, which authz.Relationship
// cannot express.
func relationshipFrom(r *v1.Relationship) (rel authz.Relationship, plain bool) {
	rel = authz.Relationship{
		Resource: authz.Resource{Type: r.GetResource().GetObjectType(), ID: r.GetResource().GetObjectId()},
		Relation: r.GetRelation(),
		Subject: authz.Subject{
			Type:     r.GetSubject().GetObject().GetObjectType(),
			ID:       r.GetSubject().GetObject().GetObjectId(),
			Relation: r.GetSubject().GetOptionalRelation(),
		},
	}
	if rel.Subject.ID == authz.WildcardID && rel.Subject.Relation == "" {
		// The engine's own data: the one place a stored "*" becomes a
		// wildcard again.
		rel.Subject = authz.Wildcard(rel.Subject.Type)
	}
	return rel, r.GetOptionalCaveat() == nil && r.GetOptionalExpiresAt() == nil
}

func updates(op v1.RelationshipUpdate_Operation, rels []authz.Relationship) []*v1.RelationshipUpdate {
	out := make([]*v1.RelationshipUpdate, len(rels))
	for i, r := range rels {
		out[i] = &v1.RelationshipUpdate{Operation: op, Relationship: relationshipProto(r)}
	}
	return out
}

// resourceFilter selects every relationship whose resource is r.
func resourceFilter(r authz.Resource) *v1.RelationshipFilter {
	return &v1.RelationshipFilter{ResourceType: r.Type, OptionalResourceId: r.ID}
}

// consistency converts a requirement. A requirement whose token is empty
// or cannot be a ZedToken becomes full consistency, never minimal latency.
func consistency(c authz.Consistency) *v1.Consistency {
	switch c.Mode() {
	case authz.AtLeastAsFreshMode:
		if !validToken(c.Token().Value()) {
			return fullyConsistent()
		}
		return &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: &v1.ZedToken{Token: c.Token().Value()}}}
	case authz.FullyConsistentMode:
		return fullyConsistent()
	default:
		return &v1.Consistency{Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true}}
	}
}

func fullyConsistent() *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
}

// exactSnapshot is the requirement of a read at the revision of token.
func exactSnapshot(token string) *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: &v1.ZedToken{Token: token}}}
}

// validToken reports whether s can be sent as a ZedToken: non-empty UTF-8
// (gRPC refuses to marshal anything else). Whether SpiceDB accepts it is
// for SpiceDB to say.
func validToken(s string) bool { return s != "" && utf8.ValidString(s) }

// hasToken reports whether c asks for a snapshot by ZedToken.
func hasToken(c *v1.Consistency) bool { return c.GetAtLeastAsFresh() != nil }

// token converts a ZedToken; a missing one is the zero Token.
func token(z *v1.ZedToken) authz.Token { return authz.NewToken(z.GetToken()) }

// decision converts a permissionship. Only HAS_PERMISSION allows:
// CONDITIONAL (a caveat lacking context the adapter never sends) and
// UNSPECIFIED deny.
func decision(p v1.CheckPermissionResponse_Permissionship) authz.Decision {
	if p == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
		return authz.Allow()
	}
	return authz.Deny()
}

func checkRequest(r authz.CheckRequest, c *v1.Consistency) *v1.CheckPermissionRequest {
	return &v1.CheckPermissionRequest{
		Consistency: c,
		Resource:    objectRef(r.Resource),
		Permission:  r.Permission,
		Subject:     subjectRef(r.Subject),
	}
}

func bulkItem(r authz.CheckRequest) *v1.CheckBulkPermissionsRequestItem {
	return &v1.CheckBulkPermissionsRequestItem{
		Resource:   objectRef(r.Resource),
		Permission: r.Permission,
		Subject:    subjectRef(r.Subject),
	}
}

// sameItem reports whether SpiceDB echoed the item that was asked, so that
// a reordered answer is caught rather than misattributed.
func sameItem(asked, echoed *v1.CheckBulkPermissionsRequestItem) bool {
	return asked.GetResource().GetObjectType() == echoed.GetResource().GetObjectType() &&
		asked.GetResource().GetObjectId() == echoed.GetResource().GetObjectId() &&
		asked.GetPermission() == echoed.GetPermission() &&
		asked.GetSubject().GetObject().GetObjectType() == echoed.GetSubject().GetObject().GetObjectType() &&
		asked.GetSubject().GetObject().GetObjectId() == echoed.GetSubject().GetObject().GetObjectId() &&
		asked.GetSubject().GetOptionalRelation() == echoed.GetSubject().GetOptionalRelation()
}

// lookupAllowed reports whether a LookupResources result grants access;
// conditional results do not.
func lookupAllowed(p v1.LookupPermissionship) bool {
	return p == v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION
}

func lookupRequest(r authz.LookupRequest, st pageState) *v1.LookupResourcesRequest {
	return &v1.LookupResourcesRequest{
		Consistency:        st.consistency,
		ResourceObjectType: r.ResourceType,
		Permission:         r.Permission,
		Subject:            subjectRef(r.Subject),
		OptionalLimit:      st.limit,
		OptionalCursor:     cursorProto(st.cursor),
	}
}

func readRequest(filter *v1.RelationshipFilter, st pageState) *v1.ReadRelationshipsRequest {
	return &v1.ReadRelationshipsRequest{
		Consistency:        st.consistency,
		RelationshipFilter: filter,
		OptionalLimit:      st.limit,
		OptionalCursor:     cursorProto(st.cursor),
	}
}

func cursorProto(c string) *v1.Cursor {
	if c == "" {
		return nil
	}
	return &v1.Cursor{Token: c}
}

// mustNotExist is the precondition that the resource has no relationship.
func mustNotExist(r authz.Resource) *v1.Precondition {
	return &v1.Precondition{Operation: v1.Precondition_OPERATION_MUST_NOT_MATCH, Filter: resourceFilter(r)}
}

// pageState is where a paged SpiceDB stream stands. SpiceDB hashes the
// consistency and the limit into its cursors and refuses a cursor with a
// request that differs in either, so both travel in the adapter's cursor
// and every continuation repeats them exactly.
type pageState struct {
	consistency *v1.Consistency
	limit       uint32
	cursor      string // SpiceDB's cursor token; empty at the start
}

// cursorPrefix versions the adapter's cursor format.
const cursorPrefix = "s1."

// wireCursor is the JSON inside an adapter cursor. Kind "e" (Enumerate)
// holds a pageState; kind "l" (Lookup) holds the snapshot of the first page
// and the last id returned.
type wireCursor struct {
	Kind   string `json:"k"`
	Mode   string `json:"m,omitempty"` // "m", "a" or "f": minimize latency, at least as fresh, fully consistent
	Token  string `json:"z,omitempty"` // the ZedToken of mode "a", or the snapshot of kind "l"
	Limit  uint32 `json:"l,omitempty"`
	Cursor string `json:"c,omitempty"`
	After  string `json:"a,omitempty"`
}

func encodeWire(w wireCursor) string {
	data, _ := json.Marshal(w) // a struct of strings and numbers always marshals
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(data)
}

// errCursor is the error of a cursor the adapter did not make.
func errCursor() error { return authz.Invalidf("spicedbadapter: malformed cursor") }

func decodeWire(s, kind string) (wireCursor, error) {
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return wireCursor{}, errCursor()
	}
	data, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return wireCursor{}, errCursor()
	}
	var w wireCursor
	if err := json.Unmarshal(data, &w); err != nil || w.Kind != kind {
		return wireCursor{}, errCursor()
	}
	return w, nil
}

// encodeEnumerateCursor returns the cursor that continues an enumeration
// at st.
func encodeEnumerateCursor(st pageState) string {
	w := wireCursor{Kind: "e", Limit: st.limit, Cursor: st.cursor, Mode: "m"}
	switch {
	case st.consistency.GetFullyConsistent():
		w.Mode = "f"
	case hasToken(st.consistency):
		w.Mode, w.Token = "a", st.consistency.GetAtLeastAsFresh().GetToken()
	}
	return encodeWire(w)
}

// decodeEnumerateCursor parses a cursor of encodeEnumerateCursor; anything
// else is an error matching authz.ErrInvalidRequest.
func decodeEnumerateCursor(s string) (pageState, error) {
	w, err := decodeWire(s, "e")
	if err != nil {
		return pageState{}, err
	}
	if w.Limit == 0 || w.Cursor == "" || w.After != "" {
		return pageState{}, errCursor()
	}
	st := pageState{limit: w.Limit, cursor: w.Cursor}
	switch {
	case w.Mode == "m" && w.Token == "":
		st.consistency = consistency(authz.MinimizeLatency())
	case w.Mode == "f" && w.Token == "":
		st.consistency = fullyConsistent()
	case w.Mode == "a" && validToken(w.Token):
		st.consistency = consistency(authz.AtLeastAsFresh(authz.NewToken(w.Token)))
	default:
		return pageState{}, errCursor()
	}
	return st, nil
}

// encodeLookupCursor returns the cursor of the lookup page after id
// after, at snapshot.
func encodeLookupCursor(snapshot, after string) string {
	return encodeWire(wireCursor{Kind: "l", Token: snapshot, After: after})
}

// decodeLookupCursor parses a cursor of encodeLookupCursor into the
// consistency of its snapshot and the last id returned; anything else is an
// error matching authz.ErrInvalidRequest.
func decodeLookupCursor(s string) (*v1.Consistency, string, error) {
	w, err := decodeWire(s, "l")
	if err != nil {
		return nil, "", err
	}
	if !validToken(w.Token) || w.After == "" || w.Mode != "" || w.Limit != 0 || w.Cursor != "" {
		return nil, "", errCursor()
	}
	return exactSnapshot(w.Token), w.After, nil
}

func bulkRequest(items []*v1.CheckBulkPermissionsRequestItem, c *v1.Consistency) *v1.CheckBulkPermissionsRequest {
	return &v1.CheckBulkPermissionsRequest{Consistency: c, Items: items}
}

// pairError returns the error SpiceDB reported for one item of a bulk
// check, or nil.
func pairError(p *v1.CheckBulkPermissionsPair) error {
	if st := p.GetError(); st != nil {
		return status.ErrorProto(st)
	}
	return nil
}

// writeRequest touches and deletes relationships in one transaction.
func writeRequest(touch, del []authz.Relationship) *v1.WriteRelationshipsRequest {
	return &v1.WriteRelationshipsRequest{Updates: append(
		updates(v1.RelationshipUpdate_OPERATION_TOUCH, touch),
		updates(v1.RelationshipUpdate_OPERATION_DELETE, del)...,
	)}
}

// registerRequest creates rels on condition that resource has no
// relationship at all.
func registerRequest(resource authz.Resource, rels []authz.Relationship) *v1.WriteRelationshipsRequest {
	return &v1.WriteRelationshipsRequest{
		Updates:               updates(v1.RelationshipUpdate_OPERATION_CREATE, rels),
		OptionalPreconditions: []*v1.Precondition{mustNotExist(resource)},
	}
}

// deregisterRequest deletes every relationship whose resource is r.
func deregisterRequest(r authz.Resource) *v1.DeleteRelationshipsRequest {
	return &v1.DeleteRelationshipsRequest{RelationshipFilter: resourceFilter(r)}
}

// typeFilter selects every relationship whose resource has type typ.
func typeFilter(typ string) *v1.RelationshipFilter {
	return &v1.RelationshipFilter{ResourceType: typ}
}

func schemaRequest(schema string) *v1.WriteSchemaRequest {
	return &v1.WriteSchemaRequest{Schema: schema}
}

// preconditionFailed reports whether err is SpiceDB refusing a write
// because a precondition did not hold.
func preconditionFailed(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == v1.ErrorReason_ERROR_REASON_WRITE_OR_DELETE_PRECONDITION_FAILURE.String() {
			return true
		}
	}
	return false
}

// explainRequest is checkRequest asking SpiceDB for its debug trace.
func explainRequest(r authz.CheckRequest, c *v1.Consistency) *v1.CheckPermissionRequest {
	req := checkRequest(r, c)
	req.WithTracing = true
	return req
}

// explanation converts the answer to an explainRequest for req, as the
// package documentation describes. The root's Result is the answer's
// permissionship, as Check decides it, whatever the trace says.
func explanation(req authz.CheckRequest, resp *v1.CheckPermissionResponse) authz.Explanation {
	info := resp.GetDebugTrace()
	tr := tracer{subject: req.Subject}
	if s, err := schema.Parse(info.GetSchemaUsed()); err == nil {
		tr.schema = s
	}
	var e authz.Explanation
	if t := info.GetCheck(); t != nil {
		e = tr.node(t)
	}
	switch {
	case e.Resource == req.Resource && e.Permission == req.Permission:
	case e.Resource == req.Resource && slices.Contains(tr.aliases(req.Resource.Type, req.Permission), e.Permission):
		// A trace of what the permission names, checked in its place.
		e = tr.aliased(req.Permission, e)
	default:
		root := authz.Explanation{Resource: req.Resource, Permission: req.Permission, Kind: "check", Detail: "spicedb sent no trace"}
		if e.Kind != "" {
			root.Detail, root.Children = "spicedb traced another check", []authz.Explanation{e}
		}
		e = root
	}
	e.Result = decision(resp.GetPermissionship()).Allowed()
	return e
}

// tracer converts the nodes of a CheckDebugTrace for one subject.
type tracer struct {
	subject authz.Subject
	schema  *schema.Schema // nil if it could not be parsed
}

func (tr tracer) node(t *v1.CheckDebugTrace) authz.Explanation {
	e := authz.Explanation{
		Resource:   authz.Resource{Type: t.GetResource().GetObjectType(), ID: t.GetResource().GetObjectId()},
		Permission: t.GetPermission(),
		Result:     t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION,
	}
	var notes []string
	switch t.GetPermissionType() {
	case v1.CheckDebugTrace_PERMISSION_TYPE_RELATION:
		e.Kind = "relation"
	case v1.CheckDebugTrace_PERMISSION_TYPE_PERMISSION:
		e.Kind = "permission"
		if p := tr.permission(e.Resource.Type, e.Permission); p != nil {
			notes = append(notes, p.Expr.String())
		}
	default:
		e.Kind = "check"
	}
	if t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_CONDITIONAL_PERMISSION {
		notes = append(notes, "(conditional: a caveat lacks context)")
	}
	if t.GetWasCachedResult() {
		notes = append(notes, "(cached by spicedb)")
		e.Detail = strings.Join(notes, " ")
		return e
	}
	e.Detail = strings.Join(notes, " ")
	subs := t.GetSubProblems().GetTraces()
	switch {
	case e.Kind != "relation":
		e.Children = tr.permissionChildren(e, subs)
	case e.Result && tr.subject.Relation == e.Permission && tr.subject.Object() == e.Resource:
		// A subject set is a member of itself.
		e.Detail = "is the subject"
	default:
		conditional := t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_CONDITIONAL_PERMISSION
		e.Children = tr.relationChildren(e, conditional, subs)
	}
	return e
}

// relationChildren explains relation e: the relationships SpiceDB looked
// up itself, then its subject sets, which SpiceDB dispatched. conditional
// reports whether SpiceDB found a relationship whose caveat lacks context.
func (tr tracer) relationChildren(e authz.Explanation, conditional bool, subs []*v1.CheckDebugTrace) []authz.Explanation {
	var sets []authz.Explanation
	granted := false // by a subject set, or conditionally
	for _, t := range subs {
		c := tr.node(t)
		rel := authz.Relationship{Resource: e.Resource, Relation: e.Permission, Subject: authz.Subject{Type: c.Resource.Type, ID: c.Resource.ID, Relation: c.Permission}}
		sets = append(sets, authz.Explanation{Kind: "subject_set", Result: c.Result, Detail: rel.String(), Children: []authz.Explanation{c}})
		granted = granted || c.Result || t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_CONDITIONAL_PERMISSION
	}
	direct := authz.Relationship{Resource: e.Resource, Relation: e.Permission, Subject: tr.subject}.String()
	wildcard := authz.Relationship{Resource: e.Resource, Relation: e.Permission, Subject: authz.Wildcard(tr.subject.Type)}.String()
	plain, wild, known := tr.admits(e.Resource.Type, e.Permission)
	if !known {
		plain, wild = true, tr.subject.Relation == ""
	}
	var leaves []authz.Explanation
	switch {
	case (e.Result || conditional) && !granted:
		// SpiceDB found the subject, or a wildcard, among the relation's
		// subjects; the trace does not say which.
		leaf := authz.Explanation{Kind: "relationship", Result: e.Result, Detail: direct}
		switch {
		case plain && wild:
			leaf.Detail = direct + " or " + wildcard
		case wild:
			leaf.Kind, leaf.Detail = "wildcard", wildcard
		}
		if conditional {
			leaf.Detail += " (with a caveat)"
		}
		leaves = append(leaves, leaf)
	case !e.Result:
		if plain {
			leaves = append(leaves, authz.Explanation{Kind: "relationship", Detail: "no " + direct})
		}
		if wild && known {
			leaves = append(leaves, authz.Explanation{Kind: "wildcard", Detail: "no " + wildcard})
		}
	}
	return append(leaves, sets...)
}

// permissionChildren explains permission e: the relations and permissions
// of its own object it dispatched, and, grouped by arrow, those of the
// objects it walked to, in the order of the expression when it is known
// (SpiceDB dispatches concurrently).
func (tr tracer) permissionChildren(e authz.Explanation, subs []*v1.CheckDebugTrace) []authz.Explanation {
	p := tr.permission(e.Resource.Type, e.Permission)
	var out []authz.Explanation
	arrows := map[string]int{} // arrow node by detail, as an index in out
	all := map[string]bool{}   // the details of all-arrows
	for _, t := range subs {
		c := tr.node(t)
		if c.Resource == e.Resource {
			if p == nil {
				out = append(out, c)
				continue
			}
			if name, ok := tr.ref(p.Expr, c); ok {
				out = append(out, tr.aliased(name, c))
				continue
			}
		}
		arrow, detail := tr.arrow(e.Resource.Type, p, c)
		var relation string
		if arrow != nil {
			relation = arrow.Relation
			all[detail] = arrow.Func == schema.ArrowAll
			c = tr.aliased(arrow.Target, c)
		}
		if i, ok := arrows[detail]; ok {
			out[i].Children = append(out[i].Children, c)
			continue
		}
		arrows[detail] = len(out)
		out = append(out, authz.Explanation{Resource: e.Resource, Permission: relation, Kind: "arrow", Detail: detail, Children: []authz.Explanation{c}})
	}
	for i, c := range out {
		if c.Kind != "arrow" {
			continue
		}
		if all[c.Detail] {
			out[i].Result = !slices.ContainsFunc(c.Children, func(c authz.Explanation) bool { return !c.Result })
		} else {
			out[i].Result = slices.ContainsFunc(c.Children, func(c authz.Explanation) bool { return c.Result })
		}
	}
	if p != nil {
		leaves := exprLeaves(p.Expr)
		slices.SortStableFunc(out, func(x, y authz.Explanation) int {
			return cmp.Compare(leafIndex(leaves, x), leafIndex(leaves, y))
		})
	}
	return out
}

// arrow returns the arrow of permission p of definition typ that walked
// to c, or, if the schema is unknown or names several, nil; and the
// expressions of the arrows it may be.
func (tr tracer) arrow(typ string, p *schema.Permission, c authz.Explanation) (*schema.Arrow, string) {
	var found []*schema.Arrow
	if p != nil {
		d := tr.schema.Definition(typ)
		walkExpr(p.Expr, func(a *schema.Arrow) {
			r := d.Relation(a.Relation)
			if r == nil || !slices.ContainsFunc(r.Types, func(t *schema.SubjectType) bool { return t.Type == c.Resource.Type }) {
				return
			}
			if !slices.Contains(tr.aliases(c.Resource.Type, a.Target), c.Permission) {
				return
			}
			if !slices.ContainsFunc(found, func(f *schema.Arrow) bool { return f.String() == a.String() }) {
				found = append(found, a)
			}
		})
	}
	switch len(found) {
	case 0:
		return nil, "->" + c.Permission
	case 1:
		return found[0], found[0].String()
	}
	names := make([]string, len(found))
	for i, a := range found {
		names[i] = a.String()
	}
	return nil, strings.Join(names, " or ")
}

// ref returns the name that expression e of c's definition refers to and
// SpiceDB evaluated as c: c's own name or a permission that names it.
func (tr tracer) ref(e schema.Expr, c authz.Explanation) (string, bool) {
	switch e := e.(type) {
	case *schema.Ref:
		return e.Name, slices.Contains(tr.aliases(c.Resource.Type, e.Name), c.Permission)
	case *schema.Union:
		return tr.refAny(e.Children, c)
	case *schema.Intersection:
		return tr.refAny(e.Children, c)
	case *schema.Exclusion:
		return tr.refAny([]schema.Expr{e.Left, e.Right}, c)
	}
	return "", false
}

func (tr tracer) refAny(es []schema.Expr, c authz.Explanation) (string, bool) {
	for _, e := range es {
		if name, ok := tr.ref(e, c); ok {
			return name, true
		}
	}
	return "", false
}

// aliases returns name and, if it is a permission that only names
// another, what it names, and so on: the relations and permissions that
// SpiceDB may check in its place.
func (tr tracer) aliases(typ, name string) []string {
	names := []string{name}
	for p := tr.permission(typ, name); p != nil; p = tr.permission(typ, name) {
		r, ok := p.Expr.(*schema.Ref)
		if !ok || slices.Contains(names, r.Name) {
			break
		}
		name = r.Name
		names = append(names, name)
	}
	return names
}

// aliased returns c, which SpiceDB checked in place of name, as the node
// of name: the chain of permissions that only name another, down to c.
func (tr tracer) aliased(name string, c authz.Explanation) authz.Explanation {
	chain := tr.aliases(c.Resource.Type, name)
	i := slices.Index(chain, c.Permission)
	for j := i - 1; j >= 0; j-- {
		c = authz.Explanation{Resource: c.Resource, Permission: chain[j], Kind: "permission", Result: c.Result, Detail: chain[j+1], Children: []authz.Explanation{c}}
	}
	return c
}

// permission returns permission name of definition typ, or nil.
func (tr tracer) permission(typ, name string) *schema.Permission {
	if d := tr.schema.Definition(typ); d != nil {
		return d.Permission(name)
	}
	return nil
}

// admits reports whether relation name of definition typ admits the
// subject itself and its type's wildcard, and whether that is known.
func (tr tracer) admits(typ, name string) (plain, wildcard, known bool) {
	d := tr.schema.Definition(typ)
	if d == nil || d.Relation(name) == nil {
		return false, false, false
	}
	r := d.Relation(name)
	s := tr.subject
	return r.Allows(s.Type, s.Relation, false), s.Relation == "" && r.Allows(s.Type, "", true), true
}

// exprLeaves returns the references and arrows of e, in source order, as
// the Permission of a reference's node and the Detail of an arrow's.
func exprLeaves(e schema.Expr) []string {
	switch e := e.(type) {
	case *schema.Ref:
		return []string{e.Name}
	case *schema.Arrow:
		return []string{e.String()}
	case *schema.Union:
		return slices.Concat(mapExprs(e.Children, exprLeaves)...)
	case *schema.Intersection:
		return slices.Concat(mapExprs(e.Children, exprLeaves)...)
	case *schema.Exclusion:
		return slices.Concat(exprLeaves(e.Left), exprLeaves(e.Right))
	}
	return nil
}

func mapExprs(es []schema.Expr, f func(schema.Expr) []string) [][]string {
	out := make([][]string, len(es))
	for i, e := range es {
		out[i] = f(e)
	}
	return out
}

// leafIndex returns the position of node c among leaves, or len(leaves).
func leafIndex(leaves []string, c authz.Explanation) int {
	key := c.Permission
	if c.Kind == "arrow" {
		key = c.Detail
	}
	if i := slices.Index(leaves, key); i >= 0 {
		return i
	}
	return len(leaves)
}

// walkExpr calls f for every arrow of e.
func walkExpr(e schema.Expr, f func(*schema.Arrow)) {
	switch e := e.(type) {
	case *schema.Arrow:
		f(e)
	case *schema.Union:
		for _, c := range e.Children {
			walkExpr(c, f)
		}
	case *schema.Intersection:
		for _, c := range e.Children {
			walkExpr(c, f)
		}
	case *schema.Exclusion:
		walkExpr(e.Left, f)
		walkExpr(e.Right, f)
	}
}
