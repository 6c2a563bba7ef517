package spicedbadapter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/bulk"
)

// Client is the part of SpiceDB's v1 PermissionsService that the adapter
// calls. The generated v1.PermissionsServiceClient and *authzed.Client
// implement it. The caller dials and closes the connection; the adapter
// never does.
type Client interface {
	// CheckPermission answers [Adapter.Check].
	CheckPermission(ctx context.Context, in *v1.CheckPermissionRequest, opts ...grpc.CallOption) (*v1.CheckPermissionResponse, error)
	// CheckBulkPermissions answers [Adapter.CheckMany].
	CheckBulkPermissions(ctx context.Context, in *v1.CheckBulkPermissionsRequest, opts ...grpc.CallOption) (*v1.CheckBulkPermissionsResponse, error)
	// LookupResources answers [Adapter.Lookup].
	LookupResources(ctx context.Context, in *v1.LookupResourcesRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[v1.LookupResourcesResponse], error)
	// ReadRelationships answers [Adapter.ReadRelationships] and
	// [Adapter.Enumerate], and checks a repeated [Adapter.Register].
	ReadRelationships(ctx context.Context, in *v1.ReadRelationshipsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[v1.ReadRelationshipsResponse], error)
	// WriteRelationships applies [Adapter.Register], [Adapter.Grant],
	// [Adapter.Revoke] and [Adapter.Write].
	WriteRelationships(ctx context.Context, in *v1.WriteRelationshipsRequest, opts ...grpc.CallOption) (*v1.WriteRelationshipsResponse, error)
	// DeleteRelationships applies [Adapter.Deregister].
	DeleteRelationships(ctx context.Context, in *v1.DeleteRelationshipsRequest, opts ...grpc.CallOption) (*v1.DeleteRelationshipsResponse, error)
}

// Adapter implements [authz.Authorizer] over a SpiceDB PermissionsService.
// It is safe for concurrent use (gRPC clients are).
type Adapter struct {
	client Client
	opts   options
}

var (
	_ authz.Authorizer = (*Adapter)(nil)
	_ authz.Explainer  = (*Adapter)(nil)
)

// New returns an Adapter that calls SpiceDB through client, configured by
// cfg (nil means the zero Config: every default).
func New(client Client, cfg *Config) *Adapter {
	return &Adapter{client: client, opts: cfg.resolve()}
}

// WriteSchema replaces the schema of the SpiceDB behind client and returns
// the token of the write. A schema SpiceDB rejects is an error matching
// [authz.ErrInvalidRequest]; transient failures are retried as by an
// Adapter with default options.
func WriteSchema(ctx context.Context, client v1.SchemaServiceClient, schema string) (authz.Token, error) {
	var resp *v1.WriteSchemaResponse
	err := (*Config)(nil).resolve().retry.do(ctx, writeCall, func(ctx context.Context) error {
		var err error
		resp, err = client.WriteSchema(ctx, schemaRequest(schema))
		return err
	})
	if err != nil {
		return authz.Token{}, translate(ctx, err)
	}
	return token(resp.GetWrittenAt()), nil
}

// Check asks SpiceDB's CheckPermission with the request's caveat context.
// Only HAS_PERMISSION allows: CONDITIONAL is [authz.Conditional] with the
// parameters SpiceDB names as missing, and UNSPECIFIED denies. A malformed request fails with
// [authz.ErrInvalidRequest] before any call; other errors are listed in
// the package documentation.
func (a *Adapter) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if err := req.Validate(); err != nil {
		return authz.Deny(), err
	}
	var p v1.CheckPermissionResponse_Permissionship
	var partial *v1.PartialCaveatInfo
	err := a.read(ctx, consistency(req.Consistency), func(ctx context.Context, c *v1.Consistency) error {
		resp, err := a.client.CheckPermission(ctx, checkRequest(req, c))
		p, partial = resp.GetPermissionship(), resp.GetPartialCaveatInfo()
		return err
	})
	if err != nil {
		return authz.Deny(), err
	}
	return decision(p, partial), nil
}

// Explain asks SpiceDB's CheckPermission, as [Adapter.Check] does, with
// tracing, and converts SpiceDB's debug trace into an explanation: a node
// per relation or permission SpiceDB evaluated, with arrows, subject sets
// and relationships filled in (see Explanations in the package
// documentation). The root's Result is the decision Check makes of the same
// answer, and the errors are Check's; on an error the Explanation is the
// zero value. Tracing costs SpiceDB more than a plain check: explain
// decisions for people and tests, not on every request.
func (a *Adapter) Explain(ctx context.Context, req authz.CheckRequest) (authz.Explanation, error) {
	if err := req.Validate(); err != nil {
		return authz.Explanation{}, err
	}
	var resp *v1.CheckPermissionResponse
	err := a.read(ctx, consistency(req.Consistency), func(ctx context.Context, c *v1.Consistency) error {
		var err error
		resp, err = a.client.CheckPermission(ctx, explainRequest(req, c))
		return err
	})
	if err != nil {
		return authz.Explanation{}, err
	}
	return explanation(req, resp), nil
}

// CheckMany asks SpiceDB's CheckBulkPermissions, in chunks of the bulk
// chunk size made one after another, and returns one result per item in
// the order of the items. A malformed item, an item SpiceDB answers with an
// error, and every item of a chunk whose call failed carry their own
// error. The returned error is non-nil only when no item was answered.
func (a *Adapter) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	return a.checkMany(ctx, req, a.opts.chunk)
}

// checkMany is CheckMany with chunks of chunkSize items.
func (a *Adapter) checkMany(ctx context.Context, req authz.CheckManyRequest, chunkSize int) ([]authz.CheckResult, error) {
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("spicedbadapter: %w", err)
	}
	plan := bulk.NewPlan[authz.CheckResult](len(req.Items))
	valid := make([]authz.CheckRequest, 0, len(req.Items))
	for _, item := range req.Items {
		if err := item.Validate(); err != nil {
			plan.Answer(authz.CheckResult{Err: err})
			continue
		}
		plan.Ask("")
		valid = append(valid, item)
	}
	got := make([]authz.CheckResult, len(valid))
	answered := false
	var firstErr error
	for start := 0; start < len(valid); start += chunkSize {
		chunk := valid[start:min(start+chunkSize, len(valid))]
		if err := a.checkChunk(ctx, req.Consistency, chunk, got[start:]); err != nil {
			for j := range chunk {
				got[start+j] = authz.CheckResult{Err: err}
			}
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		answered = true
	}
	if !answered && firstErr != nil {
		return nil, firstErr
	}
	results, _ := plan.Scatter(got) // got has one result per valid item
	return results, nil
}

// checkChunk checks the items of chunk in one call and stores their
// results in results[:len(chunk)].
func (a *Adapter) checkChunk(ctx context.Context, cons authz.Consistency, chunk []authz.CheckRequest, results []authz.CheckResult) error {
	items := make([]*v1.CheckBulkPermissionsRequestItem, len(chunk))
	for j, item := range chunk {
		items[j] = bulkItem(item)
	}
	var pairs []*v1.CheckBulkPermissionsPair
	err := a.read(ctx, consistency(cons), func(ctx context.Context, c *v1.Consistency) error {
		resp, err := a.client.CheckBulkPermissions(ctx, bulkRequest(items, c))
		pairs = resp.GetPairs()
		return err
	})
	if err != nil {
		return err
	}
	if len(pairs) != len(items) {
		return fmt.Errorf("%w: spicedbadapter: spicedb answered %d of %d checks", authz.ErrUnavailable, len(pairs), len(items))
	}
	for j, pair := range pairs {
		if !sameItem(items[j], pair.GetRequest()) {
			return fmt.Errorf("%w: spicedbadapter: spicedb answered checks out of order", authz.ErrUnavailable)
		}
	}
	for j, pair := range pairs {
		if err := pairError(pair); err != nil {
			results[j] = authz.CheckResult{Err: translate(ctx, err)}
			continue
		}
		results[j] = authz.CheckResult{Decision: decision(pair.GetItem().GetPermissionship(), pair.GetItem().GetPartialCaveatInfo())}
	}
	return nil
}

// Lookup streams SpiceDB's LookupResources, following SpiceDB's cursors
// page by page (page size per call), and returns each allowed id once;
// conditional results are left out. If a stream fails part-way the whole
// lookup fails: no partial list is returned.
//
// SpiceDB may repeat an id, and across its cursors it cannot remove the
// repeats (authzed/spicedb#3190). So a lookup with a limit reads the whole
// set and returns it in ascending order, up to req.Limit ids, with a cursor
// that names the snapshot of the first page and the last id returned; each
// continuation reads the set again at that exact snapshot and returns the
// ids after it. Every id is returned in exactly one page, at the price of
// one full lookup per page. A cursor whose snapshot SpiceDB has
// garbage-collected is an error matching [authz.ErrInvalidRequest], as is
// a malformed request or cursor, which fail before any call.
func (a *Adapter) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	if err := validateLookup(req); err != nil {
		return authz.LookupResult{}, err
	}
	c, after := consistency(req.Consistency), ""
	if req.Cursor != "" {
		var err error
		if c, after, err = decodeLookupCursor(req.Cursor); err != nil {
			return authz.LookupResult{}, err
		}
	}
	ids, cond, snapshot, err := a.lookupAll(ctx, req, c)
	if err != nil {
		return authz.LookupResult{}, err
	}
	if req.Limit == 0 && after == "" {
		return authz.IDs(ids, "").WithConditional(cond), nil
	}
	// Allowed and conditional ids page together, in ascending order.
	conditional := make(map[string]bool, len(cond))
	for _, id := range cond {
		conditional[id] = true
	}
	all := append(slices.Clone(ids), cond...)
	slices.Sort(all)
	start, found := slices.BinarySearch(all, after)
	if found {
		start++
	}
	all = all[start:]
	cursor := ""
	if req.Limit > 0 && len(all) > req.Limit {
		if snapshot == "" {
			return authz.LookupResult{}, fmt.Errorf("%w: spicedbadapter: spicedb did not name the revision of its lookup", authz.ErrUnavailable)
		}
		all = all[:req.Limit]
		cursor = encodeLookupCursor(snapshot, all[len(all)-1])
	}
	ids, cond = []string{}, nil
	for _, id := range all {
		if conditional[id] {
			cond = append(cond, id)
		} else {
			ids = append(ids, id)
		}
	}
	return authz.IDs(ids, cursor).WithConditional(cond), nil
}

// lookupAll returns every allowed id once, in the order SpiceDB sent them,
// the conditional ids if the request asks for them, and the ZedToken of
// the snapshot it read.
func (a *Adapter) lookupAll(ctx context.Context, req authz.LookupRequest, c *v1.Consistency) (ids, cond []string, snapshot string, err error) {
	seen := map[string]bool{} // id -> allowed (not conditional)
	var order []string
	st := pageState{consistency: c, limit: a.opts.pageSize}
	for {
		page, next, done, err := a.lookupPage(ctx, req, st)
		if err != nil {
			return nil, nil, "", err
		}
		for i, id := range page.ids {
			allowed, ok := seen[id]
			if !ok {
				order = append(order, id)
			}
			seen[id] = allowed || !page.conditional[i]
		}
		snapshot = cmp.Or(snapshot, page.snapshot)
		if done {
			break
		}
		st = next
	}
	if a.opts.noVerify {
		for _, id := range order {
			if seen[id] {
				ids = append(ids, id)
			} else {
				cond = append(cond, id)
			}
		}
		return ids, cond, snapshot, nil
	}
	confirm := authz.AtLeastAsFresh(authz.NewToken(snapshot))
	if req.Cursor != "" {
		// A continued listing: confirm as fresh as the caller asks now,
		// so what was revoked since drops out.
		confirm = req.Consistency
	}
	ids, cond, err = a.verify(ctx, req, order, confirm)
	return ids, cond, snapshot, err
}

// verify keeps the ids that CheckBulkPermissions confirms at the lookup's
// snapshot or fresher: a resource revoked since the snapshot of a continued
// listing drops out rather than showing. An id the check finds conditional
// goes to cond if the request asks for conditional results. Any item error
// fails the whole lookup: a list is never returned partial, and never wider
// than the checks allow.
func (a *Adapter) verify(ctx context.Context, req authz.LookupRequest, ids []string, c authz.Consistency) (kept, cond []string, err error) {
	if len(ids) == 0 {
		return ids, nil, nil
	}
	const batch = maxPageSize
	kept = ids[:0:0]
	items := make([]authz.CheckRequest, 0, min(len(ids), batch))
	for start := 0; start < len(ids); start += batch {
		items = items[:0]
		for _, id := range ids[start:min(start+batch, len(ids))] {
			items = append(items, authz.CheckRequest{Subject: req.Subject, Resource: authz.Resource{Type: req.ResourceType, ID: id}, Permission: req.Permission, Context: req.Context})
		}
		res, err := a.checkMany(ctx, authz.CheckManyRequest{Items: items, Consistency: c}, batch)
		if err != nil {
			return nil, nil, err
		}
		for i, r := range res {
			switch {
			case r.Err != nil:
				return nil, nil, r.Err
			case r.Decision.Allowed():
				kept = append(kept, items[i].Resource.ID)
			case r.Decision.Conditional() && req.IncludeConditional:
				cond = append(cond, items[i].Resource.ID)
			}
		}
	}
	return kept, cond, nil
}

// lookupResults are the results of one LookupResources stream.
type lookupResults struct {
	ids         []string // allowed (and, if asked for, conditional) ids, as sent
	conditional []bool   // whether each of ids is conditional
	snapshot    string   // the ZedToken of the revision looked up at
}

// lookupPage runs one LookupResources stream from st. It returns its
// results, the state after its last result (whose consistency is the one
// used, which later pages must repeat) and whether the listing is
// complete.
func (a *Adapter) lookupPage(ctx context.Context, req authz.LookupRequest, st pageState) (page lookupResults, next pageState, done bool, err error) {
	err = a.read(ctx, st.consistency, func(ctx context.Context, c *v1.Consistency) error {
		page, next, done = lookupResults{}, pageState{consistency: c, limit: st.limit}, false
		ctx, cancel := context.WithCancel(ctx) // ends the stream on an early return
		defer cancel()
		stream, err := a.client.LookupResources(ctx, lookupRequest(req, pageState{consistency: c, limit: st.limit, cursor: st.cursor}))
		if err != nil {
			return err
		}
		for n := 0; ; n++ {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				done = n < int(st.limit)
				return nil
			}
			if err != nil {
				return err
			}
			if next.cursor = resp.GetAfterResultCursor().GetToken(); next.cursor == "" {
				return status.Error(codes.Internal, "spicedb returned a lookup result without a cursor")
			}
			page.snapshot = cmp.Or(page.snapshot, resp.GetLookedUpAt().GetToken())
			switch p := resp.GetPermissionship(); {
			case lookupAllowed(p):
				page.ids = append(page.ids, resp.GetResourceObjectId())
				page.conditional = append(page.conditional, false)
			case lookupConditional(p) && req.IncludeConditional:
				page.ids = append(page.ids, resp.GetResourceObjectId())
				page.conditional = append(page.conditional, true)
			}
		}
	})
	return page, next, done, err
}

func validateLookup(req authz.LookupRequest) error {
	if req.Limit < 0 {
		return authz.Invalidf("spicedbadapter: negative limit %d", req.Limit)
	}
	return req.Validate()
}

// Register writes the owner and parent relationships in one
// WriteRelationships call that creates them on condition that the resource
// has no relationship yet. If it has some, Register reads them (fully
// consistent): exactly the requested ones mean an earlier attempt of this
// registration succeeded, and Register returns a token that covers them
// without writing; anything else is an error matching [authz.ErrConflict].
// A relationship the schema does not allow is an error matching
// [authz.ErrInvalidRequest].
func (a *Adapter) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	if err := req.Validate(); err != nil {
		return authz.Token{}, err
	}
	if req.Parent != nil {
		if err := req.Parent.Validate(); err != nil {
			return authz.Token{}, err
		}
	}
	rels := req.Relationships()
	var resp *v1.WriteRelationshipsResponse
	err := a.opts.retry.do(ctx, writeCall, func(ctx context.Context) error {
		var err error
		resp, err = a.client.WriteRelationships(ctx, registerRequest(req.Resource, rels))
		return err
	})
	switch {
	case err == nil:
		return token(resp.GetWrittenAt()), nil
	case status.Code(err) != codes.AlreadyExists && !preconditionFailed(err):
		return authz.Token{}, translate(ctx, err)
	}
	existing, tok, err := a.readResource(ctx, req.Resource, fullyConsistent(), uint32(len(rels)+1))
	if err != nil {
		return authz.Token{}, err
	}
	if !sameRelationships(existing, rels) {
		return authz.Token{}, fmt.Errorf("%w: spicedbadapter: %s already has other relationships", authz.ErrConflict, req.Resource)
	}
	return tok, nil
}

// sameRelationships reports whether got, all without caveat or expiry, are
// exactly the relationships of want.
func sameRelationships(got []readRelationship, want []authz.Relationship) bool {
	set := make(map[authz.Relationship]bool, len(got))
	for _, r := range got {
		if !r.plain {
			return false
		}
		set[r.rel] = true
	}
	if len(set) != len(got) {
		return false
	}
	for _, r := range want {
		if !set[r] {
			return false
		}
		delete(set, r)
	}
	return len(set) == 0
}

// Deregister deletes every relationship whose resource is req.Resource
// with one DeleteRelationships call, atomically.
func (a *Adapter) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	if err := req.Resource.Validate(); err != nil {
		return authz.Token{}, err
	}
	var resp *v1.DeleteRelationshipsResponse
	err := a.opts.retry.do(ctx, writeCall, func(ctx context.Context) error {
		var err error
		resp, err = a.client.DeleteRelationships(ctx, deregisterRequest(req.Resource))
		return err
	})
	if err != nil {
		return authz.Token{}, translate(ctx, err)
	}
	return token(resp.GetDeletedAt()), nil
}

// Grant touches the relationship.
func (a *Adapter) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	if err := req.Relationship.Validate(); err != nil {
		return authz.Token{}, err
	}
	return a.write(ctx, writeRequest([]authz.Relationship{req.Relationship}, nil))
}

// Revoke deletes the relationship; a missing one is not an error.
func (a *Adapter) Revoke(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	if err := req.Relationship.Validate(); err != nil {
		return authz.Token{}, err
	}
	return a.write(ctx, writeRequest(nil, []authz.Relationship{req.Relationship}))
}

// Write touches and deletes relationships in one WriteRelationships call.
// Repeated relationships are sent once; a relationship both touched and
// deleted is an error matching [authz.ErrInvalidRequest], as is a batch
// larger than SpiceDB's limit per write (1,000 by default). An empty
// request writes nothing and returns the zero Token.
func (a *Adapter) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	for _, r := range slices.Concat(req.Touch, req.Delete) {
		if err := r.Validate(); err != nil {
			return authz.Token{}, err
		}
	}
	touch, del := distinct(req.Touch), distinct(req.Delete)
	for _, r := range touch {
		if slices.Contains(del, r) {
			return authz.Token{}, authz.Invalidf("spicedbadapter: a relationship of the write is both touched and deleted")
		}
	}
	if len(touch)+len(del) == 0 {
		return authz.Token{}, nil
	}
	return a.write(ctx, writeRequest(touch, del))
}

func distinct(rels []authz.Relationship) []authz.Relationship {
	seen := make(map[authz.Relationship]bool, len(rels))
	out := make([]authz.Relationship, 0, len(rels))
	for _, r := range rels {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func (a *Adapter) write(ctx context.Context, req *v1.WriteRelationshipsRequest) (authz.Token, error) {
	var resp *v1.WriteRelationshipsResponse
	err := a.opts.retry.do(ctx, writeCall, func(ctx context.Context) error {
		var err error
		resp, err = a.client.WriteRelationships(ctx, req)
		return err
	})
	if refused := refusedContext(req, err); refused != nil {
		return authz.Token{}, refused
	}
	if err != nil {
		return authz.Token{}, translate(ctx, err)
	}
	return token(resp.GetWrittenAt()), nil
}

// ReadRelationships streams every relationship whose resource is
// req.Resource, with their caveats (and stored contexts) and expirations.
func (a *Adapter) ReadRelationships(ctx context.Context, req authz.ReadRequest) ([]authz.Relationship, error) {
	if err := req.Resource.Validate(); err != nil {
		return nil, err
	}
	got, _, err := a.readResource(ctx, req.Resource, consistency(req.Consistency), 0)
	if err != nil {
		return nil, err
	}
	rels := make([]authz.Relationship, len(got))
	for i, r := range got {
		rels[i] = r.rel
	}
	return rels, nil
}

// readRelationship is a relationship read from SpiceDB; plain is false if
// it has a caveat or an expiry.
type readRelationship struct {
	rel   authz.Relationship
	plain bool
}

// readResource reads up to limit (0: all) relationships of resource and
// the token of the snapshot read.
func (a *Adapter) readResource(ctx context.Context, resource authz.Resource, c *v1.Consistency, limit uint32) ([]readRelationship, authz.Token, error) {
	var rels []readRelationship
	var tok authz.Token
	err := a.read(ctx, c, func(ctx context.Context, c *v1.Consistency) error {
		rels, tok = nil, authz.Token{}
		stream, err := a.client.ReadRelationships(ctx, readRequest(resourceFilter(resource), pageState{consistency: c, limit: limit}))
		if err != nil {
			return err
		}
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			rel, plain := relationshipFrom(resp.GetRelationship())
			rels = append(rels, readRelationship{rel: rel, plain: plain})
			tok = token(resp.GetReadAt())
		}
	})
	return rels, tok, err
}

// Enumerate pages through the distinct ids of req.ResourceType that are
// the resource of some relationship, by streaming ReadRelationships (which
// SpiceDB orders by resource). A page never splits the relationships of
// one id, so every id appears in exactly one page; ids are ascending within
// a page. A zero limit means the page size. A cursor carries SpiceDB's
// cursor with the consistency and page size it was made with, as SpiceDB
// requires, so a continued enumeration reads the snapshot of its first
// page.
func (a *Adapter) Enumerate(ctx context.Context, req authz.EnumerateRequest) (authz.EnumerateResult, error) {
	if err := authz.ValidateType(req.ResourceType); err != nil {
		return authz.EnumerateResult{}, err
	}
	if req.Limit < 0 {
		return authz.EnumerateResult{}, authz.Invalidf("spicedbadapter: negative limit %d", req.Limit)
	}
	limit := cmp.Or(req.Limit, int(a.opts.pageSize))
	// Each id has at least one relationship, so limit+1 relationships are
	// the fewest that can show where a page ends.
	st := pageState{consistency: consistency(req.Consistency), limit: uint32(min(limit+1, int(a.opts.pageSize)))}
	if req.Cursor != "" {
		var err error
		if st, err = decodeEnumerateCursor(req.Cursor); err != nil {
			return authz.EnumerateResult{}, err
		}
	}
	var ids []string
	for {
		batch, used, done, err := a.readBatch(ctx, typeFilter(req.ResourceType), st)
		if err != nil {
			return authz.EnumerateResult{}, err
		}
		st.consistency = used
		for _, r := range batch {
			if n := len(ids); n > 0 && ids[n-1] == r.id {
				st.cursor = r.after
				continue
			}
			if len(ids) == limit {
				return authz.EnumerateResult{IDs: ascending(ids), Cursor: encodeEnumerateCursor(st)}, nil
			}
			ids = append(ids, r.id)
			st.cursor = r.after
		}
		if done {
			return authz.EnumerateResult{IDs: ascending(ids)}, nil
		}
	}
}

// ascending sorts ids and drops repeats.
func ascending(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// readEntry is the resource id of one relationship read and the cursor
// after it.
type readEntry struct {
	id, after string
}

// readBatch runs one ReadRelationships stream from st and returns its
// entries, the consistency it used, and whether it read to the end.
func (a *Adapter) readBatch(ctx context.Context, filter *v1.RelationshipFilter, st pageState) (batch []readEntry, used *v1.Consistency, done bool, err error) {
	err = a.read(ctx, st.consistency, func(ctx context.Context, c *v1.Consistency) error {
		batch, used = nil, c
		ctx, cancel := context.WithCancel(ctx) // ends the stream on an early return
		defer cancel()
		stream, err := a.client.ReadRelationships(ctx, readRequest(filter, pageState{consistency: c, limit: st.limit, cursor: st.cursor}))
		if err != nil {
			return err
		}
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				done = len(batch) < int(st.limit)
				return nil
			}
			if err != nil {
				return err
			}
			e := readEntry{id: resp.GetRelationship().GetResource().GetObjectId(), after: resp.GetAfterResultCursor().GetToken()}
			if e.after == "" {
				return status.Error(codes.Internal, "spicedb returned a relationship without a cursor")
			}
			batch = append(batch, e)
		}
	})
	return batch, used, done, err
}

// read runs a read with consistency c, repeats it once fully consistent if
// SpiceDB refuses c's ZedToken (a foreign, malformed or expired token must
// not fail a read that full consistency can answer), and translates its
// error.
func (a *Adapter) read(ctx context.Context, c *v1.Consistency, op func(context.Context, *v1.Consistency) error) error {
	err := a.opts.retry.do(ctx, readCall, func(ctx context.Context) error { return op(ctx, c) })
	if err != nil && hasToken(c) && tokenRejected(err) && ctx.Err() == nil {
		full := fullyConsistent()
		err = a.opts.retry.do(ctx, readCall, func(ctx context.Context) error { return op(ctx, full) })
	}
	return translate(ctx, err)
}
