package httpauthz

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// jsonField finds the value at path (a key of the top-level object, then a
// key of that value, and so on) in doc, which must already be valid JSON.
// It returns the raw bytes of the value, or found=false. A key on the path
// that occurs more than once in its object, also in another letter case, is
// a duplicate-key problem: Go's encoding/json matches keys
// case-insensitively and keeps the last, so a handler could otherwise act on
// a different id than the one authorized.
func jsonField(doc []byte, path []string) (raw []byte, found bool, p *Problem) {
	cur := doc
	for depth, key := range path {
		i := skipWS(cur, 0)
		if i >= len(cur) || cur[i] != '{' {
			if depth == 0 {
				return nil, false, problem(http.StatusBadRequest, CodeInvalidJSON, "body must be a JSON object")
			}
			return nil, false, nil
		}
		i++
		var val []byte
		matches := 0
		for {
			i = skipWS(cur, i)
			if cur[i] == '}' {
				break
			}
			kStart := i
			i = skipString(cur, i)
			k := cur[kStart+1 : i-1]
			i = skipWS(cur, i) + 1 // ':'
			i = skipWS(cur, i)
			vStart := i
			i = skipValue(cur, i)
			if keyMatches(k, key) {
				matches++
				val = cur[vStart:i]
			}
			i = skipWS(cur, i)
			if cur[i] == ',' {
				i++
			}
		}
		if matches > 1 {
			return nil, false, problem(http.StatusBadRequest, CodeDuplicateKey, "field "+key+" appears more than once")
		}
		if matches == 0 {
			return nil, false, nil
		}
		cur = val
	}
	return cur, true, nil
}

// keyMatches compares a raw JSON key with want the way encoding/json
// matches struct fields: case-insensitively. Escaped keys are decoded first.
func keyMatches(raw []byte, want string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return bytes.EqualFold(raw, []byte(want))
	}
	var s string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	if json.Unmarshal(quoted, &s) != nil {
		return false
	}
	return bytes.EqualFold([]byte(s), []byte(want))
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// jsonString decodes a raw JSON value that must be a non-empty string.
func jsonString(raw []byte, field string) (string, *Problem) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", problem(http.StatusBadRequest, CodeInvalidField, "field "+field+" must be a string")
	}
	inner := raw[1 : len(raw)-1]
	if len(inner) == 0 {
		return "", problem(http.StatusBadRequest, CodeInvalidField, "field "+field+" must not be empty")
	}
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", problem(http.StatusBadRequest, CodeInvalidField, "field "+field+" must be a non-empty string")
	}
	return s, nil
}

// jsonValid reports whether b is exactly one JSON value (trailing data is
// invalid).
func jsonValid(b []byte) bool { return json.Valid(b) }
