package scheduler

import (
	"fmt"
	"sort"
	"time"
)

// timeIf is t when cond holds, else the zero time.
func timeIf(cond bool, t time.Time) time.Time {
	if cond {
		return t
	}
	return time.Time{}
}

// putJob validates and stores a job (JobPut).
func (e *Engine) putJob(ev JobPut) error {
	j := ev.Job
	j.Normalize()
	old := e.jobs[j.Name]
	switch {
	case ev.Mode == CreateOnly && old != nil:
		return fmt.Errorf("job %q: %w", j.Name, ErrExists)
	case ev.Mode == ReplaceOnly && old == nil:
		return &NotFoundError{Kind: "job", Name: j.Name}
	}
	var p problems
	validateFields(&j, &p)
	if len(p) == 0 && len(j.Parents) > 0 {
		e.validateGraph(&j, &p)
	}
	var sched slotter
	var anchor = e.now
	schedChanged := old == nil || old.job.Schedule != j.Schedule || old.job.ScheduleTimeZone != j.ScheduleTimeZone
	if len(p) == 0 && j.Schedule != "" {
		if !schedChanged && !old.cur.Anchor.IsZero() {
			anchor = old.cur.Anchor
		}
		s, field, err := parseSchedule(j.Schedule, j.ScheduleTimeZone, anchor)
		if err != nil {
			p.add(field, "%v", err)
		}
		sched = s
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}

	j.UpdatedAt = e.now
	j.CreatedAt = e.now
	js := old
	if js == nil {
		js = &jobState{cur: Cursor{Job: j.Name}}
		e.jobs[j.Name] = js
	} else {
		j.CreatedAt = old.job.CreatedAt
		e.unlinkParents(j.Name, old.job.Parents)
	}
	wasDisabled := old != nil && old.job.Disabled
	oldParents := []string(nil)
	if old != nil {
		oldParents = old.job.Parents
	}
	jp := &j
	js.job = jp
	js.sched = sched
	e.jobRecords = append(e.jobRecords, PutJob{Job: j})

	// Schedule progress: a new or changed schedule owes slots from now on;
	// so does a job being re-enabled.
	if j.Schedule != "" {
		if schedChanged {
			js.cur.Anchor = timeIf(emptyStart(j.Schedule), anchor)
			js.cur.LastSlot = handledThrough(e.now)
		} else if wasDisabled && !j.Disabled && js.cur.LastSlot.Before(e.now) {
			js.cur.LastSlot = handledThrough(e.now)
		}
	} else {
		js.cur.Anchor, js.cur.LastSlot = time.Time{}, time.Time{}
		js.blocked = false
	}
	// Dependency progress: a new parent starts at its current generation;
	// a removed parent's progress is dropped.
	e.reparent(js, oldParents)
	for _, par := range j.Parents {
		e.link(par, j.Name)
	}
	e.markCursor(js)
	e.armSchedule(js)
	if len(j.Parents) > 0 {
		e.evaluateDeps(js)
	}
	return nil
}

// reparent adjusts a child's dependency progress after its parents changed.
func (e *Engine) reparent(js *jobState, oldParents []string) {
	cur := &js.cur
	keep := make(map[string]bool, len(js.job.Parents))
	for _, par := range js.job.Parents {
		keep[par] = true
	}
	for _, par := range oldParents {
		if !keep[par] {
			delete(cur.Consumed, par)
			delete(cur.ParentOutcomes, par)
		}
	}
	for _, par := range js.job.Parents {
		if _, ok := cur.Consumed[par]; ok {
			continue
		}
		pj, ok := e.jobs[par]
		if !ok {
			continue
		}
		if cur.Consumed == nil {
			cur.Consumed = make(map[string]int64)
		}
		cur.Consumed[par] = pj.cur.Generation
	}
	if len(cur.Consumed) == 0 {
		cur.Consumed = nil
	}
	if len(cur.ParentOutcomes) == 0 {
		cur.ParentOutcomes = nil
		cur.Fired = false
	}
}

func (e *Engine) link(parent, child string) {
	kids := e.children[parent]
	i := sort.SearchStrings(kids, child)
	if i < len(kids) && kids[i] == child {
		return
	}
	kids = append(kids, "")
	copy(kids[i+1:], kids[i:])
	kids[i] = child
	e.children[parent] = kids
}

func (e *Engine) unlinkParents(child string, parents []string) {
	for _, par := range parents {
		kids := e.children[par]
		i := sort.SearchStrings(kids, child)
		if i < len(kids) && kids[i] == child {
			kids = append(kids[:i], kids[i+1:]...)
		}
		if len(kids) == 0 {
			delete(e.children, par)
		} else {
			e.children[par] = kids
		}
	}
}

// deleteJob removes a job (JobDeleted), killing its tasks.
func (e *Engine) deleteJob(ev JobDeleted) error {
	js, ok := e.jobs[ev.Name]
	if !ok {
		return &NotFoundError{Kind: "job", Name: ev.Name}
	}
	kids := append([]string(nil), e.children[ev.Name]...)
	if len(kids) > 0 && !ev.Detach {
		return &ConflictError{Job: ev.Name, Dependents: kids}
	}
	for _, r := range js.active {
		for _, t := range r.Tasks {
			if t.State != TaskPending && !t.State.Terminal() {
				e.out.Kill = append(e.out.Kill, TaskRef{TaskID: t.ID, AgentID: t.AgentID})
			}
			delete(e.tasks, t.ID)
		}
		delete(e.waiting, r)
	}
	for _, r := range js.runs {
		delete(e.runs, r.ID)
	}
	js.deleted = true
	js.active, js.runs = nil, nil
	delete(e.jobs, ev.Name)
	e.unlinkParents(ev.Name, js.job.Parents)
	delete(e.children, ev.Name)
	e.jobRecords = append(e.jobRecords, DeleteJob{Name: ev.Name})
	for _, kid := range kids {
		cj := e.jobs[kid]
		nj := *cj.job
		nj.Parents = nil
		for _, par := range cj.job.Parents {
			if par != ev.Name {
				nj.Parents = append(nj.Parents, par)
			}
		}
		nj.UpdatedAt = e.now
		old := cj.job.Parents
		if len(nj.Parents) == 0 && !nj.Disabled {
			nj.Disabled = true
			e.notify(NotifyDisabled, kid, nil, fmt.Sprintf("parent %s was deleted and %s has no parents left: kept, disabled", ev.Name, kid))
		}
		cj.job = &nj
		e.jobRecords = append(e.jobRecords, PutJob{Job: nj})
		e.reparent(cj, old)
		e.markCursor(cj)
		e.evaluateDeps(cj)
	}
	return nil
}

// enableJob enables or disables a job (JobEnabled).
func (e *Engine) enableJob(ev JobEnabled) error {
	js, ok := e.jobs[ev.Name]
	if !ok {
		return &NotFoundError{Kind: "job", Name: ev.Name}
	}
	if js.job.Disabled == !ev.Enabled {
		return nil
	}
	nj := *js.job
	nj.Disabled = !ev.Enabled
	nj.UpdatedAt = e.now
	js.job = &nj
	e.jobRecords = append(e.jobRecords, PutJob{Job: nj})
	if ev.Enabled && js.sched != nil && js.cur.LastSlot.Before(e.now) {
		// Slots that passed while disabled are not owed.
		js.cur.LastSlot = handledThrough(e.now)
		e.markCursor(js)
	}
	if !ev.Enabled {
		js.blocked = false
	}
	e.armSchedule(js)
	if ev.Enabled && js.blocked {
		e.evaluateSchedule(js)
	}
	return nil
}
