package grpcauthz_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/grpcauthz"
)

// TestIDFuncErrors: what an IDFunc returns decides the answer, and
// nothing it returns or panics with fails open or reaches the client.
func TestIDFuncErrors(t *testing.T) {
	w := newWorld(t)
	w.seed()
	for _, tc := range []struct {
		name     string
		f        func() (string, error)
		code     codes.Code
		msg      string
		checked  bool
		handlers int
	}{
		{"id", func() (string, error) { return "t1", nil }, codes.OK, "", true, 1},
		{"missing", func() (string, error) { return "", grpcauthz.ErrMissing }, codes.NotFound, "not found", true, 0},
		{"store not found", func() (string, error) { return "", fmt.Errorf("lookup alpha: %w", authz.ErrNotFound) }, codes.NotFound, "not found", true, 0},
		{"invalid", func() (string, error) { return "", fmt.Errorf("name t-secret: %w", authz.ErrInvalidRequest) }, codes.InvalidArgument, "invalid request", false, 0},
		{"fault", func() (string, error) { return "", errors.New("db down: t-secret") }, codes.Internal, "internal error", false, 0},
		{"panic", func() (string, error) { panic("t-secret") }, codes.Internal, "internal error", false, 0},
	} {
		var table grpcauthz.Methods
		table.Handle(svc+"Get", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, Request: &errdetails.ResourceInfo{},
			ID: grpcauthz.IDFunc(func(context.Context, proto.Message) (string, error) { return tc.f() })})
		unary := grpcauthz.New(grpcauthz.Config{Guard: w.guard, Subject: subjectFromMetadata}, &table).Unary()
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-user", "alice"))
		handled := 0
		w.rec.Reset()
		_, err := unary(ctx, &errdetails.ResourceInfo{}, &grpc.UnaryServerInfo{FullMethod: svc + "Get"}, func(context.Context, any) (any, error) {
			handled++
			return nil, nil
		})
		st := status.Convert(err)
		if st.Code() != tc.code || (err != nil && st.Message() != tc.msg) {
			t.Errorf("%s: %v %q, want %v %q", tc.name, st.Code(), st.Message(), tc.code, tc.msg)
		}
		if handled != tc.handlers {
			t.Errorf("%s: handler ran %d times", tc.name, handled)
		}
		if got := len(w.rec.Calls()) > 0; got != tc.checked {
			t.Errorf("%s: backend calls %v", tc.name, w.rec.Calls())
		}
	}
}
