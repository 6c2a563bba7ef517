package grpcauthz_test

import (
	"context"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/memadapter"
)

// A gRPC server authorizes every method through a table; here the
// interceptor is called directly, as the server would call it, with
// errdetails.ResourceInfo standing in for a generated request type whose
// resource_name field holds the task id.
func ExampleNew() {
	engine, _ := memadapter.New(`
definition user {}
definition task {
	relation owner: user
	permission read = owner
	permission cancel = owner
}`)
	ctx := context.Background()
	engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t1"}, Owner: authz.Subject{Type: "user", ID: "alice"}})
	ops, _ := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read", authz.OpCancel: "cancel"}})

	var table grpcauthz.Methods
	table.Handle("/tasks.v1.TaskService/GetTask", grpcauthz.Method{
		ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("resource_name"),
		Request: &errdetails.ResourceInfo{}, // not needed for generated, registered types
	})
	ic := grpcauthz.New(grpcauthz.Config{
		Guard: authz.NewGuard(engine, ops),
		// Your authentication: here the user named in the x-user metadata.
		Subject: func(ctx context.Context) (authz.Subject, bool) {
			md, _ := metadata.FromIncomingContext(ctx)
			if u := md.Get("x-user"); len(u) == 1 {
				return authz.Subject{Type: "user", ID: u[0]}, true
			}
			return authz.Subject{}, false
		},
	}, &table)
	// grpc.NewServer(grpc.ChainUnaryInterceptor(ic.Unary()), grpc.ChainStreamInterceptor(ic.Stream()))
	unary := ic.Unary()

	handler := func(ctx context.Context, _ any) (any, error) {
		t, _ := grpcauthz.TargetFrom(ctx)
		return "task " + t.Checked.ID, nil
	}
	call := func(user, method, id string) {
		ctx := metadata.NewIncomingContext(ctx, metadata.Pairs("x-user", user))
		reply, err := unary(ctx, &errdetails.ResourceInfo{ResourceName: id}, &grpc.UnaryServerInfo{FullMethod: method}, handler)
		fmt.Printf("%s %s: %v %v\n", user, id, reply, status.Code(err))
	}
	call("alice", "/tasks.v1.TaskService/GetTask", "t1")
	call("bob", "/tasks.v1.TaskService/GetTask", "t1")        // not hers: NotFound
	call("bob", "/tasks.v1.TaskService/GetTask", "t-missing") // same answer
	call("alice", "/tasks.v1.TaskService/DeleteTask", "t1")   // not in the table
	// Output:
	// alice t1: task t1 OK
	// bob t1: <nil> NotFound
	// bob t-missing: <nil> NotFound
	// alice t1: <nil> PermissionDenied
}
