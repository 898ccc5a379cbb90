package benchreport

import (
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestFormatStat(t *testing.T) {
	tests := []struct {
		name string
		s    Stat
		unit string
		want string
	}{
		{"nanoseconds with range", Stat{Median: 143, Min: 112, Max: 160.4, N: 5}, "ns/op", "143 ns (112–160)"},
		{"ns/op scaled to ms", Stat{Median: 84.7e6, Min: 24.2e6, Max: 101e6, N: 5}, "ns/op", "84.7 ms (24.2–101)"},
		{"ns/op scaled to s", Stat{Median: 1.6465e9, Min: 1.6465e9, Max: 1.6465e9, N: 3}, "ns/op", "1.65 s"},
		{"ms unit prefix", Stat{Median: 112, Min: 56, Max: 130, N: 3}, "ms-median", "112 ms (56–130)"},
		{"ms unit suffix, under a millisecond", Stat{Median: 0.5, Min: 0.5, Max: 0.5, N: 1}, "p99-ms", "500 µs"},
		{"cpu-ms/op", Stat{Median: 58, Min: 46, Max: 85, N: 10}, "cpu-ms/op", "58 ms (46–85)"},
		{"seconds", Stat{Median: 8.05, Min: 8, Max: 8.1, N: 2}, "s/load", "8.05 s (8–8.10)"},
		{"a rate is not a duration", Stat{Median: 3098, Min: 2900, Max: 3379, N: 5}, "req/s", "3,098 (2,900–3,379)"},
		{"a count", Stat{Median: 0, Min: 0, Max: 0, N: 5}, "allocs/op", "0"},
		{"one sample: no range", Stat{Median: 1408, Min: 1408, Max: 1408, N: 1}, "B/job", "1,408"},
		{"negative durations", Stat{Median: -199.4, Min: -199.43, Max: -197.2, N: 3}, "placed-p50-ms", "-199 ms (-199 to -197)"},
		{"a range that reads as one value", Stat{Median: -199.4, Min: -199.43, Max: -199.2, N: 3}, "placed-p50-ms", "-199 ms"},
		{"fractions", Stat{Median: 2.9, Min: 0.123, Max: 16, N: 3}, "MiB-executor-anon", "2.90 (0.123–16)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatStat(tt.s, tt.unit); got != tt.want {
				t.Errorf("formatStat(%+v, %q) = %q, want %q", tt.s, tt.unit, got, tt.want)
			}
		})
	}
}

func TestFormatNum(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {84, "84"}, {1.5, "1.50"}, {12.34, "12.3"}, {84.5, "84.5"}, {999.6, "1,000"}, {1234567, "1,234,567"},
		{-2500, "-2,500"}, {0.0456, "0.0456"}, {math.NaN(), "–"},
	} {
		if got := formatNum(tt.x); got != tt.want {
			t.Errorf("formatNum(%v) = %q, want %q", tt.x, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		x     float64
		op    string
		limit float64
		want  string
	}{
		{143, "<", 200, "met"},
		{200, "<", 200, "**not met**"},
		{200, "<=", 200, "met"},
		{0, "==", 0, "met"},
		{1, "==", 0, "**not met**"},
		{3000, ">=", 3000, "met"},
		{2999, ">=", 3000, "**not met**"},
		{5, ">", 4, "met"},
		{nan, "<", 200, NotMeasured},
		{100, "<=", nan, NotMeasured},
	}
	for _, tt := range tests {
		got, err := check(tt.x, tt.op, tt.limit)
		if err != nil || got != tt.want {
			t.Errorf("check(%v %s %v) = %q, %v; want %q", tt.x, tt.op, tt.limit, got, err, tt.want)
		}
	}
	if _, err := check(1, "≤", 2); err == nil || !strings.Contains(err.Error(), `"≤"`) {
		t.Errorf("check with an unknown operator: err %v, want one naming it", err)
	}
}

// TestRenderSample renders the page's template over a recorded run that
// has every benchmark: every placeholder must be filled, with no figure
// missing, and every figure of the run must appear.
func TestRenderSample(t *testing.T) {
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := Parse(f, "testdata/sample.txt", module)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Problems) > 0 {
		t.Errorf("sample has result lines that do not parse: %q", run.Problems)
	}
	var page strings.Builder
	missing, err := Render(&page, Template, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("the template asks for figures the sample run does not have (renamed benchmarks?):\n%s", strings.Join(missing, "\n"))
	}
	out := page.String()
	for _, bad := range []string{NotRun, NotMeasured, "<no value>", "NaN", "unknown", "{{", "}}"} {
		if strings.Contains(out, bad) {
			t.Errorf("page contains %q:\n%s", bad, context(out, bad))
		}
	}
	for key := range run.Figures {
		// Every figure is on the page: in the prose's tables or under
		// "Other benchmarks".
		if name, ok := strings.CutPrefix(key, "integration/BenchmarkDrill/"); ok {
			if !strings.Contains(out, "| "+name+" |") {
				t.Errorf("drill %s has no row", name)
			}
			continue
		}
		if !strings.Contains(out, key) && !usedBy(Template, key) {
			t.Errorf("figure %s is not on the page", key)
		}
	}
	for _, want := range []string{
		"| commit | `" + run.Meta["commit"] + "` |",
		"| load average (1, 5, 15 min) | before: " + run.Meta["loadavg-before"] + "; after: " + run.Meta["loadavg-after"] + " |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Markdown tables: every row of a table has its header's column count.
	checkTables(t, out)
}

// usedBy reports whether the template names key, directly or as one of the
// prefixes it builds names from.
func usedBy(tmpl, key string) bool {
	for _, m := range regexp.MustCompile(`"([a-z]+/[^" ]*)"`).FindAllStringSubmatch(tmpl, -1) {
		if strings.HasPrefix(key, m[1]) {
			return true
		}
	}
	return false
}

func checkTables(t *testing.T, page string) {
	t.Helper()
	cols := 0
	for i, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|") - strings.Count(line, "\\|")
		if cols == 0 {
			cols = n
			continue
		}
		if n != cols {
			t.Errorf("line %d has %d cells, its table %d: %s", i+1, n-1, cols-1, line)
		}
	}
}

func context(s, sub string) string {
	i := strings.Index(s, sub)
	return s[max(0, i-200):min(len(s), i+200)]
}

// TestRenderEmpty: a run that measured nothing still renders, saying so.
func TestRenderEmpty(t *testing.T) {
	run, err := Parse(strings.NewReader("horae-commit: abc1234\n"), "empty", module)
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	missing, err := Render(&page, Template, run)
	if err != nil {
		t.Fatal(err)
	}
	out := page.String()
	if len(missing) == 0 {
		t.Error("nothing reported missing from an empty run")
	}
	for _, want := range []string{
		"| SIGKILL of the leader | not run |",
		"| fixed: every minute, start 2000 | `R/2000-01-01T00:00:00Z/PT1M` | not run |",
		"PT1M " + NotMeasured,
		"| (none) | |",
		"| commit | `abc1234` |",
		"| date | unknown |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`.*\bmet\b.*`).FindString(out); m != "" {
		t.Errorf("an empty run has a verdict: %s", m)
	}
}

func TestRenderErrors(t *testing.T) {
	run := &Run{Meta: map[string]string{}, Figures: map[string]*Figure{}}
	for name, tmpl := range map[string]string{
		"template syntax":   "{{ fig ",
		"unknown operator":  `{{ check 1.0 "≤" 2.0 }}`,
		"unknown time unit": `{{ dur 1.0 "h" }}`,
		"unknown function":  `{{ median "x" }}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Render(&strings.Builder{}, tmpl, run); err == nil {
				t.Errorf("Render(%q): no error", tmpl)
			}
		})
	}
}
