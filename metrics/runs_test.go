package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/horae-scheduler/horae/scheduler"
)

func put(id string, state scheduler.RunState, attempt int) scheduler.Record {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := scheduler.Run{ID: scheduler.RunID(id), Job: "j", Trigger: scheduler.TriggerSchedule, State: state, Attempt: attempt}
	if state.Terminal() && state != scheduler.RunSkipped {
		r.StartedAt, r.FinishedAt = t0, t0.Add(3*time.Second)
	}
	if state == scheduler.RunSkipped {
		r.Reason = "forbid"
	}
	return scheduler.PutRun{Run: r}
}

func TestRunsCountsEachEndOnce(t *testing.T) {
	tests := []struct {
		name                       string
		batches                    [][]scheduler.Record
		succeeded, failed, skipped float64
		retries, pending, running  float64
	}{
		{
			name: "a run's life",
			batches: [][]scheduler.Record{
				{put("a", scheduler.RunPending, 0)},
				{put("a", scheduler.RunLaunching, 0)},
				{put("a", scheduler.RunRunning, 0)},
				{put("a", scheduler.RunSucceeded, 0)},
			},
			succeeded: 1,
		},
		{
			name: "re-sent terminal updates are not counted again",
			batches: [][]scheduler.Record{
				{put("a", scheduler.RunRunning, 0)},
				{put("a", scheduler.RunFailed, 0)},
				{put("a", scheduler.RunFailed, 0)},
			},
			failed: 1,
		},
		{
			name: "retries count attempts; the retry waits as pending",
			batches: [][]scheduler.Record{
				{put("a", scheduler.RunRunning, 0)},
				{put("a", scheduler.RunPending, 1)},
				{put("b", scheduler.RunRunning, 0)},
			},
			retries: 1, pending: 1, running: 1,
		},
		{
			name:    "a skipped slot is born terminal and counts",
			batches: [][]scheduler.Record{{put("s", scheduler.RunSkipped, 0)}},
			skipped: 1,
		},
		{
			name: "pruned active runs leave the gauges",
			batches: [][]scheduler.Record{
				{put("a", scheduler.RunRunning, 0)},
				{scheduler.DeleteRun{Job: "j", ID: "a"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			r, err := NewRuns(reg, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range tt.batches {
				r.Apply(b)
			}
			check := func(what string, got, want float64) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("succeeded", testutil.ToFloat64(r.finished.WithLabelValues("succeeded", "schedule")), tt.succeeded)
			check("failed", testutil.ToFloat64(r.finished.WithLabelValues("failed", "schedule")), tt.failed)
			check("skipped", testutil.ToFloat64(r.skipped.WithLabelValues("forbid")), tt.skipped)
			check("retries", testutil.ToFloat64(r.retries), tt.retries)
			check("pending", testutil.ToFloat64(r.pending), tt.pending)
			check("running", testutil.ToFloat64(r.running), tt.running)
			if got := testutil.CollectAndCount(r.started); got != 1 {
				t.Errorf("start lateness series = %d, want 1", got)
			}
		})
	}
}

func TestRunsJobsByStateAndReset(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r, err := NewRuns(reg, true)
	if err != nil {
		t.Fatal(err)
	}
	r.Reset(scheduler.State{
		Jobs: []scheduler.Job{{Name: "a"}, {Name: "b", Disabled: true}},
		Runs: []scheduler.Run{{ID: "x", State: scheduler.RunRunning}, {ID: "y", State: scheduler.RunSucceeded}},
	})
	r.Apply([]scheduler.Record{
		scheduler.PutJob{Job: scheduler.Job{Name: "a", Disabled: true}},
		scheduler.PutJob{Job: scheduler.Job{Name: "c"}},
		scheduler.DeleteJob{Name: "b"},
		put("x", scheduler.RunSucceeded, 0),
	})
	if got := testutil.ToFloat64(r.jobsState.WithLabelValues("enabled")); got != 1 {
		t.Errorf("enabled jobs = %v, want 1 (c)", got)
	}
	if got := testutil.ToFloat64(r.jobsState.WithLabelValues("disabled")); got != 1 {
		t.Errorf("disabled jobs = %v, want 1 (a)", got)
	}
	if got := testutil.ToFloat64(r.perJobRun.WithLabelValues("j", "succeeded")); got != 1 {
		t.Errorf("per-job succeeded = %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.running); got != 0 {
		t.Errorf("running = %v after the restored run ended, want 0", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Fatalf("gathered %d series, err %v", n, err)
	}
}

func TestRunsObservesStartLatenessOncePerRun(t *testing.T) {
	r, err := NewRuns(prometheus.NewPedanticRegistry(), false)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	running := scheduler.Run{ID: "a", State: scheduler.RunRunning, ScheduledFor: t0, StartedAt: t0.Add(2 * time.Second)}
	r.Apply([]scheduler.Record{put("a", scheduler.RunLaunching, 0)})
	r.Apply([]scheduler.Record{scheduler.PutRun{Run: running}})
	r.Apply([]scheduler.Record{scheduler.PutRun{Run: running}}) // re-sent RUNNING
	want := `
# HELP horae_schedule_start_lateness_seconds Seconds from a run's scheduled time to its first task reported running.
# TYPE horae_schedule_start_lateness_seconds histogram
horae_schedule_start_lateness_seconds_bucket{le="0.001"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.0025"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.005"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.01"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.025"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.05"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.1"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.25"} 0
horae_schedule_start_lateness_seconds_bucket{le="0.5"} 0
horae_schedule_start_lateness_seconds_bucket{le="1"} 0
horae_schedule_start_lateness_seconds_bucket{le="2.5"} 1
horae_schedule_start_lateness_seconds_bucket{le="5"} 1
horae_schedule_start_lateness_seconds_bucket{le="10"} 1
horae_schedule_start_lateness_seconds_bucket{le="30"} 1
horae_schedule_start_lateness_seconds_bucket{le="60"} 1
horae_schedule_start_lateness_seconds_bucket{le="300"} 1
horae_schedule_start_lateness_seconds_bucket{le="900"} 1
horae_schedule_start_lateness_seconds_bucket{le="+Inf"} 1
horae_schedule_start_lateness_seconds_sum 2
horae_schedule_start_lateness_seconds_count 1
`
	if err := testutil.CollectAndCompare(r.started, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
