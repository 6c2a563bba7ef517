package memo

import (
	"context"
	"encoding/binary"
	"net/http"
	"strings"
	"sync"

	"github.com/fgac-go/fgac/authz"
)

// MaxRequestEntries is how many answers one request cache holds. Answers
// beyond it are not remembered; the request still gets them.
const MaxRequestEntries = 1024

// cache is one request's answers. It is safe for concurrent use, so that
// the goroutines of one request can share it.
type cache struct {
	mu      sync.Mutex // guards entries
	entries map[entry]authz.Decision
}

// entry is a question asked through one Reader: two Readers over different
// engines in one request never answer each other's questions.
type entry struct {
	r *Reader
	k string
}

type cacheKey struct{}

// WithRequestCache returns a context that carries a new, empty request
// cache, so that [Reader] calls made with it (or with contexts derived from
// it) ask each question once. If ctx already carries one, WithRequestCache
// returns ctx itself, so that nested middleware keeps one cache per
// request. Call it once per request, never on a context that outlives the
// request: the cache is how long answers are remembered.
func WithRequestCache(ctx context.Context) context.Context {
	if cacheFrom(ctx) != nil {
		return ctx
	}
	return context.WithValue(ctx, cacheKey{}, &cache{})
}

// Middleware is net/http middleware that gives every request its own
// request cache ([WithRequestCache]) before calling next. Put it outside
// the fgac middleware, so that the middleware's checks and the handler's
// share the cache.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithRequestCache(r.Context())))
	})
}

// cacheFrom returns the request cache of ctx, or nil.
func cacheFrom(ctx context.Context) *cache {
	c, _ := ctx.Value(cacheKey{}).(*cache)
	return c
}

// get returns the remembered answer of question k asked through r. A nil
// cache remembers nothing.
func (c *cache) get(r *Reader, k string) (authz.Decision, bool) {
	if c == nil {
		return authz.Decision{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.entries[entry{r: r, k: k}]
	return d, ok
}

// put remembers d as the answer of question k asked through r, unless the
// cache is full or nil.
func (c *cache) put(r *Reader, k string, d authz.Decision) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[entry]authz.Decision)
	}
	if len(c.entries) < MaxRequestEntries {
		c.entries[entry{r: r, k: k}] = d
	}
}

// key returns the key of req asked under consistency c. It is injective:
// every field is length-prefixed and the mode is one byte, so the key can
// be decoded back into the question, and no two distinct questions share
// a key whatever bytes their ids or tokens hold.
func key(req authz.CheckRequest, c authz.Consistency) string {
	fields := [...]string{
		c.Token().Value(),
		req.Subject.Type, req.Subject.ID, req.Subject.Relation,
		req.Resource.Type, req.Resource.ID,
		req.Permission,
		contextKey(req.Context),
	}
	n := 1
	for _, f := range fields {
		n += binary.MaxVarintLen16 + len(f)
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.WriteByte(byte(c.Mode()))
	var prefix [binary.MaxVarintLen64]byte
	for _, f := range fields {
		sb.Write(prefix[:binary.PutUvarint(prefix[:], uint64(len(f)))])
		sb.WriteString(f)
	}
	return sb.String()
}

// contextKey is the part of a key that the request's caveat context
// contributes: its canonical JSON (sorted keys), or nothing without one, so
// that answers under different contexts are never shared.
func contextKey(c authz.Context) string {
	if c.IsZero() {
		return ""
	}
	return c.String()
}
