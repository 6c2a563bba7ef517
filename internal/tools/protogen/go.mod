// Module protogen pins the code generators of the examples' protobuf
// code: protoc-gen-go, protoc-gen-go-grpc and protocompile (a protobuf
// compiler in Go, standing in for protoc). It is a separate module so that
// none of them enters fgac's go.mod.
module github.com/fgac-go/fgac/internal/tools/protogen

go 1.25.8

require (
	github.com/bufbuild/protocompile v0.14.1
	google.golang.org/protobuf v1.36.11
)

require (
	golang.org/x/sync v0.8.0 // indirect
	google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2 // indirect
)

tool google.golang.org/grpc/cmd/protoc-gen-go-grpc
