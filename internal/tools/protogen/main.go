// Command protogen generates the Go code of the examples' .proto files
// without protoc: it compiles them with protocompile (a protobuf compiler
// written in Go), runs protoc-gen-go in process and protoc-gen-go-grpc as
// the plugin it is (go tool protoc-gen-go-grpc, pinned in this module),
// and writes their output beside the .proto files (paths=source_relative).
//
// Usage, from this module's directory (go generate in an example does it):
//
//	GOWORK=off go run . -dir /abs/path/to/protos tasks/v1/tasks.proto
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/pluginpb"
)

func main() {
	dir := flag.String("dir", "", "directory the .proto files are relative to (and the output root)")
	flag.Parse()
	if *dir == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: protogen -dir DIR FILE.proto...")
		os.Exit(2)
	}
	if err := run(*dir, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

func run(dir string, files []string) error {
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{dir}}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := c.Compile(context.Background(), files...)
	if err != nil {
		return err
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files, Parameter: proto.String("paths=source_relative")}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := 0; i < f.Imports().Len(); i++ {
			add(f.Imports().Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(f))
	}
	for _, f := range compiled {
		add(f)
	}
	goResp, err := genGo(req)
	if err != nil {
		return err
	}
	grpcResp, err := plugin(req, "protoc-gen-go-grpc")
	if err != nil {
		return err
	}
	for _, resp := range []*pluginpb.CodeGeneratorResponse{goResp, grpcResp} {
		if resp.Error != nil {
			return fmt.Errorf("plugin: %s", resp.GetError())
		}
		for _, f := range resp.File {
			out := filepath.Join(dir, filepath.FromSlash(f.GetName()))
			if err := os.WriteFile(out, []byte(f.GetContent()), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// genGo runs protoc-gen-go in process.
func genGo(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	gen, err := protogen.Options{}.New(req)
	if err != nil {
		return nil, err
	}
	for _, f := range gen.Files {
		if f.Generate {
			internal_gengo.GenerateFile(gen, f)
		}
	}
	gen.SupportedFeatures = internal_gengo.SupportedFeatures
	gen.SupportedEditionsMinimum = internal_gengo.SupportedEditionsMinimum
	gen.SupportedEditionsMaximum = internal_gengo.SupportedEditionsMaximum
	return gen.Response(), nil
}

// plugin runs a plugin pinned as a tool of this module.
func plugin(req *pluginpb.CodeGeneratorRequest, name string) (*pluginpb.CodeGeneratorResponse, error) {
	in, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "tool", name)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	return resp, proto.Unmarshal(out, resp)
}
