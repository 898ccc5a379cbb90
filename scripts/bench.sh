#!/usr/bin/env bash
# make bench: measures everything docs/benchmarks.md reports and rewrites
# that page from this run, in one go:
#   1. every Go benchmark of the repository, BENCH_COUNT times (default 5),
#      one package at a time, the executor ones with the horae binary built
#      from this tree; the ones whose one operation (or set-up) takes
#      seconds, one operation per repetition: the 100,000-job engine ones
#      BENCH_HEAVY_COUNT times (default 3), the ZooKeeper Load of 100,000
#      jobs BENCH_ZK_COUNT times (default 3);
#   2. the load test (integration/load_test.go) at 100 runs/s for 30 s and
#      at 500 runs/s for 10 s, each beside a bare fork/exec loop at the same
#      rate, and 1,000 runs due at once;
#   3. the SIGKILL failover drill with HORAE_DRILL_FAILOVERS=3;
# then scripts/benchreport renders docs/benchmarks.md from the raw output,
# which stays in bench/latest.txt (benchmark format: benchstat reads it).
# Budget: under 15 minutes on 2 cores (measured: quick mode 4 min at load
# average 8; the full run is estimated at 10–11 min).
#
# BENCH_QUICK=1 runs everything once and briefly: it checks the pipeline,
# its figures are not for the page (it writes bench/quick.md instead,
# unless BENCH_OUT is set).
set -uo pipefail
cd "$(dirname "$0")/.."

count=${BENCH_COUNT:-5}
heavycount=${BENCH_HEAVY_COUNT:-3}
zkcount=${BENCH_ZK_COUNT:-3}
benchtime=200ms
heavy='^(BenchmarkDue10kOf100k|BenchmarkHeapPerJob|BenchmarkMatch10kPendingOn1000Offers)$'
zkload='^BenchmarkZKLoad$'
load100=20 loadcount=3 load500=10 drain=45 failovers=3
page=${BENCH_OUT:-docs/benchmarks.md}
if [ "${BENCH_QUICK:-}" = 1 ]; then
	count=1 heavycount=1 zkcount=1 benchtime=100ms load100=5 loadcount=1 load500=3 drain=20 failovers=1
	page=${BENCH_OUT:-bench/quick.md}
fi
# The command as typed, with the knobs that were set, for the page.
command="make bench"
for v in BENCH_OUT BENCH_ZK_COUNT BENCH_HEAVY_COUNT BENCH_COUNT BENCH_QUICK; do
	if [ -n "${!v:-}" ]; then command="$v=${!v} $command"; fi
done

mkdir -p bench
out=bench/latest.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
began=$(date +%s)

# meta writes one "horae-<key>: <value>" line: machine and command, read
# back by scripts/benchreport for the page's header.
meta() { echo "horae-$1: $2" >> "$out"; }
: > "$out"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$(git describe --always --dirty)"
meta command "$command"
meta count "$count (the 100,000-job engine benchmarks: $heavycount; ZooKeeper Load of 100,000 jobs: $zkcount)"
meta go "$(go version | cut -d' ' -f3-)"
meta nproc "$(nproc)"
meta cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta memory "$(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
meta kernel "$(uname -sr)"
meta loadavg-before "$(cut -d' ' -f1-3 /proc/loadavg)"

# run logs a step, runs it with its output appended to $out (and shown),
# and remembers a failure without stopping: a partial run still yields a
# page, whose missing figures say "not run".
run() {
	echo "== $(date -u +%H:%M:%S) $*" >&2
	"$@" 2>&1 | tee -a "$out"
	local rc=${PIPESTATUS[0]}
	if [ "$rc" != 0 ]; then
		echo "== failed ($rc): $*" >&2
		status=1
	fi
}

if ! go build -o "$tmp/horae" ./cmd/horae; then
	echo "== build of horae failed" >&2
	status=1
fi

# 1. Go benchmarks. -p 1: two packages benchmarking at once would measure
# each other. A short -benchtime is enough for the nanosecond ones (millions
# of iterations) and keeps the repetitions affordable.
# Only packages that have benchmarks: compiling the others (and
# integration's TestMain, which builds horae) would cost a minute for nothing.
mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Benchmark' . | xargs -n1 dirname | sort -u)
export HORAE_EXECUTOR_BIN="$tmp/horae"
run go test -p 1 -run '^$' -bench . -skip "$heavy|$zkload" -benchmem -benchtime "$benchtime" -count "$count" -timeout 20m "${pkgs[@]}"
unset HORAE_EXECUTOR_BIN
run go test -run '^$' -bench "$heavy" -benchmem -benchtime 1x -count "$heavycount" -timeout 10m ./scheduler/
# Each repetition writes the 100,000 jobs to a fresh ZooKeeper first (~30 s).
run go test -run '^$' -bench "$zkload" -benchmem -benchtime 1x -count "$zkcount" -timeout 10m ./store/

# 2 and 3. Integration measurements print Go benchmark lines on stdout;
# `go test -v` prints no "pkg:" line without -bench, so name it here.
echo "pkg: github.com/horae-scheduler/horae/integration" >> "$out"
# The latency measurements go first, each on a machine that has settled
# after the previous step (ZooKeeper's JVM, the builds), so that what they
# measure is Horae and the bare loop side by side, not the tail of a drill.
settle() {
	local i
	for i in $(seq 1 30); do
		awk '{exit !($1 < 1.0)}' /proc/loadavg && return 0
		sleep 2
	done
}
settle
# Three runs at 100/s: on a shared VM one run's p99 varies several-fold
# from minute to minute; the page shows the median with the range.
run env HORAE_LOAD=1 HORAE_LOAD_RATE=100 HORAE_LOAD_SECONDS=$load100 HORAE_LOAD_DRAIN_SECONDS=$drain \
	go test -count="$loadcount" -run '^TestLoad$' -v -timeout 15m ./integration/
settle
run env HORAE_LOAD=1 HORAE_LOAD_RATE=500 HORAE_LOAD_SECONDS=$load500 HORAE_LOAD_DRAIN_SECONDS=$drain HORAE_LOAD_POLICY=latest \
	go test -count=1 -run '^TestLoad$' -v -timeout 10m ./integration/
run env HORAE_LOAD=1 HORAE_DRILL_FAILOVERS=$failovers \
	go test -count=1 -run '^(TestThousandDueAtOnce|TestFailoverNoLostOrDoubledRuns)$' -v -timeout 15m ./integration/

meta loadavg-after "$(cut -d' ' -f1-3 /proc/loadavg)"
elapsed=$(($(date +%s) - began))
meta elapsed "$((elapsed / 60)) min $((elapsed % 60)) s"
echo "== $(date -u +%H:%M:%S) measured in ${elapsed}s; writing $page" >&2
if ! go run ./scripts/benchreport -in "$out" -out "$page"; then
	status=1
fi
exit $status
