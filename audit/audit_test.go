package audit_test

import (
	"testing"

	"github.com/fgac-go/fgac/enforce"
)

// TestOnlyShadowAndOffRelax: of all 256 mode values, only Shadow and Off
// are not enforced, and every value outside the three modes names itself
// rather than passing for "enforce".
func TestOnlyShadowAndOffRelax(t *testing.T) {
	for v := range 256 {
		m := enforce.Mode(v)
		wantEnforced := m != enforce.Shadow && m != enforce.Off
		if m.Enforced() != wantEnforced {
			t.Errorf("Mode(%d).Enforced() = %v", v, m.Enforced())
		}
		if m.Known() != (v <= 2) {
			t.Errorf("Mode(%d).Known() = %v", v, m.Known())
		}
		if v > 2 && (m.String() == "enforce" || m.String() == "shadow" || m.String() == "off") {
			t.Errorf("Mode(%d).String() = %q", v, m.String())
		}
	}
	for m, want := range map[enforce.Mode]string{enforce.Enforce: "enforce", enforce.Shadow: "shadow", enforce.Off: "off", 3: "Mode(3)"} {
		if m.String() != want {
			t.Errorf("%d.String() = %q, want %q", m, m.String(), want)
		}
	}
}
