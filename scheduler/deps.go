package scheduler

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// propagate records a finished result of js (a new generation) and hands
// it to js's children. Schedule slots skipped by policy are not results:
// nothing ran, so no generation.
func (e *Engine) propagate(js *jobState, outcome Outcome) {
	js.cur.Generation++
	js.cur.LastOutcome = outcome
	e.markCursor(js)
	for _, kid := range e.children[js.job.Name] {
		cj := e.jobs[kid]
		if cj.cur.ParentOutcomes == nil {
			cj.cur.ParentOutcomes = make(map[string]Outcome)
		}
		cj.cur.ParentOutcomes[js.job.Name] = outcome
		e.markCursor(cj)
		e.evaluateDeps(cj)
	}
}

// ruleHolds evaluates a trigger rule over the results reported so far;
// final says whether every parent has reported.
func ruleHolds(rule TriggerRule, succ, fail, parents int, final bool) bool {
	switch rule {
	case OneSuccess:
		return succ > 0
	case OneFailed:
		return fail > 0
	}
	if !final {
		return false
	}
	switch rule {
	case AllSuccess:
		return succ == parents
	case AllDone:
		return true
	case NoneFailed:
		return fail == 0
	case AllFailed:
		return fail == parents
	}
	panic(fmt.Sprintf("scheduler: unknown trigger rule %q", rule))
}

// evaluateDeps fires a dependent job once per generation of its parents: a
// generation is complete when every parent has reported a result since the
// child last fired. all_* and none_failed decide on a complete generation;
// one_success and one_failed fire as soon as one result satisfies them and
// then wait for the generation to complete without firing again. A
// complete generation whose rule does not hold is recorded as a skipped
// run, whose own children see OutcomeSkipped. Progress lives in the
// child's Cursor and is persisted with the parent's run (Chronos #811 lost
// it on failover; #543 ran a diamond's child early).
func (e *Engine) evaluateDeps(cj *jobState) {
	j := cj.job
	if len(j.Parents) == 0 || len(cj.cur.ParentOutcomes) == 0 {
		return
	}
	// Parents the engine does not hold (a store restored without them)
	// cannot report; they are left out rather than block forever.
	parents := make([]string, 0, len(j.Parents))
	for _, par := range j.Parents {
		if _, ok := e.jobs[par]; ok {
			parents = append(parents, par)
		}
	}
	succ, fail, reported := 0, 0, 0
	for _, par := range parents {
		o, ok := cj.cur.ParentOutcomes[par]
		if !ok {
			continue
		}
		reported++
		switch o {
		case OutcomeSuccess:
			succ++
		case OutcomeFailure:
			fail++
		}
	}
	final := reported == len(parents)
	holds := ruleHolds(j.TriggerRule, succ, fail, len(parents), final)
	if !final && !(holds && !cj.cur.Fired) {
		return
	}
	gens := make(map[string]int64, len(parents))
	var sum int64
	for _, par := range parents {
		g := e.jobs[par].cur.Generation
		gens[par] = g
		sum += g
	}
	sort.Strings(parents)
	triggerID := joinKeys(gens, parents)
	fire := holds && !cj.cur.Fired
	if final {
		cj.cur.Consumed = gens
		cj.cur.ParentOutcomes = nil
		cj.cur.Fired = false
	} else {
		cj.cur.Fired = true
	}
	e.markCursor(cj)
	if j.Disabled {
		return
	}
	key := strconv.FormatInt(sum, 10)
	id := triggerRunID(j.Name, TriggerDependency, key)
	for i := 2; ; i++ {
		if _, ok := e.runs[id]; !ok {
			break
		}
		id = triggerRunID(j.Name, TriggerDependency, key+"-"+strconv.Itoa(i))
	}
	switch {
	case fire:
		e.createRun(cj, TriggerDependency, triggerID, id, e.now, nil, nil)
	case final && !holds:
		e.skipDependency(cj, id, triggerID, fmt.Sprintf("triggerRule %s not met: %s", j.TriggerRule, describeOutcomes(parents, succ, fail)))
	}
}

func describeOutcomes(parents []string, succ, fail int) string {
	return fmt.Sprintf("%d of %d parents succeeded, %d failed (%s)", succ, len(parents), fail, strings.Join(parents, ", "))
}

// skipDependency records a dependency generation that does not run.
func (e *Engine) skipDependency(cj *jobState, id RunID, triggerID, reason string) {
	r := &runState{
		Run: Run{ID: id, Job: cj.job.Name, Trigger: TriggerDependency, TriggerID: triggerID, State: RunSkipped,
			Reason: reason, ScheduledFor: e.now, CreatedAt: e.now},
		js: cj, job: cj.job,
	}
	cj.runs = append(cj.runs, r)
	e.runs[id] = r
	e.endRun(r)
}
