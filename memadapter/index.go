package memadapter

// smallSet is a set kept in a slice: most sets of a graph have one member
// or a few (a task's owner, its parent), and a slice of one costs its
// member's size where a Go map costs a whole group of eight slots. Past
// indexAfter members it also keeps a map from member to position, so that
// membership and removal stay O(1) for the few large sets (a group's
// members, an agent's tasks). The zero value is an empty set; members are
// in no particular order.
type smallSet[T comparable] struct {
	items []T
	index map[T]int32
}

// indexAfter is the size past which a smallSet keeps an index.
const indexAfter = 16

// has reports whether v is a member. A nil s is empty.
func (s *smallSet[T]) has(v T) bool {
	if s == nil {
		return false
	}
	if s.index != nil {
		_, ok := s.index[v]
		return ok
	}
	for i := range s.items {
		if s.items[i] == v {
			return true
		}
	}
	return false
}

// members returns the members, which the caller must not modify. A nil s
// has none.
func (s *smallSet[T]) members() []T {
	if s == nil {
		return nil
	}
	return s.items
}

// size returns the number of members.
func (s *smallSet[T]) size() int { return len(s.members()) }

// add adds v, reporting whether it was missing.
func (s *smallSet[T]) add(v T) bool {
	if s.has(v) {
		return false
	}
	s.items = append(s.items, v)
	switch {
	case s.index != nil:
		s.index[v] = int32(len(s.items) - 1)
	case len(s.items) > indexAfter:
		s.index = make(map[T]int32, len(s.items))
		for i, x := range s.items {
			s.index[x] = int32(i)
		}
	}
	return true
}

// remove removes v, reporting whether it was a member. The last member
// takes v's place.
func (s *smallSet[T]) remove(v T) bool {
	i := -1
	if s.index != nil {
		if j, ok := s.index[v]; ok {
			i = int(j)
		}
	} else {
		for j := range s.items {
			if s.items[j] == v {
				i = j
				break
			}
		}
	}
	if i < 0 {
		return false
	}
	last := len(s.items) - 1
	if i != last {
		s.items[i] = s.items[last]
		if s.index != nil {
			s.index[s.items[i]] = int32(i)
		}
	}
	var zero T
	s.items[last] = zero
	s.items = s.items[:last]
	if s.index != nil {
		delete(s.index, v)
		if len(s.items) <= indexAfter/2 {
			s.index = nil
		}
	}
	if cap(s.items) > 4 && len(s.items) <= cap(s.items)/4 {
		s.items = append([]T(nil), s.items...)
	}
	return true
}

// has reports whether s holds sub. A nil s holds nothing.
func (s *subjects) has(sub subject) bool {
	if s == nil {
		return false
	}
	return s.all.has(sub)
}
