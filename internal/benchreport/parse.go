package benchreport

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// MetaPrefix starts the lines scripts/bench.sh writes about the machine and
// the command: "horae-<key>: <value>". They are also valid benchmark-format
// configuration lines, so benchstat reads the same file.
const MetaPrefix = "horae-"

// Run is one `make bench` output.
type Run struct {
	// Meta holds the "horae-<key>: <value>" lines by key (without the
	// prefix); when a key appears twice the last line wins, so a value
	// written after the benchmarks (load average after) can be read.
	Meta map[string]string
	// Figures holds every benchmark by Key.
	Figures map[string]*Figure
	// Problems lists result lines that did not parse, with their position.
	Problems []string
}

// Figure is one benchmark's results over the run's repetitions.
type Figure struct {
	// Key is "<package>/<benchmark name>": the package path relative to the
	// module, the name without its -GOMAXPROCS suffix, e.g.
	// "schedule/BenchmarkNext/fixed/iso/PT1M".
	Key string
	// Iters holds each result line's iteration count (for the failover
	// drills: the repetitions).
	Iters []int
	// Samples holds, per unit, one value per result line.
	Samples map[string][]float64
	// Units lists the units in the order the first result line gave them.
	Units []string
}

// testLogPrefix is what `go test -v` puts before a t.Log line
// ("    load_test.go:30: "); a benchmark line logged that way still counts.
var testLogPrefix = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: `)

// Parse reads raw `make bench` output. module is the module path, trimmed
// from the "pkg:" lines to make keys. Lines that are neither benchmark
// results, configuration nor metadata (test logs, PASS, ok …) are ignored.
func Parse(r io.Reader, name, module string) (*Run, error) {
	run := &Run{Meta: map[string]string{}, Figures: map[string]*Figure{}}
	var clean bytes.Buffer
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(k, MetaPrefix) && !strings.ContainsAny(k, " \t") {
			run.Meta[strings.TrimPrefix(k, MetaPrefix)] = strings.TrimSpace(v)
		}
		if loc := testLogPrefix.FindStringIndex(line); loc != nil && strings.HasPrefix(line[loc[1]:], "Benchmark") {
			line = line[loc[1]:]
		}
		clean.WriteString(line)
		clean.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("benchreport: read %s: %w", name, err)
	}
	br := benchfmt.NewReader(&clean, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			run.Problems = append(run.Problems, rec.Error())
		case *benchfmt.Result:
			run.add(rec, module)
		}
	}
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("benchreport: parse %s: %w", name, err)
	}
	return run, nil
}

func (run *Run) add(res *benchfmt.Result, module string) {
	pkg := strings.TrimPrefix(strings.TrimPrefix(res.GetConfig("pkg"), module), "/")
	// benchfmt drops the "Benchmark" prefix; keys keep it, so that a key
	// in the template can be searched for in the sources.
	key := "Benchmark" + trimProcs(res.Name.String())
	if pkg != "" {
		key = pkg + "/" + key
	}
	f := run.Figures[key]
	if f == nil {
		f = &Figure{Key: key, Samples: map[string][]float64{}}
		run.Figures[key] = f
	}
	f.Iters = append(f.Iters, res.Iters)
	for _, v := range res.Values {
		// Units as the benchmark printed them ("ns/op", not benchfmt's
		// tidied "sec/op"): the template names them as the sources do.
		unit, val := v.Unit, v.Value
		if v.OrigUnit != "" {
			unit, val = v.OrigUnit, v.OrigValue
		}
		if _, seen := f.Samples[unit]; !seen {
			f.Units = append(f.Units, unit)
		}
		f.Samples[unit] = append(f.Samples[unit], val)
	}
}

// trimProcs drops the "-<GOMAXPROCS>" suffix go test appends to benchmark
// names (as benchstat does): results of the same benchmark on machines of
// different sizes are compared by the page's header, not by name.
func trimProcs(name string) string {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i < len(name) && i > 0 && name[i-1] == '-' {
		return name[:i-1]
	}
	return name
}

// Keys returns every figure's key, sorted.
func (run *Run) Keys() []string {
	keys := make([]string, 0, len(run.Figures))
	for k := range run.Figures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Stat summarises one unit of a figure over the run's repetitions.
type Stat struct {
	Median, Min, Max float64
	N                int // samples
}

// Stat returns the median, minimum and maximum of unit; ok is false when
// the figure has no such unit.
func (f *Figure) Stat(unit string) (s Stat, ok bool) {
	vals := f.Samples[unit]
	if len(vals) == 0 {
		return Stat{}, false
	}
	v := slices.Clone(vals)
	slices.Sort(v)
	n := len(v)
	s = Stat{Min: v[0], Max: v[n-1], N: n, Median: v[n/2]}
	if n%2 == 0 {
		s.Median = (v[n/2-1] + v[n/2]) / 2
	}
	return s, true
}
