package authz_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/fgac-go/fgac/authz"
)

// TestContextEncodedSizeIsTheStructSize: EncodedSize is exactly what
// proto.Size says of the context as a google.protobuf.Struct (what SpiceDB
// limits to 4,096 bytes), for random contexts of every kind of value and
// lengths around the varint boundaries.
func TestContextEncodedSizeIsTheStructSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var value func(depth int) any
	value = func(depth int) any {
		switch k := rng.IntN(7); {
		case k == 0:
			return nil
		case k == 1:
			return rng.IntN(2) == 0
		case k == 2:
			return rng.Float64() * 1e6
		case k == 3 || depth > 3:
			return strings.Repeat("x", []int{0, 1, 127, 128, 300, 16383, 16384}[rng.IntN(7)])
		case k == 4 || k == 5:
			l := make([]any, rng.IntN(4))
			for i := range l {
				l[i] = value(depth + 1)
			}
			return l
		}
		m := map[string]any{}
		for i := range rng.IntN(4) {
			m[strings.Repeat("k", i*60)] = value(depth + 1)
		}
		return m
	}
	for range 500 {
		m := map[string]any{}
		for i := range 1 + rng.IntN(5) {
			m[strings.Repeat("p", i)] = value(1)
		}
		c := authz.NewContext(m)
		st, err := structpb.NewStruct(c.Map())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.EncodedSize(), proto.Size(st); got != want {
			t.Fatalf("EncodedSize = %d, proto.Size = %d for %v", got, want, c)
		}
	}
	if authz.NewContext(nil).EncodedSize() != 0 {
		t.Error("the zero Context has a size")
	}
}
