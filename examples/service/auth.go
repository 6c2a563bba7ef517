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
//     schema grants it read and update on its own agent's tasks only.
//
// Neither kind is ever logged, and both are compared by their SHA-256
// digest only. Agent keys are 256 random bits, so a plain digest is as good
// as a slow password hash and lets the database index it; the store keeps
// the digest, never the key.

// agentKeyPrefix starts every agent API key, so the two kinds of
// credential cannot be confused.
const agentKeyPrefix = "agk_"

type subjectKey struct{}

// withSubject returns ctx carrying the authenticated subject.
func withSubject(ctx context.Context, s authz.Subject) context.Context {
	return context.WithValue(ctx, subjectKey{}, s)
}

// subjectFrom returns the subject that authenticate put in ctx.
func subjectFrom(ctx context.Context) (authz.Subject, bool) {
	s, ok := ctx.Value(subjectKey{}).(authz.Subject)
	return s, ok
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

// subject returns the subject a credential authenticates, or false.
func (a *authenticator) subject(ctx context.Context, credential string) (authz.Subject, bool, error) {
	if strings.HasPrefix(credential, agentKeyPrefix) {
		id, err := a.store.agentByKey(ctx, digest(credential))
		if errors.Is(err, authz.ErrNotFound) {
			return authz.Subject{}, false, nil
		}
		if err != nil {
			return authz.Subject{}, false, err
		}
		return authz.Subject{Type: "agent", ID: id}, true, nil
	}
	user, ok := a.users[sha256.Sum256([]byte(credential))]
	return authz.Subject{Type: "user", ID: user}, ok, nil
}

var problemUnauthenticated = &httpauthz.Problem{Status: http.StatusUnauthorized, Code: httpauthz.CodeUnauthenticated, Message: "authentication required"}

// authenticate puts the subject of the request's credential into its
// context, or answers 401 if there is no valid credential.
func (a *authenticator) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, credential, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		var sub authz.Subject
		var ok bool
		var err error
		if strings.EqualFold(scheme, "Bearer") && credential != "" {
			sub, ok, err = a.subject(r.Context(), credential)
		}
		switch {
		case err != nil:
			writeError(w, r, err)
		case !ok:
			w.Header().Set("WWW-Authenticate", "Bearer")
			httpauthz.WriteJSONError(w, r, problemUnauthenticated)
		default:
			next.ServeHTTP(w, r.WithContext(withSubject(r.Context(), sub)))
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

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return b
}
