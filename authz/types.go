package authz

import (
	"strings"
	"time"
)

// MaxIDLength is the longest object id fgac accepts, in bytes. It matches
// SpiceDB's limit.
const MaxIDLength = 1024

// WildcardID is the subject id that stands for every subject of a type
// (SpiceDB's `user:*`). It is never accepted from input: a [Subject] built
// with ID "*" is not a wildcard but a malformed subject, which every
// validation rejects. Only [Wildcard] produces a wildcard subject.
const WildcardID = "*"

// Operation is what a caller wants to do to a resource. A [Guard] maps it to
// a schema permission per resource type. User-defined operations are plain
// values of this type.
type Operation string

// The operations of the reference system. Their wire strings are fixed.
const (
	OpRead    Operation = "read"
	OpCreate  Operation = "create"
	OpUpdate  Operation = "update"
	OpExecute Operation = "execute"
	OpDelete  Operation = "delete"
	OpCancel  Operation = "cancel"
)

// Resource names an object in the authorization graph, such as task:t1.
// It is comparable and usable as a map key.
type Resource struct {
	// Type is the schema definition, such as "task".
	Type string
	// ID is the object id; see [ValidateID].
	ID string
}

// String returns the resource in SpiceDB notation, "type:id".
func (r Resource) String() string { return r.Type + ":" + r.ID }

// Validate reports whether r has a well-formed type and id. The error
// matches [ErrInvalidRequest] and does not echo the id.
func (r Resource) Validate() error {
	if err := ValidateType(r.Type); err != nil {
		return err
	}
	if err := ValidateID(r.ID); err != nil {
		return err
	}
	return nil
}

// Subject names who is asking or who is related: an object (user:alice) or
// a set of subjects through a relation (group:eng#member).
type Subject struct {
	// Type is the schema definition of the subject, such as "user".
	Type string
	// ID is the subject's object id; see [ValidateID]. It is never the
	// wildcard: "*" here is a malformed id, whatever the source.
	ID string
	// Relation is optional; when set the subject is the set of subjects
	// that have this relation (or permission) on Type:ID.
	Relation string

	// wildcard is set only by [Wildcard], so that no id string, from input
	// or data, can turn a subject into "everyone".
	wildcard bool
}

// Wildcard returns the subject that stands for every subject of typ, for
// granting public access where the schema allows `typ:*`. It is the only
// way to build a wildcard subject.
func Wildcard(typ string) Subject { return Subject{Type: typ, ID: WildcardID, wildcard: true} }

// String returns the subject in SpiceDB notation: "user:alice" or
// "group:eng#member".
func (s Subject) String() string {
	if s.Relation == "" {
		return s.Type + ":" + s.ID
	}
	return s.Type + ":" + s.ID + "#" + s.Relation
}

// Object returns the subject's object without its relation.
func (s Subject) Object() Resource { return Resource{Type: s.Type, ID: s.ID} }

// IsWildcard reports whether s stands for every subject of its type: it
// was built by [Wildcard].
func (s Subject) IsWildcard() bool { return s.wildcard }

// Validate reports whether s is a well-formed, non-wildcard subject. Use it
// on anything derived from input: a wildcard is never a valid subject of a
// question.
func (s Subject) Validate() error {
	if s.IsWildcard() {
		return invalidf("wildcard subject %s:* is not allowed here", s.Type)
	}
	return s.validate()
}

func (s Subject) validate() error {
	if err := ValidateType(s.Type); err != nil {
		return err
	}
	switch {
	case !s.IsWildcard():
		if err := ValidateID(s.ID); err != nil {
			return err
		}
	case s.ID != WildcardID:
		return invalidf("wildcard subject of %s has an id", s.Type)
	case s.Relation != "":
		return invalidf("wildcard subject %s:* cannot have a relation", s.Type)
	}
	if s.Relation != "" {
		if err := ValidateName(s.Relation); err != nil {
			return err
		}
	}
	return nil
}

// Relationship is one edge of the graph: Resource#Relation@Subject.
type Relationship struct {
	// Resource is the object the edge starts from.
	Resource Resource
	// Relation is the schema relation, such as "owner" or "parent".
	Relation string
	// Subject is who or what is related.
	Subject Subject
	// Caveat, if not zero, makes the relationship count only when the
	// caveat's expression holds for the stored and the request's context.
	// The relation must allow the caveat for the subject's type.
	Caveat Caveat
	// Expiration, if not zero, is the instant from which the relationship
	// no longer exists for any read. The relation must allow an expiration
	// for the subject's type. An instant in the past is accepted (as
	// SpiceDB accepts it): the relationship is then written but invisible.
	Expiration time.Time
}

// String returns the relationship's identity in SpiceDB notation,
// "task:t1#owner@user:alice", without its caveat and expiration (see
// [Relationship.Conditions]).
func (r Relationship) String() string {
	return r.Resource.String() + "#" + r.Relation + "@" + r.Subject.String()
}

// Validate reports whether r is well formed. Its subject may be a
// [Wildcard].
func (r Relationship) Validate() error {
	if err := r.Resource.Validate(); err != nil {
		return err
	}
	if err := ValidateName(r.Relation); err != nil {
		return err
	}
	if err := r.Subject.validate(); err != nil {
		return err
	}
	return r.validateConditions()
}

// ValidateID reports whether id is a valid object id: 1 to [MaxIDLength]
// bytes of ASCII letters, digits and the characters / _ | - = +. This is a
// subset of SpiceDB's object id grammar, so every id fgac accepts SpiceDB
// accepts too. Nothing is normalised; ids are case-sensitive. The wildcard
// "*" is not an id. The error matches [ErrInvalidRequest] and never echoes
// the id.
func ValidateID(id string) error {
	if id == "" {
		return invalidf("empty id")
	}
	if len(id) > MaxIDLength {
		return invalidf("id longer than %d bytes", MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return invalidf("id has a character outside [a-zA-Z0-9/_|=+-]")
		}
	}
	return nil
}

// ValidID reports whether [ValidateID] accepts id, without building an error.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return false
		}
	}
	return true
}

func idByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '/', c == '_', c == '|', c == '-', c == '=', c == '+':
		return true
	}
	return false
}

// ValidateName reports whether name is a valid relation or permission name
// in SpiceDB's grammar: a lower-case letter, then 2 to 63 lower-case
// letters, digits or underscores, not ending in an underscore.
func ValidateName(name string) error {
	if !validName(name) {
		return invalidf("malformed relation or permission name %q", truncate(name))
	}
	return nil
}

// ValidName reports whether [ValidateName] accepts name.
func ValidName(name string) bool { return validName(name) }

// ValidType reports whether [ValidateType] accepts typ.
func ValidType(typ string) bool {
	if len(typ) == 0 || len(typ) > 128 {
		return false
	}
	for part := range strings.SplitSeq(typ, "/") {
		if !validName(part) {
			return false
		}
	}
	return true
}

// ValidateType reports whether typ is a valid definition name: one or more
// slash-separated prefixes and a name, each in the grammar of
// [ValidateName] (SpiceDB allows "org/task").
func ValidateType(typ string) error {
	if !ValidType(typ) {
		return invalidf("malformed resource type %q", truncate(typ))
	}
	return nil
}

func validName(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	if s[0] < 'a' || s[0] > 'z' {
		return false
	}
	last := s[len(s)-1]
	if last == '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// truncate keeps names in error messages short; it is only used for type
// and relation names, which are schema vocabulary, never ids or secrets.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// ParseResource parses "type:id". The id must pass [ValidateID].
func ParseResource(s string) (Resource, error) {
	typ, id, ok := strings.Cut(s, ":")
	if !ok {
		return Resource{}, invalidf("resource must be type:id")
	}
	r := Resource{Type: typ, ID: id}
	return r, r.Validate()
}

// ParseSubject parses "type:id" or "type:id#relation". It is meant for
// input, so it never accepts the wildcard id.
func ParseSubject(s string) (Subject, error) {
	obj, rel, _ := strings.Cut(s, "#")
	typ, id, ok := strings.Cut(obj, ":")
	if !ok {
		return Subject{}, invalidf("subject must be type:id or type:id#relation")
	}
	sub := Subject{Type: typ, ID: id, Relation: rel}
	if strings.Contains(s, "#") && rel == "" {
		return Subject{}, invalidf("subject has an empty relation")
	}
	return sub, sub.Validate()
}

// Token is an opaque consistency token returned by writes (a ZedToken in
// SpiceDB, a revision in memadapter). Pass it back through [AtLeastAsFresh]
// to read your own writes. The zero Token means "no token".
type Token struct {
	value string
}

// NewToken wraps an engine's token string. Only adapters call it.
func NewToken(value string) Token { return Token{value: value} }

// Value returns the engine's token string. Only adapters call it.
func (t Token) Value() string { return t.value }

// IsZero reports whether t carries no token.
func (t Token) IsZero() bool { return t.value == "" }

// String returns the token in a form safe to log.
func (t Token) String() string {
	if t.value == "" {
		return "token()"
	}
	return "token(" + t.value + ")"
}

// ConsistencyMode says how fresh an answer must be.
type ConsistencyMode uint8

// The consistency modes, matching SpiceDB's.
const (
	// MinimizeLatencyMode lets the engine answer from its freshest cached
	// snapshot. It is the zero value.
	MinimizeLatencyMode ConsistencyMode = iota
	// AtLeastAsFreshMode requires a snapshot that includes the write that
	// returned the token.
	AtLeastAsFreshMode
	// FullyConsistentMode requires the newest snapshot.
	FullyConsistentMode
)

// Consistency is the freshness requirement of a read. The zero value
// minimises latency.
type Consistency struct {
	mode  ConsistencyMode
	token Token
}

// MinimizeLatency asks for the fastest answer, possibly slightly stale.
func MinimizeLatency() Consistency { return Consistency{} }

// FullyConsistent asks for an answer that reflects every acknowledged write.
func FullyConsistent() Consistency { return Consistency{mode: FullyConsistentMode} }

// AtLeastAsFresh asks for an answer that reflects at least the write that
// returned t. A zero token means the caller has no token to offer; engines
// then answer fully consistently rather than risk a stale allow.
func AtLeastAsFresh(t Token) Consistency {
	if t.IsZero() {
		return FullyConsistent()
	}
	return Consistency{mode: AtLeastAsFreshMode, token: t}
}

// Mode returns the requirement's mode.
func (c Consistency) Mode() ConsistencyMode { return c.mode }

// Token returns the token of an [AtLeastAsFresh] requirement, or the zero
// Token.
func (c Consistency) Token() Token { return c.token }

// String returns "minimize_latency", "at_least_as_fresh" or
// "fully_consistent". It never prints the token.
func (c Consistency) String() string { return c.mode.String() }

// String returns "minimize_latency", "at_least_as_fresh" or
// "fully_consistent".
func (m ConsistencyMode) String() string {
	switch m {
	case AtLeastAsFreshMode:
		return "at_least_as_fresh"
	case FullyConsistentMode:
		return "fully_consistent"
	default:
		return "minimize_latency"
	}
}

// Equal reports whether s and o are the same subject. It lets go-cmp and
// similar tools compare subjects, whose wildcard mark is unexported.
func (s Subject) Equal(o Subject) bool { return s == o }
