package authz

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"time"
	"unicode/utf8"
)

// Limits of a [Context], checked by [Context.Validate] and by every
// request's Validate.
const (
	// MaxContextKeys is the most keys a context may hold, counting the
	// keys of nested objects and the elements of lists.
	MaxContextKeys = 1000
	// MaxContextDepth is how deeply objects and lists may nest in a
	// context; the context itself is level 1.
	MaxContextDepth = 32
	// MaxContextBytes is the largest request context an engine answers:
	// the size of its google.protobuf.Struct encoding, as SpiceDB's
	// default limit ("request caveat context should have less than 4096
	// bytes"). memadapter refuses a larger one with a [*ContextError].
	MaxContextBytes = 4096
	// MaxStoredCaveatBytes is the largest caveat a relationship may carry:
	// the size of its name and stored context as SpiceDB encodes them (a
	// ContextualizedCaveat), SpiceDB's default limit ("exceeded maximum
	// allowed caveat size of 25000"). memadapter refuses a larger one at
	// write with an error matching [ErrInvalidRequest].
	MaxStoredCaveatBytes = 25_000
)

// Context holds the values of caveat parameters: the context stored with a
// caveated relationship, or the context a check or lookup brings. Its values
// follow the JSON model SpiceDB receives (a google.protobuf.Struct): nil,
// bool, float64, string, []any and map[string]any. [NewContext] converts
// Go values into that model once, so that every engine sees the same thing.
//
// A Context is immutable and comparable; two contexts are equal when they
// are the same value (copies of one [NewContext] result), not when their
// contents match. The zero Context holds nothing and means "no context".
type Context struct {
	c *contextData
}

type contextData struct {
	values map[string]any
	keys   []string // sorted
	err    error    // the first reason the context is invalid, or nil
	size   int      // the size of the google.protobuf.Struct encoding
}

// NewContext returns a context holding a deep copy of values, converted to
// the JSON model: every integer and float kind becomes float64 (as in a
// protobuf Struct, so integers beyond 2^53 lose precision exactly as they
// would on the wire), time.Time becomes an RFC 3339 string, time.Duration
// a Go duration string ("1h30m0s"), []byte a base64 string (what a bytes
// parameter expects), and slices and maps of these become []any and
// map[string]any. A value of any other kind, a NaN or an infinity, a key
// or string that is not valid UTF-8 (which JSON and protobuf cannot carry
// unchanged), more than [MaxContextKeys] keys or nesting deeper than
// [MaxContextDepth] make the context invalid: it is still returned, and [Context.Validate] (and so
// the Validate of every request that carries it) reports the problem. An
// empty or nil values gives the zero Context.
func NewContext(values map[string]any) Context {
	if len(values) == 0 {
		return Context{}
	}
	cv := &contextConverter{}
	m := cv.object(values, 1)
	d := &contextData{values: m, err: cv.err}
	if cv.err == nil {
		d.keys = make([]string, 0, len(m))
		for k := range m {
			d.keys = append(d.keys, k)
		}
		slices.Sort(d.keys)
		d.size = structSize(m)
	} else {
		d.values = nil
	}
	return Context{c: d}
}

// contextConverter copies values into the JSON model, counting keys.
type contextConverter struct {
	keys int
	err  error
}

func (cv *contextConverter) fail(format string, args ...any) {
	if cv.err == nil {
		cv.err = invalidf("context: "+format, args...)
	}
}

func (cv *contextConverter) count(n, depth int) bool {
	cv.keys += n
	switch {
	case cv.err != nil:
		return false
	case cv.keys > MaxContextKeys:
		cv.fail("more than %d keys", MaxContextKeys)
		return false
	case depth > MaxContextDepth:
		cv.fail("nested more than %d levels deep", MaxContextDepth)
		return false
	}
	return true
}

func (cv *contextConverter) object(m map[string]any, depth int) map[string]any {
	if !cv.count(len(m), depth) {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !utf8.ValidString(k) {
			cv.fail("a key that is not valid UTF-8")
			return nil
		}
		out[k] = cv.value(v, depth)
		if cv.err != nil {
			return nil
		}
	}
	return out
}

func (cv *contextConverter) list(l []any, depth int) []any {
	if !cv.count(len(l), depth) {
		return nil
	}
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = cv.value(v, depth)
		if cv.err != nil {
			return nil
		}
	}
	return out
}

// value converts one value found at depth (the level of its container).
func (cv *contextConverter) value(v any, depth int) any {
	switch v := v.(type) {
	case nil:
		return nil
	case bool:
		return v
	case string:
		if !utf8.ValidString(v) {
			// JSON and protobuf would each change or refuse it: the
			// stored context would mean something else after a reopen,
			// or reach SpiceDB without it.
			cv.fail("a string that is not valid UTF-8")
			return nil
		}
		return v
	case float64:
		return cv.number(v)
	case float32:
		return cv.number(float64(v))
	case int:
		return float64(v)
	case int8:
		return float64(v)
	case int16:
		return float64(v)
	case int32:
		return float64(v)
	case int64:
		return float64(v)
	case uint:
		return float64(v)
	case uint8:
		return float64(v)
	case uint16:
		return float64(v)
	case uint32:
		return float64(v)
	case uint64:
		return float64(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			cv.fail("malformed number")
			return nil
		}
		return cv.number(f)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case []byte:
		b, _ := json.Marshal(v) // a quoted base64 string
		return string(b[1 : len(b)-1])
	case []any:
		return cv.list(v, depth+1)
	case []string:
		l := make([]any, len(v))
		for i, s := range v {
			l[i] = s
		}
		return cv.list(l, depth+1)
	case map[string]any:
		return cv.object(v, depth+1)
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return cv.object(m, depth+1)
	}
	cv.fail("a value of type %T is not a JSON value", v)
	return nil
}

func (cv *contextConverter) number(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		cv.fail("NaN or infinite number")
		return nil
	}
	return f
}

// EncodedSize returns the size in bytes of c encoded as a
// google.protobuf.Struct, which is what SpiceDB measures against its
// request context limit ([MaxContextBytes]); 0 for the zero Context and
// an invalid one.
func (c Context) EncodedSize() int {
	if c.c == nil {
		return 0
	}
	return c.c.size
}

// structSize is the encoded size of a google.protobuf.Struct holding m
// (map<string, Value> fields = 1): each entry a length-delimited message
// of its key (field 1) and its Value (field 2).
func structSize(m map[string]any) int {
	n := 0
	for k, v := range m {
		entry := delimited(len(k)) + delimited(valueSize(v))
		n += delimited(entry)
	}
	return n
}

// valueSize is the encoded size of a google.protobuf.Value: one field of
// its oneof, encoded even when it holds the zero value.
func valueSize(v any) int {
	switch v := v.(type) {
	case nil, bool:
		return 2 // tag, one-byte varint (null_value 0, bool_value)
	case float64:
		return 9 // tag, fixed64 number_value
	case string:
		return delimited(len(v))
	case []any:
		n := 0
		for _, x := range v {
			n += delimited(valueSize(x))
		}
		return delimited(n) // list_value: ListValue{repeated Value values = 1}
	case map[string]any:
		return delimited(structSize(v)) // struct_value
	}
	return 0 // unreachable: the converter admits nothing else
}

// delimited is the size of a length-delimited field of n bytes with a
// one-byte tag.
func delimited(n int) int {
	size := 1 + 1
	for x := n; x >= 0x80; x >>= 7 {
		size++
	}
	return size + n
}

// IsZero reports whether c holds no values.
func (c Context) IsZero() bool { return c.c == nil || len(c.c.values) == 0 && c.c.err == nil }

// Validate reports why c cannot be used (see [NewContext]), as an error
// matching [ErrInvalidRequest], or nil.
func (c Context) Validate() error {
	if c.c == nil {
		return nil
	}
	return c.c.err
}

// Len returns the number of top-level keys.
func (c Context) Len() int {
	if c.c == nil {
		return 0
	}
	return len(c.c.values)
}

// Keys returns the top-level keys in ascending order. The slice is the
// caller's.
func (c Context) Keys() []string {
	if c.c == nil {
		return nil
	}
	return slices.Clone(c.c.keys)
}

// Value returns the value of key, in the JSON model. A nested list or
// object is shared with the context and must not be modified.
func (c Context) Value(key string) (any, bool) {
	if c.c == nil {
		return nil, false
	}
	v, ok := c.c.values[key]
	return v, ok
}

// Equal reports whether c and o hold the same values (go-cmp and similar
// tools use it; == on contexts compares identity). Invalid contexts are
// equal to nothing but themselves.
func (c Context) Equal(o Context) bool {
	switch {
	case c.c == o.c:
		return true
	case c.IsZero() && o.IsZero():
		return true
	case c.c == nil || o.c == nil || c.c.err != nil || o.c.err != nil:
		return false
	}
	return reflect.DeepEqual(c.c.values, o.c.values)
}

// Map returns a deep copy of the values, or nil for the zero Context.
func (c Context) Map() map[string]any {
	if c.c == nil || c.c.values == nil {
		return nil
	}
	cv := &contextConverter{}
	return cv.object(c.c.values, 1)
}

// String returns the context as JSON with sorted keys, for tests and
// diagnostics. Contexts are caller data: fgac never puts one in an error,
// event or log.
func (c Context) String() string {
	if c.c == nil {
		return "{}"
	}
	if c.c.err != nil {
		return "<invalid context>"
	}
	b, err := json.Marshal(c.c.values)
	if err != nil {
		return "<invalid context>"
	}
	return string(b)
}

// Caveat names the caveat of a relationship and the context stored with
// it. The zero Caveat means "no caveat".
type Caveat struct {
	// Name is the caveat definition's name in the schema.
	Name string
	// Context holds values for some of the caveat's parameters; the
	// request's context supplies the rest. A stored value wins over the
	// request's value for the same key.
	Context Context
}

// IsZero reports whether c names no caveat.
func (c Caveat) IsZero() bool { return c.Name == "" && c.Context.IsZero() }

// Validate reports whether c is well formed: a valid caveat name and a
// valid context, or entirely zero.
func (c Caveat) Validate() error {
	if c.Name == "" {
		if !c.Context.IsZero() {
			return invalidf("caveat context without a caveat name")
		}
		return nil
	}
	if err := validateCaveatName(c.Name); err != nil {
		return err
	}
	return c.Context.Validate()
}

// validateCaveatName accepts caveat names in the grammar of definition
// names (SpiceDB allows a prefix, "org/only_weekdays").
func validateCaveatName(name string) error {
	if !ValidType(name) {
		return invalidf("malformed caveat name %q", truncate(name))
	}
	return nil
}

// Conditional returns a Decision that is neither an allow nor a plain
// denial: the answer depends on caveat parameters that the contexts lacked,
// named in missing. [Decision.Allowed] is false for it; every enforcement
// path treats it as a denial. The names are kept sorted and distinct.
func Conditional(missing ...string) Decision {
	m := slices.Clone(missing)
	slices.Sort(m)
	m = slices.Compact(m)
	return Decision{cond: &conditional{missing: m}}
}

// conditional is what a conditional Decision knows.
type conditional struct {
	missing []string
}

// Conditional reports whether the decision depends on caveat parameters
// that the request did not supply. A conditional decision is not allowed.
func (d Decision) Conditional() bool { return d.cond != nil }

// Missing returns, for a conditional decision, the names of the caveat
// parameters whose values were missing, sorted; otherwise nil. The slice is
// the caller's.
func (d Decision) Missing() []string {
	if d.cond == nil {
		return nil
	}
	return slices.Clone(d.cond.missing)
}

// validateExpiration accepts any instant; it exists so that the rule
// (SpiceDB accepts an expiration in the past) is stated once.
func validateExpiration(time.Time) error { return nil }

// Key returns the relationship's identity, resource#relation@subject,
// without its caveat and expiration: writing a relationship with the same
// key replaces the caveat and expiration of the one stored.
func (r Relationship) Key() Relationship {
	return Relationship{Resource: r.Resource, Relation: r.Relation, Subject: r.Subject}
}

// Conditions returns the relationship's caveat and expiration as text in
// SpiceDB's relationship notation (`[name:{ctx}]`, `[expiration:...]`), or
// "" if it has neither.
func (r Relationship) Conditions() string {
	var s string
	if r.Caveat.Name != "" {
		s += "[" + r.Caveat.Name
		if !r.Caveat.Context.IsZero() {
			s += ":" + r.Caveat.Context.String()
		}
		s += "]"
	}
	if !r.Expiration.IsZero() {
		s += "[expiration:" + r.Expiration.UTC().Format(time.RFC3339Nano) + "]"
	}
	return s
}

// validateConditions validates a relationship's caveat and expiration.
func (r Relationship) validateConditions() error {
	if err := r.Caveat.Validate(); err != nil {
		return err
	}
	return validateExpiration(r.Expiration)
}
