package memadapter

// SameSeed gives b, which holds no relationship yet, a's hash seed, so
// that benchmarks comparing two graphs built alike compare the same hash
// layouts (a seed is random per Authorizer otherwise, and moves
// cache-bound benchmarks by several percent from one process to the next).
func SameSeed(a, b *Authorizer) {
	b.seed = a.seed
	b.cur.Load().seed = a.seed
}
