// Package authztest checks that an engine implements the [authz.Authorizer]
// port exactly as SpiceDB evaluates a schema, so that memadapter and the
// SpiceDB adapter can stand in for each other.
//
// Like testing/slogtest, it is called from an engine's own tests:
//
//	func TestConformance(t *testing.T) {
//		authztest.Run(t, func(t *testing.T, schema string) authz.Authorizer {
//			a, err := memadapter.New(schema)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return a
//		})
//	}
//
// Every case reads after its writes with [authz.AtLeastAsFresh] and the
// token of the last write, so the suite holds for engines whose
// MinimizeLatency reads may be stale.
package authztest

import (
	"testing"

	"github.com/fgac-go/fgac/authz"
)

// Case is one rule of the suite.
type Case struct {
	// Name names the subtest, such as "arrow/two-levels".
	Name string
	// Rule states in one sentence what the case checks. It is logged when
	// the case fails.
	Rule string
	// Schema is the SpiceDB schema the case's authorizer is built from.
	Schema string

	run func(e *env)
}

// Cases returns every case of the suite, in the order [Run] runs them.
func Cases() []Case {
	var all []Case
	for _, group := range [][]Case{
		checkCases(),
		arrowCases(),
		operatorCases(),
		wildcardCases(),
		groupCases(),
		checkErrorCases(),
		lookupCases(),
		subjectCases(),
		registerCases(),
		deregisterCases(),
		grantCases(),
		writeCases(),
		idCases(),
		checkManyCases(),
		tokenCases(),
		inspectCases(),
		concurrencyCases(),
		conditionCases(),
	} {
		all = append(all, group...)
	}
	return all
}

// Run runs every case of [Cases] as a parallel subtest of t. For each case
// it calls newAuthorizer with the case's schema; newAuthorizer must return a
// fresh authorizer that holds no relationships, and releases it with
// t.Cleanup if it needs to. It may call t.Fatal when it cannot build one.
func Run(t *testing.T, newAuthorizer func(t *testing.T, schema string) authz.Authorizer) {
	t.Helper()
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() {
				if t.Failed() {
					t.Log("rule: " + c.Rule)
				}
			})
			c.run(&env{t: t, ctx: t.Context(), a: newAuthorizer(t, c.Schema), ids: map[string]map[string]bool{}})
		})
	}
}
