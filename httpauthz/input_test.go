package httpauthz_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/httpauthz"
)

// TestBadInputNeverReachesAuthorizerOrHandler: every kind of malformed
// request gets a clear 4xx with a machine-readable code, and neither the
// backend nor the handler runs.
func TestBadInputNeverReachesAuthorizerOrHandler(t *testing.T) {
	w := newWorld(t, func(c *httpauthz.Config) { c.MaxBodyBytes = 256 })
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	const js = "application/json"
	tests := []struct {
		name, method, path, ct, body string
		status                       int
		code                         httpauthz.Code
	}{
		{"malformed json", "POST", "/checkpoints/put", js, `{"thread_id":"t1"`, 400, httpauthz.CodeInvalidJSON},
		{"not an object", "POST", "/checkpoints/put", js, `["t1"]`, 400, httpauthz.CodeInvalidJSON},
		{"wrong type", "POST", "/checkpoints/put", js, `{"thread_id":17}`, 400, httpauthz.CodeInvalidField},
		{"object instead of string", "POST", "/checkpoints/put", js, `{"thread_id":{"id":"t1"}}`, 400, httpauthz.CodeInvalidField},
		{"null", "POST", "/checkpoints/put", js, `{"thread_id":null}`, 400, httpauthz.CodeInvalidField},
		{"missing field", "POST", "/checkpoints/put", js, `{"task":"t1"}`, 400, httpauthz.CodeInvalidField},
		{"empty field", "POST", "/checkpoints/put", js, `{"thread_id":""}`, 400, httpauthz.CodeInvalidField},
		{"empty body", "POST", "/checkpoints/put", js, ``, 400, httpauthz.CodeInvalidJSON},
		{"duplicate key", "POST", "/checkpoints/put", js, `{"thread_id":"t1","thread_id":"t2"}`, 400, httpauthz.CodeDuplicateKey},
		{"duplicate key in another case", "POST", "/checkpoints/put", js, `{"thread_id":"t1","Thread_ID":"t2"}`, 400, httpauthz.CodeDuplicateKey},
		{"duplicate key escaped", "POST", "/checkpoints/put", js, `{"thread_id":"t1","thread\u005fid":"t2"}`, 400, httpauthz.CodeDuplicateKey},
		{"trailing data", "POST", "/checkpoints/put", js, `{"thread_id":"t1"} {}`, 400, httpauthz.CodeInvalidJSON},
		{"trailing garbage", "POST", "/checkpoints/put", js, `{"thread_id":"t1"}x`, 400, httpauthz.CodeInvalidJSON},
		{"unsupported content type", "POST", "/checkpoints/put", "text/plain", `{"thread_id":"t1"}`, 415, httpauthz.CodeUnsupportedMediaType},
		{"no content type", "POST", "/checkpoints/put", "", `{"thread_id":"t1"}`, 415, httpauthz.CodeUnsupportedMediaType},
		{"body over the limit", "POST", "/checkpoints/put", js, `{"thread_id":"t1","pad":"` + strings.Repeat("x", 300) + `"}`, 413, httpauthz.CodeBodyTooLarge},
		{"path and body disagree", "PUT", "/tasks/t1/body", js, `{"task_id":"t2"}`, 400, httpauthz.CodeConflictingIDs},
		{"query parameter twice", "GET", "/states?task_id=t1&task_id=t2", "", ``, 400, httpauthz.CodeDuplicateKey},
		{"query parameter missing", "GET", "/states", "", ``, 400, httpauthz.CodeInvalidField},
		{"rpc without method", "POST", "/rpc", js, `{"params":{"task_id":"t1"}}`, 400, httpauthz.CodeInvalidField},
		{"rpc unknown method", "POST", "/rpc", js, `{"method":"nope","params":{"task_id":"t1"}}`, 400, httpauthz.CodeUnknownMethod},
		{"rpc neither id nor name", "POST", "/rpc", js, `{"method":"task/cancel","params":{}}`, 400, httpauthz.CodeInvalidField},
		{"rpc params duplicated", "POST", "/rpc", js, `{"method":"task/cancel","params":{"task_id":"t1"},"PARAMS":{"task_id":"t2"}}`, 400, httpauthz.CodeDuplicateKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.handledCount()
			got := w.do("alice", tc.method, tc.path, tc.ct, tc.body)
			if got.status != tc.status {
				t.Fatalf("status %d, want %d (body %s)", got.status, tc.status, got.body)
			}
			var eb struct {
				Error struct {
					Code    httpauthz.Code `json:"code"`
					Message string         `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(got.body), &eb); err != nil {
				t.Fatalf("error body is not JSON: %v: %s", err, got.body)
			}
			if eb.Error.Code != tc.code || eb.Error.Message == "" {
				t.Errorf("error = %+v, want code %s", eb.Error, tc.code)
			}
			if len(got.calls) != 0 {
				t.Errorf("backend called: %v", got.calls)
			}
			if w.handledCount() != before {
				t.Error("handler ran")
			}
		})
	}
}

// TestBodyReachesHandlerIntact: the handler reads exactly the bytes the
// client sent, whitespace and all.
func TestBodyReachesHandlerIntact(t *testing.T) {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	body := "{ \"thread_id\" : \"t1\",\n \"checkpoint\": {\"v\": [1, 2.50, \"\\u00e9\"]} }  \n"
	got := w.do("alice", "POST", "/checkpoints/put", "application/json; charset=utf-8", body)
	if got.status != http.StatusOK {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if string(w.lastBody) != body {
		t.Errorf("handler body = %q, want %q", w.lastBody, body)
	}
}
