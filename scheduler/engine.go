package scheduler

import (
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Config tunes the engine. The zero value is usable: New fills defaults.
type Config struct {
	// ExecutorCPUs and ExecutorMem are the Horae executor's own overhead,
	// added to every task's resources when matching offers.
	ExecutorCPUs float64
	ExecutorMem  float64
	// HistoryLimit is how many terminal runs are kept per job; older ones
	// are deleted (DeleteRun) as new ones end. Default 100.
	HistoryLimit int
	// OnTimeWindow is how late the newest slot may be evaluated and still
	// count as on time rather than missed (the missed-run policy then
	// decides). Default one minute (Chronos 2.x epsilon).
	OnTimeWindow time.Duration
	// RuntimeMargin is how long past maxRuntime the engine waits for the
	// executor's own timeout before it kills the run itself. Default 1m.
	RuntimeMargin time.Duration
	// OverdueAfter is how long a run may wait for resources past its due
	// time before an overdue Notice (once per attempt). Default 5m.
	OverdueAfter time.Duration
	// OfferHold is how long an offer no task can use yet may be kept for
	// schedule slots and retries due within that time, and how early offers
	// are asked for before such work is due (offers.go). Zero declines
	// unused offers at once.
	OfferHold time.Duration
	// LaunchAhead is how long before a schedule slot its run is created and
	// launched. The task carries the slot (TaskLaunch.StartAt) and the
	// executor starts the command at that instant, so the launch path (the
	// launch intent's commit, the ACCEPT, the agent, the executor) is not
	// part of the run's lateness. Zero creates runs at their slot. Replace
	// jobs never launch ahead, forbid jobs only while no run is active
	// (sched.go, aheadPolicy and launchesAhead).
	LaunchAhead time.Duration
}

// Default configuration values.
const (
	DefaultHistoryLimit  = 100
	DefaultOnTimeWindow  = time.Minute
	DefaultRuntimeMargin = time.Minute
	DefaultOverdueAfter  = 5 * time.Minute
	// DefaultOfferHold is the OfferHold `horae serve` uses. The engine's own
	// zero value holds nothing.
	DefaultOfferHold = time.Second
	// DefaultLaunchAhead is the LaunchAhead `horae serve` uses: about twenty
	// times the launch path's p99 on one busy machine (8–10 ms at 100 runs/s),
	// leaving room for a real cluster's hops to the master and the agent.
	// The engine's own zero value launches at the slot.
	DefaultLaunchAhead = 200 * time.Millisecond
	// MaxLaunchAhead bounds LaunchAhead: a run should not exist, nor hold
	// its resources, long before its slot, and the executor holds a task
	// for its start time only so long (executor.maxStartHold).
	MaxLaunchAhead = time.Second
)

// Engine is the scheduling state machine. It is not safe for concurrent
// use: one goroutine (the leader loop) owns it.
type Engine struct {
	cfg   Config
	epoch int64

	jobs     map[string]*jobState
	children map[string][]string // parent → sorted children
	runs     map[RunID]*runState // every run the engine holds
	tasks    map[string]*runState
	waiting  map[*runState]struct{} // non-terminal runs with unlaunched tasks
	timers   timerHeap

	connected  bool // subscribed to Mesos
	reconciled bool // explicit reconciliation done this subscription
	interest   OfferInterest
	reCache    map[string]*regexp.Regexp
	held       []*heldOffer // offers kept for imminent work, oldest first
	rematch    bool         // offers or placeable work changed this step
	walkStack  []int        // scratch of walkImminent

	// Per-step scratch.
	now        time.Time
	out        *Output
	dirtyRuns  []*runState
	dirtyJobs  []*jobState // cursor changed
	deletes    []Record
	jobRecords []Record
}

type jobState struct {
	job      *Job    // replaced, never mutated, on change
	sched    slotter // nil: dependent job, or schedule unusable
	cur      Cursor
	runs     []*runState // oldest first, terminal history included
	active   []*runState // non-terminal, oldest first
	nextSlot time.Time   // the slot the schedule timer is armed for; zero when none
	slotAt   time.Time   // when that timer fires: nextSlot, or up to LaunchAhead before
	blocked  bool        // a due slot waits for the active run (forbid)
	dirty    bool
	deleted  bool
}

type runState struct {
	Run
	js         *jobState
	job        *Job // the job as it was when the run was created
	dirty      bool
	retryAt    time.Time // armed NotBefore timer
	backstopAt time.Time // armed maxRuntime backstop
	overdueAt  time.Time // armed overdue notice
}

// New returns an engine with no jobs that launches nothing until it is
// elected (LeaderElected), subscribed (Subscribed) and reconciled
// (Reconciled).
func New(cfg Config) *Engine {
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = DefaultHistoryLimit
	}
	if cfg.OnTimeWindow <= 0 {
		cfg.OnTimeWindow = DefaultOnTimeWindow
	}
	if cfg.RuntimeMargin <= 0 {
		cfg.RuntimeMargin = DefaultRuntimeMargin
	}
	if cfg.OverdueAfter <= 0 {
		cfg.OverdueAfter = DefaultOverdueAfter
	}
	e := &Engine{cfg: cfg}
	e.reset()
	return e
}

func (e *Engine) reset() {
	e.jobs = make(map[string]*jobState)
	e.children = make(map[string][]string)
	e.runs = make(map[RunID]*runState)
	e.tasks = make(map[string]*runState)
	e.waiting = make(map[*runState]struct{})
	e.timers = timerHeap{}
	e.connected = false
	e.reconciled = false
	e.interest = OffersUnchanged
	e.reCache = make(map[string]*regexp.Regexp)
	e.held = nil
	e.rematch = false
}

// Step applies one event at instant now and returns the work to carry out,
// in the order documented on Output. It returns an error only for a
// rejected command (*ValidationError, *NotFoundError, *ConflictError,
// ErrExists); the engine's state is then unchanged and the Output empty.
func (e *Engine) Step(now time.Time, ev Event) (Output, error) {
	now = now.UTC()
	var out Output
	e.now = now
	e.out = &out
	defer func() {
		e.out = nil
		e.dirtyRuns = e.dirtyRuns[:0]
		e.dirtyJobs = e.dirtyJobs[:0]
		e.deletes = e.deletes[:0]
		e.jobRecords = e.jobRecords[:0]
	}()
	var err error
	switch ev := ev.(type) {
	case Tick:
		e.tick()
	case LeaderElected:
		e.elected(ev)
	case Subscribed:
		e.subscribed()
	case Disconnected:
		e.dropHeld()
		e.connected = false
		e.reconciled = false
		e.interest = OffersUnchanged
	case Reconciled:
		e.reconciledEv(ev)
	case JobPut:
		err = e.putJob(ev)
	case JobDeleted:
		err = e.deleteJob(ev)
	case JobEnabled:
		err = e.enableJob(ev)
	case RunRequested:
		err = e.requestRun(ev)
	case RunKillRequested:
		err = e.killRun(ev)
	case JobKillRequested:
		err = e.killJob(ev)
	case JobMarkedSuccess:
		err = e.markSuccess(ev)
	case OffersArrived:
		e.acceptOffers(ev.Offers)
	case OfferRescinded:
		e.rescind(ev.OfferID)
	case TaskUpdated:
		e.taskUpdated(ev)
	default:
		panic(fmt.Sprintf("scheduler: unknown event %T", ev))
	}
	if err != nil {
		return Output{}, err
	}
	e.finish()
	return out, nil
}

// finish flushes the step's dirty records and computes the offer interest
// and WakeAt.
func (e *Engine) finish() {
	out := e.out
	// Matching marks runs dirty (launch intents), so it comes first.
	e.settleOffers()
	if n := len(e.jobRecords) + len(e.dirtyRuns) + len(e.deletes) + len(e.dirtyJobs); n > 0 {
		out.Persist = make([]Record, 0, n)
	}
	out.Persist = append(out.Persist, e.jobRecords...)
	for _, r := range e.dirtyRuns {
		r.dirty = false
		if r.js.deleted {
			continue
		}
		out.Persist = append(out.Persist, PutRun{Run: r.snapshot()})
	}
	out.Persist = append(out.Persist, e.deletes...)
	for _, js := range e.dirtyJobs {
		js.dirty = false
		if js.deleted {
			continue
		}
		out.Persist = append(out.Persist, PutCursor{Cursor: cloneCursor(js.cur)})
	}
	want := OffersNotWanted
	if e.connected && e.reconciled && (e.anyPlaceable() ||
		e.cfg.OfferHold > 0 && e.workImminent(e.now.Add(e.cfg.OfferHold))) {
		want = OffersWanted
	}
	if e.connected && want != e.interest {
		out.Offers = want
		e.interest = want
	}
	out.WakeAt = e.wakeAt()
	sortTaskRefs(out.Kill)
	sortTaskRefs(out.Reconcile)
}

func (e *Engine) markRun(r *runState) {
	if !r.dirty {
		r.dirty = true
		e.dirtyRuns = append(e.dirtyRuns, r)
	}
}

func (e *Engine) markCursor(js *jobState) {
	if !js.dirty {
		js.dirty = true
		e.dirtyJobs = append(e.dirtyJobs, js)
	}
}

func (e *Engine) notify(kind NotifyOn, job string, r *runState, text string) {
	n := Notice{Kind: kind, Job: job, At: e.now, Text: text}
	if r != nil {
		s := r.snapshot()
		n.Run = &s
	}
	e.out.Notify = append(e.out.Notify, n)
}

func (r *runState) snapshot() Run {
	s := r.Run
	s.Tasks = append([]Task(nil), r.Tasks...)
	return s
}

func cloneCursor(c Cursor) Cursor {
	if c.Consumed != nil {
		m := make(map[string]int64, len(c.Consumed))
		for k, v := range c.Consumed {
			m[k] = v
		}
		c.Consumed = m
	}
	if c.ParentOutcomes != nil {
		m := make(map[string]Outcome, len(c.ParentOutcomes))
		for k, v := range c.ParentOutcomes {
			m[k] = v
		}
		c.ParentOutcomes = m
	}
	return c
}

func sortTaskRefs(s []TaskRef) {
	sort.Slice(s, func(i, j int) bool { return s[i].TaskID < s[j].TaskID })
}

// tick fires every timer due at now.
func (e *Engine) tick() {
	for {
		t, ok := e.timers.popDue(e.now)
		if !ok {
			return
		}
		switch t.kind {
		case timerSlot:
			js := t.js
			if js.deleted || !js.slotAt.Equal(t.at) {
				continue
			}
			js.nextSlot, js.slotAt = time.Time{}, time.Time{}
			e.evaluateSchedule(js)
		case timerRetry:
			r := t.run
			if !r.retryAt.Equal(t.at) {
				continue
			}
			r.retryAt = time.Time{}
			// The run becomes placeable: held offers are matched and the
			// offer interest computed in finish.
			e.rematch = true
		case timerBackstop:
			r := t.run
			if !r.backstopAt.Equal(t.at) || r.State.Terminal() || r.js.deleted {
				continue
			}
			r.backstopAt = time.Time{}
			e.killRunTasks(r, reasonTimeout)
		case timerOverdue:
			r := t.run
			r.overdueAt = time.Time{}
			if hasPending(r) {
				e.notify(NotifyOverdue, r.Job, r, fmt.Sprintf("attempt %d not launched %s after it was due", r.Attempt, e.now.Sub(r.due())))
			}
		}
	}
}
