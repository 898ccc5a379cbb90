package benchreport

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// Template is the page's template: the prose of docs/benchmarks.md with
// the figures left as calls to the functions of [Render].
//
//go:embed benchmarks.md.tmpl
var Template string

// Text the page shows where a figure or a verdict is missing.
const (
	NotRun      = "not run"
	NotMeasured = "not measured"
)

// Render executes tmpl over run and writes the page to w. The template
// sees the Run as dot and these functions (key is a [Figure.Key], unit a
// benchmark unit such as "ns/op"):
//
//	fig key unit       median with (min–max), durations scaled; NotRun if absent
//	val key unit       the median as a number; NaN if absent
//	iters key          the median iteration count (a drill's repetitions)
//	num x / dur x unit a number, or a duration given in unit ("ns", "ms", "s")
//	ratio a b          a/b as "12.3×"
//	add, sub, mul, div arithmetic on two numbers (NaN stays NaN)
//	check x op limit   "met", "**not met**" or NotMeasured; op is <, <=, >, >= or ==
//	meta key           a "horae-<key>" line of the run, or "unknown"
//	drills             the failover drills (BenchmarkDrill/<name>) in the run
//	others             every figure the template has not used so far
//
// Every call of fig or val marks its figure as used, so that others, at
// the end of the page, lists what the prose does not discuss. missing
// lists, sorted, the "<key> <unit>" pairs the template asked for and the
// run did not have: a benchmark not run, or renamed without the template.
func Render(w io.Writer, tmpl string, run *Run) (missing []string, err error) {
	used := map[string]bool{}
	absent := map[string]bool{}
	stat := func(key, unit string) (Stat, bool) {
		used[key] = true
		f := run.Figures[key]
		if f == nil {
			absent[key+" "+unit] = true
			return Stat{}, false
		}
		s, ok := f.Stat(unit)
		if !ok {
			absent[key+" "+unit] = true
		}
		return s, ok
	}
	funcs := template.FuncMap{
		"fig": func(key, unit string) string {
			s, ok := stat(key, unit)
			if !ok {
				return NotRun
			}
			return formatStat(s, unit)
		},
		"val": func(key, unit string) float64 {
			s, ok := stat(key, unit)
			if !ok {
				return math.NaN()
			}
			return s.Median
		},
		"iters": func(key string) string {
			used[key] = true
			f := run.Figures[key]
			if f == nil {
				absent[key] = true
				return NotRun
			}
			it := slices.Clone(f.Iters)
			slices.Sort(it)
			return strconv.Itoa(it[len(it)/2])
		},
		"num": formatNum,
		"dur": func(x float64, unit string) (string, error) {
			scale, ok := unitNanos[unit]
			if !ok {
				return "", fmt.Errorf("dur: unit %q: want ns, µs, ms or s", unit)
			}
			return formatDuration(x*scale, x*scale, x*scale, 1), nil
		},
		"ratio": func(a, b float64) string {
			if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
				return "–"
			}
			return formatNum(a/b) + "×"
		},
		"add":   func(a, b float64) float64 { return a + b },
		"sub":   func(a, b float64) float64 { return a - b },
		"mul":   func(a, b float64) float64 { return a * b },
		"div":   func(a, b float64) float64 { return a / b },
		"check": check,
		"meta": func(key string) string {
			if v := run.Meta[key]; v != "" {
				return v
			}
			return "unknown"
		},
		"drills": func() []Drill { return drills(run) },
		"others": func() []Other { return others(run, used) },
	}
	t, err := template.New("benchmarks.md").Funcs(funcs).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("benchreport: parse template: %w", err)
	}
	if err := t.Execute(w, run); err != nil {
		return nil, fmt.Errorf("benchreport: render: %w", err)
	}
	for k := range absent {
		missing = append(missing, k)
	}
	slices.Sort(missing)
	return missing, nil
}

// check compares a measured x with a target limit. A missing figure (NaN
// on either side) is NotMeasured rather than a failed target.
func check(x float64, op string, limit float64) (string, error) {
	if math.IsNaN(x) || math.IsNaN(limit) {
		return NotMeasured, nil
	}
	var met bool
	switch op {
	case "<":
		met = x < limit
	case "<=":
		met = x <= limit
	case ">":
		met = x > limit
	case ">=":
		met = x >= limit
	case "==":
		met = x == limit
	default:
		return "", fmt.Errorf("check: operator %q: want <, <=, >, >= or ==", op)
	}
	if met {
		return "met", nil
	}
	return "**not met**", nil
}

// Drill is one failover drill of the run: Key is its figure,
// "integration/BenchmarkDrill/<Name>".
type Drill struct{ Key, Name string }

func drills(run *Run) []Drill {
	var ds []Drill
	for _, k := range run.Keys() {
		if name, ok := strings.CutPrefix(k, "integration/BenchmarkDrill/"); ok {
			ds = append(ds, Drill{Key: k, Name: name})
		}
	}
	return ds
}

// Other is a figure the template's prose does not use, with every unit
// formatted as by fig.
type Other struct {
	Key     string
	Figures []string // "<unit>: <fig>"
}

func others(run *Run, used map[string]bool) []Other {
	var os []Other
	for _, k := range run.Keys() {
		if used[k] {
			continue
		}
		f := run.Figures[k]
		o := Other{Key: k}
		for _, u := range f.Units {
			s, _ := f.Stat(u)
			o.Figures = append(o.Figures, u+": "+formatStat(s, u))
		}
		os = append(os, o)
	}
	return os
}

// unitNanos is the length of a time unit in nanoseconds.
var unitNanos = map[string]float64{"ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}

// durationScale reports whether a benchmark unit measures time and the
// length of its time unit in nanoseconds: "ns/op", "cpu-ms/op",
// "p99-ms", "ms-median", "s/load" do; rates ("req/s") and counts do not.
func durationScale(unit string) (float64, bool) {
	if strings.HasSuffix(unit, "/s") {
		return 0, false
	}
	for _, tok := range strings.FieldsFunc(unit, func(r rune) bool { return r == '/' || r == '-' }) {
		if ns, ok := unitNanos[tok]; ok {
			return ns, true
		}
	}
	return 0, false
}

// formatStat is "median (min–max)", durations in the median's scale; the
// range is left out for a single sample or when it is one value.
func formatStat(s Stat, unit string) string {
	if ns, ok := durationScale(unit); ok {
		return formatDuration(s.Median*ns, s.Min*ns, s.Max*ns, s.N)
	}
	if s.N < 2 {
		return formatNum(s.Median)
	}
	return formatNum(s.Median) + formatRange(s.Min, s.Max)
}

// formatRange is " (lo–hi)", or " (lo to hi)" when a bound is negative
// (an en dash before a minus sign reads as a double minus); "" when both
// bounds read the same.
func formatRange(lo, hi float64) string {
	a, b := formatNum(lo), formatNum(hi)
	switch {
	case a == b:
		return ""
	case lo < 0 || hi < 0:
		return fmt.Sprintf(" (%s to %s)", a, b)
	}
	return fmt.Sprintf(" (%s–%s)", a, b)
}

func formatDuration(med, lo, hi float64, n int) string {
	unit, scale := "ns", 1.0
	for _, u := range []struct {
		name string
		ns   float64
	}{{"s", 1e9}, {"ms", 1e6}, {"µs", 1e3}} {
		if math.Abs(med) >= u.ns {
			unit, scale = u.name, u.ns
			break
		}
	}
	out := formatNum(med/scale) + " " + unit
	if n >= 2 {
		out += formatRange(lo/scale, hi/scale)
	}
	return out
}

// formatNum gives three significant digits at most (all integer digits,
// grouped by thousands, from 100 on), whole numbers without decimals; "–"
// for NaN.
func formatNum(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return "–"
	case a >= 100 || x == math.Trunc(x):
		return groupThousands(strconv.FormatFloat(math.Round(x), 'f', 0, 64))
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	default:
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
}

func groupThousands(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	var parts []string
	for len(digits) > 3 {
		parts = append(parts, digits[len(digits)-3:])
		digits = digits[:len(digits)-3]
	}
	parts = append(parts, digits)
	slices.Reverse(parts)
	return sign + strings.Join(parts, ",")
}
