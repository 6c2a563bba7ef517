package enforce

import (
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// CallContext calls hook, a transport's Config.Context for one request (it
// closes over the request), for the package pkg, failing closed and
// keeping nothing the hook said: its error messages and panic values may
// quote a header, metadata or a token. It returns the context, validated;
// or refused, a message fit for an event, when the hook's error matches
// [authz.ErrInvalidRequest] or the context it returned is invalid (the
// context's own validation error, which never quotes a value); or err,
// matching [authz.ErrInternal] and nothing else (so a hook's not-found
// cannot become a 404), when the hook failed otherwise or panicked. The
// transport answers refused as its bad-request answer and err as its
// server error.
func CallContext(pkg string, hook func() (authz.Context, error)) (c authz.Context, refused string, err error) {
	defer func() {
		if recover() != nil {
			c, refused, err = authz.Context{}, "", fmt.Errorf("%w: %s: Config.Context panicked", authz.ErrInternal, pkg)
		}
	}()
	c, err = hook()
	switch {
	case errors.Is(err, authz.ErrInvalidRequest):
		return authz.Context{}, "Config.Context refused it", nil
	case err != nil:
		return authz.Context{}, "", fmt.Errorf("%w: %s: Config.Context failed", authz.ErrInternal, pkg)
	}
	if err := c.Validate(); err != nil {
		return authz.Context{}, err.Error(), nil
	}
	return c, "", nil
}
