// Package benchmarks measures what fgac costs on a request's critical path
// and compares it with what users would pick instead: casbin, raw
// authzed-go calls, a bare handler. It holds only benchmarks (and the
// tests that pin their call counts) and is a module of its own, so that
// casbin never enters the library's go.mod. run.sh runs the suite; the
// README holds the results.
package benchmarks
