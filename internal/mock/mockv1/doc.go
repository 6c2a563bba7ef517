// Package mockv1 holds gomock doubles of SpiceDB's v1 PermissionsService
// client and of the gRPC server streams it returns, for the SpiceDB
// adapter's request-shape and error-translation tests.
//
// Regenerate with `go generate ./internal/mock/...`.
package mockv1

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -typed -destination=permissions.go -package=mockv1 github.com/authzed/authzed-go/proto/authzed/api/v1 PermissionsServiceClient
//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -typed -destination=stream.go -package=mockv1 google.golang.org/grpc ServerStreamingClient
