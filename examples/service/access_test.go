package main

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// TestAccessIsTheOwnersAlone asks GET /tasks/{id}/access as the owner, an
// editor, a viewer, a stranger and the agent's own API key: only the owner
// gets the list; everyone else gets the 404 of a missing task, byte for
// byte.
func TestAccessIsTheOwnersAlone(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)
			agentID, key := ts.createAgent(t, alice, "helper")
			taskID := ts.createTask(t, alice, agentID, "report")
			ts.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"bob","role":"editor"}`, http.StatusOK)
			ts.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"carol","role":"viewer"}`, http.StatusOK)

			got := ts.expect(t, alice, "GET", "/tasks/"+taskID+"/access", "", http.StatusOK)
			want := `{"cancel":["alice"],"read":["alice","bob","carol"],"task_id":"` + taskID + `","update":["alice","bob"]}` + "\n"
			if got != want {
				t.Errorf("access = %s, want %s", got, want)
			}

			missing := ts.do(t, alice, "GET", "/tasks/task_000000000000000000000000/access", "")
			if missing.Status != http.StatusNotFound {
				t.Fatalf("access of a missing task: status %d, want 404", missing.Status)
			}
			for _, who := range []string{bob, carol, "tok-nobody-" + engine, key} {
				r := ts.do(t, who, "GET", "/tasks/"+taskID+"/access", "")
				if who == "tok-nobody-"+engine {
					if r.Status != http.StatusUnauthorized {
						t.Errorf("unauthenticated access: status %d, want 401", r.Status)
					}
					continue
				}
				if diff := cmp.Diff(missing, r); diff != "" {
					t.Errorf("access as a non-owner answers differently from a missing task (-missing +got):\n%s", diff)
				}
			}

			// "everyone" is how a public grant is shown: no user may be
			// named so.
			ts.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"everyone","role":"viewer"}`, http.StatusBadRequest)

			// Revoking a share shows at once.
			ts.expect(t, alice, "DELETE", "/tasks/"+taskID+"/share/carol", "", http.StatusNoContent)
			got = ts.expect(t, alice, "GET", "/tasks/"+taskID+"/access", "", http.StatusOK)
			want = `{"cancel":["alice"],"read":["alice","bob"],"task_id":"` + taskID + `","update":["alice","bob"]}` + "\n"
			if got != want {
				t.Errorf("access after revoking carol = %s, want %s", got, want)
			}
		})
	}
}

// TestTaskNamedAccessKeepsItsNameRoute: /tasks/name/access, the one path
// the access route shares with the name route, is the task named
// "access".
func TestTaskNamedAccessKeepsItsNameRoute(t *testing.T) {
	ts := start(t, "memadapter")
	agentID, _ := ts.createAgent(t, alice, "helper")
	taskID := ts.createTask(t, alice, agentID, "access")
	if got := field(t, ts.expect(t, alice, "GET", "/tasks/name/access", "", http.StatusOK), "id"); got != taskID {
		t.Errorf("GET /tasks/name/access = task %s, want %s", got, taskID)
	}
	ts.expect(t, bob, "GET", "/tasks/name/access", "", http.StatusNotFound)
}

func TestUserName(t *testing.T) {
	for _, tt := range []struct {
		f    authz.FoundSubject
		want string
	}{
		{authz.FoundSubject{Subject: authz.Subject{Type: "user", ID: "alice"}}, "alice"},
		{authz.FoundSubject{Subject: authz.Wildcard("user")}, "everyone"},
		{authz.FoundSubject{Subject: authz.Wildcard("user"), Excluded: []authz.Subject{{Type: "user", ID: "bob"}, {Type: "user", ID: "eve"}}}, "everyone except bob, eve"},
	} {
		if got := userName(tt.f); got != tt.want {
			t.Errorf("userName(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}
