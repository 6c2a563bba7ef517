package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode"

	"github.com/fgac-go/fgac/httpauthz"
)

// maxBody is the largest request body a handler reads.
const maxBody = 1 << 20

// decode reads the JSON body into v, a pointer to a struct of the
// documented fields, answering 400 unless the body is exactly one JSON
// object that reads the same to every JSON parser:
//
//   - no object, at any depth (free-form values such as a task's params
//     included), has a key twice, also not in another letter case under
//     Unicode case folding, as encoding/json compares keys ("User" and
//     "user"; "uſer" and "user"; "\u212a" and "k"): encoding/json keeps
//     the last of them where another parser, a proxy or a log may keep the
//     first, and the middleware refuses them on the fields it reads (code
//     duplicate_key, as the middleware answers);
//   - every key of v's structs is exactly a field's JSON name: no unknown
//     field and no other spelling that encoding/json would match
//     case-insensitively (code invalid_json).
//
// A body over maxBody is a 413.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if p := checkBody(body, err, reflect.TypeOf(v)); p != nil {
		writeError(w, r, p)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, r, problemBadBody)
		return false
	}
	return true
}

var (
	problemBadBody      = problem(http.StatusBadRequest, httpauthz.CodeInvalidJSON, "body must be a JSON object with the documented fields")
	problemDuplicateKey = problem(http.StatusBadRequest, httpauthz.CodeDuplicateKey, "a key appears more than once in an object (letter case aside)")
	problemBodyTooLarge = problem(http.StatusRequestEntityTooLarge, httpauthz.CodeBodyTooLarge, "body is too large")
)

// checkBody checks a body read with err against the rules of decode for
// the type t points to.
func checkBody(body []byte, err error, t reflect.Type) *httpauthz.Problem {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return problemBodyTooLarge
	case err != nil, !json.Valid(body): // Valid also bounds the nesting depth
		return problemBadBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are not converted: 1e400 is valid JSON
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return problemBadBody
	}
	return checkObject(dec, t.Elem())
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkValue reads one value from dec, which holds valid JSON, and checks
// its objects' keys. t is the Go type the value decodes into; nil for a
// free-form value, whose keys are not checked against fields.
func checkValue(dec *json.Decoder, t reflect.Type) *httpauthz.Problem {
	tok, err := dec.Token()
	if err != nil {
		return problemBadBody
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	switch tok {
	case json.Delim('{'):
		return checkObject(dec, t)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if p := checkValue(dec, elem); p != nil {
				return p
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return problemBadBody
		}
	}
	return nil
}

// checkObject checks the rest of an object whose '{' dec has read. t is
// the type it decodes into (nil: free-form).
func checkObject(dec *json.Decoder, t reflect.Type) *httpauthz.Problem {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return problemBadBody
		}
		folded := foldKey(key)
		if seen[folded] {
			return problemDuplicateKey
		}
		seen[folded] = true
		var vt reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Struct:
			if vt, ok = fieldType(t, key); !ok {
				return problemBadBody
			}
		case t.Kind() == reflect.Map:
			vt = t.Elem()
		}
		if p := checkValue(dec, vt); p != nil {
			return p
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return problemBadBody
	}
	return nil
}

// fieldType returns the type of the field of struct t whose JSON name is
// exactly key.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			// An embedded struct's fields are the outer struct's.
			if ft, ok := fieldType(f.Type, key); ok {
				return ft, true
			}
			continue
		case name == "-" || !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

// foldKey returns a form of key that two keys share exactly when
// strings.EqualFold reports them equal: each rune is replaced by the
// smallest rune of its Unicode simple case folding orbit, so "K", "k" and
// the Kelvin sign U+212A all become "K", and "S", "s" and "ſ" become "S".
func foldKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
