package collapse

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
)

// TestSealedCursorsHaveOneLength: a sealed cursor is 379 characters
// whatever the length of the repository cursor it holds (up to
// MaxCursorBytes), and opens to it; a longer repository cursor is
// ErrLongCursor, not a longer sealed one; a cursor sealed with the earlier
// padding (multiples of 128 bytes) still opens.
func TestSealedCursorsHaveOneLength(t *testing.T) {
	c := RandomCursors()
	alice := authz.Subject{Type: "user", ID: "alice"}
	for _, n := range []int{1, 2, 127, 128, 129, 200, 254, MaxCursorBytes} {
		pos := strings.Repeat("p", n)
		sealed, err := c.seal(pos, alice, authz.OpRead, "tasks")
		if err != nil {
			t.Fatalf("seal of %d bytes: %v", n, err)
		}
		if len(sealed) != 379 {
			t.Errorf("sealed cursor of a %d-byte position: %d characters, want 379", n, len(sealed))
		}
		got, err := c.open(sealed, alice, authz.OpRead, "tasks")
		if err != nil || got != pos {
			t.Errorf("open of the sealed %d-byte position = %d bytes, %v", n, len(got), err)
		}
	}
	for _, n := range []int{MaxCursorBytes + 1, 5000} {
		sealed, err := c.seal(strings.Repeat("p", n), alice, authz.OpRead, "tasks")
		if !errors.Is(err, ErrLongCursor) || !errors.Is(err, authz.ErrInternal) || sealed != "" {
			t.Errorf("seal of %d bytes = %d characters, %v; want ErrLongCursor", n, len(sealed), err)
		}
	}
	// The earlier padding: a 0x80 marker and zeros to 128 bytes.
	plain := make([]byte, oldCursorBlock)
	copy(plain, "row|042")
	plain[len("row|042")] = 0x80
	nonce := make([]byte, c.aead.NonceSize())
	rand.Read(nonce)
	old := base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, plain, binding(alice, authz.OpRead, "tasks")))
	if got, err := c.open(old, alice, authz.OpRead, "tasks"); err != nil || got != "row|042" {
		t.Errorf("open of a cursor sealed with the earlier padding = %q, %v", got, err)
	}
}
