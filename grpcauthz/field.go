package grpcauthz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fgac-go/fgac/authz"
)

// ErrMissing is what an [IDFunc] returns when the resource it looks for
// does not exist (a name that resolves to nothing): the request is then
// answered exactly as a missing id, after the same backend calls. An
// [authz.ErrNotFound] is taken the same way.
var ErrMissing = errors.New("grpcauthz: resource not found")

// ID finds the id of the resource a request addresses: [Field] or
// [IDFunc].
type ID interface {
	// extract returns the id in msg, or an error: a *problem for bad
	// input, ErrMissing or authz.ErrNotFound for a resource that does not
	// exist, anything else for a fault.
	extract(ctx context.Context, msg proto.Message) (string, error)
}

// fieldPath is a parsed field path, with the answers of its failures built
// at setup.
type fieldPath struct {
	path      string
	names     []protoreflect.Name
	missing   *problem // the field is unset or empty
	wrongType *problem // the path does not lead to a string field of the message
}

// Field returns an [ID] that reads a string field of the request message
// by its path of field names (proto names, not JSON names): "task_id", or
// "params.task_id" through a singular message field. An unset or empty
// field is InvalidArgument ("task_id is missing"); a path that does not
// lead to a singular string field of the message received is
// InvalidArgument too. [New] checks the path against the method's request
// type when the type is known (registered by its generated code, or given
// as [Method].Request) and panics on a path the type lacks. Field panics
// on a path that is not a dotted list of field names.
func Field(path string) ID {
	f, err := parseFieldPath(path)
	if err != nil {
		panic(err.Error())
	}
	return f
}

// parseFieldPath parses a dotted field path.
func parseFieldPath(path string) (*fieldPath, error) {
	if path == "" || len(path) > 512 {
		return nil, fmt.Errorf("grpcauthz: Field: %w: path must be 1 to 512 bytes", authz.ErrInvalidRequest)
	}
	f := &fieldPath{path: path}
	for _, seg := range strings.Split(path, ".") {
		if !protoreflect.Name(seg).IsValid() {
			return nil, fmt.Errorf("grpcauthz: Field: %w: %q is not a field name", authz.ErrInvalidRequest, seg)
		}
		f.names = append(f.names, protoreflect.Name(seg))
	}
	f.missing = newProblem(codes.InvalidArgument, ReasonInvalidField, path+" is missing", authz.ErrInvalidRequest)
	f.wrongType = newProblem(codes.InvalidArgument, ReasonInvalidField, path+" is not a string field of the request", authz.ErrInvalidRequest)
	return f, nil
}

// check reports whether the path leads to a singular string field of md.
func (f *fieldPath) check(md protoreflect.MessageDescriptor) error {
	for i, name := range f.names {
		fd := md.Fields().ByName(name)
		if fd == nil {
			return fmt.Errorf("%s has no field %s", md.FullName(), name)
		}
		if fd.IsList() || fd.IsMap() {
			return fmt.Errorf("field %s of %s is repeated", name, md.FullName())
		}
		if i == len(f.names)-1 {
			if fd.Kind() != protoreflect.StringKind {
				return fmt.Errorf("field %s of %s is a %s, not a string", name, md.FullName(), fd.Kind())
			}
			return nil
		}
		if fd.Message() == nil {
			return fmt.Errorf("field %s of %s is a %s, not a message", name, md.FullName(), fd.Kind())
		}
		md = fd.Message()
	}
	return nil
}

// extract reads the field in msg.
func (f *fieldPath) extract(_ context.Context, msg proto.Message) (string, error) {
	if msg == nil {
		return "", errNoMessage
	}
	m := msg.ProtoReflect()
	for i, name := range f.names {
		fd := m.Descriptor().Fields().ByName(name)
		if fd == nil || fd.IsList() || fd.IsMap() {
			return "", f.wrongType
		}
		if i == len(f.names)-1 {
			if fd.Kind() != protoreflect.StringKind {
				return "", f.wrongType
			}
			v := m.Get(fd).String()
			if v == "" {
				return "", f.missing
			}
			return v, nil
		}
		if fd.Message() == nil {
			return "", f.wrongType
		}
		// An unset message reads as an empty one, so that the rest of the
		// path is still checked against its type.
		m = m.Get(fd).Message()
	}
	return "", f.missing // unreachable: a path has at least one name
}

// IDFunc is an [ID] computed by the service from the request message and
// its context, such as a name looked up among the caller's own names. It
// returns [ErrMissing] (or an error matching [authz.ErrNotFound]) for a
// resource that does not exist, which is answered as a missing id; an
// error matching [authz.ErrInvalidRequest] is InvalidArgument with a fixed
// message; any other error, and a panic, is Internal. For a list method
// it is not used.
type IDFunc func(ctx context.Context, msg proto.Message) (string, error)

func (f IDFunc) extract(ctx context.Context, msg proto.Message) (id string, err error) {
	defer func() {
		if p := recover(); p != nil {
			id, err = "", fmt.Errorf("grpcauthz: %w: IDFunc panicked", authz.ErrInternal)
		}
	}()
	return f(ctx, msg)
}
