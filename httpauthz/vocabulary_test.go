package httpauthz_test

import (
	"errors"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/memo"
	"github.com/fgac-go/fgac/parent"
)

// TestErrorVocabularyIsTrue: every error fgac makes itself, from every
// package, matches exactly one of authz's sentinels, so a caller can
// decide what to answer from the sentinel alone.
func TestErrorVocabularyIsTrue(t *testing.T) {
	sentinels := []error{authz.ErrDenied, authz.ErrNotFound, authz.ErrUnavailable, authz.ErrInvalidRequest, authz.ErrConflict, authz.ErrInternal}
	_, schemaErr := memadapter.New("definition user {\n  relation x: nosuch\n}")
	engine := testfixture.Engine(t)
	_, mapErr := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "nosuch"}})
	_, emptyErr := memadapter.New("")
	errs := map[string]error{
		"schema":            schemaErr,
		"empty schema":      emptyErr,
		"operation map":     mapErr,
		"parent.ErrBad":     parent.ErrBadParent,
		"parent.ErrUnreg":   parent.ErrUnregistered,
		"httpauthz.Missing": httpauthz.ErrMissing,
		"bad page request":  collapse.ErrBadPageRequest,
		"bad cursor":        collapse.ErrBadCursor,
		"memo panic":        &memo.PanicError{Value: "boom"},
		"denied":            &authz.DeniedError{},
		"invalid id":        authz.ValidateID("a b"),
	}
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s: no error to test", name)
			continue
		}
		var matched []error
		for _, s := range sentinels {
			if errors.Is(err, s) {
				matched = append(matched, s)
			}
		}
		if len(matched) != 1 {
			t.Errorf("%s (%v) matches %v, want exactly one sentinel", name, err, matched)
		}
	}
}
