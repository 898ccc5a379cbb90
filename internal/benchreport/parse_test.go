package benchreport

import (
	"slices"
	"strings"
	"testing"
)

const module = "github.com/horae-scheduler/horae"

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		figures  map[string]map[string][]float64 // key → unit → samples
		iters    map[string][]int
		meta     map[string]string
		problems int
	}{
		{
			name: "go test -bench output, GOMAXPROCS suffix dropped, repetitions gathered",
			in: `goos: linux
pkg: github.com/horae-scheduler/horae/schedule
cpu: Oxide Virtual Turin-like Processor
BenchmarkNext/fixed/iso/PT1M-2   	74487498	        16.19 ns/op	       0 B/op	       0 allocs/op
BenchmarkNext/fixed/iso/PT1M-2   	74487498	        18.00 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/horae-scheduler/horae/schedule	13.764s
`,
			figures: map[string]map[string][]float64{
				"schedule/BenchmarkNext/fixed/iso/PT1M": {"ns/op": {16.19, 18}, "B/op": {0, 0}, "allocs/op": {0, 0}},
			},
			iters: map[string][]int{"schedule/BenchmarkNext/fixed/iso/PT1M": {74487498, 74487498}},
		},
		{
			name: "pkg lines separate packages; sub-benchmark names with = and digits kept",
			in: `pkg: github.com/horae-scheduler/horae/events
BenchmarkApply/subscribers=100-2 24016 56376 ns/op
pkg: github.com/horae-scheduler/horae/executor
BenchmarkExecutorRSS/tasks=20-2 1 18.5 MiB-executor 4.9 MiB-executor-anon
`,
			figures: map[string]map[string][]float64{
				"events/BenchmarkApply/subscribers=100":  {"ns/op": {56376}},
				"executor/BenchmarkExecutorRSS/tasks=20": {"MiB-executor": {18.5}, "MiB-executor-anon": {4.9}},
			},
		},
		{
			name: "integration lines: printed on stdout, and logged through t.Log under go test -v",
			in: `pkg: github.com/horae-scheduler/horae/integration
=== RUN   TestLoad
    load_test.go:30: bare fork/exec loop at 100/s for 30s: started 3000 of 3000
BenchmarkLoad/rate=100/bare 1 2.6 p50-ms 4.9 p99-ms 3000 due-runs
    drill_report_test.go:61: BenchmarkDrill/sigkill 3 2700 recovery-median-ms 3500 recovery-max-ms 0 lost 0 duplicates 2000 session-timeout-ms
--- PASS: TestLoad (61.20s)
`,
			figures: map[string]map[string][]float64{
				"integration/BenchmarkLoad/rate=100/bare": {"p50-ms": {2.6}, "p99-ms": {4.9}, "due-runs": {3000}},
				"integration/BenchmarkDrill/sigkill":      {"recovery-median-ms": {2700}, "recovery-max-ms": {3500}, "lost": {0}, "duplicates": {0}, "session-timeout-ms": {2000}},
			},
			iters: map[string][]int{"integration/BenchmarkDrill/sigkill": {3}},
		},
		{
			name: "metadata lines: the last of a key wins; horae logs and other key: value lines are not metadata",
			in: `horae-date: 2026-11-28T00:00:00Z
horae-loadavg-before: 0.5 0.4 0.3
horae-loadavg-after: 9 9 9
time=2026-11-28T00:00:01Z level=WARN msg="horae-x: y"
horae-loadavg-after: 1.0 0.9 0.8
goos: linux
`,
			figures: map[string]map[string][]float64{},
			meta:    map[string]string{"date": "2026-11-28T00:00:00Z", "loadavg-before": "0.5 0.4 0.3", "loadavg-after": "1.0 0.9 0.8"},
		},
		{
			name: "a malformed result line is a problem, not a figure; the rest still parses",
			in: `pkg: github.com/horae-scheduler/horae/store
BenchmarkZKLoad-2 1 fast s/load
BenchmarkBoltCommitBatch-2 184 12102149 ns/op 8266 records/s
`,
			figures: map[string]map[string][]float64{
				"store/BenchmarkBoltCommitBatch": {"ns/op": {12102149}, "records/s": {8266}},
			},
			problems: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := Parse(strings.NewReader(tt.in), "in.txt", module)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := run.Keys(), sortedKeys(tt.figures); !slices.Equal(got, want) {
				t.Fatalf("figures %q, want %q", got, want)
			}
			for key, units := range tt.figures {
				f := run.Figures[key]
				if len(f.Samples) != len(units) {
					t.Errorf("%s: units %v, want %d of them", key, f.Units, len(units))
				}
				for unit, want := range units {
					if got := f.Samples[unit]; !slices.Equal(got, want) {
						t.Errorf("%s %s: %v, want %v", key, unit, got, want)
					}
				}
			}
			for key, want := range tt.iters {
				if got := run.Figures[key].Iters; !slices.Equal(got, want) {
					t.Errorf("%s iterations %v, want %v", key, got, want)
				}
			}
			for k, want := range tt.meta {
				if got := run.Meta[k]; got != want {
					t.Errorf("meta %s = %q, want %q", k, got, want)
				}
			}
			if len(tt.meta) > 0 && len(run.Meta) != len(tt.meta) {
				t.Errorf("meta %v, want %v", run.Meta, tt.meta)
			}
			if len(run.Problems) != tt.problems {
				t.Errorf("problems %q, want %d", run.Problems, tt.problems)
			}
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := []string{}
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestTrimProcs(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkNext/fixed/iso/PT1M-2":    "BenchmarkNext/fixed/iso/PT1M",
		"BenchmarkApply/subscribers=100-16": "BenchmarkApply/subscribers=100",
		"BenchmarkApply/subscribers=100":    "BenchmarkApply/subscribers=100",
		"BenchmarkDrill/sigkill":            "BenchmarkDrill/sigkill",
		"BenchmarkX-":                       "BenchmarkX-",
		"Benchmark10k":                      "Benchmark10k",
	} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStat(t *testing.T) {
	tests := []struct {
		name    string
		samples []float64
		want    Stat
	}{
		{"one", []float64{7}, Stat{Median: 7, Min: 7, Max: 7, N: 1}},
		{"odd count: the middle one", []float64{9, 1, 5, 3, 7}, Stat{Median: 5, Min: 1, Max: 9, N: 5}},
		{"even count: mean of the middle two", []float64{4, 1, 3, 10}, Stat{Median: 3.5, Min: 1, Max: 10, N: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.samples)
			f := &Figure{Samples: map[string][]float64{"ns/op": tt.samples}}
			got, ok := f.Stat("ns/op")
			if !ok || got != tt.want {
				t.Errorf("Stat = %+v, %v; want %+v", got, ok, tt.want)
			}
			if !slices.Equal(tt.samples, before) {
				t.Errorf("Stat reordered the samples: %v, was %v", tt.samples, before)
			}
		})
	}
	if _, ok := (&Figure{Samples: map[string][]float64{}}).Stat("ns/op"); ok {
		t.Error("Stat of an absent unit: ok")
	}
}
