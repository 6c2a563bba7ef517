package grpcauthz

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/fgac-go/fgac/authz"
)

// FuzzFieldPath: for any path and any message bytes, parsing and
// extraction never panic; a path is refused with an error matching
// authz.ErrInvalidRequest or extraction either finds the non-empty string
// at a path that check accepts for the message's type, or answers
// InvalidArgument with a fixed message that never carries the field's
// value.
func FuzzFieldPath(f *testing.F) {
	seed := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("a.proto"),
		Package:     proto.String("pkg"),
		Options:     &descriptorpb.FileOptions{GoPackage: proto.String("example.com/x"), JavaPackage: proto.String("")},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}},
	}
	b, _ := proto.Marshal(seed)
	for _, p := range []string{"name", "package", "options.go_package", "options.java_package", "options.deprecated", "message_type", "message_type.name", "nope", "options..go_package", ".name", "name.", "syntax", "source_code_info.location", "options"} {
		f.Add(p, b)
		f.Add(p, []byte{})
	}
	f.Fuzz(func(t *testing.T, path string, data []byte) {
		fp, err := parseFieldPath(path)
		if err != nil {
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("parseFieldPath(%q) = %v, not an invalid request", path, err)
			}
			return
		}
		msg := &descriptorpb.FileDescriptorProto{}
		if proto.Unmarshal(data, msg) != nil {
			return
		}
		id, err := fp.extract(context.Background(), msg)
		valid := fp.check(msg.ProtoReflect().Descriptor()) == nil
		if err == nil {
			if id == "" || !valid {
				t.Fatalf("extract(%q) = %q with path valid=%v", path, id, valid)
			}
			return
		}
		if !errors.Is(err, authz.ErrInvalidRequest) {
			t.Fatalf("extract(%q) error %v does not match ErrInvalidRequest", path, err)
		}
		st := status.Convert(Status(err))
		if st.Code() != codes.InvalidArgument {
			t.Fatalf("extract(%q): status %v", path, st.Code())
		}
		if valid != (err == fp.missing) {
			t.Fatalf("extract(%q): %v with path valid=%v", path, err, valid)
		}
		for _, v := range []string{msg.GetName(), msg.GetPackage(), msg.GetOptions().GetGoPackage()} {
			if len(v) > 3 && !strings.Contains(path, v) && strings.Contains(st.Message(), v) {
				t.Fatalf("status %q carries a field value %q", st.Message(), v)
			}
		}
	})
}
