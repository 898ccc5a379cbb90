package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// chain sets up scheduled roots (R1 at 00:01, retries 0) and dependents.
func (h *harness) finishRun(job string, exit int) {
	h.t.Helper()
	for _, r := range h.runsOf(job) {
		if r.State.Terminal() {
			continue
		}
		for _, id := range h.launchAll() {
			_ = id
		}
		r = h.store.runs[r.ID]
		for _, tk := range r.Tasks {
			if !tk.State.Terminal() {
				h.finish(tk.ID, exit)
			}
		}
		return
	}
	h.t.Fatalf("no active run of %s (%s)", job, h.statesOf(job))
}

func count(h *harness, job string, st RunState) int {
	n := 0
	for _, r := range h.runsOf(job) {
		if r.State == st {
			n++
		}
	}
	return n
}

// TestTriggerRules: a dependent fires once per generation of its parents
// under its rule; a complete generation whose rule fails is recorded as a
// skipped run. softError failure counts as success.
func TestTriggerRules(t *testing.T) {
	cases := []struct {
		rule     TriggerRule
		aExit    int
		bExit    int
		soft     bool
		want     string // state of c's run: pending (fired), skipped, or "" for none
		afterOne string // c's runs after only a finished
	}{
		{AllSuccess, 0, 0, false, "pending", ""},
		{AllSuccess, 1, 0, false, "skipped", ""},
		{AllSuccess, 1, 0, true, "pending", ""},
		{AllDone, 1, 1, false, "pending", ""},
		{NoneFailed, 0, 1, false, "skipped", ""},
		{NoneFailed, 0, 0, false, "pending", ""},
		{OneSuccess, 0, 1, false, "pending", "pending"},
		{OneSuccess, 1, 1, false, "skipped", ""},
		{OneFailed, 1, 0, false, "pending", "pending"},
		{OneFailed, 0, 0, false, "skipped", ""},
		{AllFailed, 1, 1, false, "pending", ""},
		{AllFailed, 1, 0, false, "skipped", ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/a=%d/b=%d/soft=%v", c.rule, c.aExit, c.bExit, c.soft), func(t *testing.T) {
			h := newHarness(t)
			h.ready()
			a := sched("a", "R1/2026-03-01T00:01:00Z/PT1M")
			a.SoftError = c.soft
			h.put(a)
			h.put(sched("b", "R1/2026-03-01T00:01:00Z/PT1M"))
			cj := dep("c", "a", "b")
			cj.TriggerRule = c.rule
			cj.ConcurrencyPolicy = Allow
			h.put(cj)
			h.advance(time.Minute)
			h.launchAll()
			h.finish("horae.a.s20260301T000100Z.0.0", c.aExit)
			if got := h.statesOf("c"); got != c.afterOne {
				t.Fatalf("after a only: c runs %q, want %q", got, c.afterOne)
			}
			h.finish("horae.b.s20260301T000100Z.0.0", c.bExit)
			if got := h.statesOf("c"); got != c.want {
				t.Errorf("c runs %q, want %q", got, c.want)
			}
			cur := h.store.cursors["c"]
			if len(cur.ParentOutcomes) != 0 || cur.Fired || cur.Consumed["a"] != 1 || cur.Consumed["b"] != 1 {
				t.Errorf("generation not closed: %s", fmtCursor(cur))
			}
		})
	}
}

// TestDiamondOncePerRoot: A→B, A→C, B→D, C→D runs D once per run of A,
// and not before both branches finished (Chronos #543).
func TestDiamondOncePerRoot(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("a", everyMin))
	h.put(dep("b", "a"))
	h.put(dep("c", "a"))
	h.put(dep("d", "b", "c"))
	for round := 1; round <= 3; round++ {
		h.advance(time.Minute)
		h.finishRun("a", 0)
		h.finishRun("b", 0)
		if n := len(h.runsOf("d")); n != round-1 {
			t.Fatalf("round %d: d ran before c finished (%d runs)", round, n)
		}
		h.finishRun("c", 0)
		h.finishRun("d", 0)
		if n := count(h, "d", RunSucceeded); n != round {
			t.Fatalf("round %d: d succeeded %d times", round, n)
		}
	}
}

// TestExtraParentRunsFireOnce: B finishing twice while C finishes once
// fires D once (Chronos JobGraph counters, §6).
func TestExtraParentRunsFireOnce(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("b", everyMin))
	h.put(sched("c", "R/2026-03-01T00:05:00Z/PT1H"))
	h.put(dep("d", "b", "c"))
	for i := 0; i < 3; i++ {
		h.advance(time.Minute)
		h.finishRun("b", 0)
	}
	h.advance(2 * time.Minute)
	h.finishRun("b", 0)
	h.finishRun("c", 0)
	if n := len(h.runsOf("d")); n != 1 {
		t.Errorf("d ran %d times, want 1", n)
	}
	if id := h.runsOf("d")[0].TriggerID; id != "b:4,c:1" {
		t.Errorf("trigger id %q, want b:4,c:1", id)
	}
}

// TestDependencyProgressSurvivesFailover: half of a generation is in the
// child's cursor, persisted with the parent's run (Chronos #811 lost it).
func TestDependencyProgressSurvivesFailover(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("a", "R1/2026-03-01T00:01:00Z/PT1M"))
	h.put(sched("b", "R1/2026-03-01T00:01:00Z/PT1M"))
	h.put(dep("c", "a", "b"))
	h.advance(time.Minute)
	h.launchAll()
	out := h.finish("horae.a.s20260301T000100Z.0.0", 0)
	var put bool
	for _, rec := range out.Persist {
		if pc, ok := rec.(PutCursor); ok && pc.Cursor.Job == "c" && pc.Cursor.ParentOutcomes["a"] == OutcomeSuccess {
			put = true
		}
	}
	if !put {
		t.Fatal("child progress not persisted in the parent's Output")
	}
	h.failover()
	h.step(TaskUpdated{TaskID: "horae.b.s20260301T000100Z.0.0", State: TaskRunning, Reconciliation: true})
	c := 0
	h.step(TaskUpdated{TaskID: "horae.b.s20260301T000100Z.0.0", State: TaskFinished, Result: &TaskResult{ExitCode: &c}})
	if got := h.statesOf("c"); got != "pending" {
		t.Errorf("after failover c: %q, want one pending run", got)
	}
}

// TestMarkSuccessReleasesChildren: Chronos job/success moves counters and
// fires ready children (§2 #10, JobSchedulerSpec vector).
func TestMarkSuccessReleasesChildren(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("job1", everyMin))
	h.put(dep("job2", "job1"))
	j3 := dep("job3", "job1")
	j3.Disabled = true
	h.put(j3)
	h.put(dep("job4", "job2"))
	h.step(JobMarkedSuccess{Job: "job1"})
	if h.statesOf("job2") != "pending" || h.statesOf("job3") != "" || h.statesOf("job4") != "" {
		t.Fatalf("after job1: job2 %q job3 %q job4 %q", h.statesOf("job2"), h.statesOf("job3"), h.statesOf("job4"))
	}
	h.step(JobMarkedSuccess{Job: "job2"})
	if h.statesOf("job4") != "pending" {
		t.Errorf("job4 %q after job2 marked", h.statesOf("job4"))
	}
	if st := h.store.cursors["job1"].Stats; st.SuccessCount != 1 {
		t.Errorf("job1 stats %+v", st)
	}
}

// TestDeleteWithDependents: the native API is refused naming the
// dependents; the Chronos surface detaches, and an orphan is kept but
// disabled (Chronos turned children into scheduled jobs, #660). Running
// tasks of the deleted job are killed (#549).
func TestDeleteWithDependents(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("p", everyMin))
	h.put(sched("q", everyMin))
	h.put(dep("only", "p"))
	h.put(dep("both", "p", "q"))
	_, err := h.stepErr(JobDeleted{Name: "p"})
	var ce *ConflictError
	if !errors.As(err, &ce) || strings.Join(ce.Dependents, ",") != "both,only" {
		t.Fatalf("delete with dependents: %v", err)
	}
	h.advance(time.Minute)
	ids := h.launchAll()
	h.update("horae.p.s20260301T000100Z.0.0", TaskRunning, 0)
	out := h.step(JobDeleted{Name: "p", Detach: true})
	if len(out.Kill) != 1 || out.Kill[0].TaskID != "horae.p.s20260301T000100Z.0.0" {
		t.Errorf("kill on delete: %v (launched %v)", out.Kill, ids)
	}
	if j := h.store.jobs["only"]; !j.Disabled || len(j.Parents) != 0 {
		t.Errorf("orphan: disabled %v parents %v", j.Disabled, j.Parents)
	}
	if j := h.store.jobs["both"]; j.Disabled || strings.Join(j.Parents, ",") != "q" || j.Schedule != "" {
		t.Errorf("child with another parent: %+v", j)
	}
	if _, ok := h.store.jobs["p"]; ok || len(h.runsOf("p")) != 0 {
		t.Error("deleted job or its runs still stored")
	}
	var disabled bool
	for _, n := range out.Notify {
		disabled = disabled || (n.Kind == NotifyDisabled && n.Job == "only")
	}
	if !disabled {
		t.Error("no disabled notice for the orphan")
	}
	// A late update from the deleted job's task is killed, not adopted.
	out = h.update("horae.p.s20260301T000100Z.0.0", TaskRunning, 0)
	if len(out.Kill) != 1 {
		t.Errorf("update of a deleted job's task: kill %v, want it killed", out.Kill)
	}
	h.finishRun("q", 0)
	if got := h.statesOf("both"); got != "pending" {
		t.Errorf("both after q: %q", got)
	}
}

// TestRestoreWithMissingParent: a stored child whose parent the store lost
// does not stop the leader (Chronos crash-looped on a bad graph, §6).
func TestRestoreWithMissingParent(t *testing.T) {
	h := newHarness(t)
	child := dep("child", "gone", "p")
	child.Normalize()
	p := sched("p", everyMin)
	p.Normalize()
	h.step(LeaderElected{Epoch: 1, State: State{Jobs: []Job{child, p},
		Cursors: []Cursor{{Job: "child", ParentOutcomes: map[string]Outcome{"gone": OutcomeSuccess}}}}})
	h.step(Subscribed{})
	h.step(Reconciled{})
	h.advance(time.Minute)
	h.finishRun("p", 0)
	if got := h.statesOf("child"); got != "pending" {
		t.Errorf("child after p: %q", got)
	}
	h.step(JobMarkedSuccess{Job: "child"})
}

// TestChildEditedWhileParentRuns: editing a dependent job keeps its
// progress for unchanged parents, so it still fires (Chronos #439 skipped
// it).
func TestChildEditedWhileParentRuns(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("a", "R1/2026-03-01T00:01:00Z/PT1M"))
	h.put(sched("b", "R1/2026-03-01T00:01:00Z/PT1M"))
	h.put(dep("c", "a", "b"))
	h.advance(time.Minute)
	h.launchAll()
	h.finish("horae.a.s20260301T000100Z.0.0", 0)
	edited := dep("c", "a", "b")
	edited.Description = "edited while b runs"
	h.put(edited)
	h.finish("horae.b.s20260301T000100Z.0.0", 0)
	if got := h.statesOf("c"); got != "pending" {
		t.Errorf("edited child: %q, want one pending run", got)
	}
}
