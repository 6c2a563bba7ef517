package httpauthz_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
)

type seenConsistency struct {
	authz.Authorizer
	mu   sync.Mutex
	seen []authz.Consistency
}

func (s *seenConsistency) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	s.mu.Lock()
	s.seen = append(s.seen, req.Consistency)
	s.mu.Unlock()
	return s.Authorizer.Check(ctx, req)
}

// TestConsistencyPerRequest: ConsistencyFor lets a request carry the token
// of its client's last write into the check.
func TestConsistencyPerRequest(t *testing.T) {
	engine := testfixture.Engine(t)
	tok, err := engine.Register(context.Background(), authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t1"}, Owner: authz.Subject{Type: "user", ID: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	ops := testfixture.OperationMap(t)
	seen := &seenConsistency{Authorizer: engine}
	m := httpauthz.New(httpauthz.Config{
		Guard:   authz.NewGuard(seen, ops),
		Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "alice"}, true },
		ConsistencyFor: func(r *http.Request) authz.Consistency {
			if r.Header.Get("X-Token") != "" {
				return authz.AtLeastAsFresh(authz.NewToken(r.Header.Get("X-Token")))
			}
			return authz.FullyConsistent()
		},
	})
	h := m.Require("task", authz.OpRead, httpauthz.Query("id"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, token := range []string{tok.Value(), ""} {
		req := httptest.NewRequest("GET", "/?id=t1", nil)
		req.Header.Set("X-Token", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if len(seen.seen) != 2 || seen.seen[0].Token() != tok || seen.seen[1].Mode() != authz.FullyConsistentMode {
		t.Errorf("consistencies seen = %v", seen.seen)
	}
}
