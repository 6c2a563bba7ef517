// Package memo asks an authorization backend each question once: within a
// request, a repeated check is answered from a request-scoped cache, and
// identical checks in flight at the same time, from any requests, share one
// backend call.
//
// A [Reader] wraps an engine and is itself an [authz.Reader], so a service
// wires it under its [authz.Guard] and installs a request cache per request
// with [Middleware] (or [WithRequestCache] outside net/http):
//
//	guard := authz.NewGuard(memo.New(engine, nil), ops)
//	m := httpauthz.New(httpauthz.Config{Guard: guard, Subject: subject})
//	mux.Handle("GET /tasks/{task_id}", m.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(h))
//	srv := &http.Server{Handler: memo.Middleware(mux)}
//
// # What is remembered, and for how long
//
// A question is its subject, resource, permission, caveat context (the
// request's parameters: the same check with another client IP is another
// question) and consistency requirement, token included. Answers are remembered only in the request
// cache of the context they were asked in, so they live as long as the
// request: there is no cross-request decision cache. Only decisions are
// remembered, allows and denials alike; an error (a failed call, or an
// item's own error in a bulk answer) never is, so the next ask goes to the
// backend again.
//
// A [authz.FullyConsistent] question is never answered from memory and
// never joins a call already in flight: that call may have started before a
// write the caller has seen acknowledged, and "fully consistent" promises
// that the answer reflects it. Under [authz.MinimizeLatency] a remembered
// answer is no staler than the backend may be anyway, and under
// [authz.AtLeastAsFresh] the token is part of the question, so a request
// that writes and then checks with the write's token asks afresh.
//
// # Shared calls and cancellation
//
// Identical concurrent checks share one call. The call runs on a goroutine
// of its own that ends when the engine call returns, under the context of the
// caller that started it (the leader), so it carries the leader's deadline
// and values and stops when the leader gives up. Every caller, leader or
// not, waits for the shared answer or for its own context, whichever comes
// first, and returns at once with an error matching [authz.ErrUnavailable]
// when its own context ends. If the shared call fails because the leader's
// context ended, the others do not inherit that failure: each caller whose
// own context is still live asks again (one of them leads the new call).
// The alternative, detaching the call from every caller's context, would
// let a call outlive all the requests that wanted it, with no deadline.
//
// An engine that panics in any call a Reader makes (Check, shared or not,
// CheckMany, Lookup) does not crash the process: the caller, and every
// caller sharing the call, gets a [*PanicError] carrying the panic's value
// and stack (it matches [authz.ErrUnavailable]) and the in-flight slot is
// released. An engine that calls runtime.Goexit during a shared call,
// which runs on a goroutine of its own, gives every caller an error too,
// rather than leaving them waiting; on the other paths the engine runs on
// the caller's goroutine, which Goexit ends as it would without memo.
//
// # Bounded fan-out
//
// A Reader lets at most a fixed number of backend calls ([Config].MaxInFlight,
// default [DefaultMaxInFlight]) be in flight at once, over checks, bulk
// checks and lookups together; further calls wait for a slot or for their
// context. A burst of requests therefore cannot open an unbounded number of
// calls to the backend.
package memo
