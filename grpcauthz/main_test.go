package grpcauthz_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The interceptors start no goroutines; the tests' servers and clients
// stop theirs.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
