package spicedbadapter

// This file (and trace.go, for debug traces) is where fgac values become SpiceDB protos and
// back. Everything else in the package speaks authz.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fgac-go/fgac/authz"
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
	p := &v1.Relationship{Resource: objectRef(r.Resource), Relation: r.Relation, Subject: subjectRef(r.Subject)}
	if r.Caveat.Name != "" {
		p.OptionalCaveat = &v1.ContextualizedCaveat{CaveatName: r.Caveat.Name, Context: contextStruct(r.Caveat.Context)}
	}
	if !r.Expiration.IsZero() {
		p.OptionalExpiresAt = timestamppb.New(r.Expiration)
	}
	return p
}

// contextStruct converts a caveat context, or returns nil for none. It
// never drops what it cannot convert: a stored context sent without a
// value would let the request supply it. authz.NewContext admits only the
// JSON model, with valid UTF-8, and every request is validated before it
// is converted, so nothing here can fail; a value that could not be
// carried anyway (see valueOf) makes the request fail to encode, so that
// it fails rather than reaches SpiceDB with less than it holds.
func contextStruct(c authz.Context) *structpb.Struct {
	if c.IsZero() {
		return nil
	}
	return structOf(c.Map())
}

// structOf converts an object of the JSON model.
func structOf(m map[string]any) *structpb.Struct {
	fields := make(map[string]*structpb.Value, len(m))
	for k, v := range m {
		fields[k] = valueOf(v)
	}
	return &structpb.Struct{Fields: fields}
}

// valueOf converts a value of the JSON model. A value outside it (which
// authz.NewContext never admits) becomes a string that is not valid UTF-8,
// which protobuf refuses to encode: the call fails.
func valueOf(v any) *structpb.Value {
	switch v := v.(type) {
	case nil:
		return structpb.NewNullValue()
	case bool:
		return structpb.NewBoolValue(v)
	case float64:
		return structpb.NewNumberValue(v)
	case string:
		return structpb.NewStringValue(v)
	case []any:
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(v))}
		for i, x := range v {
			l.Values[i] = valueOf(x)
		}
		return structpb.NewListValue(l)
	case map[string]any:
		return structpb.NewStructValue(structOf(v))
	}
	return structpb.NewStringValue(unencodable)
}

// unencodable is a string protobuf refuses to encode (not valid UTF-8).
const unencodable = "\xff"

// relationshipFrom converts a relationship read from SpiceDB, with its
// caveat and expiration. plain is false if it carries either.
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
	if c := r.GetOptionalCaveat(); c != nil {
		rel.Caveat = authz.Caveat{Name: c.GetCaveatName(), Context: authz.NewContext(c.GetContext().AsMap())}
	}
	if e := r.GetOptionalExpiresAt(); e != nil {
		rel.Expiration = e.AsTime()
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
// CONDITIONAL is the conditional decision with the parameters SpiceDB says
// are missing, and anything else (UNSPECIFIED, a value this adapter does
// not know) denies.
func decision(p v1.CheckPermissionResponse_Permissionship, partial *v1.PartialCaveatInfo) authz.Decision {
	switch p {
	case v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION:
		return authz.Allow()
	case v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION:
		return authz.Conditional(partial.GetMissingRequiredContext()...)
	}
	return authz.Deny()
}

func checkRequest(r authz.CheckRequest, c *v1.Consistency) *v1.CheckPermissionRequest {
	return &v1.CheckPermissionRequest{
		Consistency: c,
		Resource:    objectRef(r.Resource),
		Permission:  r.Permission,
		Subject:     subjectRef(r.Subject),
		Context:     contextStruct(r.Context),
	}
}

func bulkItem(r authz.CheckRequest) *v1.CheckBulkPermissionsRequestItem {
	return &v1.CheckBulkPermissionsRequestItem{
		Resource:   objectRef(r.Resource),
		Permission: r.Permission,
		Subject:    subjectRef(r.Subject),
		Context:    contextStruct(r.Context),
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

// lookupConditional reports whether a LookupResources result is
// conditional.
func lookupConditional(p v1.LookupPermissionship) bool {
	return p == v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION
}

func lookupRequest(r authz.LookupRequest, st pageState) *v1.LookupResourcesRequest {
	return &v1.LookupResourcesRequest{
		Consistency:        st.consistency,
		ResourceObjectType: r.ResourceType,
		Permission:         r.Permission,
		Subject:            subjectRef(r.Subject),
		Context:            contextStruct(r.Context),
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

// registerRequest writes rels on condition that resource has no
// relationship at all. The precondition is what makes it a creation:
// SpiceDB's preconditions, like its reads, do not see expired
// relationships, and its CREATE does (it fails on a tuple that expired
// until the garbage collector removes it), so the updates are TOUCHes,
// which a resource whose relationships have all expired takes as a new
// one, as memadapter does.
func registerRequest(resource authz.Resource, rels []authz.Relationship) *v1.WriteRelationshipsRequest {
	return &v1.WriteRelationshipsRequest{
		Updates:               updates(v1.RelationshipUpdate_OPERATION_TOUCH, rels),
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

func lookupSubjectsRequest(r authz.SubjectLookupRequest, c *v1.Consistency) *v1.LookupSubjectsRequest {
	return &v1.LookupSubjectsRequest{
		Consistency:             c,
		Resource:                objectRef(r.Resource),
		Permission:              r.Permission,
		SubjectObjectType:       r.SubjectType,
		OptionalSubjectRelation: r.SubjectRelation,
		WildcardOption:          v1.LookupSubjectsRequest_WILDCARD_OPTION_INCLUDE_WILDCARDS,
	}
}

// subjectFrom converts one LookupSubjects result: the subject's id,
// whether it holds unconditionally (conditional results need a caveat
// context fgac does not send), and, for a wildcard, the ids it excludes.
// An exclusion is counted whether or not it is conditional, so that a
// conditional exclusion never widens the answer.
func subjectFrom(resp *v1.LookupSubjectsResponse) (id string, allowed bool, excluded []string) {
	s := resp.GetSubject()
	for _, x := range resp.GetExcludedSubjects() {
		excluded = append(excluded, x.GetSubjectObjectId())
	}
	return s.GetSubjectObjectId(), lookupAllowed(s.GetPermissionship()), excluded
}

// encodeSubjectsCursor returns the cursor of the subject lookup page after
// id after, at snapshot.
func encodeSubjectsCursor(req authz.SubjectLookupRequest, snapshot, after string) string {
	return encodeWire(wireCursor{Kind: "s", Token: snapshot, After: after, Cursor: subjectsQuestion(req)})
}

// subjectsQuestion names the question of a subject lookup (resource,
// permission, subject type and relation) in its cursors, so that a cursor
// continues only the lookup it came from.
func subjectsQuestion(req authz.SubjectLookupRequest) string {
	h := sha256.Sum256([]byte(req.Resource.Type + "\x00" + req.Resource.ID + "\x00" + req.Permission + "\x00" + req.SubjectType + "\x00" + req.SubjectRelation))
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

// decodeSubjectsCursor parses a cursor of encodeSubjectsCursor into the
// consistency of its snapshot and the last id returned; anything else is an
// error matching authz.ErrInvalidRequest.
func decodeSubjectsCursor(req authz.SubjectLookupRequest, s string) (*v1.Consistency, string, error) {
	w, err := decodeWire(s, "s")
	if err != nil {
		return nil, "", err
	}
	if !validToken(w.Token) || !(w.After == authz.WildcardID || authz.ValidID(w.After)) || w.Mode != "" || w.Limit != 0 || w.Cursor != subjectsQuestion(req) {
		return nil, "", errCursor()
	}
	return exactSnapshot(w.Token), w.After, nil
}
