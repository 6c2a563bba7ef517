package authz

import "slices"

// Filter is the id restriction a repository applies to a list query: a set
// of ids (possibly empty), or, only under a trusted [Bypass] that covers
// every resource, no restriction at all. It is the one list answer of the
// operation level ([Guard.Lookup]); engines cannot produce an unrestricted
// one. The zero Filter admits nothing, so a list that was never filtered
// lists nothing rather than everything: check [Filter.Empty] before
// querying, and [Filter.All] before applying [Filter.IDs].
type Filter struct {
	all    bool
	ids    []string
	cursor string
}

// FilterIDs returns the Filter that admits exactly ids, with the cursor of
// the next page of ids ("" after the last page).
func FilterIDs(ids []string, cursor string) Filter { return Filter{ids: ids, cursor: cursor} }

// All reports whether the filter restricts nothing (a trusted bypass): the
// repository applies no id condition.
func (f Filter) All() bool { return f.all }

// Empty reports whether the filter admits nothing: the list is empty and
// the repository need not be queried.
func (f Filter) Empty() bool { return !f.all && len(f.ids) == 0 }

// IDs returns the admitted ids (nil when [Filter.All]).
func (f Filter) IDs() []string { return f.ids }

// Cursor returns the cursor of the next page of ids, or "" when this is the
// last page (always "" when [Filter.All]).
func (f Filter) Cursor() string { return f.cursor }

// Allows reports whether the filter admits id.
func (f Filter) Allows(id string) bool { return f.all || slices.Contains(f.ids, id) }

// Narrow applies an explicit filter on one id that the caller asked for
// (such as ?task_id=t1): the result admits only id, and nothing at all if
// id is malformed or the filter does not admit it. A list route therefore
// answers an explicit filter on an invisible parent with an empty list,
// never 403 or 404, and the same way whether the parent exists or not.
func (f Filter) Narrow(id string) Filter {
	if !ValidID(id) || !f.Allows(id) {
		return Filter{}
	}
	return Filter{ids: []string{id}}
}

// Unfiltered returns the Filter that restricts nothing. The [Guard] returns
// it under a bypass without a Scope; enforcement returns it in shadow and
// off modes, which list as if fgac were not there. Engines cannot: their
// lookups answer ids.
func Unfiltered() Filter { return Filter{all: true} }
