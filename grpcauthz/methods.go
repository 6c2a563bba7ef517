package grpcauthz

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/fgac-go/fgac/authz"
)

// Method is the authorization route of one gRPC method.
type Method struct {
	// ResourceType is the type checked; a child type registered in
	// [Config].Parents is resolved to its parent.
	ResourceType string
	// Operation is the operation checked.
	Operation authz.Operation
	// ID finds the id in the request message: [Field] or an [IDFunc].
	// Exactly one of ID and List is set.
	ID ID
	// List makes the method a list method: instead of checking one id,
	// the interceptor looks up the ids of ResourceType (or of the type a
	// child type's permissions come from) the subject may access with
	// Operation and hands the handler the [authz.Filter] ([FilterFrom]).
	List bool
	// Request, if set, is a value of the method's request type, used to
	// check a [Field] path at setup and to receive the first message of a
	// stream. Nil means the type registered for the method by its
	// generated code (protoregistry.GlobalFiles and GlobalTypes).
	Request proto.Message
}

// Methods is the authorization table of a gRPC server: full method name
// ("/tasks.v1.TaskService/GetTask", as in grpc.UnaryServerInfo) to
// [Method]. A method that is not in the table fails closed: its requests
// are refused (PermissionDenied) before any check or handler runs. The
// zero value is an empty table. Fill it at setup; it is not safe for
// concurrent registration.
type Methods struct {
	routes map[string]Method
}

// Handle adds a method. It panics on a malformed or duplicate name and on
// an incomplete route: these are setup errors.
func (t *Methods) Handle(fullMethod string, m Method) {
	if !validMethodName(fullMethod) {
		panic(fmt.Sprintf("grpcauthz: Methods.Handle: %q is not a full method name such as /pkg.Service/Method", fullMethod))
	}
	if m.Operation == "" || m.ResourceType == "" || (m.ID == nil) == !m.List {
		panic("grpcauthz: Methods.Handle: route for " + fullMethod + " needs a ResourceType, an Operation and either ID or List")
	}
	if f, ok := m.ID.(IDFunc); ok && f == nil {
		panic("grpcauthz: Methods.Handle: route for " + fullMethod + " has a nil IDFunc")
	}
	if _, dup := t.routes[fullMethod]; dup {
		panic("grpcauthz: Methods.Handle: duplicate method " + fullMethod)
	}
	if t.routes == nil {
		t.routes = make(map[string]Method)
	}
	t.routes[fullMethod] = m
}

// validMethodName reports whether s reads "/service/method" with both
// parts non-empty.
func validMethodName(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	svc, method, ok := strings.Cut(s[1:], "/")
	return ok && svc != "" && method != "" && !strings.Contains(method, "/")
}
