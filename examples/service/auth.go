package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
)

// Authentication is deliberately simple and explicit: every request but
// /healthz carries "Authorization: Bearer <credential>", and a credential
// is one of two kinds.
//
//   - A user token, configured at start (-users alice=tok-alice,...), makes
//     the request act as user:<name>.
//   - An agent API key, returned once when the agent is created, makes the
//     request act as the agent itself, agent:<id>. This is not a bypass (the
//     reference system's gap): the key is an ordinary subject, and the
//     schema grants it read and update on its own agent's tasks only. The
//     names it addresses tasks by are those of the agent's owner.
//
// Neither kind is ever logged, and both are compared by their SHA-256
// digest only. Agent keys are 256 random bits, so a plain digest is as good
// as a slow password hash and lets the database index it; the store keeps
// the digest, never the key.

// agentKeyPrefix starts every agent API key, so the two kinds of
// credential cannot be confused.
const agentKeyPrefix = "agk_"

// caller is who a request acts as: the subject the checks use, and the
// user whose names its name routes resolve (see ownName). For a user token
// both are the user; for an agent API key the subject is the agent and the
// names are those of the agent's owner, the user it works for.
type caller struct {
	subject authz.Subject
	owner   string
}

type callerKey struct{}

// withCaller returns ctx carrying the authenticated caller.
func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// subjectFrom returns the subject that authenticate put in ctx.
func subjectFrom(ctx context.Context) (authz.Subject, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c.subject, ok
}

// namesOwnerFrom returns the user whose names the request's names are:
// the user, or an agent key's owner.
func namesOwnerFrom(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c.owner, ok && c.owner != ""
}

// authenticator maps credentials to subjects. It is safe for concurrent
// use.
type authenticator struct {
	users map[[sha256.Size]byte]string // digest of a user token -> user id
	store *store
}

func newAuthenticator(users map[string]string, st *store) *authenticator {
	a := &authenticator{users: make(map[[sha256.Size]byte]string, len(users)), store: st}
	for token, user := range users {
		a.users[sha256.Sum256([]byte(token))] = user
	}
	return a
}

// caller returns the caller a credential authenticates, or false.
func (a *authenticator) caller(ctx context.Context, credential string) (caller, bool, error) {
	if strings.HasPrefix(credential, agentKeyPrefix) {
		id, owner, err := a.store.agentByKey(ctx, digest(credential))
		if errors.Is(err, authz.ErrNotFound) {
			return caller{}, false, nil
		}
		if err != nil {
			return caller{}, false, err
		}
		return caller{subject: authz.Subject{Type: "agent", ID: id}, owner: owner}, true, nil
	}
	user, ok := a.users[sha256.Sum256([]byte(credential))]
	return caller{subject: authz.Subject{Type: "user", ID: user}, owner: user}, ok, nil
}

var problemUnauthenticated = &httpauthz.Problem{Status: http.StatusUnauthorized, Code: httpauthz.CodeUnauthenticated, Message: "authentication required"}

// authenticate puts the caller of the request's credential into its
// context, or answers 401 if there is no valid credential. A request with
// more than one Authorization header is refused (401) before any of them
// is looked at: which one counts would be up to each reader (Header.Get
// takes the first, a proxy or a log may take the last), so such a request
// names no caller.
func (a *authenticator) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := r.Header.Values("Authorization")
		var c caller
		var ok bool
		var err error
		scheme, credential := "", ""
		if len(headers) == 1 {
			scheme, credential, _ = strings.Cut(headers[0], " ")
		}
		if strings.EqualFold(scheme, "Bearer") && credential != "" {
			c, ok, err = a.caller(r.Context(), credential)
		}
		switch {
		case err != nil:
			writeError(w, r, err)
		case !ok:
			w.Header().Set("WWW-Authenticate", "Bearer")
			httpauthz.WriteJSONError(w, r, problemUnauthenticated)
		default:
			next.ServeHTTP(w, r.WithContext(withCaller(r.Context(), c)))
		}
	})
}

// newAgentKey returns a new agent API key and the digest to store.
func newAgentKey() (key, keyDigest string) {
	key = agentKeyPrefix + hex.EncodeToString(randomBytes(32))
	return key, digest(key)
}

func digest(credential string) string {
	d := sha256.Sum256([]byte(credential))
	return hex.EncodeToString(d[:])
}

// newID returns a random id with a prefix naming its kind, such as
// "task_3f2a...". Ids are random rather than sequential so that they reveal
// nothing about how many resources exist.
func newID(prefix string) string {
	return prefix + "_" + hex.EncodeToString(randomBytes(12))
}

// decoyID is the id spent in place of a missing resource of type typ: the
// shape of newID's ids (the prefix, 24 hex digits), which newID never
// returns in practice (12 zero random bytes).
func decoyID(typ string) string { return typ + "_" + strings.Repeat("0", 24) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return b
}
