package scheduler

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kill reasons recorded in Run.Reason. A run killed on request or replaced
// ends killed without retry; a timeout is a failure that retries.
const (
	reasonKilled   = "killed"
	reasonReplaced = "replaced"
	reasonTimeout  = "timeout"
)

// scheduleRunID is the run of job for a schedule slot, e.g.
// "nightly.s20260101T020000Z" (nanoseconds appended when not zero).
func scheduleRunID(job string, slot time.Time) RunID {
	slot = slot.UTC()
	b := make([]byte, 0, len(job)+28)
	b = append(b, job...)
	b = append(b, ".s"...)
	y, mo, d := slot.Date()
	hh, mm, ss := slot.Clock()
	b = appendPadded(b, y, 4)
	b = appendPadded(b, int(mo), 2)
	b = appendPadded(b, d, 2)
	b = append(b, 'T')
	b = appendPadded(b, hh, 2)
	b = appendPadded(b, mm, 2)
	b = appendPadded(b, ss, 2)
	if ns := slot.Nanosecond(); ns != 0 {
		b = append(b, '.')
		b = appendPadded(b, ns, 9)
	}
	b = append(b, 'Z')
	return RunID(b)
}

func appendPadded(b []byte, v, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// triggerRunID is the run of job for a manual, webhook or dependency
// trigger key.
func triggerRunID(job string, t Trigger, key string) RunID {
	p := "m-"
	switch t {
	case TriggerWebhook:
		p = "w-"
	case TriggerDependency:
		p = "d-"
	}
	return RunID(job + "." + p + key)
}

// TaskID is the Mesos task ID of one instance of one attempt of a run:
// "horae.<run>.<attempt>.<instance>". It uses only [A-Za-z0-9_.-].
func TaskID(run RunID, attempt, instance int) string {
	return "horae." + string(run) + "." + strconv.Itoa(attempt) + "." + strconv.Itoa(instance)
}

func (e *Engine) newTasks(r *runState) {
	r.Tasks = make([]Task, instances(r.job))
	for i := range r.Tasks {
		id := TaskID(r.ID, r.Attempt, i)
		r.Tasks[i] = Task{ID: id, Instance: i, State: TaskPending}
		e.tasks[id] = r
	}
	e.waiting[r] = struct{}{}
	e.rematch = true
	e.armOverdue(r)
}

// armOverdue arms the overdue notice of r's attempt: OverdueAfter past its
// due time, or past now for an attempt that was already late (a catch-up).
func (e *Engine) armOverdue(r *runState) {
	base := r.due()
	if base.Before(e.now) {
		base = e.now
	}
	r.overdueAt = base.Add(e.cfg.OverdueAfter)
	e.timers.add(timer{at: r.overdueAt, kind: timerOverdue, run: r})
}

// due is when the current attempt may start: its slot or trigger time, or
// the retry's NotBefore.
func (r *runState) due() time.Time {
	if r.NotBefore.After(r.ScheduledFor) {
		return r.NotBefore
	}
	return r.ScheduledFor
}

// createRun makes a pending run of js. Under replace, the job's active runs
// are killed first.
func (e *Engine) createRun(js *jobState, trig Trigger, triggerID string, id RunID, scheduledFor time.Time, env map[string]string, args []string) *runState {
	if r, ok := e.runs[id]; ok {
		return r
	}
	if js.job.ConcurrencyPolicy == Replace {
		for _, a := range append([]*runState(nil), js.active...) {
			if a.Trigger == TriggerSchedule && a.ScheduledFor.After(e.now) {
				// Created ahead while the job was not replace (edited
				// since): its slot has not come, so nothing replaces it.
				continue
			}
			e.killRunTasks(a, reasonReplaced)
		}
	}
	r := &runState{
		Run: Run{ID: id, Job: js.job.Name, Trigger: trig, TriggerID: triggerID, State: RunPending,
			ScheduledFor: scheduledFor, CreatedAt: e.now, Env: env, Arguments: args},
		js: js, job: js.job,
	}
	e.newTasks(r)
	js.runs = append(js.runs, r)
	js.active = append(js.active, r)
	e.runs[id] = r
	e.markRun(r)
	return r
}

// requestRun creates a manual or webhook run (RunRequested).
func (e *Engine) requestRun(ev RunRequested) error {
	js, ok := e.jobs[ev.Job]
	if !ok {
		return &NotFoundError{Kind: "job", Name: ev.Job}
	}
	trig := ev.Trigger
	if trig == "" {
		trig = TriggerManual
	}
	if trig != TriggerManual && trig != TriggerWebhook {
		return Invalid("trigger", "%q cannot be requested (manual, webhook)", trig)
	}
	key := ev.TriggerID
	if key != "" && !namePattern.MatchString(key) {
		return Invalid("triggerId", "%q must match [A-Za-z0-9_.-]{1,200}", key)
	}
	if key == "" {
		// Derived from the instant; a same-instant repeat gets a suffix so
		// two requests without a key are two runs.
		base := strconv.FormatInt(e.now.UnixNano(), 10)
		key = base
		for i := 2; ; i++ {
			if _, ok := e.runs[triggerRunID(js.job.Name, trig, key)]; !ok {
				break
			}
			key = base + "-" + strconv.Itoa(i)
		}
	}
	id := triggerRunID(js.job.Name, trig, key)
	if r, ok := e.runs[id]; ok {
		s := r.snapshot()
		e.out.Run = &s
		return nil
	}
	r := e.createRun(js, trig, key, id, e.now, cloneEnv(ev.Env), append([]string(nil), ev.Arguments...))
	s := r.snapshot()
	e.out.Run = &s
	return nil
}

func cloneEnv(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// killRun kills one run (RunKillRequested).
func (e *Engine) killRun(ev RunKillRequested) error {
	r, ok := e.runs[ev.Run]
	if !ok {
		return &NotFoundError{Kind: "run", Name: string(ev.Run)}
	}
	if !r.State.Terminal() {
		e.killRunTasks(r, reasonKilled)
	}
	s := r.snapshot()
	e.out.Run = &s
	return nil
}

// killJob kills every active run of a job (JobKillRequested).
func (e *Engine) killJob(ev JobKillRequested) error {
	js, ok := e.jobs[ev.Job]
	if !ok {
		return &NotFoundError{Kind: "job", Name: ev.Job}
	}
	for _, r := range append([]*runState(nil), js.active...) {
		e.killRunTasks(r, reasonKilled)
	}
	return nil
}

// killRunTasks ends a run's attempt for reason: launched tasks are killed
// through Mesos (the run ends when their terminal updates arrive), tasks not
// yet launched end at once.
func (e *Engine) killRunTasks(r *runState, reason string) {
	if r.Reason != reasonKilled && r.Reason != reasonReplaced {
		r.Reason = reason
	}
	for i := range r.Tasks {
		t := &r.Tasks[i]
		switch {
		case t.State.Terminal():
		case t.State == TaskPending:
			t.State = TaskKilled
			t.FinishedAt = e.now
		default:
			e.out.Kill = append(e.out.Kill, TaskRef{TaskID: t.ID, AgentID: t.AgentID})
		}
	}
	e.markRun(r)
	e.settle(r)
}

// settle ends the attempt if every task of it has ended.
func (e *Engine) settle(r *runState) {
	if r.State.Terminal() {
		return
	}
	for _, t := range r.Tasks {
		if !t.State.Terminal() {
			return
		}
	}
	e.endAttempt(r)
}

func taskOK(t Task) bool {
	return t.State == TaskFinished && (t.ExitCode == nil || *t.ExitCode == 0)
}

// taskUpdated applies a Mesos status update. Updates are idempotent: Mesos
// re-sends them, and reconciliation answers repeat what the engine knows.
func (e *Engine) taskUpdated(ev TaskUpdated) {
	r, ok := e.tasks[ev.TaskID]
	var t *Task
	if ok {
		for i := range r.Tasks {
			if r.Tasks[i].ID == ev.TaskID {
				t = &r.Tasks[i]
			}
		}
		if t == nil {
			panic(fmt.Sprintf("scheduler: task %s indexed to run %s that lacks it", ev.TaskID, r.ID))
		}
	}
	if t == nil || t.State == TaskPending {
		// A task the engine does not hold as launched: a leftover of a
		// deleted job, an old attempt, or a launch this engine never
		// made (launch intents are persisted before launching, so Mesos
		// cannot know a task that is still pending here). Kill it unless
		// it ended; never adopt it (Chronos #549 ghost jobs).
		if !ev.State.Terminal() {
			e.out.Kill = append(e.out.Kill, TaskRef{TaskID: ev.TaskID, AgentID: ev.AgentID})
		}
		return
	}
	if t.State.Terminal() || t.State == ev.State || ev.State == TaskPending || ev.State == TaskUnknown {
		return
	}
	t.State = ev.State
	if ev.AgentID != "" {
		t.AgentID = ev.AgentID
	}
	if ev.Message != "" {
		t.Message = ev.Message
	}
	switch {
	case ev.State == TaskRunning:
		e.markRun(r)
		// The executor names the task's directory from the start, so that
		// a running task's output can be read (the terminal Result names
		// it again).
		if res := ev.Result; res != nil && res.Directory != "" {
			t.Directory = res.Directory
		}
		t.StartedAt = startedAt(ev.Timestamp, t.LaunchedAt, e.now)
		if r.StartedAt.IsZero() || t.StartedAt.Before(r.StartedAt) {
			r.StartedAt = t.StartedAt
		}
		r.State = RunRunning
	case ev.State == TaskUnreachable:
		// Counts as a failure: Mesos may still report it later, but the
		// engine will not wait (partition-aware frameworks retry).
		t.State = TaskLost
		fallthrough
	case ev.State.Terminal():
		e.markRun(r)
		// A task that ended may unblock others (forbid, unique hosts).
		e.rematch = true
		t.FinishedAt = e.now
		if res := ev.Result; res != nil {
			if res.ExitCode != nil {
				c := *res.ExitCode
				t.ExitCode = &c
			}
			t.Directory = res.Directory
			t.StdoutTail, t.StderrTail = res.StdoutTail, res.StderrTail
			if res.Reason == reasonTimeout && r.Reason == "" {
				r.Reason = reasonTimeout
			}
		}
		if !taskOK(*t) && r.Reason == "" {
			msg := string(t.State)
			if t.ExitCode != nil {
				msg += fmt.Sprintf(" with exit code %d", *t.ExitCode)
			}
			if t.Message != "" {
				msg += ": " + t.Message
			}
			r.Reason = fmt.Sprintf("instance %d %s", t.Instance, msg)
			// The attempt has failed: stop its other instances rather than
			// let them hold resources for a result that cannot succeed.
			e.killRunTasks(r, r.Reason)
			return
		}
		e.settle(r)
	default:
		// Intermediate states (staging, starting, killing) are kept in
		// memory but not persisted on their own: the run record does not
		// change meaning, and skipping the commit takes one store sync
		// off every run's way to running (docs/benchmarks.md, Throughput).
		// A new leader learns them again from reconciliation.
		if r.State == RunPending {
			r.State = RunLaunching
			e.markRun(r)
		}
	}
}

func hasPending(r *runState) bool {
	for _, t := range r.Tasks {
		if t.State == TaskPending {
			return true
		}
	}
	return false
}

// endAttempt decides what an attempt whose tasks all ended means: success,
// a retry, or the run's end.
func (e *Engine) endAttempt(r *runState) {
	ok := true
	for _, t := range r.Tasks {
		if !taskOK(t) {
			ok = false
		}
	}
	for _, t := range r.Tasks {
		delete(e.tasks, t.ID)
	}
	delete(e.waiting, r)
	r.retryAt, r.backstopAt = time.Time{}, time.Time{}
	switch {
	case ok:
		r.State = RunSucceeded
		r.Reason = ""
	case r.Reason == reasonKilled || r.Reason == reasonReplaced:
		r.State = RunKilled
	case r.Attempt < r.job.Retries:
		e.retry(r)
		return
	default:
		r.State = RunFailed
	}
	e.endRun(r)
}

// retryDelay is delay·2^(attempt-1) capped at max.
func retryDelay(delay, max time.Duration, attempt int) time.Duration {
	d := delay
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// retry starts the next attempt of r, not before its backoff delay. A retry
// is an attempt of the same run: it never consumes a repetition (Chronos
// decremented Rn on retries) and keeps the run's ID.
func (e *Engine) retry(r *runState) {
	r.Attempt++
	r.Reason = fmt.Sprintf("attempt %d failed: %s", r.Attempt-1, r.Reason)
	r.State = RunPending
	r.StartedAt = time.Time{}
	r.NotBefore = e.now.Add(retryDelay(r.job.RetryDelay, r.job.RetryDelayMax, r.Attempt))
	e.newTasks(r)
	r.retryAt = r.NotBefore
	e.timers.add(timer{at: r.NotBefore, kind: timerRetry, run: r})
	e.markRun(r)
}

// endRun records a run's terminal state: stats, notices, dependents,
// history, and a schedule slot that waited for it.
func (e *Engine) endRun(r *runState) {
	js := r.js
	// Its end may make another run placeable (forbid): match held offers.
	e.rematch = true
	r.FinishedAt = e.now
	r.NotBefore = time.Time{}
	r.ExitCode = nil
	for _, t := range r.Tasks {
		if t.ExitCode != nil && (r.ExitCode == nil || *r.ExitCode == 0) {
			c := *t.ExitCode
			r.ExitCode = &c
		}
	}
	for i, a := range js.active {
		if a == r {
			js.active = append(js.active[:i], js.active[i+1:]...)
			break
		}
	}
	e.markRun(r)
	st := &js.cur.Stats
	var outcome Outcome
	switch r.State {
	case RunSucceeded:
		st.SuccessCount++
		st.ErrorsSinceLastSuccess = 0
		st.LastSuccess = e.now
		outcome = OutcomeSuccess
		e.notify(NotifySuccess, js.job.Name, r, "run succeeded")
	case RunFailed:
		st.ErrorCount++
		st.ErrorsSinceLastSuccess++
		st.LastError = e.now
		outcome = OutcomeFailure
		if js.job.SoftError {
			outcome = OutcomeSuccess
		}
		e.notify(NotifyFailure, js.job.Name, r, fmt.Sprintf("run failed after %d attempts: %s", r.Attempt+1, r.Reason))
	case RunKilled:
		outcome = OutcomeFailure
	case RunSkipped:
		st.SkippedCount++
		outcome = OutcomeSkipped
		e.notify(NotifySkipped, js.job.Name, r, r.Reason)
	default:
		panic(fmt.Sprintf("scheduler: run %s ended in non-terminal state %s", r.ID, r.State))
	}
	e.markCursor(js)
	e.propagate(js, outcome)
	e.pruneHistory(js)
	if js.blocked && len(js.active) == 0 {
		e.evaluateSchedule(js)
	}
}

// pruneHistory deletes the oldest terminal runs beyond HistoryLimit.
func (e *Engine) pruneHistory(js *jobState) {
	terminal := 0
	for _, r := range js.runs {
		if r.State.Terminal() {
			terminal++
		}
	}
	for i := 0; terminal > e.cfg.HistoryLimit && i < len(js.runs); {
		r := js.runs[i]
		if !r.State.Terminal() {
			i++
			continue
		}
		js.runs = append(js.runs[:i], js.runs[i+1:]...)
		delete(e.runs, r.ID)
		e.deletes = append(e.deletes, DeleteRun{Job: js.job.Name, ID: r.ID})
		terminal--
	}
}

// markSuccess records a successful result for the job without a run
// (Chronos job/success): counters move, the job's own dependency progress
// resets, and ready children fire.
func (e *Engine) markSuccess(ev JobMarkedSuccess) error {
	js, ok := e.jobs[ev.Job]
	if !ok {
		return &NotFoundError{Kind: "job", Name: ev.Job}
	}
	st := &js.cur.Stats
	st.SuccessCount++
	st.ErrorsSinceLastSuccess = 0
	st.LastSuccess = e.now
	if len(js.job.Parents) > 0 {
		js.cur.ParentOutcomes = nil
		js.cur.Fired = false
		for _, par := range js.job.Parents {
			pj, ok := e.jobs[par]
			if !ok {
				continue
			}
			if js.cur.Consumed == nil {
				js.cur.Consumed = make(map[string]int64)
			}
			js.cur.Consumed[par] = pj.cur.Generation
		}
	}
	e.markCursor(js)
	e.propagate(js, OutcomeSuccess)
	return nil
}

func joinKeys(m map[string]int64, order []string) string {
	var b strings.Builder
	for i, k := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(m[k], 10))
	}
	return b.String()
}

// startedAt is when a task started: the instant its executor stamped on
// TASK_RUNNING, not when the leader got round to the update (that adds the
// master's and the leader's queues, and a commit, to every run's lateness).
// The stamp comes from the agent's clock, so it is kept within what the
// leader knows for sure: not before the launch, not after now.
func startedAt(stamp, launched, now time.Time) time.Time {
	switch {
	case stamp.IsZero() || stamp.After(now):
		return now
	case stamp.Before(launched):
		return launched
	}
	return stamp.UTC()
}
