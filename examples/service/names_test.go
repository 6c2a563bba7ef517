package main

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNamesAreNoExistenceOracle checks that agent and task names belong to
// their owner: bob may use alice's names (201, never a 409 that would tell
// him they are taken), bob's name routes and RPC name parameters resolve
// bob's names only, so alice's names answer him byte for byte as names
// nobody uses do, even once she has shared the task with him, and only
// alice's own duplicate is refused.
func TestNamesAreNoExistenceOracle(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)
			alicesAgent, alicesKey := ts.createAgent(t, alice, "helper")
			alicesTask := ts.createTask(t, alice, alicesAgent, "report")
			hiddenTask := ts.createTask(t, alice, alicesAgent, "secret-plan")
			ts.createAgent(t, alice, "secret-agent")

			// bob takes alice's names: neither create tells him they exist.
			bobsAgent, _ := ts.createAgent(t, bob, "helper")
			bobsTask := ts.createTask(t, bob, bobsAgent, "report")
			if bobsAgent == alicesAgent || bobsTask == alicesTask {
				t.Fatal("bob's create returned alice's resource")
			}

			// alice's own duplicates are refused, and only those.
			ts.expect(t, alice, "POST", "/agents", `{"name":"helper"}`, http.StatusConflict)
			ts.expect(t, alice, "POST", "/agents/"+alicesAgent+"/rpc", `{"method":"task/create","params":{"name":"report"}}`, http.StatusConflict)
			ts.expect(t, bob, "POST", "/agents/"+bobsAgent+"/rpc", `{"method":"task/create","params":{"name":"report"}}`, http.StatusConflict)

			// The same name resolves to each caller's own resource: alice's
			// agent key acts in alice's names.
			for _, tc := range []struct {
				credential, path, want string
			}{
				{alice, "/tasks/name/report", alicesTask},
				{bob, "/tasks/name/report", bobsTask},
				{alicesKey, "/tasks/name/report", alicesTask},
				{alice, "/agents/name/helper", alicesAgent},
				{bob, "/agents/name/helper", bobsAgent},
			} {
				if got := field(t, ts.expect(t, tc.credential, "GET", tc.path, "", http.StatusOK), "id"); got != tc.want {
					t.Errorf("GET %s as %s: id %s, want %s", tc.path, tc.credential, got, tc.want)
				}
			}

			// Shared or not, alice's names are not bob's: every name route
			// answers him exactly as for a name nobody ever used, and as for
			// a missing id.
			rpc := "/agents/" + bobsAgent + "/rpc"
			probes := []func(name string) (method, path, body string){
				func(n string) (string, string, string) { return "GET", "/tasks/name/" + n, "" },
				func(n string) (string, string, string) { return "PUT", "/tasks/name/" + n, `{"params":{}}` },
				func(n string) (string, string, string) { return "DELETE", "/tasks/name/" + n, "" },
				func(n string) (string, string, string) {
					return "POST", rpc, `{"method":"message/send","params":{"task_name":"` + n + `","content":"x"}}`
				},
				func(n string) (string, string, string) {
					return "POST", rpc, `{"method":"task/cancel","params":{"task_name":"` + n + `"}}`
				},
			}
			probe := func() {
				t.Helper()
				for _, p := range probes {
					method, path, body := p("secret-plan")
					got := ts.do(t, bob, method, path, body)
					if got.Status != http.StatusNotFound {
						t.Errorf("%s %s %s as bob: status %d, want 404; body %s", method, path, body, got.Status, got.Body)
					}
					um, up, ub := p("never-used")
					if diff := cmp.Diff(ts.do(t, bob, um, up, ub), got); diff != "" {
						t.Errorf("%s %s %s as bob answers differently from an unused name (-unused +alice's):\n%s", method, path, body, diff)
					}
				}
				if diff := cmp.Diff(ts.do(t, bob, "GET", "/agents/name/never-used", ""), ts.do(t, bob, "GET", "/agents/name/secret-agent", "")); diff != "" {
					t.Errorf("alice's agent name answers bob differently from an unused name (-unused +alice's):\n%s", diff)
				}
				if diff := cmp.Diff(ts.do(t, bob, "GET", "/tasks/task_000000000000000000000000", ""), ts.do(t, bob, "GET", "/tasks/name/secret-plan", "")); diff != "" {
					t.Errorf("alice's task name answers bob differently from a missing id (-missing id +alice's name):\n%s", diff)
				}
			}
			probe()
			ts.expect(t, alice, "POST", "/tasks/"+hiddenTask+"/share", `{"user":"bob","role":"editor"}`, http.StatusOK)
			ts.expect(t, bob, "GET", "/tasks/"+hiddenTask, "", http.StatusOK) // by id, the share works
			probe()

			// alice's agent key works in alice's names, but may read only its
			// own agent's tasks: a task of alice's other agent answers it as a
			// name nobody uses.
			otherAgent, _ := ts.createAgent(t, alice, "other-agent")
			ts.createTask(t, alice, otherAgent, "sibling-work")
			if diff := cmp.Diff(ts.do(t, alicesKey, "GET", "/tasks/name/never-used", ""), ts.do(t, alicesKey, "GET", "/tasks/name/sibling-work", "")); diff != "" {
				t.Errorf("a task of another agent answers the key differently from an unused name (-unused +other agent's):\n%s", diff)
			}

			// bob's probes changed nothing of alice's.
			ts.expect(t, alice, "GET", "/tasks/name/secret-plan", "", http.StatusOK)
			ts.expect(t, alice, "GET", "/agents/name/secret-agent", "", http.StatusOK)
		})
	}
}
