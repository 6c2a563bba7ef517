package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/dualwrite"
	"github.com/fgac-go/fgac/httpauthz"
)

// route is one endpoint: its pattern, the fgac middleware that guards it
// (nil for none beyond authentication) and its handler.
type route struct {
	pattern string
	guard   func(http.Handler) http.Handler // for lists and RPC; nil with need
	handler http.HandlerFunc
	need    *need // for routes that address one resource
}

// need is what a route that addresses one resource requires: registered
// with httpauthz's Middleware.Handle, which checks at startup that every
// path value its extractors read is in the route's pattern.
type need struct {
	typ string
	op  authz.Operation
	ids []httpauthz.Extractor
}

func require(typ string, op authz.Operation, ids ...httpauthz.Extractor) *need {
	return &need{typ: typ, op: op, ids: ids}
}

// routes is the route table, modelled on that of the agent platform fgac
// generalises. Every handler runs after its guard allowed the request and
// reads the id the guard checked from httpauthz.TargetFrom, never from the
// request again: a name route and its id route share one handler, and the
// handler acts on exactly the resource that was authorized (a rename
// between the check and the handler cannot redirect it).
func (s *server) routes() []route {
	m := s.mw
	var (
		path         = httpauthz.PathValue
		agentID      = path("agent_id")
		agentName    = httpauthz.ByName(path("agent_name"), ownName(s.store.agentIDByName))
		taskID       = path("task_id")
		taskName     = httpauthz.ByName(path("task_name"), ownName(s.store.taskIDByName))
		bodyTaskID   = httpauthz.JSONField("task_id")
		bodyThreadID = httpauthz.JSONField("thread_id")
		queryTaskID  = httpauthz.Query("task_id")
		queryAgentID = httpauthz.Query("agent_id")
	)

	// The RPC endpoint's method table. Every method names the resource it
	// acts on; a method missing here is refused before any handler runs.
	// task/create acts on the agent (there is no task yet), the others on
	// the task named by params.task_id or params.task_name (exactly one).
	// task_name, like every name, is one of the caller's own (ownName).
	// message/send never creates a task: get-or-create by name would answer
	// 404 where the name resolves to a task the caller may not update and
	// create a task where it resolves to none.
	var methods httpauthz.Methods
	rpcTask := httpauthz.Either(httpauthz.JSONField("params", "task_id"),
		httpauthz.ByName(httpauthz.JSONField("params", "task_name"), ownName(s.store.taskIDByName)))
	methods.Handle("task/create", httpauthz.Method{ResourceType: "agent", Operation: authz.OpCreate, ID: agentID})
	methods.Handle("message/send", httpauthz.Method{ResourceType: "task", Operation: authz.OpUpdate, ID: rpcTask})
	methods.Handle("event/send", httpauthz.Method{ResourceType: "task", Operation: authz.OpUpdate, ID: rpcTask})
	methods.Handle("task/cancel", httpauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: rpcTask})
	methods.Handle("task/interrupt", httpauthz.Method{ResourceType: "task", Operation: authz.OpUpdate, ID: rpcTask})
	rpc := func(next http.Handler) http.Handler {
		// The caller must be allowed to call the agent, then to do what the
		// method does.
		return m.Require("agent", authz.OpExecute, agentID)(m.RPC(&methods, httpauthz.JSONField("method"))(next))
	}

	return []route{
		{"POST /agents", nil, s.createAgent, nil},
		{"GET /agents", m.List("agent", authz.OpRead), s.listAgents, nil},
		{"GET /agents/{agent_id}", nil, s.getAgent, require("agent", authz.OpRead, agentID)},
		{"GET /agents/name/{agent_name}", nil, s.getAgent, require("agent", authz.OpRead, agentName)},
		{"DELETE /agents/{agent_id}", nil, s.deleteAgent, require("agent", authz.OpDelete, agentID)},
		{"POST /agents/{agent_id}/rpc", rpc, s.rpc, nil},

		{"GET /tasks", m.List("task", authz.OpRead), s.listTasks, nil},
		{"GET /tasks/{task_id}", nil, s.getTask, require("task", authz.OpRead, taskID)},
		{"GET /tasks/name/{task_name}", nil, s.getTask, require("task", authz.OpRead, taskName)},
		{"PUT /tasks/{task_id}", nil, s.updateTask, require("task", authz.OpUpdate, taskID)},
		{"PUT /tasks/name/{task_name}", nil, s.updateTask, require("task", authz.OpUpdate, taskName)},
		{"POST /tasks/{task_id}/cancel", nil, s.cancelTask, require("task", authz.OpCancel, taskID)},
		{"POST /tasks/{task_id}/share", nil, s.shareTask, require("task", opShare, taskID)},
		{accessPattern, nil, s.taskAccess, require("task", authz.OpRead, taskID)},
		{"DELETE /tasks/{task_id}/share/{user}", nil, s.unshareTask, require("task", opShare, taskID)},
		{"DELETE /tasks/{task_id}", nil, s.deleteTask, require("task", authz.OpDelete, taskID)},
		{"DELETE /tasks/name/{task_name}", nil, s.deleteTask, require("task", authz.OpDelete, taskName)},

		{"POST /messages", nil, s.createMessage, require("task", authz.OpUpdate, bodyTaskID)},
		{"GET /messages", m.List("task", authz.OpRead, httpauthz.NarrowBy("task", queryTaskID)), s.listMessages, nil},
		{"GET /messages/{message_id}", nil, s.getMessage, require("message", authz.OpRead, path("message_id"))},
		{"PUT /messages/{message_id}", nil, s.updateMessage, require("message", authz.OpUpdate, path("message_id"))},

		{"POST /states", nil, s.createState, require("task", authz.OpUpdate, bodyTaskID)},
		{"GET /states", m.List("task", authz.OpRead, httpauthz.NarrowBy("task", queryTaskID)), s.listStates, nil},
		{"GET /states/{state_id}", nil, s.getState, require("state", authz.OpRead, path("state_id"))},
		{"PUT /states/{state_id}", nil, s.updateState, require("state", authz.OpUpdate, path("state_id"))},
		{"DELETE /states/{state_id}", nil, s.deleteState, require("state", authz.OpDelete, path("state_id"))},

		{"GET /trackers", m.List("task", authz.OpRead, httpauthz.NarrowBy("task", queryTaskID)), s.listTrackers, nil},
		{"GET /trackers/{tracker_id}", nil, s.getTracker, require("tracker", authz.OpRead, path("tracker_id"))},
		{"PUT /trackers/{tracker_id}", nil, s.updateTracker, require("tracker", authz.OpUpdate, path("tracker_id"))},

		// Checkpoints follow LangGraph's convention: thread_id is the task id.
		{"POST /checkpoints/get-tuple", nil, s.getCheckpoint, require("task", authz.OpRead, bodyThreadID)},
		{"POST /checkpoints/list", m.List("task", authz.OpRead, httpauthz.NarrowBy("task", bodyThreadID)), s.listCheckpoints, nil},
		{"POST /checkpoints/put", nil, s.putCheckpoint, require("task", authz.OpUpdate, bodyThreadID)},
		{"POST /checkpoints/put-writes", nil, s.putWrites, require("task", authz.OpUpdate, bodyThreadID)},
		{"POST /checkpoints/delete-thread", nil, s.deleteThread, require("task", authz.OpDelete, bodyThreadID)},

		{"GET /events", m.List("agent", authz.OpRead, httpauthz.NarrowBy("agent", queryAgentID)), s.listEvents, nil},
		{"GET /events/{event_id}", nil, s.getEvent, require("event", authz.OpRead, path("event_id"))},
	}
}

// ownName returns the name lookup of the name routes: it resolves a name
// among the caller's own names only, those of the authenticated user (for an
// agent API key, of the agent's owner). Names are unique per owner, not
// globally, so another user's name resolves to nothing and answers exactly
// as a name nobody uses and a missing id do, even where that user shared
// the resource with the caller (shared resources are addressed by id).
// Neither a create nor a name route can then tell a caller which names
// other users have.
func ownName(lookup func(ctx context.Context, owner, name string) (string, error)) httpauthz.NameLookup {
	return func(ctx context.Context, name string) (string, error) {
		owner, ok := namesOwnerFrom(ctx)
		if !ok {
			return "", authz.ErrNotFound
		}
		id, err := lookup(ctx, owner, name)
		return id, unavailableIfDone(ctx, err)
	}
}

// handler returns the service's HTTP handler: the routes behind
// authentication, /healthz without it, all under the request deadline and
// behind request logging.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	authed := authenticated{mux: mux, auth: s.auth.authenticate}
	access := http.NewServeMux()
	for _, rt := range s.routes() {
		if rt.pattern == accessPattern {
			s.mw.Handle(authenticated{mux: access, auth: s.auth.authenticate}, rt.pattern, rt.need.typ, rt.need.op, rt.handler, rt.need.ids...)
			continue
		}
		if rt.need != nil {
			s.mw.Handle(authed, rt.pattern, rt.need.typ, rt.need.op, rt.handler, rt.need.ids...)
			continue
		}
		var h http.Handler = rt.handler
		if rt.guard != nil {
			h = rt.guard(h)
		}
		authed.Handle(rt.pattern, h)
	}
	// ServeMux refuses accessPattern beside GET /tasks/name/{task_name}:
	// both match /tasks/name/access. That path is the task named "access"
	// ("name" is no task id), and every other path of accessPattern is the
	// access route.
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := access.Handler(r); pattern == accessPattern && r.URL.Path != "/tasks/name/access" {
			access.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return logRequests(s.log, withDeadline(s.requestTimeout, routed))
}

// accessPattern is the route of a task's access list.
const accessPattern = "GET /tasks/{task_id}/access"

// authenticated registers handlers on mux behind authentication, which
// runs before the authorization middleware.
type authenticated struct {
	mux  *http.ServeMux
	auth func(http.Handler) http.Handler
}

// Handle registers h behind authentication.
func (a authenticated) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, a.auth(h)) }

// withDeadline runs next under a context that expires after d. Every call
// a handler makes to the engine or the database takes the request's
// context, so a backend that hangs fails the call when d has passed: the
// engine adapters report it as authz.ErrUnavailable and writeError answers
// a deadline met anywhere else the same way, 503, whether or not the
// addressed resource exists.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Agents.

// createAgent registers the agent (owner: the caller), then inserts it
// with the digest of its API key. As for tasks, a 409 means only that the
// caller already has an agent of that name: names are unique per owner.
func (s *server) createAgent(w http.ResponseWriter, r *http.Request) {
	sub, _ := subjectFrom(r.Context())
	if sub.Type != "user" {
		writeError(w, r, problem(http.StatusForbidden, httpauthz.CodeForbidden, "only users create agents"))
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &in) || !checkName(w, r, in.Name) {
		return
	}
	a := agent{ID: newID("agent"), Name: in.Name, Owner: sub.ID}
	key, keyDigest := newAgentKey()
	_, err := s.writer.Create(r.Context(), dualwrite.CreateRequest{
		Register: authz.RegisterRequest{Resource: authz.Resource{Type: "agent", ID: a.ID}, Owner: sub},
		Persist:  func(ctx context.Context) error { return s.store.createAgent(ctx, a, keyDigest) },
		Exists:   func(ctx context.Context) (bool, error) { return s.store.createdBy(ctx, "agents", a.ID, a.Owner) },
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The key is shown this once; the store keeps only its digest.
	writeJSON(w, http.StatusCreated, struct {
		agent
		APIKey string `json:"api_key"`
	}{a, key})
}

func (s *server) getAgent(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.agent(r.Context(), checked(r))
	reply(w, r, http.StatusOK, a, err)
}

func (s *server) listAgents(w http.ResponseWriter, r *http.Request) {
	f := httpauthz.FilterFrom(r.Context())
	if f.Empty() {
		writeJSON(w, http.StatusOK, []agent{})
		return
	}
	as, err := s.store.listAgents(r.Context(), f)
	reply(w, r, http.StatusOK, as, err)
}

// deleteAgent deletes the row, then the agent's relationships. An agent
// that still has tasks is refused (409): their parent edges would point at
// nothing.
func (s *server) deleteAgent(w http.ResponseWriter, r *http.Request) {
	s.delete(w, r, "agent", s.store.deleteAgent)
}

// delete deletes the row of the checked resource through dualwrite, which
// then deregisters it: every delete path removes the relationships.
func (s *server) delete(w http.ResponseWriter, r *http.Request, typ string, del func(context.Context, string) (bool, error)) {
	deleted, err := s.writer.Delete(r.Context(), dualwrite.DeleteRequest{
		Resource: authz.Resource{Type: typ, ID: checked(r)},
		Delete:   del,
	})
	if err == nil && !deleted {
		err = authz.ErrNotFound
	}
	reply(w, r, http.StatusNoContent, nil, err)
}

// The RPC endpoint.

type rpcRequest struct {
	Method string `json:"method"`
	Params struct {
		TaskID   string          `json:"task_id"`
		TaskName string          `json:"task_name"`
		Name     string          `json:"name"`
		Params   json.RawMessage `json:"params"`
		Content  string          `json:"content"`
	} `json:"params"`
}

// rpc runs the method that the middleware authorized. The method and the
// task id come from httpauthz.TargetFrom: they are what was checked.
func (s *server) rpc(w http.ResponseWriter, r *http.Request) {
	var in rpcRequest
	if !decode(w, r, &in) {
		return
	}
	t, _ := httpauthz.TargetFrom(r.Context())
	agentID := r.PathValue("agent_id")
	if t.Method == "task/create" {
		s.createTask(w, r, agentID, in.Params.Name, in.Params.Params)
		return
	}
	tk, err := s.store.task(r.Context(), t.Requested.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if tk.AgentID != agentID {
		// The caller may read both, so saying so reveals nothing.
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "the task belongs to another agent"))
		return
	}
	sub, _ := subjectFrom(r.Context())
	switch t.Method {
	case "message/send":
		m := message{ID: newID("msg"), TaskID: tk.ID, Author: sub.String(), Content: in.Params.Content}
		reply(w, r, http.StatusCreated, m, s.store.insertMessage(r.Context(), m))
	case "event/send":
		e := event{ID: newID("event"), AgentID: agentID, TaskID: tk.ID, Content: in.Params.Content}
		reply(w, r, http.StatusCreated, e, s.store.insertEvent(r.Context(), e))
	case "task/cancel":
		s.setStatus(w, r, tk.ID, "cancelled", "running", "interrupted")
	case "task/interrupt":
		s.setStatus(w, r, tk.ID, "interrupted", "running")
	default:
		// Unreachable while the method table and this switch agree; a
		// method added to one and not the other fails closed.
		writeError(w, r, errors.New("rpc: authorized method has no handler"))
	}
}

// Tasks.

// createTask registers the task (owner: the caller, parent: the agent),
// then inserts it with its tracker. A name the owner already uses fails the
// insert on the UNIQUE (owner, name) constraint, and dualwrite removes the
// registration before the 409 goes out. The 409 tells the caller only about
// their own names: another user's task of the same name is no conflict.
//
// The owner, and so the namespace of the name, is always a user. The schema
// lets no agent API key create tasks today; were it to, the task would
// belong to the agent's owner, in whose names the key works.
func (s *server) createTask(w http.ResponseWriter, r *http.Request, agentID, name string, params json.RawMessage) {
	if !checkName(w, r, name) {
		return
	}
	owner, ok := namesOwnerFrom(r.Context())
	if !ok {
		writeError(w, r, errors.New("rpc: request without an authenticated caller"))
		return
	}
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage("{}")
	}
	t := task{ID: newID("task"), Name: name, AgentID: agentID, Owner: owner, Status: "running", Params: params}
	_, err := s.writer.Create(r.Context(), dualwrite.CreateRequest{
		Register: authz.RegisterRequest{
			Resource: authz.Resource{Type: "task", ID: t.ID},
			Owner:    authz.Subject{Type: "user", ID: owner},
			Parent:   &authz.Resource{Type: "agent", ID: agentID},
		},
		Persist: func(ctx context.Context) error { return s.store.createTask(ctx, t, newID("tracker")) },
		Exists:  func(ctx context.Context) (bool, error) { return s.store.createdBy(ctx, "tasks", t.ID, t.Owner) },
	})
	reply(w, r, http.StatusCreated, t, err)
}

func (s *server) getTask(w http.ResponseWriter, r *http.Request) {
	t, err := s.store.task(r.Context(), checked(r))
	reply(w, r, http.StatusOK, t, err)
}

// listTasks lists the visible tasks in id order, a page at a time: ?limit=
// (default 100, at most 1000) and ?after=<last id of the previous page>.
// ?agent_id= keeps the tasks of one agent. It is a filter on the rows, not
// a narrowing of the middleware's (a task shared with the caller may sit on
// an agent the caller cannot see), but its parameters follow the
// narrowing's rules (see queryParam), so /tasks?agent_id= reads like
// /events?agent_id=.
func (s *server) listTasks(w http.ResponseWriter, r *http.Request) {
	f := httpauthz.FilterFrom(r.Context())
	var agentID, after, limitText string
	for _, p := range []struct {
		name string
		v    *string
	}{{"agent_id", &agentID}, {"after", &after}, {"limit", &limitText}} {
		var err error
		if *p.v, err = queryParam(r, p.name); err != nil {
			writeError(w, r, err)
			return
		}
	}
	limit, err := strconv.Atoi(cmp.Or(limitText, "100"))
	if err != nil || limit < 1 || limit > 1000 {
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "limit must be 1 to 1000"))
		return
	}
	if f.Empty() {
		writeJSON(w, http.StatusOK, []task{})
		return
	}
	ts, err := s.store.listTasks(r.Context(), f, agentID, after, limit)
	reply(w, r, http.StatusOK, ts, err)
}

func (s *server) updateTask(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Params json.RawMessage `json:"params"`
	}
	if !decode(w, r, &in) {
		return
	}
	if len(in.Params) == 0 || string(in.Params) == "null" {
		in.Params = json.RawMessage("{}")
	}
	id := checked(r)
	if _, err := must(s.store.updateTaskParams(r.Context(), id, in.Params)); err != nil {
		writeError(w, r, err)
		return
	}
	s.getTask(w, r)
}

func (s *server) cancelTask(w http.ResponseWriter, r *http.Request) {
	s.setStatus(w, r, checked(r), "cancelled", "running", "interrupted")
}

func (s *server) setStatus(w http.ResponseWriter, r *http.Request, id, to string, from ...string) {
	if err := s.store.setTaskStatus(r.Context(), id, to, from...); err != nil {
		writeError(w, r, err)
		return
	}
	t, err := s.store.task(r.Context(), id)
	reply(w, r, http.StatusOK, t, err)
}

// shareRoles are the roles sharing gives, each a relation of task in the
// schema. A user holds at most one of them on a task.
var shareRoles = []string{"viewer", "editor"}

// shareTask sets a user's role on the task to the one asked for: sharing
// as viewer someone who was an editor downgrades them. Only the owner may
// share (the share permission), and only shareRoles can be given.
//
// One atomic write gives the role and removes the other, so the user never
// holds both, or neither, on the way. dualwrite.Writer.Grant then writes
// the role again (granting an existing role succeeds) and confirms that the
// task's row still exists: the task may be deleted between the check and
// the write (its body arrives late, say), and then Grant revokes the role
// and the answer is 404, as for a task that never existed. Every role
// written precedes that confirmation, so none outlives a delete.
func (s *server) shareTask(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User string `json:"user"`
		Role string `json:"role"`
	}
	if !decode(w, r, &in) {
		return
	}
	if !slices.Contains(shareRoles, in.Role) {
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "role must be viewer or editor"))
		return
	}
	if !authz.ValidID(in.User) || in.User == everyone {
		// "everyone" is how GET /tasks/{id}/access shows a public grant:
		// no user may be named so, or a grant to them would read as one.
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "user is not a valid user id"))
		return
	}
	id := checked(r)
	grant, others := roles(id, in.User, in.Role)
	if _, err := s.engine.Write(r.Context(), authz.WriteRequest{Touch: []authz.Relationship{grant}, Delete: others}); err != nil {
		writeError(w, r, err)
		return
	}
	_, err := s.writer.Grant(r.Context(), dualwrite.GrantRequest{
		Grant:  authz.GrantRequest{Relationship: grant},
		Exists: func(ctx context.Context) (bool, error) { return s.store.exists(ctx, grant.Resource) },
	})
	reply(w, r, http.StatusOK, map[string]string{"task_id": id, "user": in.User, "role": in.Role}, err)
}

// taskAccess answers the task's owner (whoever may share it) with the
// users who may read, update and cancel it, each list sorted, a wildcard
// grant as "everyone" ("everyone except bob, eve" where an
// exclusion applies). It is guarded by read, so a caller who cannot read
// the task, or a missing task, gets the middleware's 404; a caller who can
// read it but not share it gets the same 404, byte for byte, not a 403:
// who else has access is the owner's business only.
func (s *server) taskAccess(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	task := authz.Resource{Type: "task", ID: checked(r)}
	caller, _ := subjectFrom(ctx)
	// Who has access changes with every write on the task, whoever makes
	// it: read at least as fresh as the last one (see freshness).
	cons := authz.FullyConsistent()
	if s.fresh != nil {
		cons = s.fresh.consistency(resourceKey(task))
	}
	err := s.guard.Authorize(ctx, authz.Question{Subject: caller, Resource: task, Operation: opShare, Consistency: cons})
	if errors.Is(err, authz.ErrDenied) {
		err = authz.ErrNotFound
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := map[string]any{"task_id": task.ID}
	for _, op := range []authz.Operation{authz.OpRead, authz.OpUpdate, authz.OpCancel} {
		res, err := s.guard.Subjects(ctx, authz.SubjectsQuestion{Resource: task, Operation: op, SubjectType: "user", Consistency: cons})
		if err != nil {
			writeError(w, r, err)
			return
		}
		users := make([]string, 0, len(res.Subjects))
		for _, f := range res.Subjects {
			users = append(users, userName(f))
		}
		slices.Sort(users)
		out[string(op)] = users
	}
	writeJSON(w, http.StatusOK, out)
}

// everyone is how a public grant (a wildcard) is shown; no user may have
// it as an id.
const everyone = "everyone"

// userName names a user found by a subject lookup: its id, or "everyone"
// for a wildcard, with the users it excludes.
func userName(f authz.FoundSubject) string {
	if !f.Subject.IsWildcard() {
		return f.Subject.ID
	}
	if len(f.Excluded) == 0 {
		return everyone
	}
	ids := make([]string, len(f.Excluded))
	for i, x := range f.Excluded {
		ids[i] = x.ID
	}
	return everyone + " except " + strings.Join(ids, ", ")
}

// unshareTask removes the role sharing gave a user on the task, whichever
// it is (204 also if there was none). It is authorized as sharing is, and
// ownership is not a share: it stays. If the task's row is gone by the
// time the role is removed, the answer is 404, as for sharing.
func (s *server) unshareTask(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	if !authz.ValidID(user) {
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "user is not a valid user id"))
		return
	}
	id := checked(r)
	_, all := roles(id, user, "")
	_, err := s.engine.Write(r.Context(), authz.WriteRequest{Delete: all})
	if err == nil {
		_, err = must(s.store.exists(r.Context(), authz.Resource{Type: "task", ID: id}))
	}
	reply(w, r, http.StatusNoContent, nil, err)
}

// roles returns the relationship giving user role on task taskID, and
// those of the other share roles.
func roles(taskID, user, role string) (grant authz.Relationship, others []authz.Relationship) {
	for _, rl := range shareRoles {
		rel := authz.Relationship{Resource: authz.Resource{Type: "task", ID: taskID}, Relation: rl, Subject: authz.Subject{Type: "user", ID: user}}
		if rl == role {
			grant = rel
		} else {
			others = append(others, rel)
		}
	}
	return grant, others
}

func (s *server) deleteTask(w http.ResponseWriter, r *http.Request) {
	s.delete(w, r, "task", s.store.deleteTask)
}

// Messages, states, trackers. Their guards checked the parent task; the
// handlers only touch rows.

func (s *server) createMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TaskID  string `json:"task_id"`
		Content string `json:"content"`
	}
	if !decode(w, r, &in) {
		return
	}
	sub, _ := subjectFrom(r.Context())
	m := message{ID: newID("msg"), TaskID: checked(r), Author: sub.String(), Content: in.Content}
	reply(w, r, http.StatusCreated, m, s.store.insertMessage(r.Context(), m))
}

func (s *server) getMessage(w http.ResponseWriter, r *http.Request) {
	m, err := s.store.message(r.Context(), checked(r))
	reply(w, r, http.StatusOK, m, err)
}

func (s *server) updateMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Content string `json:"content"`
	}
	if !decode(w, r, &in) {
		return
	}
	if _, err := must(s.store.updateMessage(r.Context(), checked(r), in.Content)); err != nil {
		writeError(w, r, err)
		return
	}
	s.getMessage(w, r)
}

func (s *server) listMessages(w http.ResponseWriter, r *http.Request) {
	listBy(w, r, s.store.listMessages)
}

func (s *server) createState(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TaskID string          `json:"task_id"`
		State  json.RawMessage `json:"state"`
	}
	if !decode(w, r, &in) || !required(w, r, in.State, "state") {
		return
	}
	st := state{ID: newID("state"), TaskID: checked(r), State: in.State}
	reply(w, r, http.StatusCreated, st, s.store.insertState(r.Context(), st))
}

func (s *server) getState(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.state(r.Context(), checked(r))
	reply(w, r, http.StatusOK, st, err)
}

func (s *server) updateState(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State json.RawMessage `json:"state"`
	}
	if !decode(w, r, &in) || !required(w, r, in.State, "state") {
		return
	}
	if _, err := must(s.store.updateState(r.Context(), checked(r), in.State)); err != nil {
		writeError(w, r, err)
		return
	}
	s.getState(w, r)
}

func (s *server) deleteState(w http.ResponseWriter, r *http.Request) {
	_, err := must(s.store.deleteState(r.Context(), checked(r)))
	reply(w, r, http.StatusNoContent, nil, err)
}

func (s *server) listStates(w http.ResponseWriter, r *http.Request) {
	listBy(w, r, s.store.listStates)
}

func (s *server) getTracker(w http.ResponseWriter, r *http.Request) {
	t, err := s.store.tracker(r.Context(), checked(r))
	reply(w, r, http.StatusOK, t, err)
}

func (s *server) updateTracker(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Status      string `json:"status"`
		LastEventID string `json:"last_event_id"`
	}
	if !decode(w, r, &in) {
		return
	}
	t := tracker{ID: checked(r), Status: in.Status, LastEventID: in.LastEventID}
	if _, err := must(s.store.updateTracker(r.Context(), t)); err != nil {
		writeError(w, r, err)
		return
	}
	s.getTracker(w, r)
}

func (s *server) listTrackers(w http.ResponseWriter, r *http.Request) {
	listBy(w, r, s.store.listTrackers)
}

// Checkpoints.

type checkpointRequest struct {
	ThreadID     string          `json:"thread_id"`
	CheckpointID string          `json:"checkpoint_id"`
	ParentID     string          `json:"parent_checkpoint_id"`
	Checkpoint   json.RawMessage `json:"checkpoint"`
	Metadata     json.RawMessage `json:"metadata"`
	Writes       []write         `json:"writes"`
}

// getCheckpoint answers the checkpoint asked for (the latest if
// checkpoint_id is empty), or null if the thread has none, as LangGraph's
// get_tuple does.
func (s *server) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	var in checkpointRequest
	if !decode(w, r, &in) {
		return
	}
	c, err := s.store.checkpointTuple(r.Context(), checked(r), in.CheckpointID)
	if errors.Is(err, authz.ErrNotFound) {
		writeJSON(w, http.StatusOK, nil)
		return
	}
	reply(w, r, http.StatusOK, c, err)
}

func (s *server) listCheckpoints(w http.ResponseWriter, r *http.Request) {
	listBy(w, r, s.store.listCheckpoints)
}

func (s *server) putCheckpoint(w http.ResponseWriter, r *http.Request) {
	var in checkpointRequest
	if !decode(w, r, &in) || !required(w, r, in.Checkpoint, "checkpoint") {
		return
	}
	if in.CheckpointID == "" {
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "checkpoint_id is required"))
		return
	}
	if len(in.Metadata) == 0 {
		in.Metadata = json.RawMessage("{}")
	}
	c := checkpoint{ThreadID: checked(r), CheckpointID: in.CheckpointID, ParentID: in.ParentID, Checkpoint: in.Checkpoint, Metadata: in.Metadata}
	reply(w, r, http.StatusOK, c, s.store.putCheckpoint(r.Context(), c))
}

func (s *server) putWrites(w http.ResponseWriter, r *http.Request) {
	var in checkpointRequest
	if !decode(w, r, &in) {
		return
	}
	if in.CheckpointID == "" {
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "checkpoint_id is required"))
		return
	}
	for _, wr := range in.Writes {
		if !required(w, r, wr.Value, "value") {
			return
		}
	}
	reply(w, r, http.StatusNoContent, nil, s.store.putWrites(r.Context(), checked(r), in.CheckpointID, in.Writes))
}

func (s *server) deleteThread(w http.ResponseWriter, r *http.Request) {
	reply(w, r, http.StatusNoContent, nil, s.store.deleteThread(r.Context(), checked(r)))
}

// Events.

func (s *server) getEvent(w http.ResponseWriter, r *http.Request) {
	e, err := s.store.event(r.Context(), checked(r))
	reply(w, r, http.StatusOK, e, err)
}

// listEvents lists the events of the visible agents (?agent_id= narrows to
// one); ?task_id= is a plain filter, under the same rules (queryParam).
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) {
	f := httpauthz.FilterFrom(r.Context())
	taskID, err := queryParam(r, "task_id")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if f.Empty() {
		writeJSON(w, http.StatusOK, []event{})
		return
	}
	es, err := s.store.listEvents(r.Context(), f, taskID)
	reply(w, r, http.StatusOK, es, err)
}

// Helpers.

// queryParam returns the query parameter name of a list route's plain
// filter, or "" if the request does not give it. It follows the rules of
// the middleware's narrowing, [httpauthz.Query], with its answers: a query
// string that does not parse (a ";" separator), a parameter given twice
// and a parameter given empty are 400s. Reading the first of two values,
// as url.Values.Get does, would filter on a value that a proxy or a log
// reading the last one never saw.
func queryParam(r *http.Request, name string) (string, error) {
	if values, err := url.ParseQuery(r.URL.RawQuery); err == nil && !values.Has(name) {
		return "", nil
	}
	return httpauthz.Query(name).Extract(r, nil)
}

// checked returns the id of the resource the guard addressed: the path or
// body id, or the id a name resolved to.
func checked(r *http.Request) string {
	t, _ := httpauthz.TargetFrom(r.Context())
	return t.Requested.ID
}

// listBy answers a list route whose rows are filtered by the parent ids the
// List middleware admitted. An empty filter (including an explicit
// ?task_id= the caller cannot see) is an empty list, without a query.
func listBy[T any](w http.ResponseWriter, r *http.Request, query func(context.Context, authz.Filter) ([]T, error)) {
	f := httpauthz.FilterFrom(r.Context())
	if f.Empty() {
		writeJSON(w, http.StatusOK, []T{})
		return
	}
	rows, err := query(r.Context(), f)
	reply(w, r, http.StatusOK, rows, err)
}

// must turns "no row changed" into authz.ErrNotFound.
func must(changed bool, err error) (bool, error) {
	if err == nil && !changed {
		return false, authz.ErrNotFound
	}
	return changed, err
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// checkName answers 400 unless name is a valid agent or task name.
func checkName(w http.ResponseWriter, r *http.Request, name string) bool {
	if !namePattern.MatchString(name) {
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, "name must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"))
		return false
	}
	return true
}

// required answers 400 if a JSON field was absent (decode has already
// checked that a present one is valid JSON).
func required(w http.ResponseWriter, r *http.Request, raw json.RawMessage, field string) bool {
	if len(raw) == 0 {
		writeError(w, r, problem(http.StatusBadRequest, httpauthz.CodeInvalidField, field+" is required"))
		return false
	}
	return true
}

func problem(status int, code httpauthz.Code, msg string) *httpauthz.Problem {
	return &httpauthz.Problem{Status: status, Code: code, Message: msg}
}

// reply answers v with status, or the error if err is not nil.
func reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers err with the same error format as the middleware. A
// missing row answers exactly as an unreadable resource does, byte for
// byte. Unexpected errors answer 500 without detail; the request log
// records them.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var p *httpauthz.Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, errDuplicate):
		p = problem(http.StatusConflict, "conflict", "you already have one with this name")
	case errors.Is(err, errHasTasks):
		p = problem(http.StatusConflict, "conflict", "the agent still has tasks")
	case errors.Is(err, errState):
		p = problem(http.StatusConflict, "conflict", "the task's status does not allow this")
	default:
		p = httpauthz.ProblemFor(err)
		if p.Status == http.StatusInternalServerError && errors.Is(err, context.DeadlineExceeded) {
			// The request's deadline passed in the store rather than in the
			// engine: as unavailable as an engine that did not answer in
			// time.
			p = httpauthz.ProblemFor(authz.ErrUnavailable)
		}
	}
	if p.Status >= 500 {
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.err = err
		}
	}
	httpauthz.WriteJSONError(w, r, p)
}

// Request logging.

type requestInfoKey struct{}

// requestInfo collects what the request log line reports beyond the
// status: the error behind a 5xx.
type requestInfo struct {
	err error
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs one line per request: method, route pattern, status and
// duration. It logs the pattern ("GET /tasks/name/{task_name}"), never the
// path, so that ids and names stay out of the log, and never a header, so
// that no credential does; who asked is in the decision log, by subject
// id only.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		next.ServeHTTP(sw, r) // the ServeMux sets r.Pattern
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.Int("status", cmp.Or(sw.status, http.StatusOK)),
			slog.Duration("duration", time.Since(start)),
		}
		level := slog.LevelInfo
		if info.err != nil {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", info.err.Error()))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}
