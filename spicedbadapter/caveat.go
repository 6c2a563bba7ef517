package spicedbadapter

import (
	"fmt"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
)

// refusedContext translates SpiceDB's refusal of a caveat's stored
// context. SpiceDB v1.56.2 answers a wrong-typed or unknown key in the
// context of a written relationship with codes.Unknown ("could not convert
// context parameter ...", "unknown parameter ..."), which would otherwise
// read as an outage; it is bad input, so it matches
// [authz.ErrInvalidRequest]. It returns nil for any other error, and for
// writes without a caveated relationship.
func refusedContext(req *v1.WriteRelationshipsRequest, err error) error {
	if status.Code(err) != codes.Unknown || !hasCaveat(req) {
		return nil
	}
	msg := status.Convert(err).Message()
	if !strings.Contains(msg, "context parameter") && !strings.Contains(msg, "unknown parameter") {
		return nil
	}
	return fmt.Errorf("%w: spicedbadapter: caveat context refused: %w", authz.ErrInvalidRequest, err)
}

func hasCaveat(req *v1.WriteRelationshipsRequest) bool {
	for _, u := range req.GetUpdates() {
		if u.GetRelationship().GetOptionalCaveat() != nil {
			return true
		}
	}
	return false
}
