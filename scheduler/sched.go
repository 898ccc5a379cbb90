package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/horae-scheduler/horae/schedule"
)

// slotter is what the engine needs of a parsed schedule.
type slotter interface {
	// Next is the first slot strictly after after; false when exhausted.
	Next(after time.Time) (time.Time, bool)
}

// parseSchedule parses a job's schedule; on error it also names the job
// field at fault ("schedule" or "scheduleTimeZone").
func parseSchedule(expr, tz string, anchor time.Time) (slotter, string, error) {
	s, err := schedule.Parse(expr, tz, anchor)
	if err != nil {
		field := "schedule"
		var se *schedule.Error
		if errors.As(err, &se) && se.Field != "" {
			field = se.Field
		}
		return nil, field, err
	}
	return s, "", nil
}

// emptyStart reports whether expr is an ISO 8601 repeating interval with no
// start (R//PT15M, R5//P1D), which anchors at the job's creation.
func emptyStart(expr string) bool {
	return strings.HasPrefix(expr, "R") && strings.Contains(expr, "//")
}

// handledThrough is the LastSlot that makes every slot at or after t owed:
// slots before a schedule was put (or re-enabled) are not missed runs.
func handledThrough(t time.Time) time.Time { return t.Add(-time.Nanosecond) }

// armSchedule sets the job's next-slot timer from its cursor: LaunchAhead
// before the slot when its run may be created ahead, at the slot otherwise.
func (e *Engine) armSchedule(js *jobState) {
	js.nextSlot, js.slotAt = time.Time{}, time.Time{}
	if js.sched == nil || js.job.Disabled || js.deleted {
		return
	}
	n, ok := js.sched.Next(js.cur.LastSlot)
	if !ok {
		return
	}
	at := n
	if e.aheadPolicy(js) {
		// Even while a forbid run is active: the timer then finds the job
		// blocked, and the slot is evaluated (ahead, if still within
		// LaunchAhead) when that run ends.
		at = n.Add(-e.cfg.LaunchAhead)
	}
	js.nextSlot, js.slotAt = n, at
	e.timers.add(timer{at: at, kind: timerSlot, js: js})
}

// aheadPolicy reports whether js's runs are ever created ahead of their
// slots: with LaunchAhead, unless the job replaces its active run. A
// replace job's new run kills the active one, which must have until the
// slot; and a manual run requested inside the window would replace the
// scheduled run before its slot instead of being replaced by it.
func (e *Engine) aheadPolicy(js *jobState) bool {
	return e.cfg.LaunchAhead > 0 && js.job.ConcurrencyPolicy != Replace
}

// launchesAhead reports whether js's next slot may be created ahead now:
// under forbid only while no run is active (the slot is evaluated again
// when the active run ends).
func (e *Engine) launchesAhead(js *jobState) bool {
	return e.aheadPolicy(js) && (js.job.ConcurrencyPolicy == Allow || len(js.active) == 0)
}

// evaluateSchedule handles every slot owed at now, (LastSlot, now], then
// creates the next slot's run ahead when it is due within LaunchAhead.
// Under forbid, nothing is handled while a run of the job is active: the
// owed slots wait, and are evaluated (missed-run policy included) the
// moment the active run ends, so a slot that came due during a run is
// neither dropped silently nor doubled (Chronos #411, #476, #532).
func (e *Engine) evaluateSchedule(js *jobState) {
	if js.sched == nil || js.job.Disabled || js.deleted {
		return
	}
	if js.job.ConcurrencyPolicy == Forbid && len(js.active) > 0 {
		js.blocked = true
		js.nextSlot, js.slotAt = time.Time{}, time.Time{}
		return
	}
	js.blocked = false
	now := e.now
	j := js.job
	if kept, total := owedSlots(js.sched, js.cur.LastSlot, now); total > 0 {
		e.handleOwed(js, kept, total)
	}
	// The coming slot, created ahead: it is not late, so no missed-run
	// policy concerns it, and it never makes an owed slot "superseded".
	if e.launchesAhead(js) {
		if n, ok := js.sched.Next(js.cur.LastSlot); ok && !n.After(now.Add(e.cfg.LaunchAhead)) {
			e.createRun(js, TriggerSchedule, "", scheduleRunID(j.Name, n), n, nil, nil)
			js.cur.LastSlot = n
			e.markCursor(js)
		}
	}
	e.armSchedule(js)
}

// handleOwed applies the job's policies to the owed slots kept of total
// (oldest first, all due by now): the newest runs if on time (or per the
// missed-run policy), older ones per the missed-run policy.
func (e *Engine) handleOwed(js *jobState, kept []time.Time, total int) {
	j, now := js.job, e.now
	if dropped := total - len(kept); dropped > 0 {
		js.cur.Stats.SkippedCount += int64(dropped)
		e.notify(NotifySkipped, j.Name, nil, fmt.Sprintf("%d missed slots before %s exceed the cap of %d and were skipped without records", dropped, kept[0].Format(time.RFC3339), MaxMissedRuns))
	}
	for i, s := range kept {
		newest := i == len(kept)-1
		late := now.Sub(s)
		switch {
		case j.StartingDeadline > 0 && late > j.StartingDeadline:
			e.skipSlot(js, s, fmt.Sprintf("startingDeadline %s exceeded: %s late", j.StartingDeadline, late))
		case newest && (late <= e.cfg.OnTimeWindow || j.MissedRunPolicy != MissedSkip):
			e.createRun(js, TriggerSchedule, "", scheduleRunID(j.Name, s), s, nil, nil)
		case j.MissedRunPolicy == MissedAll:
			e.createRun(js, TriggerSchedule, "", scheduleRunID(j.Name, s), s, nil, nil)
		case j.MissedRunPolicy == MissedLatest:
			e.skipSlot(js, s, "missed: superseded by a newer slot (missedRunPolicy latest)")
		default:
			e.skipSlot(js, s, "missed (missedRunPolicy skip)")
		}
	}
	js.cur.LastSlot = kept[len(kept)-1]
	e.markCursor(js)
}

// indexed is implemented by ISO 8601 schedules: occurrences by index, so
// a long backlog is counted without walking it.
type indexed interface {
	Index(after time.Time) (int64, bool)
	Occurrence(k int64) (time.Time, bool)
}

// owedSlots returns the newest MaxMissedRuns slots in (last, now], oldest
// first, and how many slots that interval holds in all. An ISO 8601
// schedule is indexed (O(MaxMissedRuns) whatever the backlog); a cron
// schedule is walked, keeping a ring of the newest.
func owedSlots(s slotter, last, now time.Time) ([]time.Time, int) {
	if ix, ok := s.(indexed); ok {
		a, okA := ix.Index(last)
		b, okB := ix.Index(now)
		if okA && okB {
			if b <= a {
				return nil, 0
			}
			exists := func(k int64) bool { _, ok := ix.Occurrence(k); return ok }
			hi := b // exclusive end of the existing owed occurrences
			if !exists(b - 1) {
				// Index ignores the repeat count: find where Rn ends.
				if !exists(a) {
					return nil, 0
				}
				lo, h := a, b-1 // exists(lo), !exists(h)
				for h-lo > 1 {
					mid := lo + (h-lo)/2
					if exists(mid) {
						lo = mid
					} else {
						h = mid
					}
				}
				hi = h
			}
			from := a
			if hi-from > MaxMissedRuns {
				from = hi - MaxMissedRuns
			}
			kept := make([]time.Time, 0, hi-from)
			for k := from; k < hi; k++ {
				t, _ := ix.Occurrence(k)
				kept = append(kept, t)
			}
			return kept, int(hi - a)
		}
	}
	var buf [2]time.Time
	kept := buf[:0]
	total := 0
	for t := last; ; {
		n, ok := s.Next(t)
		if !ok || n.After(now) {
			break
		}
		if len(kept) < MaxMissedRuns {
			kept = append(kept, n)
		} else {
			kept[total%MaxMissedRuns] = n
		}
		total++
		t = n
	}
	if total == 0 {
		return nil, 0
	}
	if total > MaxMissedRuns {
		head := total % MaxMissedRuns // oldest kept
		kept = append(append([]time.Time(nil), kept[head:]...), kept[:head]...)
	}
	return kept, total
}

// skipSlot records a schedule slot that will not run.
func (e *Engine) skipSlot(js *jobState, slot time.Time, reason string) {
	id := scheduleRunID(js.job.Name, slot)
	if _, ok := e.runs[id]; ok {
		return
	}
	r := &runState{
		Run: Run{ID: id, Job: js.job.Name, Trigger: TriggerSchedule, State: RunSkipped, Reason: reason,
			ScheduledFor: slot, CreatedAt: e.now, FinishedAt: e.now},
		js: js, job: js.job,
	}
	js.runs = append(js.runs, r)
	e.runs[id] = r
	e.markRun(r)
	js.cur.Stats.SkippedCount++
	e.markCursor(js)
	e.notify(NotifySkipped, js.job.Name, r, reason)
	e.pruneHistory(js)
}
