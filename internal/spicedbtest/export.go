package spicedbtest

import "context"

// Binary returns the path of the pinned spicedb binary, found or built as
// the package documentation says, for harnesses that run spicedb with
// commands of their own (package clustertest runs a cluster with it).
func Binary(ctx context.Context) (string, error) { return binary(ctx) }
