# Horae — build, run, test, measure.
GO        ?= go
BIN       := bin/horae
PKGS      := ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test test-unit test-integration deps-test bench bench-load drill lint fmt clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/horae

# Start Horae on this machine: embedded store, built-in local Mesos, API on
# 127.0.0.1:4400, example jobs loaded on an empty store.
run: build
	./$(BIN) serve --examples

# Everything that must pass: installs what the tests need (ZooKeeper from
# Debian), vets, and runs every test with the race detector.
test: deps-test
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 10m $(PKGS)
	@# ZooKeeper reconnect tests, skipped under -race for an upstream data race
	@# in go-zookeeper v1.0.4 (store/store_test.go, docs/zookeeper.md).
	$(GO) test -count=1 -timeout 10m -run 'TestWithZooKeeper|TestElectionThreeCandidates' ./store/

test-unit:
	$(GO) test -race -count=1 -short $(PKGS)

test-integration: deps-test
	$(GO) test -race -count=1 -timeout 20m ./integration/...

# ZooKeeper 3.8 from Debian's package (not zookeeperd, which would start a
# system service on port 2181); tests start their own servers on free ports.
deps-test:
	@if [ ! -f /usr/share/java/zookeeper.jar ]; then \
		echo "installing ZooKeeper (Debian package zookeeper)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq zookeeper >/dev/null; \
	fi

# Every benchmark, the load test and the SIGKILL drill, then rewrites
# docs/benchmarks.md from this run (medians of BENCH_COUNT=5; raw output in
# bench/latest.txt). BENCH_QUICK=1 checks the pipeline in a few minutes and
# writes bench/quick.md instead. Under 15 minutes on 2 cores.
bench: deps-test
	./scripts/bench.sh

# Sustained load on one machine against a bare fork/exec loop at the same
# rate (HORAE_LOAD_RATE runs/s for HORAE_LOAD_SECONDS, then at most
# HORAE_LOAD_DRAIN_SECONDS for the last runs to end); prints its figures as
# benchmark lines too (make bench reads them).
bench-load:
	HORAE_LOAD=1 $(GO) test -count=1 -run 'TestLoad|TestThousandDueAtOnce' -v -timeout 30m ./integration/

# Every drill with repetitions: 20 SIGKILL failovers, 5 of each other drill
# (make test runs each once, the SIGKILL drill 3 times). Each drill prints
# one BenchmarkDrill/<name> line; docs/reliability.md holds the table.
# Bounded by -timeout 25m (measured 7.5 min on 2 cores).
drill: deps-test
	HORAE_DRILL_FAILOVERS=20 HORAE_DRILL_REPEAT=5 $(GO) test -count=1 -run '^(TestFailoverNoLostOrDoubledRuns|TestPausedLeaderIsFenced|TestZooKeeperOutageDrill|TestMesosFaultDrills)$$' -v -timeout 25m ./integration/

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
