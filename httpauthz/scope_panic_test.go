package httpauthz_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
)

// TestRequireUnderAPanickingBypassScope: a bypass whose Scope panics does
// not apply, so Require answers exactly as without a bypass (the engine's
// answer, the same status and bytes) instead of letting the panic drop the
// connection; the handler runs only where the engine allows.
func TestRequireUnderAPanickingBypassScope(t *testing.T) {
	m := httpauthz.New(httpauthz.Config{
		Guard:   authz.NewGuard(testfixture.Engine(t), testfixture.OperationMap(t)),
		Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "mallory"}, true },
	})
	handled := false
	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{id}", m.Require("task", authz.OpRead, httpauthz.PathValue("id"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		handled = true
	})))
	serve := func(bypass bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/tasks/t1", nil)
		if bypass {
			req = req.WithContext(authz.WithBypass(req.Context(), authz.Bypass{
				Identity: authz.Subject{Type: "service", ID: "cron"},
				Scope:    func(authz.Resource) bool { panic("scope bug") },
			}))
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	plain := serve(false)
	if plain.Code != http.StatusNotFound {
		t.Fatalf("without a bypass: %d, want 404 (the fixture's t1 is not mallory's)", plain.Code)
	}
	got := serve(true)
	if got.Code != plain.Code || got.Body.String() != plain.Body.String() || handled {
		t.Errorf("under a panicking scope: %d %q (handled %v); without a bypass: %d %q", got.Code, got.Body, handled, plain.Code, plain.Body)
	}
}
