package spicedbadapter_test

import (
	"context"
	"fmt"
	"log"

	authzed "github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// This example needs a SpiceDB on localhost:50051, so it is compiled but
// not run.
func Example() {
	client, err := authzed.NewClient("localhost:50051",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcutil.WithInsecureBearerToken("preshared-key"),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	if _, err := spicedbadapter.WriteSchema(ctx, client, `
		definition user {}

		definition task {
			relation owner: user
			relation viewer: user
			permission read = owner + viewer
		}`); err != nil {
		log.Fatal(err)
	}

	a := spicedbadapter.New(client, &spicedbadapter.Config{BulkChunkSize: 200})

	t1 := authz.Resource{Type: "task", ID: "t1"}
	alice := authz.Subject{Type: "user", ID: "alice"}
	tok, err := a.Register(ctx, authz.RegisterRequest{Resource: t1, Owner: alice})
	if err != nil {
		log.Fatal(err)
	}

	// Read your own write: ask for a snapshot at least as fresh as it.
	d, err := a.Check(ctx, authz.CheckRequest{
		Subject:     alice,
		Resource:    t1,
		Permission:  "read",
		Consistency: authz.AtLeastAsFresh(tok),
	})
	if err != nil {
		log.Fatal(err) // matches authz.ErrUnavailable, authz.ErrInvalidRequest, ...
	}
	fmt.Println(d)
}
