package scheduler

import (
	"sort"
	"time"
)

// elected starts a leadership term from the stored state. Everything held
// before is dropped; launches wait for Subscribed and Reconciled.
func (e *Engine) elected(ev LeaderElected) {
	e.reset()
	e.epoch = ev.Epoch
	st := ev.State
	cursors := make(map[string]Cursor, len(st.Cursors))
	for _, c := range st.Cursors {
		cursors[c.Job] = c
	}
	jobs := append([]Job(nil), st.Jobs...)
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].Name < jobs[k].Name })
	for i := range jobs {
		j := jobs[i]
		j.Normalize()
		js := &jobState{job: &j}
		c, ok := cursors[j.Name]
		if !ok {
			c = Cursor{Job: j.Name}
		}
		js.cur = cloneCursor(c)
		if j.Schedule != "" {
			anchor := js.cur.Anchor
			if anchor.IsZero() {
				anchor = j.CreatedAt
			}
			// A schedule that no longer parses (a stored job from another
			// version) is left unscheduled rather than stopping the leader.
			if s, _, err := parseSchedule(j.Schedule, j.ScheduleTimeZone, anchor); err == nil {
				js.sched = s
			}
			if js.cur.LastSlot.IsZero() {
				from := j.CreatedAt
				if from.IsZero() {
					from = e.now
				}
				js.cur.LastSlot = handledThrough(from)
			}
		}
		e.jobs[j.Name] = js
	}
	for _, j := range jobs {
		for _, par := range j.Parents {
			if _, ok := e.jobs[par]; ok {
				e.link(par, j.Name)
			}
		}
	}
	runs := append([]Run(nil), st.Runs...)
	sort.Slice(runs, func(i, k int) bool {
		a, b := runs[i], runs[k]
		if a.Job != b.Job {
			return a.Job < b.Job
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	for _, run := range runs {
		js, ok := e.jobs[run.Job]
		if !ok {
			continue
		}
		r := &runState{Run: run, js: js, job: js.job}
		r.Tasks = append([]Task(nil), run.Tasks...)
		js.runs = append(js.runs, r)
		e.runs[r.ID] = r
		if r.State.Terminal() {
			continue
		}
		js.active = append(js.active, r)
		var launched time.Time
		for _, t := range r.Tasks {
			e.tasks[t.ID] = r
			if t.State == TaskPending {
				e.waiting[r] = struct{}{}
			} else if !t.LaunchedAt.IsZero() && (launched.IsZero() || t.LaunchedAt.Before(launched)) {
				launched = t.LaunchedAt
			}
		}
		if hasPending(r) {
			e.armOverdue(r)
		}
		if !r.NotBefore.IsZero() && hasPending(r) {
			r.retryAt = r.NotBefore
			e.timers.add(timer{at: r.retryAt, kind: timerRetry, run: r})
		}
		if js.job.MaxRuntime > 0 && !launched.IsZero() {
			r.backstopAt = launched.Add(js.job.MaxRuntime + e.cfg.RuntimeMargin)
			e.timers.add(timer{at: r.backstopAt, kind: timerBackstop, run: r})
		}
	}
	for _, j := range jobs {
		js := e.jobs[j.Name]
		if js.sched != nil && js.job.ConcurrencyPolicy == Forbid && len(js.active) > 0 {
			// Owed slots wait for the active run, exactly as before the
			// failover: forbid holds from the run records (Chronos #411).
			js.blocked = true
			continue
		}
		e.armSchedule(js)
	}
}

// subscribed asks Mesos about every task the engine holds as launched and
// not ended, plus an implicit reconciliation for tasks it does not know.
func (e *Engine) subscribed() {
	e.dropHeld()
	e.connected = true
	e.reconciled = false
	e.interest = OffersUnchanged
	for id, r := range e.tasks {
		for _, t := range r.Tasks {
			if t.ID == id && t.State != TaskPending && !t.State.Terminal() {
				e.out.Reconcile = append(e.out.Reconcile, TaskRef{TaskID: t.ID, AgentID: t.AgentID})
			}
		}
	}
	e.out.Implicit = true
}

// reconciledEv ends the reconciliation: tasks Mesos did not report count
// as lost (and retry per policy); launching may resume.
func (e *Engine) reconciledEv(ev Reconciled) {
	if !e.connected {
		return
	}
	missing := append([]string(nil), ev.Missing...)
	sort.Strings(missing)
	for _, id := range missing {
		r, ok := e.tasks[id]
		if !ok {
			continue
		}
		for _, t := range r.Tasks {
			if t.ID == id && t.State != TaskPending && !t.State.Terminal() {
				e.taskUpdated(TaskUpdated{TaskID: id, AgentID: t.AgentID, State: TaskLost,
					Message: "not known to Mesos at reconciliation", Reconciliation: true})
			}
		}
	}
	e.reconciled = true
	e.rematch = true
}
