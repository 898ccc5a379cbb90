package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/scheduler"
)

// Runs watches committed records and keeps the run and job series.
type Runs struct {
	perJob bool

	mu       sync.Mutex
	active   map[scheduler.RunID]runState // non-terminal runs
	jobs     map[string]bool              // name → disabled
	npending int                          // active runs in state pending
	ndisable int                          // disabled jobs

	finished  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	started   prometheus.Histogram
	retries   prometheus.Counter
	skipped   *prometheus.CounterVec
	pending   prometheus.Gauge
	running   prometheus.Gauge
	jobsState *prometheus.GaugeVec
	perJobRun *prometheus.CounterVec // nil unless perJob
}

type runState struct {
	state   scheduler.RunState
	attempt int
}

// NewRuns registers the series on reg. With perJob, runs finished are also
// counted per job name (cardinality grows with the number of jobs, so it
// is off by default).
func NewRuns(reg prometheus.Registerer, perJob bool) (*Runs, error) {
	r := &Runs{
		perJob: perJob,
		active: map[scheduler.RunID]runState{},
		jobs:   map[string]bool{},
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_runs_finished_total",
			Help: "Runs that reached a terminal state, by outcome (succeeded, failed, killed, skipped) and trigger.",
		}, []string{"outcome", "trigger"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "horae_run_duration_seconds",
			Help:    "Seconds from a run's start to its end, by outcome.",
			Buckets: []float64{.1, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}, []string{"outcome"}),
		started: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "horae_schedule_start_lateness_seconds",
			Help:    "Seconds from a run's scheduled time to its first task reported running.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_run_retries_total",
			Help: "Retry attempts started.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_slots_skipped_total",
			Help: "Schedule slots recorded as skipped, by reason.",
		}, []string{"reason"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "horae_runs_pending",
			Help: "Runs waiting to be launched (including retries waiting for their delay).",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "horae_runs_running",
			Help: "Runs launched and not yet ended.",
		}),
		jobsState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "horae_jobs",
			Help: "Jobs by state (enabled, disabled).",
		}, []string{"state"}),
	}
	cs := []prometheus.Collector{r.finished, r.duration, r.started, r.retries, r.skipped, r.pending, r.running, r.jobsState}
	if perJob {
		r.perJobRun = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_job_runs_finished_total",
			Help: "Runs finished per job and outcome (enabled by --metrics-per-job).",
		}, []string{"job", "outcome"})
		cs = append(cs, r.perJobRun)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Reset starts from the state a new term loaded: counters keep counting,
// gauges are recomputed.
func (r *Runs) Reset(state scheduler.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active, r.npending = map[scheduler.RunID]runState{}, 0
	for _, run := range state.Runs {
		if !run.State.Terminal() {
			r.setActive(run.ID, runState{state: run.State, attempt: run.Attempt})
		}
	}
	r.jobs, r.ndisable = map[string]bool{}, 0
	for _, j := range state.Jobs {
		r.setJob(j.Name, j.Disabled)
	}
	r.updateGauges()
}

// Apply counts what a committed batch changed.
func (r *Runs) Apply(records []scheduler.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range records {
		switch rec := rec.(type) {
		case scheduler.PutJob:
			r.setJob(rec.Job.Name, rec.Job.Disabled)
		case scheduler.DeleteJob:
			r.deleteJob(rec.Name)
		case scheduler.PutRun:
			r.putRun(rec.Run)
		case scheduler.DeleteRun:
			r.deleteActive(rec.ID)
		}
	}
	r.updateGauges()
}

func (r *Runs) putRun(run scheduler.Run) {
	prev, known := r.active[run.ID]
	if !run.State.Terminal() {
		if run.State == scheduler.RunRunning && (!known || prev.state != scheduler.RunRunning) &&
			run.Attempt == 0 && !run.StartedAt.IsZero() && !run.ScheduledFor.IsZero() {
			r.started.Observe(run.StartedAt.Sub(run.ScheduledFor).Seconds())
		}
		if known && run.Attempt > prev.attempt {
			r.retries.Add(float64(run.Attempt - prev.attempt))
		}
		r.setActive(run.ID, runState{state: run.State, attempt: run.Attempt})
		return
	}
	// A terminal record for a run we did not see active is either a
	// re-send of an already counted end, or a run born terminal (a skipped
	// slot). Only the latter counts.
	if !known && run.State != scheduler.RunSkipped {
		return
	}
	r.deleteActive(run.ID)
	outcome := string(run.State)
	r.finished.WithLabelValues(outcome, string(run.Trigger)).Inc()
	if r.perJobRun != nil {
		r.perJobRun.WithLabelValues(run.Job, outcome).Inc()
	}
	if run.State == scheduler.RunSkipped {
		reason := run.Reason
		if reason == "" {
			reason = "unknown"
		}
		r.skipped.WithLabelValues(reason).Inc()
		return
	}
	if !run.StartedAt.IsZero() && !run.FinishedAt.IsZero() {
		r.duration.WithLabelValues(outcome).Observe(run.FinishedAt.Sub(run.StartedAt).Seconds())
	}
}

// setActive, deleteActive, setJob and deleteJob keep the counts behind the
// gauges incrementally: a commit costs O(records), never O(jobs).
func (r *Runs) setActive(id scheduler.RunID, st runState) {
	r.deleteActive(id)
	r.active[id] = st
	if st.state == scheduler.RunPending {
		r.npending++
	}
}

func (r *Runs) deleteActive(id scheduler.RunID) {
	if old, ok := r.active[id]; ok {
		if old.state == scheduler.RunPending {
			r.npending--
		}
		delete(r.active, id)
	}
}

func (r *Runs) setJob(name string, disabled bool) {
	r.deleteJob(name)
	r.jobs[name] = disabled
	if disabled {
		r.ndisable++
	}
}

func (r *Runs) deleteJob(name string) {
	if d, ok := r.jobs[name]; ok {
		if d {
			r.ndisable--
		}
		delete(r.jobs, name)
	}
}

func (r *Runs) updateGauges() {
	r.pending.Set(float64(r.npending))
	r.running.Set(float64(len(r.active) - r.npending))
	r.jobsState.WithLabelValues("enabled").Set(float64(len(r.jobs) - r.ndisable))
	r.jobsState.WithLabelValues("disabled").Set(float64(r.ndisable))
}
