#!/bin/sh
# run.sh runs fgac's benchmark suite in one go and prints the raw results,
# then the headline ratios of issue 7. It needs only the Go toolchain: the
# SpiceDB benchmarks start a SpiceDB (serve-testing) from <repo>/bin/spicedb,
# building it first if it is missing, or from $FGAC_SPICEDB_BIN. With
# FGAC_POSTGRES=1 (and PostgreSQL's server binaries installed)
# BenchmarkScaleOutCheck also runs on a 3-node SpiceDB cluster over
# PostgreSQL; without it those sub-benchmarks skip.
#
#   ./run.sh                     # every benchmark, 1s each
#   BENCHTIME=3s COUNT=3 ./run.sh  # longer, repeated runs (figures are means)
#   BENCH=Check ./run.sh         # only benchmarks matching a pattern
set -eu
cd "$(dirname "$0")"

benchtime=${BENCHTIME:-1s}
count=${COUNT:-1}
bench=${BENCH:-.}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# The tests named here pin the call counts that the benchmarks report.
go test -run 'TestDeniedUpdateIsOneRoundTrip|TestRepeatedParentChecksCostOneCall' \
	-bench "$bench" -benchmem -benchtime "$benchtime" -count "$count" \
	. ../memo | tee "$out"

awk '
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	n[name]++
	for (i = 3; i < NF; i += 2) v[name, $(i + 1)] += $i
}
function val(name, unit) { return n[name] ? v[name, unit] / n[name] : 0 }
function ratio(a, b) { return b ? sprintf("%.0fx", a / b) : "n/a" }
function ratio1(a, b) { return b ? sprintf("%.1fx", a / b) : "n/a" }
END {
	print ""
	print "== headline figures (means of the runs above; ratios from one machine, noisy) =="
	m = "BenchmarkMiddleware/"
	printf "middleware overhead on memadapter: +%.2f us, +%d allocs per request (read); update with bulk probe +%.2f us, +%d allocs\n",
		(val(m "fgac-read", "ns/op") - val(m "bare", "ns/op")) / 1000, val(m "fgac-read", "allocs/op") - val(m "bare", "allocs/op"),
		(val(m "fgac-update", "ns/op") - val(m "bare", "ns/op")) / 1000, val(m "fgac-update", "allocs/op") - val(m "bare", "allocs/op")
	g = "BenchmarkGRPCInterceptor/interleaved"
	printf "grpc unary interceptor overhead on memadapter (interleaved medians): +%.2f us (%.0f vs %.0f ns/call), %d allocs per call (read through the parent)\n",
		(val(g, "fgac-ns/call") - val(g, "bare-ns/call")) / 1000, val(g, "fgac-ns/call"), val(g, "bare-ns/call"), val(g, "fgac-allocs/call") - val(g, "bare-allocs/call")
	t = "BenchmarkDecisionTracing/interleaved"
	printf "tracing per decision (interleaved medians, vs %.0f ns untraced): no-op provider %+.0f ns, %d allocs; SDK sampling nothing %+.0f ns, %d allocs; SDK recording %+.0f ns, %d allocs\n",
		val(t, "none-ns/call"),
		val(t, "noop-provider-ns/call") - val(t, "none-ns/call"), val(t, "noop-provider-allocs/call") - val(t, "none-allocs/call"),
		val(t, "sdk-sampled-out-ns/call") - val(t, "none-ns/call"), val(t, "sdk-sampled-out-allocs/call") - val(t, "none-allocs/call"),
		val(t, "sdk-recording-ns/call") - val(t, "none-ns/call"), val(t, "sdk-recording-allocs/call") - val(t, "none-allocs/call")
	c = "BenchmarkCheck/tasks="
	printf "memadapter vs casbin Enforce (allowed): %s faster at 1,000 tasks, %s at 10,000\n",
		ratio(val(c "1000/allowed/casbin", "ns/op"), val(c "1000/allowed/memadapter", "ns/op")),
		ratio(val(c "10000/allowed/casbin", "ns/op"), val(c "10000/allowed/memadapter", "ns/op"))
	printf "memadapter vs casbin Enforce (denied):  %s faster at 1,000 tasks, %s at 10,000\n",
		ratio(val(c "1000/denied/casbin", "ns/op"), val(c "1000/denied/memadapter", "ns/op")),
		ratio(val(c "10000/denied/casbin", "ns/op"), val(c "10000/denied/memadapter", "ns/op"))
	printf "memadapter check growth 1,000 -> 100,000 tasks: %s (allowed), %s (denied)\n",
		ratio1(val(c "100000/allowed/memadapter", "ns/op"), val(c "1000/allowed/memadapter", "ns/op")),
		ratio1(val(c "100000/denied/memadapter", "ns/op"), val(c "1000/denied/memadapter", "ns/op"))
	p = "BenchmarkFirstPage/candidates="
	for (k = 0; k < 3; k++) {
		size = k == 0 ? "1000" : k == 1 ? "10000" : "100000"
		printf "first page of 50, 1,000 visible among %6s: lookup-page %.2f ms %d B/op; lookup-filter %.2f ms %d B/op; page-then-bulk %.2f ms %d B/op\n", size,
			val(p size "/lookup-page", "ns/op") / 1e6, val(p size "/lookup-page", "B/op"),
			val(p size "/lookup-filter", "ns/op") / 1e6, val(p size "/lookup-filter", "B/op"),
			val(p size "/page-then-bulk", "ns/op") / 1e6, val(p size "/page-then-bulk", "B/op")
	}
	s = "BenchmarkSpiceDBChecks/"
	printf "SpiceDB, 100 checks: bulk is %s faster than sequential, %s than unbounded concurrent, %s than max-16, %s than max-8\n",
		ratio1(val(s "sequential-100", "ns/op"), val(s "bulk-100", "ns/op")),
		ratio1(val(s "concurrent-100", "ns/op"), val(s "bulk-100", "ns/op")),
		ratio1(val(s "concurrent-100-max-16", "ns/op"), val(s "bulk-100", "ns/op")),
		ratio1(val(s "concurrent-100-max-8", "ns/op"), val(s "bulk-100", "ns/op"))
	o = "BenchmarkSpiceDBAdapterOverhead"
	printf "SpiceDB adapter vs raw authzed-go CheckPermission (paired medians): %.0f vs %.0f us, overhead %+.1f%%\n",
		val(o, "adapter-us/check"), val(o, "raw-us/check"), val(o, "overhead-%")
	d = "BenchmarkSpiceDBDeniedUpdate/"
	printf "SpiceDB 403-vs-404 on a denied update: %g round trip(s) for 403, %g for 404 (naive: %g)\n",
		val(d "collapse-403", "rpcs/op"), val(d "collapse-404", "rpcs/op"), val(d "naive-403", "rpcs/op")
	r = "BenchmarkSpiceDBRepeatedParentChecks/"
	printf "SpiceDB route with 6 identical parent checks: %g calls memoised vs %g unmemoised (%s fewer), %.2f vs %.2f ms\n",
		val(r "memoised", "rpcs/op"), val(r "unmemoised", "rpcs/op"), ratio1(val(r "unmemoised", "rpcs/op"), val(r "memoised", "rpcs/op")),
		val(r "memoised", "ns/op") / 1e6, val(r "unmemoised", "ns/op") / 1e6
	r = "BenchmarkRepeatedParentChecks/"
	printf "memadapter route with 6 identical parent checks: %g calls memoised vs %g unmemoised\n",
		val(r "memoised", "calls/op"), val(r "unmemoised", "calls/op")
	x = "BenchmarkScaleOutCheck/"
	printf "check at 100,000 tasks, p50 / p99: memadapter %.1f / %.1f us; serve-testing %.2f / %.2f ms; PostgreSQL cluster %.2f / %.2f ms (FGAC_POSTGRES=1 for the cluster)\n",
		val(x "memadapter", "p50-us"), val(x "memadapter", "p99-us"),
		val(x "serve-testing", "p50-us") / 1000, val(x "serve-testing", "p99-us") / 1000,
		val(x "cluster", "p50-us") / 1000, val(x "cluster", "p99-us") / 1000
	printf "PostgreSQL cluster, 100 checks: bulk %.1f ms vs sequential %.1f ms: %s\n",
		val(x "cluster/bulk-100", "ns/op") / 1e6, val(x "cluster/sequential-100", "ns/op") / 1e6,
		ratio1(val(x "cluster/sequential-100", "ns/op"), val(x "cluster/bulk-100", "ns/op"))
}' "$out"
