package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

var _ authz.PermissionSet = (*schema.Schema)(nil)

// taskSchema is the reference schema of the package tests.
const taskSchema = `/** user is a person. */
definition user {}

definition group {
	relation member: user | group#member
}

definition agent {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
}

// task is a unit of work.
definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user | user:* | group#member
	relation banned: user
	permission read = owner + viewer + parent->read
	permission edit = owner & (read - banned)
	permission all_read = parent.all(read)
	permission any_read = parent.any(read)
	permission none = nil
}
`

func TestParseAcceptsSchemas(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		want   string // canonical String() output
		checks map[string]bool
	}{
		{
			name: "empty",
			text: "",
			want: "",
		},
		{
			name: "only comments",
			text: "// nothing\n/* here */\n",
			want: "",
		},
		{
			name: "reference schema",
			text: taskSchema,
			want: `definition user {}

definition group {
	relation member: user | group#member
}

definition agent {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user | user:* | group#member
	relation banned: user
	permission read = owner + viewer + parent->read
	permission edit = owner & (read - banned)
	permission all_read = parent.all(read)
	permission any_read = parent->read
	permission none = nil
}
`,
			checks: map[string]bool{
				"task#read": true, "task#parent": true, "task#nope": false, "nope#read": false, "user#read": false,
			},
		},
		{
			name: "plus binds tighter than and, and tighter than minus",
			text: `definition user {}
definition doc {
	relation aaa: user
	relation bbb: user
	relation ccc: user
	permission one = aaa + bbb & ccc
	permission two = aaa - bbb + ccc
	permission three = aaa & bbb - ccc
	permission four = aaa - bbb - ccc
	permission five = aaa + (bbb + ccc) + (aaa & (bbb & ccc))
	permission six = aaa - (bbb - ccc)
}`,
			want: `definition user {}

definition doc {
	relation aaa: user
	relation bbb: user
	relation ccc: user
	permission one = (aaa + bbb) & ccc
	permission two = aaa - (bbb + ccc)
	permission three = (aaa & bbb) - ccc
	permission four = (aaa - bbb) - ccc
	permission five = aaa + bbb + ccc + (aaa & bbb & ccc)
	permission six = aaa - (bbb - ccc)
}
`,
		},
		{
			name:   "prefixed names, ellipsis subject and semicolons",
			text:   "definition org/user {}; definition org/unit/doc {\n relation aaa: org/user#... | org/user:*; relation bbb: org/unit/doc#aaa\n permission ccc = aaa +\n  bbb\n}\n",
			want:   "definition org/user {}\n\ndefinition org/unit/doc {\n\trelation aaa: org/user | org/user:*\n\trelation bbb: org/unit/doc#aaa\n\tpermission ccc = aaa + bbb\n}\n",
			checks: map[string]bool{"org/unit/doc#ccc": true, "doc#ccc": false},
		},
		{
			name: "names any and all are names",
			text: "definition user {}\ndefinition doc {\n relation any: doc | user\n relation all: user\n permission view = any.all(all) + any.any(all)\n}\n",
			want: "definition user {}\n\ndefinition doc {\n\trelation any: doc | user\n\trelation all: user\n\tpermission view = any.all(all) + any->all\n}\n",
		},
		{
			name: "arrow over a subject set walks to its object",
			text: "definition user {}\ndefinition group {\n relation member: user\n}\ndefinition doc {\n relation viewer: group#member\n permission view = viewer->member\n}\n",
			want: "definition user {}\n\ndefinition group {\n\trelation member: user\n}\n\ndefinition doc {\n\trelation viewer: group#member\n\tpermission view = viewer->member\n}\n",
		},
		{
			name: "recursive subject sets on the own definition may include wildcards",
			text: "definition user {}\ndefinition group {\n relation member: user:* | group#member\n}\n",
			want: "definition user {}\n\ndefinition group {\n\trelation member: user:* | group#member\n}\n",
		},
		{
			name: "crlf line ends",
			text: "definition user {}\r\ndefinition doc {\r\n relation owner: user\r\n}\r\n",
			want: "definition user {}\n\ndefinition doc {\n\trelation owner: user\n}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := schema.Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, s.String()); diff != "" {
				t.Errorf("String() mismatch (-want +got):\n%s", diff)
			}
			for q, want := range tt.checks {
				typ, name, _ := strings.Cut(q, "#")
				if got := s.HasPermission(typ, name); got != want {
					t.Errorf("HasPermission(%q, %q) = %v, want %v", typ, name, got, want)
				}
			}
		})
	}
}

func TestParseRejectsWithPosition(t *testing.T) {
	const user = "definition user {}\n"
	tests := []struct {
		name       string
		text       string
		line, col  int
		msgContain string
	}{
		// Syntax.
		{"syntax error", user + "definition doc {\n\trelation owner user\n}\n", 3, 17, `unexpected name "user", expected ":"`},
		{"unknown character", user + "definition doc {}\n@", 3, 1, "unexpected character '@'"},
		{"unterminated comment", user + "/* open", 2, 1, "unterminated comment"},
		{"relation on one line with the brace", user + "definition doc { relation owner: user }", 2, 39, `unexpected "}", expected end of statement`},
		{"operator at the start of a line", user + "definition doc {\n relation aaa: user\n relation bbb: user\n permission ccc = aaa\n  + bbb\n}", 6, 3, `unexpected "+"`},
		{"newline inside parentheses", user + "definition doc {\n relation aaa: user\n permission ccc = (aaa\n + aaa)\n}", 4, 23, `unexpected end of line, expected ")"`},
		{"brace on the next line", "definition user\n{}", 1, 16, `unexpected end of line, expected "{"`},
		{"two semicolons at top level", "definition user {};;", 1, 20, `unexpected ";"`},
		{"missing closing brace", user + "definition doc {\n relation owner: user\n", 4, 1, `unexpected end of input, expected "}"`},
		{"nested arrows", user + "definition doc {\n relation parent: doc\n permission view = parent->parent->view\n}", 4, 20, "nested arrows are not supported"},
		{"arrow on parentheses", user + "definition doc {\n relation parent: doc\n permission view = (parent)->view\n}", 4, 28, `unexpected "->"`},
		{"unknown arrow function", user + "definition doc {\n relation parent: doc\n permission view = parent.some(view)\n}", 4, 27, `unknown arrow function "some"`},
		{"keyword as a name", user + "definition doc {\n relation nil: user\n}", 3, 11, `unexpected keyword "nil", expected a relation name`},
		{"deeply nested parentheses", user + "definition doc {\n relation aaa: user\n permission ccc = " + strings.Repeat("(", 101) + "aaa" + strings.Repeat(")", 101) + "\n}", 4, 119, "nested more than 100 parentheses"},
		{"pipe in an expression", user + "definition doc {\n relation aaa: user\n permission ccc = aaa | aaa\n}", 4, 23, `unexpected "|"`},

		// Unsupported SpiceDB features.
		{"caveat with an unused parameter", user + "\ncaveat ip_allowed(ip ipaddress, port int) {\n  ip.in_cidr('10.0.0.0/8')\n}\n", 3, 33, "is not used"},
		{"caveat on a subject type", user + "definition doc {\n relation viewer: user with ip_allowed\n}", 3, 29, "unknown caveat"},
		{"expiration on a subject type", user + "definition doc {\n relation viewer: user with expiration\n}", 3, 29, "use expiration"},
		{"use directive", "use everything\n" + user, 1, 5, "unknown use flag"},
		{"import statement", "import \"other.zed\"\n" + user, 1, 1, "import statements are not supported"},
		{"partial reference", user + "definition doc {\n ...common\n}", 3, 2, "partial references are not supported"},
		{"permission type annotation", user + "definition doc {\n relation viewer: user\n permission view: user = viewer\n}", 4, 17, "type annotations are not supported"},

		// Names.
		{"upper-case definition", "definition User {}", 1, 12, `invalid definition name "User"`},
		{"short relation name", user + "definition doc {\n relation ab: user\n}", 3, 11, `invalid relation name "ab"`},
		{"trailing underscore", user + "definition doc {\n relation viewer: user\n permission view_ = viewer\n}", 4, 13, `invalid permission name "view_"`},

		// Semantics.
		{"duplicate definition", user + "definition doc {}\ndefinition doc {}", 3, 12, `duplicate definition "doc" (first defined at line 2)`},
		{"duplicate relation", user + "definition doc {\n relation owner: user\n permission owner = owner\n}", 4, 13, `duplicate relation or permission "owner" in "doc"`},
		{"unknown subject type", user + "definition doc {\n relation owner: usr\n}", 3, 18, `unknown type "usr" in relation "owner" of "doc"`},
		{"unknown subject relation", user + "definition group {\n relation member: user\n}\ndefinition doc {\n relation viewer: group#membr\n}", 6, 19, `unknown relation "membr" of "group" in relation "viewer" of "doc"`},
		{"duplicate subject type", user + "definition doc {\n relation viewer: user#... | user\n}", 3, 30, `duplicate subject type "user"`},
		{"wildcard through a subject set", user + "definition group {\n relation member: user | user:*\n}\ndefinition doc {\n relation viewer: group#member\n}", 6, 19, `includes the wildcard "user:*" through group#member`},
		{"unknown relation", user + "definition task {\n\trelation owner: user\n\trelation viewer: user\n\n\n\tpermission read = owner + viewr\n}", 7, 28, `unknown relation "viewr" in permission "read" of "task"`},
		{"arrow over an unknown relation", user + "definition doc {\n relation parent: doc\n permission view = parnt->view\n}", 4, 20, `unknown relation "parnt" in permission "view" of "doc"`},
		{"arrow over a permission", user + "definition doc {\n relation owner: user\n permission own = owner\n permission view = own->view\n}", 5, 20, "the left side of an arrow must be a relation"},
		{"arrow over a wildcard", user + "definition doc {\n relation parent: doc | doc:*\n permission view = parent->view\n}", 4, 20, `walks relation "parent", which includes the wildcard "doc:*"`},
		{"arrow over a transitive wildcard", user + "definition doc {\n relation parent: doc#pub\n relation pub: user:* | doc\n permission view = parent->view\n}", 5, 20, `includes the wildcard "user:*" through doc#pub`},
		{"arrow target on no subject type", user + "definition folder {\n relation viewer: user\n}\ndefinition doc {\n relation parent: folder | user\n permission view = parent->read\n}", 7, 28, `no subject type of relation "parent" (folder, user) has a relation or permission "read"`},
		{"permission references itself", user + "definition doc {\n relation viewer: user\n permission view = viewer + view\n}", 4, 29, `permission "view" of "doc" references itself`},
		{"permissions form a cycle", user + "definition doc {\n relation viewer: user\n permission aaa = bbb + viewer\n permission bbb = aaa\n}", 5, 19, "cycle: aaa -> bbb -> aaa"},
		{"first error in source order wins", user + "definition doc {\n permission view = nope1\n relation owner: nope2\n}", 3, 20, `unknown relation "nope1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := schema.Parse(tt.text)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error; got:\n%s", s)
			}
			var se *schema.Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %v (%T) is not a *schema.Error", err, err)
			}
			if diff := cmp.Diff([2]int{tt.line, tt.col}, [2]int{se.Line, se.Column}); diff != "" {
				t.Errorf("position mismatch (-want +got):\n%s\nerror: %v", diff, err)
			}
			if !strings.Contains(se.Msg, tt.msgContain) {
				t.Errorf("message %q does not contain %q", se.Msg, tt.msgContain)
			}
			wantPrefix := "schema: line "
			if !strings.HasPrefix(err.Error(), wantPrefix) {
				t.Errorf("error %q does not start with %q", err, wantPrefix)
			}
			// The error vocabulary holds: a schema that does not parse is
			// an invalid request, and only that.
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("schema error does not match authz.ErrInvalidRequest")
			}
			for _, other := range []error{authz.ErrDenied, authz.ErrNotFound, authz.ErrUnavailable, authz.ErrConflict, authz.ErrInternal} {
				if errors.Is(err, other) {
					t.Errorf("schema error matches %v too", other)
				}
			}
		})
	}
}

func TestErrorMessageFormat(t *testing.T) {
	text := "definition user {}\n\ndefinition task {\n\trelation owner: user\n\trelation viewer: user\n\n\tpermission read = owner + viewr\n}\n"
	_, err := schema.Parse(text)
	want := `schema: line 7, column 28: unknown relation "viewr" in permission "read" of "task"`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
}

func TestSyntaxTreeHasPositionsAndDocs(t *testing.T) {
	s, err := schema.Parse(taskSchema)
	if err != nil {
		t.Fatal(err)
	}
	task := s.Definition("task")
	if task == nil {
		t.Fatal(`Definition("task") = nil`)
	}
	type got struct {
		Def, Rel, Type, Perm, Ref, Arrow, Target schema.Pos
		DefDoc, UserDoc                          string
		Func                                     schema.ArrowFunc
	}
	read := task.Permission("read")
	union := read.Expr.(*schema.Union)
	arrow := union.Children[2].(*schema.Arrow)
	allRead := task.Permission("all_read").Expr.(*schema.Arrow)
	g := got{
		Def:     task.Pos,
		Rel:     task.Relation("viewer").Pos,
		Type:    task.Relation("viewer").Types[2].Pos,
		Perm:    read.Pos,
		Ref:     union.Children[1].Position(),
		Arrow:   arrow.Pos,
		Target:  arrow.TargetPos,
		DefDoc:  task.Doc,
		UserDoc: s.Definition("user").Doc,
		Func:    allRead.Func,
	}
	want := got{
		Def:     schema.Pos{Line: 15, Column: 12},
		Rel:     schema.Pos{Line: 18, Column: 11},
		Type:    schema.Pos{Line: 18, Column: 35},
		Perm:    schema.Pos{Line: 20, Column: 13},
		Ref:     schema.Pos{Line: 20, Column: 28},
		Arrow:   schema.Pos{Line: 20, Column: 37},
		Target:  schema.Pos{Line: 20, Column: 45},
		DefDoc:  "task is a unit of work.",
		UserDoc: "user is a person.",
		Func:    schema.ArrowAll,
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("syntax tree mismatch (-want +got):\n%s", diff)
	}
	if task.Relation("read") != nil || task.Permission("owner") != nil {
		t.Errorf("Relation and Permission must not return the other kind")
	}
	if !task.Relation("viewer").Allows("user", "", true) || task.Relation("viewer").Allows("group", "", false) {
		t.Errorf("Allows does not match the relation's types")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(taskSchema)
	f.Add("definition user {}\ndefinition doc {\n relation parent: doc\n permission view = (parent->view - parent.all(view)) & nil\n}\n")
	f.Add("caveat c(x int) { x > 1 }")
	f.Add("use expiration\nuse self\ncaveat cav(m map<list<int>>, s string) {\n  \"}\" != s && m[\"k\"].size() > 0\n}\ndefinition user {\n relation friend: user with cav and expiration | user:* with cav\n permission me = friend + self\n}")
	f.Add("definition a/b {\n relation ccc: a/b#ccc | a/b:*\n}")
	f.Add("/** doc */ definition x {} // tail")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := schema.Parse(text)
		if err != nil {
			var se *schema.Error
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("Parse error %v has no position", err)
			}
			return
		}
		// A schema that parses prints as a schema that parses to the same
		// text.
		again, err := schema.Parse(s.String())
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, s)
		}
		if again.String() != s.String() {
			t.Fatalf("canonical form is not stable:\n%s\nvs\n%s", s, again)
		}
	})
}
