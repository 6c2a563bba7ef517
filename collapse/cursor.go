package collapse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// Cursors seals the page cursors that [FilterPage] hands out, so that a
// client can continue a list but learn nothing from the cursor itself.
//
// A page that filters candidate rows must be able to continue after a row
// the caller may not see (the last candidate examined when the call budget
// ran out, say); a plain "last row id" cursor would hand that hidden id to
// the client. A sealed cursor is the repository's cursor encrypted and
// authenticated with AES-GCM under a key only the service holds, with a
// fresh random nonce each time and padded to one fixed length (every sealed
// cursor is 379 characters), and bound to the subject, operation and list
// it was issued for: its bytes, its length and its equality with other
// cursors say nothing about the position, and a cursor that was altered,
// forged, or issued to another subject is refused with [ErrBadCursor]. A
// repository cursor longer than [MaxCursorBytes] cannot be padded to that
// length: [FilterPage] fails with [ErrLongCursor] rather than hand out a
// cursor whose length tells it.
//
// A Cursors is safe for concurrent use.
type Cursors struct {
	aead cipher.AEAD
}

// ErrBadCursor is the error of a page cursor that [Cursors] did not issue
// for this subject and operation (malformed, altered, expired key, another
// subject's). It matches [authz.ErrInvalidRequest] and says nothing more,
// whatever was wrong with the cursor.
var ErrBadCursor = fmt.Errorf("collapse: %w: malformed page cursor", authz.ErrInvalidRequest)

// cursorBlock is the length every sealed cursor's plaintext is padded to,
// so that a cursor's length does not tell the length of the position it
// holds. (Cursors sealed before it was fixed were padded to multiples of
// 128 bytes; open still reads them.)
const (
	cursorBlock    = 256
	oldCursorBlock = 128
)

// MaxCursorBytes is the longest repository cursor (what
// [PageRequest].Fetch and CursorOf return) that a page cursor can hold.
const MaxCursorBytes = cursorBlock - 1

// ErrLongCursor is the error of a page whose repository cursor is longer
// than [MaxCursorBytes]. It matches [authz.ErrInternal]: the repository's
// cursors are the service's, not the client's.
var ErrLongCursor = fmt.Errorf("collapse: %w: repository cursor longer than %d bytes", authz.ErrInternal, MaxCursorBytes)

// NewCursors returns Cursors that seal with key, an AES key of 16, 24 or 32
// bytes. Services with several replicas give them all the same key (and
// rotate it like any secret: cursors sealed under an old key are refused).
func NewCursors(key []byte) (*Cursors, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("collapse: %w: cursor key must be 16, 24 or 32 bytes", authz.ErrInvalidRequest)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("collapse: cursor cipher: %w", err)
	}
	return &Cursors{aead: aead}, nil
}

// RandomCursors returns Cursors with a fresh random key: for a single
// process, whose cursors need not survive a restart.
func RandomCursors() *Cursors {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand panics rather than return short)
	c, err := NewCursors(key)
	if err != nil {
		panic(err) // unreachable: the key has a valid length
	}
	return c
}

// binding is the additional data a cursor is sealed with: the subject,
// operation and list name of the listing, so that a cursor is good only
// for them.
func binding(s authz.Subject, op authz.Operation, list string) []byte {
	return []byte(s.String() + "\x00" + string(op) + "\x00" + list)
}

// seal returns the client's form of the repository cursor pos; "" stays ""
// (the last page). A pos longer than MaxCursorBytes is ErrLongCursor.
func (c *Cursors) seal(pos string, s authz.Subject, op authz.Operation, list string) (string, error) {
	if pos == "" {
		return "", nil
	}
	if len(pos) > MaxCursorBytes {
		return "", ErrLongCursor
	}
	// Plaintext: pos, a 0x80 marker, zero padding to cursorBlock.
	n := cursorBlock
	plain := make([]byte, n)
	copy(plain, pos)
	plain[len(pos)] = 0x80
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+n+c.aead.Overhead())
	rand.Read(nonce)
	sealed := c.aead.Seal(nonce, nonce, plain, binding(s, op, list))
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// open returns the repository cursor that seal hid in cursor, or
// ErrBadCursor.
func (c *Cursors) open(cursor string, s authz.Subject, op authz.Operation, list string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < c.aead.NonceSize()+c.aead.Overhead()+oldCursorBlock {
		return "", ErrBadCursor
	}
	ns := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:ns], raw[ns:], binding(s, op, list))
	if err != nil {
		return "", ErrBadCursor
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i <= 0 || plain[i] != 0x80 {
		return "", ErrBadCursor
	}
	return string(plain[:i]), nil
}
