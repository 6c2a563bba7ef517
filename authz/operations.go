package authz

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// OperationMap maps each (resource type, operation) to the schema
// permission that grants it. It is built once at setup and validated against
// the schema then, so that an operation mapped to a missing permission is a
// setup error rather than a lock-out discovered in production. It is
// immutable and safe for concurrent use.
type OperationMap struct {
	perms map[string]map[Operation]string
}

// NewOperationMap builds an OperationMap from mapping (resource type ->
// operation -> permission) and checks every permission against schema. It
// returns an error listing every entry whose resource type or permission
// the schema lacks, or whose names are malformed. A nil schema (or a typed
// nil) is an error matching [ErrInvalidRequest]: a map that nothing
// validated would turn a typo into a lock-out found in production.
func NewOperationMap(schema PermissionSet, mapping map[string]map[Operation]string) (*OperationMap, error) {
	if schema == nil || reflect.ValueOf(schema).Kind() == reflect.Pointer && reflect.ValueOf(schema).IsNil() {
		return nil, fmt.Errorf("authz: %w: NewOperationMap needs the schema (the engine) to validate against", ErrInvalidRequest)
	}
	m := &OperationMap{perms: make(map[string]map[Operation]string, len(mapping))}
	var errs []error
	for _, typ := range slices.Sorted(maps.Keys(mapping)) {
		if err := ValidateType(typ); err != nil {
			errs = append(errs, err)
			continue
		}
		ops := mapping[typ]
		m.perms[typ] = make(map[Operation]string, len(ops))
		for _, op := range slices.Sorted(maps.Keys(ops)) {
			perm := ops[op]
			switch {
			case op == "":
				errs = append(errs, fmt.Errorf("authz: %s: empty operation", typ))
			case ValidateName(perm) != nil:
				errs = append(errs, fmt.Errorf("authz: %s: operation %q maps to malformed permission %q", typ, op, perm))
			case !schema.HasPermission(typ, perm):
				errs = append(errs, fmt.Errorf("authz: %s: operation %q maps to permission %q, which the schema does not define", typ, op, perm))
			default:
				m.perms[typ][op] = perm
			}
		}
	}
	if len(errs) > 0 {
		return nil, mappingError{errors.Join(errs...)}
	}
	return m, nil
}

// mappingError lists every bad entry of an operation mapping, one per line,
// and matches [ErrInvalidRequest].
type mappingError struct{ error }

func (e mappingError) Unwrap() error      { return e.error }
func (mappingError) Is(target error) bool { return target == ErrInvalidRequest }

// Permission returns the permission that grants op on resourceType. An
// unmapped pair is an error matching [ErrInvalidRequest]: it fails closed.
func (m *OperationMap) Permission(resourceType string, op Operation) (string, error) {
	if m != nil {
		if perm, ok := m.perms[resourceType][op]; ok {
			return perm, nil
		}
	}
	return "", invalidf("operation %q is not mapped for resource type %q", truncate(string(op)), truncate(resourceType))
}

// Operations returns the operations mapped for resourceType, sorted.
func (m *OperationMap) Operations(resourceType string) []Operation {
	if m == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(m.perms[resourceType]))
}
