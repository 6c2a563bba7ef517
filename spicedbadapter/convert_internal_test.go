package spicedbadapter

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestStructOfNeverDropsAValue: the JSON model converts as structpb does,
// and a value outside it becomes one that protobuf refuses to encode (the
// request fails) rather than being dropped (a stored context sent without
// a value would let the request supply it).
func TestStructOfNeverDropsAValue(t *testing.T) {
	m := map[string]any{"s": "x", "n": 1.5, "b": true, "z": nil, "l": []any{"a", 2.0}, "o": map[string]any{"k": "v"}}
	want, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := structOf(m); !proto.Equal(got, want) {
		t.Errorf("structOf = %v, want %v", got, want)
	}
	for _, bad := range []map[string]any{
		{"x": struct{}{}},
		{"o": map[string]any{"k": []any{int64(1)}}},
	} {
		if _, err := proto.Marshal(structOf(bad)); err == nil {
			t.Errorf("structOf(%v) encodes; want a value protobuf refuses", bad)
		}
	}
}
