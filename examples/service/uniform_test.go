package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// world is what TestCannotProbeForExistence probes: alice's agent, task and
// every kind of child, none of which bob can see, and bob's own agent (so
// that his RPC calls get past the agent check and reach the task check).
type world struct {
	agent, agentName, task, taskName string
	message, state, tracker, event   string
	bobAgent                         string
}

func newWorld(t *testing.T, ts *testServer) world {
	t.Helper()
	var w world
	w.agentName, w.taskName = "alices-agent", "alices-task"
	w.agent, _ = ts.createAgent(t, alice, w.agentName)
	w.task = ts.createTask(t, alice, w.agent, w.taskName)
	w.message = field(t, ts.expect(t, alice, "POST", "/messages", `{"task_id":"`+w.task+`","content":"hi"}`, http.StatusCreated), "id")
	w.state = field(t, ts.expect(t, alice, "POST", "/states", `{"task_id":"`+w.task+`","state":{}}`, http.StatusCreated), "id")
	w.tracker = ids(t, ts.expect(t, alice, "GET", "/trackers?task_id="+w.task, "", http.StatusOK))[0]
	w.event = field(t, ts.expect(t, alice, "POST", "/agents/"+w.agent+"/rpc", `{"method":"event/send","params":{"task_id":"`+w.task+`","content":"e"}}`, http.StatusCreated), "id")
	ts.expect(t, alice, "POST", "/checkpoints/put", `{"thread_id":"`+w.task+`","checkpoint_id":"c1","checkpoint":{}}`, http.StatusOK)
	w.bobAgent, _ = ts.createAgent(t, bob, "bobs-agent")
	return w
}

// kind is a kind of identifier a route takes, with the values bob probes
// it with: one that names nothing, one that names something he cannot see
// (for children: a child of something he cannot see; for names: a name
// alice uses, which bob's name routes resolve among his own names), and a
// malformed one.
type kind struct {
	missing, hidden, malformed string
}

func (w world) kinds() map[string]kind {
	const malformed = "not an id!"
	return map[string]kind{
		"agent":     {"agent_000000000000000000000000", w.agent, malformed},
		"agentName": {"no-such-agent", w.agentName, malformed},
		"task":      {"task_000000000000000000000000", w.task, malformed},
		"taskName":  {"no-such-task", w.taskName, malformed},
		"message":   {"msg_000000000000000000000000", w.message, malformed},
		"state":     {"state_000000000000000000000000", w.state, malformed},
		"tracker":   {"tracker_000000000000000000000000", w.tracker, malformed},
		"event":     {"event_000000000000000000000000", w.event, malformed},
	}
}

// probe is a request bob sends to one route with an identifier of a kind.
type probe struct {
	pattern string // the route's pattern in the route table
	kind    string
	status  int // what every variant must answer
	req     func(w world, id string) (method, path, body string)
}

// q quotes s as a JSON string.
func q(s string) string { return `"` + s + `"` } // the probe values need no escaping

func probes() []probe {
	p := url.PathEscape
	get := func(prefix string) func(world, string) (string, string, string) {
		return func(_ world, id string) (string, string, string) { return "GET", prefix + p(id), "" }
	}
	send := func(method, prefix, suffix, body string) func(world, string) (string, string, string) {
		return func(_ world, id string) (string, string, string) { return method, prefix + p(id) + suffix, body }
	}
	bodyWith := func(path, field, rest string) func(world, string) (string, string, string) {
		return func(_ world, id string) (string, string, string) {
			return "POST", path, `{"` + field + `":` + q(id) + rest + `}`
		}
	}
	rpc := func(method, idField string) func(world, string) (string, string, string) {
		return func(w world, id string) (string, string, string) {
			return "POST", "/agents/" + w.bobAgent + "/rpc", `{"method":"` + method + `","params":{"` + idField + `":` + q(id) + `,"content":"x"}}`
		}
	}
	const nf, ok = http.StatusNotFound, http.StatusOK
	return []probe{
		{"GET /agents/{agent_id}", "agent", nf, get("/agents/")},
		{"GET /agents/name/{agent_name}", "agentName", nf, get("/agents/name/")},
		{"DELETE /agents/{agent_id}", "agent", nf, send("DELETE", "/agents/", "", "")},
		{"POST /agents/{agent_id}/rpc", "agent", nf, send("POST", "/agents/", "/rpc", `{"method":"task/create","params":{"name":"x"}}`)},
		{"POST /agents/{agent_id}/rpc", "agent", nf, send("POST", "/agents/", "/rpc", `{"method":"message/send","params":{"task_id":"x"}}`)},
		{"POST /agents/{agent_id}/rpc", "task", nf, rpc("message/send", "task_id")},
		{"POST /agents/{agent_id}/rpc", "taskName", nf, rpc("message/send", "task_name")},
		{"POST /agents/{agent_id}/rpc", "task", nf, rpc("event/send", "task_id")},
		{"POST /agents/{agent_id}/rpc", "taskName", nf, rpc("event/send", "task_name")},
		{"POST /agents/{agent_id}/rpc", "task", nf, rpc("task/cancel", "task_id")},
		{"POST /agents/{agent_id}/rpc", "taskName", nf, rpc("task/cancel", "task_name")},
		{"POST /agents/{agent_id}/rpc", "task", nf, rpc("task/interrupt", "task_id")},
		{"POST /agents/{agent_id}/rpc", "taskName", nf, rpc("task/interrupt", "task_name")},

		{"GET /tasks/{task_id}", "task", nf, get("/tasks/")},
		{"GET /tasks/name/{task_name}", "taskName", nf, get("/tasks/name/")},
		{"PUT /tasks/{task_id}", "task", nf, send("PUT", "/tasks/", "", `{"params":{}}`)},
		{"PUT /tasks/name/{task_name}", "taskName", nf, send("PUT", "/tasks/name/", "", `{"params":{}}`)},
		{"POST /tasks/{task_id}/cancel", "task", nf, send("POST", "/tasks/", "/cancel", "")},
		{"POST /tasks/{task_id}/share", "task", nf, send("POST", "/tasks/", "/share", `{"user":"bob","role":"editor"}`)},
		{"DELETE /tasks/{task_id}/share/{user}", "task", nf, send("DELETE", "/tasks/", "/share/bob", "")},
		{"GET /tasks/{task_id}/access", "task", nf, send("GET", "/tasks/", "/access", "")},
		{"DELETE /tasks/{task_id}", "task", nf, send("DELETE", "/tasks/", "", "")},
		{"DELETE /tasks/name/{task_name}", "taskName", nf, send("DELETE", "/tasks/name/", "", "")},

		{"POST /messages", "task", nf, bodyWith("/messages", "task_id", `,"content":"x"`)},
		{"GET /messages", "task", ok, get("/messages?task_id=")},
		{"GET /messages/{message_id}", "message", nf, get("/messages/")},
		{"PUT /messages/{message_id}", "message", nf, send("PUT", "/messages/", "", `{"content":"x"}`)},

		{"POST /states", "task", nf, bodyWith("/states", "task_id", `,"state":{}`)},
		{"GET /states", "task", ok, get("/states?task_id=")},
		{"GET /states/{state_id}", "state", nf, get("/states/")},
		{"PUT /states/{state_id}", "state", nf, send("PUT", "/states/", "", `{"state":{}}`)},
		{"DELETE /states/{state_id}", "state", nf, send("DELETE", "/states/", "", "")},

		{"GET /trackers", "task", ok, get("/trackers?task_id=")},
		{"GET /trackers/{tracker_id}", "tracker", nf, get("/trackers/")},
		{"PUT /trackers/{tracker_id}", "tracker", nf, send("PUT", "/trackers/", "", `{"status":"x"}`)},

		{"POST /checkpoints/get-tuple", "task", nf, bodyWith("/checkpoints/get-tuple", "thread_id", "")},
		{"POST /checkpoints/list", "task", ok, bodyWith("/checkpoints/list", "thread_id", "")},
		{"POST /checkpoints/put", "task", nf, bodyWith("/checkpoints/put", "thread_id", `,"checkpoint_id":"c2","checkpoint":{}`)},
		{"POST /checkpoints/put-writes", "task", nf, bodyWith("/checkpoints/put-writes", "thread_id", `,"checkpoint_id":"c1","writes":[]`)},
		{"POST /checkpoints/delete-thread", "task", nf, bodyWith("/checkpoints/delete-thread", "thread_id", "")},

		{"GET /events", "agent", ok, get("/events?agent_id=")},
		{"GET /events/{event_id}", "event", nf, get("/events/")},
	}
}

// unprobed are the routes that take no identifier a caller could probe
// with.
var unprobed = map[string]bool{"POST /agents": true, "GET /agents": true, "GET /tasks": true}

// TestCannotProbeForExistence sends every route, as bob, an identifier
// that names nothing, one that names alice's resource (or a child of it)
// and a malformed one, and requires byte-identical answers: 404 on
// resource routes, an empty list on list routes. Nothing bob can send tells
// him whether alice's things exist.
func TestCannotProbeForExistence(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)
			w := newWorld(t, ts)
			kinds := w.kinds()
			all := probes()

			probed := map[string]bool{}
			for _, p := range all {
				probed[p.pattern] = true
			}
			for _, rt := range ts.srv.routes() {
				if !probed[rt.pattern] && !unprobed[rt.pattern] {
					t.Errorf("route %q has no probe", rt.pattern)
				}
			}

			for _, p := range all {
				k := kinds[p.kind]
				method, path, _ := p.req(w, k.hidden)
				t.Run(method+" "+path, func(t *testing.T) {
					var first response
					for i, id := range []string{k.missing, k.hidden, k.malformed} {
						method, path, body := p.req(w, id)
						got := ts.do(t, bob, method, path, body)
						if got.Status != p.status {
							t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got.Status, p.status, got.Body)
						}
						if p.status == http.StatusOK && got.Body != "[]\n" {
							t.Fatalf("%s %s: body %q, want an empty list", method, path, got.Body)
						}
						if i == 0 {
							first = got
							continue
						}
						if diff := cmp.Diff(first, got); diff != "" {
							t.Errorf("%s %s answers differently from the missing id (-missing +this):\n%s", method, path, diff)
						}
					}
				})
			}

			// The probes changed nothing: alice still sees all of it.
			for _, path := range []string{"/tasks/" + w.task, "/messages/" + w.message, "/states/" + w.state, "/trackers/" + w.tracker, "/events/" + w.event} {
				ts.expect(t, alice, "GET", path, "", http.StatusOK)
			}
			ts.expect(t, alice, "POST", "/checkpoints/get-tuple", `{"thread_id":"`+w.task+`","checkpoint_id":"c1"}`, http.StatusOK)
		})
	}
}
