package schema_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

func TestCaveatSchemaErrorsKeepTheirPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		text       string
		line, col  int
		msgContain string
	}{
		{"uint literal against an int parameter", "caveat cav(a uint) {\n  a > 1u\n}", 2, 5, "no matching overload"},
		{"unused parameter", "caveat cav(a int, b int) { a > 1 }", 1, 19, `parameter "b" is not used`},
		{"body not boolean", "caveat cav(a int) { a + 1 }", 1, 20, "must be boolean"},
		{"unknown parameter type", "caveat cav(a foo) { a }", 1, 14, `unknown parameter type "foo"`},
		{"list without an argument", "caveat cav(a list) { a.size() > 0 }", 1, 14, "type arguments"},
		{"expression does not compile", "caveat cav(a int) {\n a >\n}", 3, 1, "Syntax error"},
		{"unknown identifier", "caveat cav(a int) {\n\ta > b\n}", 2, 6, "undeclared reference"},
		{"expiration before the caveat", "use expiration\ncaveat cav(a int) { a > 1 }\ndefinition user {}\ndefinition doc {\n relation rel: user with expiration and cav\n}", 5, 37, "caveat comes before the expiration"},
		{"expiration without use expiration", "definition user {}\ndefinition doc {\nrelation rel: user with expiration\n}", 3, 25, "use expiration"},
		{"unknown caveat", "definition user {}\ndefinition doc {\nrelation rel: user with nocav\n}", 3, 25, `unknown caveat "nocav"`},
		{"same caveated type twice", "caveat cav(a int) { a > 1 }\ndefinition user {}\ndefinition doc {\nrelation rel: user with cav | user with cav\n}", 4, 31, "duplicate subject type"},
		{"duplicate caveat", "caveat cav(a int) { a > 1 }\ncaveat cav(a int) { a > 2 }", 2, 8, "duplicate caveat"},
		{"unknown use flag", "use typechecking", 1, 5, "unknown use flag"},
		{"self without use self", "definition user {\n relation related: user\n permission mine = related + self\n}", 3, 30, `unknown relation "self"`},
		{"unterminated body", "caveat cav(a string) { a == \"}\" ", 1, 23, "no closing brace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := schema.Parse(tt.text)
			var se *schema.Error
			if !errors.As(err, &se) || !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("Parse = %v, want a *schema.Error matching ErrInvalidRequest", err)
			}
			if se.Line != tt.line || se.Column != tt.col || !strings.Contains(se.Msg, tt.msgContain) {
				t.Errorf("Parse = %v, want line %d, column %d, containing %q", err, tt.line, tt.col, tt.msgContain)
			}
		})
	}
}

const caveatSchema = `use expiration
use self

// on_network admits requests from one network.
caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}

caveat every_type(i int, u uint, b bool, s string, d double, by bytes, du duration, ts timestamp, l list<int>, m map<string>, a any) {
	i > 1 && u > 1 && b && s == "x" && d > 0.5 && by == b"abc" && du > duration("1h") &&
	ts > timestamp("2020-01-01T00:00:00Z") && 3 in l && m["k"] == "v" && a == "any"
}

definition user {
	relation friend: user
	permission me_or_friend = friend + self
}

definition document {
	relation viewer: user with on_network | user | user:* with expiration | user with every_type and expiration
	permission view = viewer
}
`

func TestCaveatsParseAndPrint(t *testing.T) {
	t.Parallel()
	s, err := schema.Parse(caveatSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !s.UseExpiration || !s.UseSelf || len(s.Caveats) != 2 {
		t.Fatalf("UseExpiration %v, UseSelf %v, %d caveats", s.UseExpiration, s.UseSelf, len(s.Caveats))
	}
	c := s.Caveat("on_network")
	if c.Doc != "on_network admits requests from one network." || c.Param("cidr").Type.String() != "string" {
		t.Errorf("caveat = %+v", c)
	}
	if got := s.Caveat("every_type").Param("l").Type.String(); got != "list<int>" {
		t.Errorf("list type prints as %q", got)
	}
	viewer := s.Definition("document").Relation("viewer")
	for _, tt := range []struct {
		caveat     string
		expiration bool
		wildcard   bool
		want       bool
	}{
		{"on_network", false, false, true},
		{"", false, false, true},
		{"", true, false, false},
		{"", true, true, true},
		{"", false, true, false},
		{"every_type", true, false, true},
		{"every_type", false, false, false},
	} {
		if got := viewer.AllowsWith("user", "", tt.wildcard, tt.caveat, tt.expiration); got != tt.want {
			t.Errorf("AllowsWith(user, wildcard %v, %q, %v) = %v, want %v", tt.wildcard, tt.caveat, tt.expiration, got, tt.want)
		}
	}
	if _, ok := s.Definition("user").Permission("me_or_friend").Expr.(*schema.Union).Children[1].(*schema.Self); !ok {
		t.Error("self did not parse as *schema.Self")
	}
	again, err := schema.Parse(s.String())
	if err != nil {
		t.Fatalf("the printed schema does not parse: %v\n%s", err, s)
	}
	if diff := cmp.Diff(s.String(), again.String()); diff != "" {
		t.Errorf("print is not a fixpoint (-first +second):\n%s", diff)
	}
}

func TestCaveatEval(t *testing.T) {
	t.Parallel()
	s, err := schema.Parse(caveatSchema)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]any{
		"i": 2, "u": "3", "b": true, "s": "x", "d": "0.75", "by": "YWJj", "du": "90m",
		"ts": "2021-01-01T00:00:00Z", "l": []any{"3"}, "m": map[string]any{"k": "v"}, "a": "any",
	}
	with := func(changes map[string]any) authz.Context {
		m := map[string]any{}
		for k, v := range all {
			m[k] = v
		}
		for k, v := range changes {
			if v == "delete" {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return authz.NewContext(m)
	}
	ctx := authz.NewContext
	tests := []struct {
		name            string
		caveat          string
		stored, request authz.Context
		want            schema.CaveatResult
		wantErr         bool
	}{
		{name: "in network", caveat: "on_network", stored: ctx(map[string]any{"cidr": "10.0.0.0/8"}), request: ctx(map[string]any{"ip": "10.1.2.3"}), want: schema.CaveatResult{Value: true}},
		{name: "out of network", caveat: "on_network", stored: ctx(map[string]any{"cidr": "10.0.0.0/8"}), request: ctx(map[string]any{"ip": "11.1.2.3"}), want: schema.CaveatResult{}},
		{name: "ip missing", caveat: "on_network", stored: ctx(map[string]any{"cidr": "10.0.0.0/8"}), want: schema.CaveatResult{Missing: []string{"ip"}}},
		{name: "both missing", caveat: "on_network", want: schema.CaveatResult{Missing: []string{"cidr", "ip"}}},
		{name: "stored wins over request", caveat: "on_network", stored: ctx(map[string]any{"cidr": "10.0.0.0/8"}), request: ctx(map[string]any{"ip": "10.1.2.3", "cidr": "11.0.0.0/8"}), want: schema.CaveatResult{Value: true}},
		{name: "wrong-typed request value for a stored key is ignored", caveat: "on_network", stored: ctx(map[string]any{"cidr": "10.0.0.0/8"}), request: ctx(map[string]any{"ip": "10.1.2.3", "cidr": 5}), want: schema.CaveatResult{Value: true}},
		{name: "unknown request keys are ignored", caveat: "on_network", stored: ctx(map[string]any{"cidr": "10.0.0.0/8"}), request: ctx(map[string]any{"ip": "10.1.2.3", "other": true}), want: schema.CaveatResult{Value: true}},
		{name: "a cidr is not an ipaddress", caveat: "on_network", stored: ctx(map[string]any{"cidr": "10.0.0.0/8"}), request: ctx(map[string]any{"ip": "10.0.0.0/8"}), wantErr: true},
		{name: "every type, all conversions", caveat: "every_type", request: with(nil), want: schema.CaveatResult{Value: true}},
		{name: "every type, one false", caveat: "every_type", request: with(map[string]any{"s": "y"}), want: schema.CaveatResult{}},
		{name: "false decides without the missing", caveat: "every_type", request: with(map[string]any{"i": 0, "u": "delete", "ts": "delete"}), want: schema.CaveatResult{}},
		{name: "missing parameters are named", caveat: "every_type", request: with(map[string]any{"u": "delete", "ts": "delete"}), want: schema.CaveatResult{Missing: []string{"ts", "u"}}},
		{name: "int refuses a fraction", caveat: "every_type", request: with(map[string]any{"i": 5.5}), wantErr: true},
		{name: "int refuses a bool", caveat: "every_type", request: with(map[string]any{"i": true}), wantErr: true},
		{name: "null is an error, not missing", caveat: "every_type", request: with(map[string]any{"i": nil}), wantErr: true},
		{name: "bool refuses a string", caveat: "every_type", request: with(map[string]any{"b": "true"}), wantErr: true},
		{name: "string refuses a number", caveat: "every_type", request: with(map[string]any{"s": 5}), wantErr: true},
		{name: "duration refuses days", caveat: "every_type", request: with(map[string]any{"du": "2d"}), wantErr: true},
		{name: "timestamp refuses a date", caveat: "every_type", request: with(map[string]any{"ts": "2021-01-01"}), wantErr: true},
		{name: "list refuses a fraction", caveat: "every_type", request: with(map[string]any{"l": []any{3.5}}), wantErr: true},
		{name: "list refuses a scalar", caveat: "every_type", request: with(map[string]any{"l": 3}), wantErr: true},
		{name: "map refuses a list", caveat: "every_type", request: with(map[string]any{"m": []any{}}), wantErr: true},
		{name: "a missing map key is an evaluation error", caveat: "every_type", request: with(map[string]any{"m": map[string]any{}}), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Caveat(tt.caveat).Eval(tt.stored, tt.request)
			if tt.wantErr {
				if !errors.Is(err, authz.ErrInvalidRequest) {
					t.Fatalf("Eval = %+v, %v; want ErrInvalidRequest", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Eval mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCaveatCheckContext(t *testing.T) {
	t.Parallel()
	s, err := schema.Parse(caveatSchema)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Caveat("on_network")
	if err := c.CheckContext(authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})); err != nil {
		t.Errorf("a valid stored context: %v", err)
	}
	for name, ctx := range map[string]map[string]any{
		"unknown key": {"port": 80},
		"wrong type":  {"cidr": 5},
	} {
		if err := c.CheckContext(authz.NewContext(ctx)); !errors.Is(err, authz.ErrInvalidRequest) {
			t.Errorf("%s: CheckContext = %v, want ErrInvalidRequest", name, err)
		}
	}
}

// TestCaveatNumbersConvertAsSpiceDB pins the numeric conversions to
// SpiceDB's convertNumericType (big.ParseFloat, base 10, 64 bits): no
// string is a NaN, "Infinity" is refused, "Inf" and "1e999" are infinite
// doubles, integers saturate at the int64 range.
func TestCaveatNumbersConvertAsSpiceDB(t *testing.T) {
	t.Parallel()
	s, err := schema.Parse(`
caveat under(amount double, limit double) { !(amount > limit) }
caveat is_int(i int) { i == 9223372036854775807 || i == -9223372036854775808 || i == 5 }
caveat is_uint(u uint) { u == 9223372036854775807 || u == 5 || u == 0 }
`)
	if err != nil {
		t.Fatal(err)
	}
	limit := authz.NewContext(map[string]any{"limit": 100})
	tests := []struct {
		caveat, param string
		value         any
		want          bool // ignored when wantErr
		wantErr       bool
	}{
		{"under", "amount", "NaN", false, true},
		{"under", "amount", "nan", false, true},
		{"under", "amount", "Infinity", false, true},
		{"under", "amount", "-Infinity", false, true},
		{"under", "amount", "0x10", false, true},
		{"under", "amount", " 1", false, true},
		{"under", "amount", "1_000", false, true},
		{"under", "amount", "5000", false, false},
		{"under", "amount", "50", true, false},
		{"under", "amount", "Inf", false, false},
		{"under", "amount", "+inf", false, false},
		{"under", "amount", "-Inf", true, false},
		{"under", "amount", "1e999", false, false},
		{"under", "amount", "1e-999", true, false},
		{"under", "amount", 1e300, false, false},
		{"is_int", "i", "99999999999999999999", true, false},
		{"is_int", "i", "-1e300", true, false},
		{"is_int", "i", 1e300, true, false},
		{"is_int", "i", "5.", true, false},
		{"is_int", "i", "1.5", false, true},
		{"is_int", "i", "Inf", false, true},
		{"is_int", "i", "NaN", false, true},
		{"is_uint", "u", "1e30", true, false},
		{"is_uint", "u", "-0", true, false},
		{"is_uint", "u", "-1", false, true},
		{"is_uint", "u", -1e300, false, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s=%v", tt.param, tt.value), func(t *testing.T) {
			t.Parallel()
			c := s.Caveat(tt.caveat)
			var stored authz.Context
			if tt.caveat == "under" {
				stored = limit
			}
			req := authz.NewContext(map[string]any{tt.param: tt.value})
			got, err := c.Eval(stored, req)
			checkErr := c.CheckContext(req)
			if tt.wantErr {
				if !errors.Is(err, authz.ErrInvalidRequest) || !errors.Is(checkErr, authz.ErrInvalidRequest) {
					t.Fatalf("Eval = %+v, %v; CheckContext = %v; want ErrInvalidRequest from both", got, err, checkErr)
				}
				return
			}
			if err != nil || checkErr != nil {
				t.Fatalf("Eval = %v, CheckContext = %v; want no error", err, checkErr)
			}
			if got.Value != tt.want || got.Conditional() {
				t.Errorf("Eval = %+v, want %v", got, tt.want)
			}
		})
	}
}
