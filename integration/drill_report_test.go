package integration

import (
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// drillPeriod is the period of every drill's job: one run per second.
const drillPeriod = time.Second

// drillCount reads a repetition count from the environment variable name
// (HORAE_DRILL_REPEAT for every drill, HORAE_DRILL_FAILOVERS for the
// SIGKILL drill), def when it is unset. `make test` leaves them unset so it
// stays fast; `make drill` sets them.
func drillCount(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a whole number ≥ 1", name, s)
	}
	return n
}

// drillRepeat is how many times each drill disrupts its cluster.
func drillRepeat(t testing.TB) int { return drillCount(t, "HORAE_DRILL_REPEAT", 1) }

// drillStats is what one drill measured over all its repetitions.
type drillStats struct {
	name           string
	recoveries     []time.Duration // one per repetition
	lost, dups     int             // totals over the whole drill
	sessionTimeout time.Duration   // ZooKeeper session timeout; 0 without ZooKeeper
}

// benchLine is the drill's machine-readable result, in the shape of a Go
// benchmark line so that `make bench`'s report tool reads it with the
// benchmark figures:
//
//	BenchmarkDrill/<name> <reps> <median-ms> recovery-median-ms <max-ms> recovery-max-ms <lost> lost <dups> duplicates <ms> session-timeout-ms
func (s drillStats) benchLine() string {
	med, maxi := durationStats(s.recoveries)
	return fmt.Sprintf("BenchmarkDrill/%s %d %d recovery-median-ms %d recovery-max-ms %d lost %d duplicates %d session-timeout-ms",
		s.name, len(s.recoveries), med.Milliseconds(), maxi.Milliseconds(), s.lost, s.dups, s.sessionTimeout.Milliseconds())
}

// report prints the bench line on stdout (fmt, not t.Log: the report tool
// reads `go test -v` output, where t.Log lines are indented and prefixed)
// and the recoveries in the test log.
func (s drillStats) report(t testing.TB) {
	t.Helper()
	rounded := make([]time.Duration, len(s.recoveries))
	for i, d := range s.recoveries {
		rounded[i] = d.Round(10 * time.Millisecond)
	}
	t.Logf("%s: recoveries %v, %d lost, %d duplicates", s.name, rounded, s.lost, s.dups)
	fmt.Printf("%s\n", s.benchLine())
}

// durationStats returns the median (the mean of the middle two for an even
// count) and the maximum of ds; zeros for none.
func durationStats(ds []time.Duration) (median, maxi time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[n-1]
}

// onceOutcome counts what broke the exactly-once promise, with one line
// per problem for the test's errors.
type onceOutcome struct {
	lost, dups int
	problems   []string
}

func (o *onceOutcome) add(lost, dups int, format string, args ...any) {
	o.lost += lost
	o.dups += dups
	o.problems = append(o.problems, fmt.Sprintf(format, args...))
}

// countOnce compares a job's run records with its ledger (one line
// "<scheduled time> <attempt> <run id> [<unix ns>]" per command that
// completed) and
// counts:
//   - lost runs: slots missing between the earliest recorded slot and the
//     latest one, runs recorded as succeeded whose
//     command never completed, and commands that completed for a run the
//     store has no record of;
//   - duplicate runs: extra run records for one slot, and extra executions
//     of one run's command.
func countOnce(runs []runJSON, ledger []string, period time.Duration) onceOutcome {
	var o onceOutcome
	slots := map[string]int{}
	recorded := map[string]bool{}
	for _, r := range runs {
		slots[r.ScheduledFor]++
		recorded[r.ID] = true
	}
	var times []time.Time
	for s, n := range slots {
		if n != 1 {
			o.add(0, n-1, "slot %s has %d runs, want 1", s, n)
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			o.add(0, 0, "run scheduledFor %q: %v", s, err)
			continue
		}
		times = append(times, ts)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(times); i++ {
		gap := times[i].Sub(times[i-1])
		if gap == period {
			continue
		}
		missing := int(math.Round(float64(gap)/float64(period))) - 1
		if missing < 0 {
			missing = 0
		}
		o.add(missing, 0, "slots %s and %s are %v apart: %d slot(s) lost", times[i-1].Format(time.RFC3339Nano), times[i].Format(time.RFC3339Nano), gap, missing)
	}
	ran := map[string]int{}
	for _, line := range ledger {
		f := strings.Fields(line)
		if len(f) < 3 {
			o.add(0, 0, "ledger line %q: want <scheduled time> <attempt> <run id> [<unix ns>]", line)
			continue
		}
		ran[f[2]]++
	}
	for _, id := range slices.Sorted(maps.Keys(ran)) {
		if n := ran[id]; n != 1 {
			o.add(0, n-1, "run %s executed %d times, want once", id, n)
		}
		if !recorded[id] {
			o.add(1, 0, "run %s executed but the store has no record of it (lost, or pruned by the job history limit)", id)
		}
	}
	for _, r := range runs {
		if r.State == "succeeded" && ran[r.ID] == 0 {
			o.add(1, 0, "run %s succeeded but its command never completed", r.ID)
		}
	}
	return o
}

// onTimeRuns is how many consecutive slots must start on time before a
// drill counts its cluster as recovered.
const onTimeRuns = 3

// recoveredAfter reads a started ledger (lines "<scheduled time> <attempt>
// <run id> <unix ns>", the last field written by the command as it starts)
// of a job whose slots are first + k·period, and returns how long after
// t0 runs were on time again: the start of the first slot after t0 that
// began a streak of onTimeRuns slots each started within one period of its
// scheduled time, with every slot between t0 and it late or missing. It
// reports false until such a streak exists (now decides which slots are
// overdue). A slot whose run started late only because the fault was
// still on counts as late: recovery is when the schedule is kept again,
// not the first launch (one offer held across a silent master launches
// one run, and no more).
func recoveredAfter(lines []string, first, t0, now time.Time, period time.Duration) (time.Duration, bool) {
	started := map[time.Time]time.Time{} // slot → first start of any attempt
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		slot, err1 := time.Parse(time.RFC3339Nano, f[0])
		ns, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		at := time.Unix(0, ns)
		if prev, ok := started[slot]; !ok || at.Before(prev) {
			started[slot] = at
		}
	}
	k := int64(0)
	if !t0.Before(first) {
		k = int64(t0.Sub(first)/period) + 1
	}
	var streakStart time.Time
	streak := 0
	for slot := first.Add(time.Duration(k) * period); slot.Before(now); slot = slot.Add(period) {
		at, ok := started[slot]
		switch {
		case ok && at.Sub(slot) <= period: // on time
			if streak == 0 {
				streakStart = at
			}
			streak++
			if streak == onTimeRuns {
				return streakStart.Sub(t0), true
			}
		case !ok && now.Sub(slot) <= period: // not started, not late yet
			return 0, false
		default: // late, or never started
			streak = 0
		}
	}
	return 0, false
}
