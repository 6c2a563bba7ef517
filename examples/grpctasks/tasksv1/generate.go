// Package tasksv1 is the generated Go code of tasks.proto, the task API of
// examples/grpctasks. Regenerate with go generate (protoc is not needed:
// internal/tools/protogen compiles the .proto with protocompile and runs
// the pinned protoc-gen-go and protoc-gen-go-grpc).
package tasksv1

//go:generate env GOWORK=off go -C ../../../internal/tools/protogen run . -dir $PWD/.. tasksv1/tasks.proto
