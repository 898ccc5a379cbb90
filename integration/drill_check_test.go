package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The drills' verdicts come from these functions, so they are tested on
// hand-made ledgers and run records: a drill that cannot see a lost or
// doubled run would pass for the wrong reason.

func TestCountOnce(t *testing.T) {
	base := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	slot := func(k int) string { return base.Add(time.Duration(k) * time.Second).Format(time.RFC3339Nano) }
	run := func(id string, k int, state string) runJSON {
		return runJSON{ID: id, ScheduledFor: slot(k), State: state}
	}
	line := func(id string, k int) string { return fmt.Sprintf("%s 0 %s 1764324000000000000", slot(k), id) }
	tests := []struct {
		name       string
		runs       []runJSON
		ledger     []string
		lost, dups int
	}{
		{"every slot once",
			[]runJSON{run("a", 0, "succeeded"), run("b", 1, "succeeded"), run("c", 2, "succeeded")},
			[]string{line("a", 0), line("b", 1), line("c", 2)}, 0, 0},
		{"two slots missing between records",
			[]runJSON{run("a", 0, "succeeded"), run("d", 3, "succeeded")},
			[]string{line("a", 0), line("d", 3)}, 2, 0},
		{"one slot with two runs",
			[]runJSON{run("a", 0, "succeeded"), run("b", 1, "succeeded"), run("b2", 1, "succeeded")},
			[]string{line("a", 0), line("b", 1), line("b2", 1)}, 0, 1},
		{"a command executed three times",
			[]runJSON{run("a", 0, "succeeded")},
			[]string{line("a", 0), line("a", 0), line("a", 0)}, 0, 2},
		{"succeeded without its command completing",
			[]runJSON{run("a", 0, "succeeded"), run("b", 1, "succeeded")},
			[]string{line("a", 0)}, 1, 0},
		{"failed runs need no ledger line",
			[]runJSON{run("a", 0, "succeeded"), run("b", 1, "failed")},
			[]string{line("a", 0)}, 0, 0},
		{"a command completed for a run the store forgot",
			[]runJSON{run("a", 0, "succeeded")},
			[]string{line("a", 0), line("ghost", 1)}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := countOnce(tt.runs, tt.ledger, time.Second)
			if o.lost != tt.lost || o.dups != tt.dups {
				t.Errorf("lost %d, duplicates %d; want %d, %d (problems: %q)", o.lost, o.dups, tt.lost, tt.dups, o.problems)
			}
			if (tt.lost+tt.dups == 0) != (len(o.problems) == 0) {
				t.Errorf("problems %q for %d lost, %d duplicates", o.problems, o.lost, o.dups)
			}
		})
	}
}

func TestRecoveredAfter(t *testing.T) {
	first := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	// started gives each slot k (first + k s) a start offset from its
	// scheduled time; a negative offset means the slot never started.
	ledger := func(offsets ...time.Duration) []string {
		var lines []string
		for k, d := range offsets {
			if d < 0 {
				continue
			}
			slot := first.Add(time.Duration(k) * time.Second)
			lines = append(lines, fmt.Sprintf("%s 0 run-%d %d", slot.Format(time.RFC3339Nano), k, slot.Add(d).UnixNano()))
		}
		return lines
	}
	t0 := first.Add(2*time.Second + 500*ms) // fault between slots 2 and 3
	tests := []struct {
		name   string
		lines  []string
		now    time.Time
		want   time.Duration
		wantOK bool
	}{
		{name: "runs never stopped", lines: ledger(100*ms, 100*ms, 100*ms, 100*ms, 100*ms, 100*ms),
			now: first.Add(7 * time.Second), want: 600 * ms, wantOK: true},
		{name: "two slots late, then on time", lines: ledger(100*ms, 100*ms, 100*ms, 2500*ms, 1600*ms, 200*ms, 150*ms, 100*ms),
			now: first.Add(9 * time.Second), want: 5*time.Second + 200*ms - 2500*ms, wantOK: true},
		{name: "slots never launched count as late", lines: ledger(100*ms, 100*ms, 100*ms, -1, -1, 300*ms, 100*ms, 100*ms),
			now: first.Add(9 * time.Second), want: 5*time.Second + 300*ms - 2500*ms, wantOK: true},
		{name: "one held offer launches one run, then nothing", lines: ledger(100*ms, 100*ms, 100*ms, 100*ms, -1, -1),
			now: first.Add(7 * time.Second), wantOK: false},
		{name: "streak not complete yet", lines: ledger(100*ms, 100*ms, 100*ms, 3*time.Second, 100*ms, 100*ms),
			now: first.Add(6*time.Second + 500*ms), wantOK: false},
		{name: "a retry's later start does not hide the first attempt's", lines: append(ledger(100*ms, 100*ms, 100*ms, 100*ms, 100*ms, 100*ms),
			fmt.Sprintf("%s 1 run-3 %d", first.Add(3*time.Second).Format(time.RFC3339Nano), first.Add(9*time.Second).UnixNano())),
			now: first.Add(7 * time.Second), want: 600 * ms, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := recoveredAfter(tt.lines, first, t0, tt.now, time.Second)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("recoveredAfter = %v, %v; want %v, %v\nledger:\n%s", got, ok, tt.want, tt.wantOK, strings.Join(tt.lines, "\n"))
			}
		})
	}
}

func TestDrillBenchLine(t *testing.T) {
	s := drillStats{name: "sigkill-leader", recoveries: []time.Duration{3 * time.Second, 1 * time.Second, 2 * time.Second, 10 * time.Second},
		lost: 1, dups: 2, sessionTimeout: 2 * time.Second}
	want := "BenchmarkDrill/sigkill-leader 4 2500 recovery-median-ms 10000 recovery-max-ms 1 lost 2 duplicates 2000 session-timeout-ms"
	if got := s.benchLine(); got != want {
		t.Errorf("benchLine:\n got %s\nwant %s", got, want)
	}
	if got := (drillStats{name: "none"}).benchLine(); got != "BenchmarkDrill/none 0 0 recovery-median-ms 0 recovery-max-ms 0 lost 0 duplicates 0 session-timeout-ms" {
		t.Errorf("benchLine without repetitions: %s", got)
	}
}
