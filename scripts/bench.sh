#!/usr/bin/env bash
# make bench: runs every Go benchmark of the repository several times and
# writes the raw results with the machine they ran on to bench/latest.txt.
# docs/benchmarks.md quotes these figures (medians) with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
out=bench/latest.txt
count=${BENCH_COUNT:-5}
{
  echo "# make bench, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# $(go version)"
  echo "# cores: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "# memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
} > "$out"
go test -run '^$' -bench . -benchmem -count "$count" -timeout 30m ./... | tee -a "$out"
if command -v benchstat >/dev/null 2>&1; then
  benchstat "$out" > bench/summary.txt && cat bench/summary.txt
else
  echo "(install benchstat — go install golang.org/x/perf/cmd/benchstat@latest — for medians)"
fi
