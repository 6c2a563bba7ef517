package schema

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/fgac-go/fgac/authz"
)

// program is a caveat's compiled CEL: one program for complete contexts
// and one that evaluates partially, with the parameters the contexts lack
// left unknown (as SpiceDB evaluates caveats).
type program struct {
	env     *cel.Env
	full    cel.Program
	partial cel.Program
}

// MaxCaveatCost is the most CEL cost (cel.CostLimit: about one unit per
// operation, per element of a comprehension) one evaluation of a caveat
// with a comprehension (all, exists, exists_one, map, filter) may spend;
// one that would spend more fails with an [authz.CaveatError]. (Without
// a comprehension the work is bounded by the expression and its values.) The pinned SpiceDB evaluates without a limit and
// bounds work by the 4,096-byte request context alone, which a nested
// comprehension over a stored list still turns into minutes; this limit
// stops such an evaluation within about a second and leaves every caveat
// of SpiceDB's test corpus and the differential graphs far below it.
const MaxCaveatCost = 1_000_000

// interruptEvery is how many comprehension iterations pass between two
// looks at the evaluation's context (cel.InterruptCheckFrequency).
const interruptEvery = 100

// ipType is the CEL type of ipaddress parameters.
var ipType = cel.OpaqueType("ipaddress")

// celType returns the CEL type of a parameter type, or an error naming
// what is wrong with it.
func celType(t *ParamType) (*cel.Type, *Error) {
	want := 0
	switch t.Name {
	case "list", "map":
		want = 1
	}
	if len(t.Args) != want {
		return nil, errorf(t.Pos, "type %s takes %d type arguments, not %d", strconv.Quote(t.Name), want, len(t.Args))
	}
	switch t.Name {
	case "int", "uint":
		// SpiceDB declares uint parameters as CEL int too: `x > 1u` does
		// not compile, `x > 1` does.
		return cel.IntType, nil
	case "bool":
		return cel.BoolType, nil
	case "string":
		return cel.StringType, nil
	case "double":
		return cel.DoubleType, nil
	case "bytes":
		return cel.BytesType, nil
	case "duration":
		return cel.DurationType, nil
	case "timestamp":
		return cel.TimestampType, nil
	case "ipaddress":
		return ipType, nil
	case "any":
		return cel.DynType, nil
	case "list", "map":
		arg, err := celType(t.Args[0])
		if err != nil {
			return nil, err
		}
		if t.Name == "list" {
			return cel.ListType(arg), nil
		}
		return cel.MapType(cel.StringType, arg), nil
	}
	return nil, errorf(t.Pos, "unknown parameter type %s; want int, uint, bool, string, double, bytes, duration, timestamp, ipaddress, any, list<T> or map<T>", strconv.Quote(t.Name))
}

// compileCaveat type-checks c's expression and builds its programs.
func compileCaveat(c *Caveat) *Error {
	opts := []cel.EnvOption{
		cel.Function("in_cidr", cel.MemberOverload("ipaddress_in_cidr_string",
			[]*cel.Type{ipType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(inCIDR))),
	}
	for _, p := range c.Params {
		t, err := celType(p.Type)
		if err != nil {
			return err
		}
		opts = append(opts, cel.Variable(p.Name, t))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return errorf(c.Pos, "caveat %s: %v", strconv.Quote(c.Name), err)
	}
	ast, iss := env.Compile(c.Expr)
	if iss != nil && iss.Err() != nil {
		e := iss.Errors()[0]
		return errorf(c.exprPos(e.Location.Line(), e.Location.Column()), "caveat %s: %s", strconv.Quote(c.Name), e.Message)
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return errorf(c.ExprPos, "caveat %s: the expression is of type %s; a caveat must be boolean", strconv.Quote(c.Name), ast.OutputType())
	}
	used := make(map[string]bool)
	for _, r := range ast.NativeRep().ReferenceMap() {
		if len(r.OverloadIDs) == 0 {
			used[r.Name] = true
		}
	}
	for _, p := range c.Params {
		if !used[p.Name] {
			return errorf(p.Pos, "caveat %s: parameter %s is not used in the expression", strconv.Quote(c.Name), strconv.Quote(p.Name))
		}
	}
	// Only a comprehension (all, exists, map, filter) makes work grow
	// faster than the expression and its values: a caveat without one
	// spares every evaluation the cost tracker.
	var limits []cel.ProgramOption
	loops := false
	celast.PostOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		loops = loops || e.Kind() == celast.ComprehensionKind
	}))
	if loops {
		limits = []cel.ProgramOption{cel.CostLimit(MaxCaveatCost), cel.InterruptCheckFrequency(interruptEvery)}
	}
	full, err := env.Program(ast, limits...)
	if err != nil {
		return errorf(c.ExprPos, "caveat %s: %v", strconv.Quote(c.Name), err)
	}
	partial, err := env.Program(ast, append(limits, cel.EvalOptions(cel.OptPartialEval))...)
	if err != nil {
		return errorf(c.ExprPos, "caveat %s: %v", strconv.Quote(c.Name), err)
	}
	c.prog = &program{env: env, full: full, partial: partial}
	return nil
}

// exprPos maps a CEL location (line from 1, column from 0) to schema text.
func (c *Caveat) exprPos(line, col int) Pos {
	if line <= 1 {
		return Pos{Line: c.ExprPos.Line, Column: c.ExprPos.Column + col}
	}
	return Pos{Line: c.ExprPos.Line + line - 1, Column: col + 1}
}

// CaveatResult is the outcome of evaluating a caveat: true, false, or, when
// Missing is not empty, undecided for lack of those parameters.
type CaveatResult struct {
	// Value is the expression's value; it is false when Missing is set.
	Value bool
	// Missing names the parameters the contexts lacked and the expression
	// needed, sorted and distinct. It is empty when Value is decided.
	Missing []string
}

// Conditional reports whether the result is undecided.
func (r CaveatResult) Conditional() bool { return len(r.Missing) > 0 }

// Eval evaluates the caveat with the relationship's stored context and the
// request's context; a stored value wins over the request's value for the
// same key, and request keys that are not parameters are ignored, as in
// SpiceDB. A parameter neither context has is unknown: the result is then
// decided if the expression is decided without it (`false && x`), and
// otherwise conditional, naming what is missing. A request value that
// cannot be converted to its parameter's type (or null), an evaluation
// error (such as reading a key a map does not have) and an evaluation
// over [MaxCaveatCost] are an [*authz.CaveatError] (matching
// [authz.ErrInvalidRequest]) that names the caveat and the parameter,
// never a value. It is [Caveat.EvalContext] without a deadline.
func (c *Caveat) Eval(stored, request authz.Context) (CaveatResult, error) {
	return c.EvalContext(context.Background(), stored, request)
}

// EvalContext is [Caveat.Eval] stopped when ctx is done: the error then
// matches [authz.ErrUnavailable] and ctx's error, never an answer.
func (c *Caveat) EvalContext(ctx context.Context, stored, request authz.Context) (CaveatResult, error) {
	vars := make(map[string]any, len(c.Params))
	for _, p := range c.Params {
		v, ok := stored.Value(p.Name)
		if !ok {
			v, ok = request.Value(p.Name)
		}
		if !ok {
			continue
		}
		cv, err := convertParam(p.Type, v)
		if err != nil {
			return CaveatResult{}, &authz.CaveatError{Caveat: c.Name, Reason: "parameter " + strconv.Quote(p.Name) + ": " + err.Error()}
		}
		vars[p.Name] = cv
	}
	// ContextEval watches ctx from a goroutine-free cancel context of its
	// own; a ctx that can never be done (Background) needs none.
	eval := func(p cel.Program, in any) (ref.Val, error) {
		if ctx.Done() == nil {
			out, _, err := p.Eval(in)
			return out, err
		}
		out, _, err := p.ContextEval(ctx, in)
		return out, err
	}
	if len(vars) == len(c.Params) {
		out, err := eval(c.prog.full, vars)
		return c.result(ctx, out, err)
	}
	act, err := c.prog.env.PartialVars(vars)
	if err != nil {
		return CaveatResult{}, &authz.CaveatError{Caveat: c.Name, Reason: "unknown parameters could not be declared"}
	}
	out, err := eval(c.prog.partial, act)
	return c.result(ctx, out, err)
}

// result turns a CEL outcome into a result. CEL's error messages are not
// kept: they may quote a value (a missing map key is named in full).
func (c *Caveat) result(ctx context.Context, out ref.Val, err error) (CaveatResult, error) {
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return CaveatResult{}, fmt.Errorf("schema: caveat %s: %w: evaluation stopped: %w", strconv.Quote(c.Name), authz.ErrUnavailable, cerr)
		}
		reason := "evaluation failed"
		if strings.Contains(err.Error(), "cost limit exceeded") {
			reason = fmt.Sprintf("evaluation exceeded the cost limit of %d", MaxCaveatCost)
		}
		return CaveatResult{}, &authz.CaveatError{Caveat: c.Name, Reason: reason}
	}
	if u, ok := out.(*types.Unknown); ok {
		var missing []string
		for _, id := range u.IDs() {
			trails, _ := u.GetAttributeTrails(id)
			for _, t := range trails {
				missing = append(missing, t.Variable())
			}
		}
		slices.Sort(missing)
		missing = slices.Compact(missing)
		if len(missing) == 0 {
			return CaveatResult{}, &authz.CaveatError{Caveat: c.Name, Reason: "undecided without a missing parameter"}
		}
		return CaveatResult{Missing: missing}, nil
	}
	b, ok := out.(types.Bool)
	if !ok {
		return CaveatResult{}, &authz.CaveatError{Caveat: c.Name, Reason: "evaluated to " + out.Type().TypeName() + ", not a boolean"}
	}
	return CaveatResult{Value: bool(b)}, nil
}

// CheckParam reports whether v is a value of parameter name: nil if it
// converts to the parameter's type or name is not a parameter, otherwise
// an [*authz.ContextError] naming the caveat and the parameter, never
// the value.
func (c *Caveat) CheckParam(name string, v any) error {
	p := c.params[name]
	if p == nil {
		return nil
	}
	if err := checkValue(p.Type, v); err != nil {
		return &authz.ContextError{Caveat: c.Name, Param: name, Reason: err.Error()}
	}
	return nil
}

// checkValue reports whether convertParam(t, v) succeeds, without building
// the values of the kinds a check meets most (strings, addresses, lists
// and maps of them), which convertParam would allocate.
func checkValue(t *ParamType, v any) error {
	switch t.Name {
	case "any":
		return nil
	case "string":
		if _, ok := v.(string); ok {
			return nil
		}
	case "bool":
		if _, ok := v.(bool); ok {
			return nil
		}
	case "ipaddress":
		if s, ok := v.(string); ok {
			if _, err := netip.ParseAddr(s); err == nil {
				return nil
			}
		}
	case "list":
		if l, ok := v.([]any); ok {
			for i, x := range l {
				if err := checkValue(t.Args[0], x); err != nil {
					return fmt.Errorf("list element %d: %w", i, err)
				}
			}
			return nil
		}
	case "map":
		if m, ok := v.(map[string]any); ok {
			for _, x := range m {
				if err := checkValue(t.Args[0], x); err != nil {
					return fmt.Errorf("map value: %w", err)
				}
			}
			return nil
		}
	}
	_, err := convertParam(t, v)
	return err
}

// CheckContext reports whether ctx can be stored with a relationship that
// has this caveat: every key a parameter, every value convertible to its
// parameter's type. The error matches [authz.ErrInvalidRequest] and names
// the parameter, never the value.
func (c *Caveat) CheckContext(ctx authz.Context) error {
	for _, k := range ctx.Keys() {
		p := c.params[k]
		if p == nil {
			return fmt.Errorf("schema: caveat %s: %w: context key %s is not a parameter", strconv.Quote(c.Name), authz.ErrInvalidRequest, strconv.Quote(truncate(k)))
		}
		v, _ := ctx.Value(k)
		if _, err := convertParam(p.Type, v); err != nil {
			return fmt.Errorf("schema: caveat %s: parameter %s: %w: %s", strconv.Quote(c.Name), strconv.Quote(p.Name), authz.ErrInvalidRequest, err)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// convertParam converts a value of the JSON model to the CEL value of a
// parameter of type t, accepting what SpiceDB accepts from a
// google.protobuf.Struct. Its error never quotes the value.
func convertParam(t *ParamType, v any) (any, error) {
	if v == nil {
		if t.Name == "any" {
			return types.NullValue, nil
		}
		return nil, fmt.Errorf("null is not a %s", t)
	}
	switch t.Name {
	case "int", "uint", "double":
		return convertNumber(t, v)
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "bytes":
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("a string that is not base64 is not bytes")
			}
			return b, nil
		}
	case "duration":
		if s, ok := v.(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("a string that is not a Go duration is not a duration")
			}
			return d, nil
		}
	case "timestamp":
		if s, ok := v.(string); ok {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, fmt.Errorf("a string that is not an RFC 3339 time is not a timestamp")
			}
			return ts, nil
		}
	case "ipaddress":
		if s, ok := v.(string); ok {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("a string that is not an IP address is not an ipaddress")
			}
			return ipAddress{ip.Unmap()}, nil
		}
	case "list":
		if l, ok := v.([]any); ok {
			out := make([]any, len(l))
			for i, x := range l {
				cx, err := convertParam(t.Args[0], x)
				if err != nil {
					return nil, fmt.Errorf("list element %d: %w", i, err)
				}
				out[i] = cx
			}
			return out, nil
		}
	case "map":
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, x := range m {
				cx, err := convertParam(t.Args[0], x)
				if err != nil {
					return nil, fmt.Errorf("map value: %w", err)
				}
				out[k] = cx
			}
			return out, nil
		}
	case "any":
		return v, nil
	}
	return nil, fmt.Errorf("a %s is not a %s", kind(v), t)
}

// convertNumber converts a number or a numeric string to an int, uint or
// double parameter exactly as SpiceDB's convertNumericType does: a string
// is read by big.ParseFloat (base 10, 64 bits of precision), so "Inf",
// "-inf" and "1e999" are doubles (infinite) while "NaN", "Infinity",
// hexadecimal and padded strings are refused; an int or uint takes any
// integral value and saturates at the int64 range ("1e300" is
// math.MaxInt64), and a uint refuses a negative one. No double is ever
// NaN: no string converts to one, and authz.Context refuses NaN numbers.
func convertNumber(t *ParamType, v any) (any, error) {
	var f *big.Float
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("a NaN or infinite number is not a %s", t)
		}
		if t.Name == "double" {
			return v, nil
		}
		f = big.NewFloat(v)
	case string:
		var err error
		if f, _, err = big.ParseFloat(v, 10, 64, 0); err != nil {
			return nil, fmt.Errorf("a string that is not a number is not a %s", t)
		}
	default:
		return nil, fmt.Errorf("a %s is not a %s", kind(v), t)
	}
	if t.Name == "double" {
		d, _ := f.Float64()
		return d, nil
	}
	if !f.IsInt() {
		return nil, fmt.Errorf("a fractional or infinite number is not a %s", t)
	}
	i, _ := f.Int64()
	if t.Name == "uint" && i < 0 {
		return nil, fmt.Errorf("a negative number is not a uint")
	}
	return i, nil
}

// kind names the JSON kind of v.
func kind(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "value"
}

// ipAddress is the CEL value of an ipaddress parameter.
type ipAddress struct{ ip netip.Addr }

// ConvertToNative implements ref.Val.
func (a ipAddress) ConvertToNative(t reflect.Type) (any, error) {
	if t.Kind() == reflect.String {
		return a.ip.String(), nil
	}
	return nil, fmt.Errorf("ipaddress cannot be converted to %v", t)
}

// ConvertToType implements ref.Val.
func (a ipAddress) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.StringType:
		return types.String(a.ip.String())
	case types.TypeType:
		return ipType
	}
	return types.NewErr("ipaddress cannot be converted to %s", t)
}

// Equal implements ref.Val.
func (a ipAddress) Equal(o ref.Val) ref.Val {
	b, ok := o.(ipAddress)
	if !ok {
		return types.MaybeNoSuchOverloadErr(o)
	}
	return types.Bool(a == b)
}

// Type implements ref.Val.
func (a ipAddress) Type() ref.Type { return ipType }

// Value implements ref.Val.
func (a ipAddress) Value() any { return a }

// inCIDR is ipaddress.in_cidr(string): whether the address is in the
// network; a malformed network is an evaluation error.
func inCIDR(l, r ref.Val) ref.Val {
	a, ok := l.(ipAddress)
	if !ok {
		return types.MaybeNoSuchOverloadErr(l)
	}
	s, ok := r.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(r)
	}
	prefix, err := netip.ParsePrefix(string(s))
	if err != nil {
		return types.NewErr("in_cidr: malformed network")
	}
	return types.Bool(prefix.Contains(a.ip))
}
