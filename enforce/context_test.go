package enforce_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
)

// TestCallContextFailsClosed: a hook's refusal, failure and panic, and an
// invalid context, come back classified, with nothing the hook said.
func TestCallContextFailsClosed(t *testing.T) {
	deep := map[string]any{"leaf": 1}
	for range 40 {
		deep = map[string]any{"n": deep}
	}
	for _, tt := range []struct {
		name        string
		hook        func() (authz.Context, error)
		wantRefused bool
		wantErr     error
	}{
		{"a context", func() (authz.Context, error) { return authz.NewContext(map[string]any{"ip": "10.1.2.3"}), nil }, false, nil},
		{"no context", func() (authz.Context, error) { return authz.Context{}, nil }, false, nil},
		{"refused", func() (authz.Context, error) { return authz.Context{}, authz.Invalidf("SECRET header") }, true, nil},
		{"failed", func() (authz.Context, error) { return authz.Context{}, fmt.Errorf("SECRET: %w", authz.ErrNotFound) }, false, authz.ErrInternal},
		{"panicked", func() (authz.Context, error) { panic("SECRET") }, false, authz.ErrInternal},
		{"invalid", func() (authz.Context, error) { return authz.NewContext(deep), nil }, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, refused, err := enforce.CallContext("pkg", tt.hook)
			if (refused != "") != tt.wantRefused {
				t.Errorf("refused %q, want refused %v", refused, tt.wantRefused)
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, authz.ErrNotFound) || errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("err %v matches more than ErrInternal", err)
			}
			if strings.Contains(refused+fmt.Sprint(err), "SECRET") {
				t.Errorf("the hook's words were kept: %q, %v", refused, err)
			}
			if (refused != "" || err != nil) && !c.IsZero() {
				t.Errorf("a context came back with a refusal or an error")
			}
		})
	}
}

// TestCallContextGoexitReturnsNothing: a hook that ends its goroutine
// (runtime.Goexit) ends the caller's too, as it would without fgac: no
// context, no allow comes back to the transport.
func TestCallContextGoexitReturnsNothing(t *testing.T) {
	returned := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		enforce.CallContext("pkg", func() (authz.Context, error) {
			runtime.Goexit()
			return authz.NewContext(map[string]any{"ip": "10.1.2.3"}), nil
		})
		close(returned)
	}()
	<-done
	select {
	case <-returned:
		t.Fatal("CallContext returned after its hook called runtime.Goexit")
	default:
	}
}
