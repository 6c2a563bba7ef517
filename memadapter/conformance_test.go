package memadapter_test

import (
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/authz/authztest"
	"github.com/fgac-go/fgac/memadapter"
)

func TestConformance(t *testing.T) {
	authztest.Run(t, func(t *testing.T, schema string) authz.Authorizer {
		a, err := memadapter.New(schema)
		if err != nil {
			t.Fatal(err)
		}
		return a
	})
}
