package collapse_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/google/go-cmp/cmp"
)

func user(id string) authz.Subject { return testfixture.User(id) }

// down is an engine that cannot answer.
type down struct{ authz.Authorizer }

func (down) Check(context.Context, authz.CheckRequest) (authz.Decision, error) {
	return authz.Deny(), authz.ErrUnavailable
}

func (down) CheckMany(context.Context, authz.CheckManyRequest) ([]authz.CheckResult, error) {
	return nil, authz.ErrUnavailable
}

// TestVisibilityRule replays the reference rule (behaviour.md 9.1).
func TestVisibilityRule(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	r.Grant(t, testfixture.Task("t1"), "viewer", user("bob"))
	task := authz.Resource{Type: "task", ID: "t1"}
	tests := []struct {
		name      string
		who       string
		op        authz.Operation
		wantErr   error
		wantCalls []string
	}{
		{"allowed read: one check", "alice", authz.OpRead, nil, []string{"check task#read"}},
		{"denied read: not found after one check", "dave", authz.OpRead, authz.ErrNotFound, []string{"check task#read"}},
		{"denied op, unreadable: not found in one bulk call", "dave", authz.OpCancel, authz.ErrNotFound, []string{"checkmany task#cancel,task#read"}},
		{"denied op, readable: denied in one bulk call", "bob", authz.OpCancel, authz.ErrDenied, []string{"checkmany task#cancel,task#read"}},
		{"allowed op", "alice", authz.OpUpdate, nil, []string{"checkmany task#update,task#read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.Calls.Reset()
			err := collapse.CheckOrNotFound(context.Background(), r.Guard, authz.Question{Subject: user(tc.who), Resource: task, Operation: tc.op, Consistency: authz.AtLeastAsFresh(r.Token)})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantCalls, r.Calls.Calls()); diff != "" {
				t.Errorf("calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnmappedOperationReachesNoEngine: an operation the map lacks (or a
// type whose read probe is unmapped) is an invalid request before any
// backend call, for CheckOrNotFound and NotFound alike.
func TestUnmappedOperationReachesNoEngine(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	for _, q := range []authz.Question{
		{Subject: user("alice"), Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: "READ"},
		{Subject: user("alice"), Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: "archive"},
		{Subject: user("alice"), Resource: authz.Resource{Type: "robot", ID: "r1"}, Operation: authz.OpRead},
		{Subject: user("alice"), Resource: authz.Resource{Type: "robot", ID: "r1"}, Operation: authz.OpCancel},
	} {
		for name, f := range map[string]func(context.Context, *authz.Guard, authz.Question) error{
			"CheckOrNotFound": collapse.CheckOrNotFound, "NotFound": collapse.NotFound,
		} {
			r.Calls.Reset()
			if err := f(context.Background(), r.Guard, q); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("%s(%s %s) = %v, want %v", name, q.Operation, q.Resource.Type, err, authz.ErrInvalidRequest)
			}
			if calls := r.Calls.Calls(); len(calls) != 0 {
				t.Errorf("%s(%s %s) made backend calls %v", name, q.Operation, q.Resource.Type, calls)
			}
		}
	}
}

// TestNotFoundIsTheSentinel: the collapsed answer is authz.ErrNotFound
// itself, never a denied error, and names nothing.
func TestNotFoundIsTheSentinel(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	for _, op := range []authz.Operation{authz.OpRead, authz.OpCancel} {
		err := collapse.CheckOrNotFound(context.Background(), r.Guard, authz.Question{Subject: user("eve"), Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: op, Consistency: authz.AtLeastAsFresh(r.Token)})
		if err != authz.ErrNotFound {
			t.Errorf("%s: err = %#v, want the ErrNotFound sentinel", op, err)
		}
		if errors.Is(err, authz.ErrDenied) {
			t.Errorf("%s: not-found matches ErrDenied", op)
		}
		var de *authz.DeniedError
		if errors.As(err, &de) {
			t.Errorf("%s: not-found carries a DeniedError", op)
		}
	}
}

// TestListFilter: a bypass without a Scope means no filter; an empty lookup means an empty
// list, never an unfiltered one; an explicit filter on an invisible parent
// yields an empty list.
func TestListFilter(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	r.RegisterTask(t, "t2", "bob")
	ctx := context.Background()
	f, err := r.Guard.Lookup(ctx, authz.ListQuestion{Subject: user("alice"), ResourceType: "task", Operation: authz.OpRead, Consistency: authz.AtLeastAsFresh(r.Token)})
	if err != nil {
		t.Fatal(err)
	}
	if f.All() || f.Empty() || !cmp.Equal(f.IDs(), []string{"t1"}) {
		t.Errorf("alice filter = %+v", f.IDs())
	}
	if n := f.Narrow("t2"); !n.Empty() {
		t.Errorf("narrowing to an invisible id admits %v", n.IDs())
	}
	if n := f.Narrow("t1"); !cmp.Equal(n.IDs(), []string{"t1"}) {
		t.Errorf("narrowing to a visible id = %v", n.IDs())
	}
	none, err := r.Guard.Lookup(ctx, authz.ListQuestion{Subject: user("nobody"), ResourceType: "task", Operation: authz.OpRead, Consistency: authz.AtLeastAsFresh(r.Token)})
	if err != nil {
		t.Fatal(err)
	}
	if !none.Empty() || none.All() || none.Allows("t1") {
		t.Errorf("empty lookup gave %+v", none)
	}
	bctx := authz.WithBypass(ctx, authz.Bypass{Identity: authz.Subject{Type: "service", ID: "cron"}})
	all, err := r.Guard.Lookup(bctx, authz.ListQuestion{Subject: user("nobody"), ResourceType: "task", Operation: authz.OpRead, Consistency: authz.MinimizeLatency()})
	if err != nil {
		t.Fatal(err)
	}
	if !all.All() || all.Empty() || !all.Allows("anything") {
		t.Errorf("bypass gave %+v", all)
	}
	if n := all.Narrow("t9"); !cmp.Equal(n.IDs(), []string{"t9"}) {
		t.Errorf("unfiltered narrowed = %v", n.IDs())
	}
	var zero authz.Filter
	if !zero.Empty() || zero.All() {
		t.Error("zero Filter must be empty, not unfiltered")
	}
}

type row struct{ id string }

// candidates returns a Fetch over ids task-00000..task-(n-1).
func candidates(n int, fetches *int) func(context.Context, string, int) ([]row, string, error) {
	return func(_ context.Context, cursor string, limit int) ([]row, string, error) {
		*fetches++
		start := 0
		if cursor != "" {
			start, _ = strconv.Atoi(cursor)
		}
		var out []row
		i := start
		for ; i < n && len(out) < limit; i++ {
			out = append(out, row{id: fmt.Sprintf("task-%05d", i)})
		}
		next := ""
		if i < n {
			next = strconv.Itoa(i)
		}
		return out, next, nil
	}
}

func TestFilterPageKeepsPagesFull(t *testing.T) {
	r := testfixture.New(t)
	// alice owns every 10th task of 1,000.
	for i := 0; i < 1000; i += 10 {
		r.RegisterTask(t, fmt.Sprintf("task-%05d", i), "alice")
	}
	var fetches int
	var pages [][]row
	cursor := ""
	cursors := collapse.RandomCursors()
	for {
		items, next, err := collapse.FilterPage(context.Background(), r.Guard, collapse.PageRequest[row]{
			Subject: user("alice"), Operation: authz.OpRead, Consistency: authz.AtLeastAsFresh(r.Token),
			Size: 25, Batch: 50, MaxCalls: 100, Cursor: cursor, Cursors: cursors,
			Fetch:    candidates(1000, &fetches),
			Resource: func(x row) authz.Resource { return authz.Resource{Type: "task", ID: x.id} },
			CursorOf: func(x row) string { n, _ := strconv.Atoi(x.id[5:]); return strconv.Itoa(n + 1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 0 {
			pages = append(pages, items)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(pages) != 4 {
		t.Fatalf("got %d pages, want 4", len(pages))
	}
	seen := 0
	for i, p := range pages {
		if len(p) != 25 {
			t.Errorf("page %d has %d items, want 25", i, len(p))
		}
		for _, it := range p {
			if want := fmt.Sprintf("task-%05d", seen*10); it.id != want {
				t.Fatalf("item %d = %s, want %s", seen, it.id, want)
			}
			seen++
		}
	}
}

func TestFilterPageBoundsCallsAndFailsClosed(t *testing.T) {
	r := testfixture.New(t)
	var fetches int
	req := collapse.PageRequest[row]{
		Subject: user("nobody"), Operation: authz.OpRead,
		Size: 10, MaxCalls: 3, Cursors: collapse.RandomCursors(),
		Fetch:    candidates(100000, &fetches),
		Resource: func(x row) authz.Resource { return authz.Resource{Type: "task", ID: x.id} },
		CursorOf: func(x row) string { return x.id },
	}
	items, next, err := collapse.FilterPage(context.Background(), r.Guard, req)
	if err != nil || len(items) != 0 || next == "" || fetches != 3 {
		t.Errorf("got %d items, next %q, err %v after %d fetches; want 0 items, a cursor, 3 fetches", len(items), next, err, fetches)
	}
	ops := r.Guard.Operations()
	items, _, err = collapse.FilterPage(context.Background(), authz.NewGuard(down{r.Engine}, ops), req)
	if !errors.Is(err, authz.ErrUnavailable) || items != nil {
		t.Errorf("outage: items %v, err %v; want nothing and ErrUnavailable", items, err)
	}
	if _, _, err := collapse.FilterPage(context.Background(), r.Guard, collapse.PageRequest[row]{}); !errors.Is(err, collapse.ErrBadPageRequest) {
		t.Errorf("empty request: %v", err)
	}
}

// TestPagesStreamOnePageAtATime: listing the 1,000 visible tasks among
// 100,000 yields every visible id exactly once, in pages of at most the
// requested size, and can stop after the first page.
func TestPagesStreamOnePageAtATime(t *testing.T) {
	r := testfixture.New(t)
	ctx := context.Background()
	var touches []authz.Relationship
	for i := range 100000 {
		owner := "bob"
		if i%100 == 0 {
			owner = "alice"
		}
		touches = append(touches, authz.Relationship{Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("task-%06d", i)}, Relation: "owner", Subject: user(owner)})
	}
	tok, err := r.Engine.Write(ctx, authz.WriteRequest{Touch: touches})
	if err != nil {
		t.Fatal(err)
	}
	c := authz.AtLeastAsFresh(tok)
	seen := map[string]bool{}
	pages := 0
	for f, err := range collapse.Pages(ctx, r.Guard, authz.ListQuestion{Subject: user("alice"), ResourceType: "task", Operation: authz.OpRead, Consistency: c, Limit: 128}) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if f.All() || len(f.IDs()) > 128 || len(f.IDs()) == 0 {
			t.Fatalf("page %d: unfiltered=%v, %d ids", pages, f.All(), len(f.IDs()))
		}
		for _, id := range f.IDs() {
			if seen[id] {
				t.Fatalf("id %s yielded twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != 1000 || pages != 8 {
		t.Errorf("got %d ids in %d pages, want 1000 in 8", len(seen), pages)
	}
	// Stopping after the first page costs one lookup.
	r.Calls.Reset()
	for range collapse.Pages(ctx, r.Guard, authz.ListQuestion{Subject: user("alice"), ResourceType: "task", Operation: authz.OpRead, Consistency: c, Limit: 50}) {
		break
	}
	if calls := r.Calls.Calls(); len(calls) != 1 {
		t.Errorf("first page only: calls %v, want one lookup", calls)
	}
	// Under an unscoped bypass: one unfiltered page; with no access: none.
	bctx := authz.WithBypass(ctx, authz.Bypass{Identity: authz.Subject{Type: "service", ID: "cron"}})
	n := 0
	for f, err := range collapse.Pages(bctx, r.Guard, authz.ListQuestion{Subject: user("nobody"), ResourceType: "task", Operation: authz.OpRead, Consistency: c, Limit: 50}) {
		if err != nil || !f.All() {
			t.Errorf("bypass page = %+v, %v", f, err)
		}
		n++
	}
	for range collapse.Pages(ctx, r.Guard, authz.ListQuestion{Subject: user("nobody"), ResourceType: "task", Operation: authz.OpRead, Consistency: c, Limit: 50}) {
		n += 10
	}
	if n != 1 {
		t.Errorf("pages under bypass and without access = %d, want 1 and 0", n)
	}
}

// hiddenRig is 200 rows row|000..row|199 (the "|" cannot occur in a
// base64url cursor, so a cursor that holds an id is found without false
// positives) of which alice may see every 10th, and
// a Fetch over them in id order whose cursor is the last row's id, the
// usual repository cursor.
func hiddenRig(t testing.TB) (*testfixture.World, func(ctx context.Context, cursor string, n int) ([]row, string, error)) {
	r := testfixture.New(t)
	for i := 0; i < 200; i += 10 {
		r.RegisterTask(t, fmt.Sprintf("row|%03d", i), "alice")
	}
	fetch := func(_ context.Context, cursor string, n int) ([]row, string, error) {
		start := 0
		if cursor != "" {
			i, err := strconv.Atoi(strings.TrimPrefix(cursor, "row|"))
			if err != nil {
				return nil, "", fmt.Errorf("repository got a cursor it did not make: %q", cursor)
			}
			start = i + 1
		}
		var out []row
		for i := start; i < 200 && len(out) < n; i++ {
			out = append(out, row{id: fmt.Sprintf("row|%03d", i)})
		}
		next := ""
		if len(out) > 0 && start+len(out) < 200 {
			next = out[len(out)-1].id
		}
		return out, next, nil
	}
	return r, fetch
}

// TestFilterPageCursorsNameNoHiddenRow: paging through rows of which the
// caller sees 1 in 10, with budgets that run out on hidden rows, every
// cursor handed out is opaque (no hidden id in it, raw or decoded, and all
// of one length), the pages hold exactly the visible rows in order, and a
// cursor that is altered, forged or replayed by another subject is refused
// before any fetch or check.
func TestFilterPageCursorsNameNoHiddenRow(t *testing.T) {
	r, fetch := hiddenRig(t)
	cursors := collapse.RandomCursors()
	var fetches int
	counted := func(ctx context.Context, cursor string, n int) ([]row, string, error) {
		fetches++
		return fetch(ctx, cursor, n)
	}
	req := collapse.PageRequest[row]{
		Subject: user("alice"), Operation: authz.OpRead, Consistency: authz.AtLeastAsFresh(r.Token),
		Size: 3, Batch: 4, MaxCalls: 2, Cursors: cursors,
		Fetch:    counted,
		Resource: func(x row) authz.Resource { return authz.Resource{Type: "task", ID: x.id} },
		CursorOf: func(x row) string { return x.id },
	}
	var got []string
	var handedOut []string
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatal("paging does not end")
		}
		items, next, err := collapse.FilterPage(context.Background(), r.Guard, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got = append(got, it.id)
		}
		if next == "" {
			break
		}
		handedOut = append(handedOut, next)
		req.Cursor = next
	}
	var want []string
	for i := 0; i < 200; i += 10 {
		want = append(want, fmt.Sprintf("row|%03d", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("visible rows mismatch (-want +got):\n%s", diff)
	}
	if len(handedOut) < 10 {
		t.Fatalf("only %d cursors handed out; the test needs budgets that run out", len(handedOut))
	}
	for _, c := range handedOut {
		if len(c) != len(handedOut[0]) {
			t.Errorf("cursor lengths differ: %d and %d", len(c), len(handedOut[0]))
		}
		decoded, _ := base64.RawURLEncoding.DecodeString(c)
		for i := range 200 {
			id := fmt.Sprintf("row|%03d", i)
			if strings.Contains(c, id) || bytes.Contains(decoded, []byte(id)) {
				t.Errorf("cursor %q contains %s", c, id)
			}
		}
	}
	// Altered, forged, truncated, another subject's or another
	// operation's cursor: refused, nothing fetched or checked.
	good := handedOut[0]
	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 1
	if flipped[len(flipped)/2] == '-' || flipped[len(flipped)/2] == '_' {
		flipped[len(flipped)/2] = 'A'
	}
	forged := base64.RawURLEncoding.EncodeToString([]byte("row|050"))
	other := collapse.RandomCursors()
	for name, tc := range map[string]struct {
		cursor  string
		subject authz.Subject
		op      authz.Operation
		cursors *collapse.Cursors
	}{
		"raw row id":        {"row|050", user("alice"), authz.OpRead, cursors},
		"forged":            {forged, user("alice"), authz.OpRead, cursors},
		"altered":           {string(flipped), user("alice"), authz.OpRead, cursors},
		"truncated":         {good[:len(good)-4], user("alice"), authz.OpRead, cursors},
		"another subject":   {good, user("mallory"), authz.OpRead, cursors},
		"another operation": {good, user("alice"), authz.OpCancel, cursors},
		"another key":       {good, user("alice"), authz.OpRead, other},
	} {
		bad := req
		bad.Cursor, bad.Subject, bad.Operation, bad.Cursors = tc.cursor, tc.subject, tc.op, tc.cursors
		fetches = 0
		r.Calls.Reset()
		items, next, err := collapse.FilterPage(context.Background(), r.Guard, bad)
		if !errors.Is(err, collapse.ErrBadCursor) || !errors.Is(err, authz.ErrInvalidRequest) || items != nil || next != "" {
			t.Errorf("%s: %d items, next %q, err %v; want %v", name, len(items), next, err, collapse.ErrBadCursor)
		}
		if fetches != 0 || len(r.Calls.Calls()) != 0 {
			t.Errorf("%s: %d fetches and calls %v before refusing", name, fetches, r.Calls.Calls())
		}
	}
	req.Cursors = nil
	if _, _, err := collapse.FilterPage(context.Background(), r.Guard, req); !errors.Is(err, collapse.ErrBadPageRequest) {
		t.Errorf("request without Cursors: %v, want %v", err, collapse.ErrBadPageRequest)
	}
}

// FuzzFilterPageCursor: no cursor a client can send makes FilterPage
// panic, reach the repository with a cursor it did not make, or return a
// row the caller may not see.
func FuzzFilterPageCursor(f *testing.F) {
	r, fetch := hiddenRig(f)
	cursors := collapse.RandomCursors()
	req := collapse.PageRequest[row]{
		Subject: user("alice"), Operation: authz.OpRead, Consistency: authz.AtLeastAsFresh(r.Token),
		Size: 3, Batch: 4, MaxCalls: 2, Cursors: cursors,
		Resource: func(x row) authz.Resource { return authz.Resource{Type: "task", ID: x.id} },
		CursorOf: func(x row) string { return x.id },
	}
	req.Fetch = fetch
	_, next, err := collapse.FilterPage(context.Background(), r.Guard, req)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(next)
	f.Add("")
	f.Add("row|050")
	f.Add(next[:len(next)-1] + "A")
	f.Fuzz(func(t *testing.T, cursor string) {
		req := req
		req.Cursor = cursor
		req.Fetch = func(ctx context.Context, c string, n int) ([]row, string, error) {
			rows, next, err := fetch(ctx, c, n)
			if err != nil {
				t.Fatalf("repository got cursor %q: %v", c, err)
			}
			return rows, next, nil
		}
		items, _, err := collapse.FilterPage(context.Background(), r.Guard, req)
		if err != nil && !errors.Is(err, collapse.ErrBadCursor) {
			t.Fatalf("cursor %q: %v", cursor, err)
		}
		for _, it := range items {
			n, _ := strconv.Atoi(it.id[4:])
			if n%10 != 0 {
				t.Fatalf("cursor %q: hidden row %s returned", cursor, it.id)
			}
		}
	})
}

// TestFilterPageBoundsFailClosed: sizes from a client cannot decide an
// allocation (a Size or Batch of 1<<40 is refused before any fetch, where
// it used to end the process out of memory), negative bounds are refused,
// a Fetch that returns more than it was asked for is an error, a Fetch
// that skips a stretch (no candidates, a cursor) is followed, and a
// cursor is good only for the list it was issued for.
func TestFilterPageBoundsFailClosed(t *testing.T) {
	r, fetch := hiddenRig(t)
	fetches := 0
	base := collapse.PageRequest[row]{
		Subject: user("alice"), Operation: authz.OpRead, Consistency: authz.AtLeastAsFresh(r.Token),
		Size: 3, Batch: 4, MaxCalls: 2, Cursors: collapse.RandomCursors(), List: "GET /rows",
		Fetch: func(ctx context.Context, c string, n int) ([]row, string, error) {
			fetches++
			return fetch(ctx, c, n)
		},
		Resource: func(x row) authz.Resource { return authz.Resource{Type: "task", ID: x.id} },
		CursorOf: func(x row) string { return x.id },
	}
	for name, mutate := range map[string]func(*collapse.PageRequest[row]){
		"huge size":          func(q *collapse.PageRequest[row]) { q.Size = 1 << 40 },
		"huge batch":         func(q *collapse.PageRequest[row]) { q.Batch = 1 << 40 },
		"size over the max":  func(q *collapse.PageRequest[row]) { q.Size = collapse.MaxPageSize + 1 },
		"negative batch":     func(q *collapse.PageRequest[row]) { q.Batch = -1 },
		"negative max calls": func(q *collapse.PageRequest[row]) { q.MaxCalls = -1 },
		"huge max calls":     func(q *collapse.PageRequest[row]) { q.MaxCalls = 1 << 40 },
		"zero size":          func(q *collapse.PageRequest[row]) { q.Size = 0 },
	} {
		q := base
		mutate(&q)
		fetches = 0
		if items, _, err := collapse.FilterPage(context.Background(), r.Guard, q); !errors.Is(err, collapse.ErrBadPageRequest) || items != nil || fetches != 0 {
			t.Errorf("%s: %d items, err %v after %d fetches; want %v and no fetch", name, len(items), err, fetches, collapse.ErrBadPageRequest)
		}
	}
	greedy := base
	greedy.Fetch = func(ctx context.Context, c string, n int) ([]row, string, error) { return fetch(ctx, c, n+5) }
	if items, _, err := collapse.FilterPage(context.Background(), r.Guard, greedy); !errors.Is(err, authz.ErrInternal) || items != nil {
		t.Errorf("a Fetch returning more than asked: %d items, %v; want %v", len(items), err, authz.ErrInternal)
	}
	// A Fetch that first skips a stretch of the table: the page goes on
	// after it.
	skipping := base
	skipping.MaxCalls = 4 // the skip is one of them
	skipped := false
	skipping.Fetch = func(ctx context.Context, c string, n int) ([]row, string, error) {
		if !skipped {
			skipped = true
			return nil, "row|004", nil
		}
		return fetch(ctx, c, n)
	}
	items, _, err := collapse.FilterPage(context.Background(), r.Guard, skipping)
	if err != nil || len(items) != 1 || items[0].id != "row|010" {
		t.Errorf("after a skipped stretch: %v, %v; want [row|010]", items, err)
	}
	// A cursor of one list is refused by another.
	_, next, err := collapse.FilterPage(context.Background(), r.Guard, base)
	if err != nil || next == "" {
		t.Fatalf("first page: next %q, %v", next, err)
	}
	other := base
	other.List, other.Cursor = "GET /other-rows", next
	if _, _, err := collapse.FilterPage(context.Background(), r.Guard, other); !errors.Is(err, collapse.ErrBadCursor) {
		t.Errorf("another list's cursor: %v, want %v", err, collapse.ErrBadCursor)
	}
}

// TestFilterPageRefusesALongRepositoryCursor: a repository cursor longer
// than MaxCursorBytes cannot be sealed to the one length every cursor has
// (its length would tell the length of a hidden row's cursor), so the page
// fails with ErrLongCursor and hands out nothing.
func TestFilterPageRefusesALongRepositoryCursor(t *testing.T) {
	r, fetch := hiddenRig(t)
	req := collapse.PageRequest[row]{
		Subject: user("alice"), Operation: authz.OpRead, Consistency: authz.AtLeastAsFresh(r.Token),
		Size: 3, Batch: 4, MaxCalls: 2, Cursors: collapse.RandomCursors(),
		Fetch: func(ctx context.Context, cursor string, n int) ([]row, string, error) {
			items, next, err := fetch(ctx, strings.TrimRight(cursor, "~"), n)
			if next != "" {
				next += strings.Repeat("~", collapse.MaxCursorBytes)
			}
			return items, next, err
		},
		Resource: func(x row) authz.Resource { return authz.Resource{Type: "task", ID: x.id} },
		CursorOf: func(x row) string { return x.id + strings.Repeat("~", collapse.MaxCursorBytes) },
	}
	items, next, err := collapse.FilterPage(context.Background(), r.Guard, req)
	if !errors.Is(err, collapse.ErrLongCursor) || items != nil || next != "" {
		t.Fatalf("FilterPage with a %d-byte repository cursor = %d items, %q, %v; want ErrLongCursor and nothing", collapse.MaxCursorBytes+7, len(items), next, err)
	}
}
