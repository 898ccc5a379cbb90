package scheduler

import (
	"reflect"
	"testing"
	"time"
)

// TestNoLaunchBeforeReconciled: after election nothing launches until
// Subscribed and Reconciled; Subscribed asks about every launched task
// plus an implicit reconciliation (Chronos reconciled an empty list after
// failover, so running tasks were invisible for hours: #411, #818).
func TestNoLaunchBeforeReconciled(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("a", everyMin))
	h.put(sched("b", "R/2026-03-01T00:02:00Z/PT1H"))
	h.advance(time.Minute)
	launched := h.launchAll()
	h.advance(time.Minute)

	h.e = New(Config{})
	h.step(LeaderElected{Epoch: 2, State: h.store.state()})
	h.step(Tick{})
	if out := h.step(OffersArrived{Offers: []Offer{bigOffer("x", "h")}}); len(out.Launch) != 0 || len(out.Decline) != 1 {
		t.Fatalf("launched before subscription: %+v", out)
	}
	out := h.step(Subscribed{})
	want := []TaskRef{{TaskID: launched[0], AgentID: "agent-host1"}}
	if !reflect.DeepEqual(out.Reconcile, want) || !out.Implicit {
		t.Fatalf("reconcile %+v implicit %v, want %+v", out.Reconcile, out.Implicit, want)
	}
	if out.Offers != OffersNotWanted {
		t.Errorf("offer interest before reconciliation: %v", out.Offers)
	}
	if out := h.step(OffersArrived{Offers: []Offer{bigOffer("y", "h")}}); len(out.Launch) != 0 {
		t.Fatal("launched before Reconciled")
	}
	out = h.step(Reconciled{})
	if out.Offers != OffersWanted {
		t.Errorf("after Reconciled: interest %v, want wanted (b is pending)", out.Offers)
	}
	if ids := h.launchAll(); len(ids) != 1 || ids[0] != "horae.b.s20260301T000200Z.0.0" {
		t.Errorf("after reconciliation launched %v", ids)
	}
	h.step(Disconnected{})
	h.step(RunRequested{Job: "b", TriggerID: "x"})
	if out := h.step(OffersArrived{Offers: []Offer{bigOffer("z", "h")}}); len(out.Launch) != 0 {
		t.Error("launched while disconnected")
	}
}

// TestTaskStates: lost, dropped, gone, unreachable and error are failures
// that retry; killed on request ends killed without retry; reconciliation
// answers and repeated updates are no-ops; unknown non-terminal tasks are
// killed; Missing at Reconciled counts as lost.
func TestTaskStates(t *testing.T) {
	for _, st := range []TaskState{TaskLost, TaskDropped, TaskGone, TaskGoneByOp, TaskUnreachable, TaskError, TaskFailed} {
		t.Run(string(st), func(t *testing.T) {
			h := newHarness(t)
			h.ready()
			j := sched("a", "R1/2026-03-01T00:01:00Z/PT1M")
			j.Retries = 1
			h.put(j)
			h.advance(time.Minute)
			ids := h.launchAll()
			h.step(TaskUpdated{TaskID: ids[0], State: st})
			if r := h.run("a.s20260301T000100Z"); r.State != RunPending || r.Attempt != 1 {
				t.Errorf("after %s: %s attempt %d, want a pending retry", st, r.State, r.Attempt)
			}
		})
	}
	t.Run("killed on request", func(t *testing.T) {
		h := newHarness(t)
		h.ready()
		j := sched("a", "R1/2026-03-01T00:01:00Z/PT1M")
		j.Retries = 3
		h.put(j)
		h.advance(time.Minute)
		ids := h.launchAll()
		h.update(ids[0], TaskRunning, 0)
		out := h.step(RunKillRequested{Run: "a.s20260301T000100Z"})
		if len(out.Kill) != 1 || out.Run == nil {
			t.Fatalf("kill request: %+v", out)
		}
		h.step(TaskUpdated{TaskID: ids[0], State: TaskKilled})
		if r := h.run("a.s20260301T000100Z"); r.State != RunKilled || r.Attempt != 0 {
			t.Errorf("killed run: %s attempt %d", r.State, r.Attempt)
		}
	})
	t.Run("kill pending run", func(t *testing.T) {
		h := newHarness(t)
		h.ready()
		h.put(sched("a", everyMin))
		h.advance(time.Minute)
		out := h.step(JobKillRequested{Job: "a"})
		if len(out.Kill) != 0 || h.run("a.s20260301T000100Z").State != RunKilled {
			t.Errorf("unlaunched run should end killed at once: %+v", out)
		}
	})
	t.Run("idempotent and unknown", func(t *testing.T) {
		h := newHarness(t)
		h.ready()
		h.put(sched("a", everyMin))
		h.advance(time.Minute)
		ids := h.launchAll()
		h.update(ids[0], TaskRunning, 0)
		for _, rec := range []bool{false, true} {
			out := h.step(TaskUpdated{TaskID: ids[0], State: TaskRunning, Reconciliation: rec})
			if len(out.Persist)+len(out.Kill)+len(out.Notify) != 0 {
				t.Errorf("repeated running update changed something: %+v", out)
			}
		}
		out := h.step(TaskUpdated{TaskID: "horae.ghost.s1.0.0", AgentID: "ag", State: TaskRunning, Reconciliation: true})
		if !reflect.DeepEqual(out.Kill, []TaskRef{{TaskID: "horae.ghost.s1.0.0", AgentID: "ag"}}) {
			t.Errorf("unknown running task: kill %v", out.Kill)
		}
		if out := h.step(TaskUpdated{TaskID: "horae.ghost.s1.0.0", State: TaskFinished}); len(out.Kill) != 0 {
			t.Error("unknown finished task killed")
		}
	})
	t.Run("missing at reconciliation", func(t *testing.T) {
		h := newHarness(t)
		h.ready()
		j := sched("a", "R1/2026-03-01T00:01:00Z/PT1M")
		j.Retries = 1
		h.put(j)
		h.advance(time.Minute)
		ids := h.launchAll()
		h.e = New(Config{})
		h.step(LeaderElected{Epoch: 5, State: h.store.state()})
		h.step(Subscribed{})
		h.step(Reconciled{Missing: ids})
		if r := h.run("a.s20260301T000100Z"); r.State != RunPending || r.Attempt != 1 {
			t.Errorf("missing task: run %s attempt %d, want retry", r.State, r.Attempt)
		}
	})
}

// TestOfferMatching: priority order, no head-of-line blocking (Chronos
// stopped the whole round at the first misfit, §7), packing, executor
// overhead, ports, constraints, and every offer launched on or declined.
func TestOfferMatching(t *testing.T) {
	h := newHarness(t)
	h.cfg = Config{ExecutorCPUs: 0.1, ExecutorMem: 32}
	h.e = New(h.cfg)
	h.ready()
	big := sched("big", everyMin)
	big.CPUs = 8
	low := sched("low", everyMin)
	high := sched("zz-high", everyMin)
	high.HighPriority = true
	ported := sched("ported", everyMin)
	ported.Ports = 2
	for _, j := range []Job{big, low, high, ported} {
		h.put(j)
	}
	h.advance(time.Minute)
	// 0.5 cpus fit two tasks of 0.1+0.1 only: high first, then big does not
	// fit and is passed over, then low (l < p).
	out := h.step(OffersArrived{Offers: []Offer{{ID: "o1", AgentID: "a1", Hostname: "h1", CPUs: 0.45, Mem: 1024, Disk: 4096,
		Ports: []PortRange{{Begin: 5000, End: 5000}, {Begin: 6000, End: 6001}}}, {ID: "o2", AgentID: "a2", Hostname: "h2", CPUs: 0.1, Mem: 1024, Disk: 4096}}})
	if len(out.Launch) != 1 || len(out.Decline) != 1 || out.Decline[0] != "o2" {
		t.Fatalf("launch %+v decline %v", out.Launch, out.Decline)
	}
	var got []string
	for _, tl := range out.Launch[0].Tasks {
		got = append(got, tl.TaskID)
	}
	want := []string{"horae.zz-high.s20260301T000100Z.0.0", "horae.low.s20260301T000100Z.0.0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("packed %v, want %v", got, want)
	}
	out = h.step(OffersArrived{Offers: []Offer{{ID: "o3", AgentID: "a1", Hostname: "h1", CPUs: 1, Mem: 1024, Disk: 4096,
		Ports: []PortRange{{Begin: 5000, End: 5000}, {Begin: 6000, End: 6001}}}}})
	if len(out.Launch) != 1 || out.Launch[0].Tasks[0].Run != "ported.s20260301T000100Z" ||
		!reflect.DeepEqual(out.Launch[0].Tasks[0].Ports, []uint64{5000, 6000}) {
		t.Errorf("ported launch %+v", out.Launch)
	}

	cons := []struct {
		c    Constraint
		attr map[string]string
		ok   bool
	}{
		{Constraint{"rack", OpEquals, "r1"}, map[string]string{"rack": "r1"}, true},
		{Constraint{"rack", OpEquals, "r1"}, map[string]string{"rack": "r2"}, false},
		{Constraint{"rack", OpLike, "r[0-9]"}, map[string]string{"rack": "r7"}, true},
		{Constraint{"rack", OpLike, "r[0-9]"}, map[string]string{"rack": "r77"}, false}, // full match
		{Constraint{"rack", OpUnlike, "r1"}, map[string]string{"rack": "r2"}, true},
		{Constraint{"rack", OpUnlike, "r1"}, map[string]string{"rack": "r1"}, false},
		{Constraint{"rack", OpUnlike, "r1"}, nil, false}, // missing attribute: as Chronos
		{Constraint{"hostname", OpEquals, "h9"}, nil, true},
	}
	for _, c := range cons {
		h := newHarness(t)
		h.ready()
		j := sched("c", everyMin)
		j.Constraints = []Constraint{c.c}
		h.put(j)
		h.advance(time.Minute)
		out := h.step(OffersArrived{Offers: []Offer{{ID: "o", AgentID: "a", Hostname: "h9", CPUs: 1, Mem: 1024, Disk: 1024, Attributes: c.attr}}})
		if (len(out.Launch) == 1) != c.ok {
			t.Errorf("%v on %v: launched %v, want %v", c.c, c.attr, len(out.Launch) == 1, c.ok)
		}
	}
}

// TestUniqueConstraint: UNIQUE hostname keeps a job's concurrent tasks on
// distinct hosts.
func TestUniqueConstraint(t *testing.T) {
	h := newHarness(t)
	h.ready()
	j := sched("u", everyMin)
	j.ConcurrencyPolicy = Allow
	j.Constraints = []Constraint{{Attribute: "hostname", Operator: OpUnique}}
	h.put(j)
	h.advance(time.Minute)
	h.advance(time.Minute)
	out := h.step(OffersArrived{Offers: []Offer{bigOffer("o1", "h1")}})
	if n := len(launchedIDs(out)); n != 1 {
		t.Fatalf("UNIQUE: %d tasks on one host", n)
	}
	out = h.step(OffersArrived{Offers: []Offer{bigOffer("o2", "h1"), bigOffer("o3", "h2")}})
	if len(out.Launch) != 1 || out.Launch[0].Hostname != "h2" {
		t.Errorf("UNIQUE second task: %+v", out.Launch)
	}
}

// TestOfferInterestOnChange: revive when work is pending, suppress when
// none, only on change (Chronos never suppressed, #381, #516).
func TestOfferInterestOnChange(t *testing.T) {
	h := newHarness(t)
	h.step(LeaderElected{Epoch: 1})
	if out := h.step(Subscribed{}); out.Offers != OffersNotWanted {
		t.Fatalf("subscribed, not reconciled: %v", out.Offers)
	}
	if out := h.step(Reconciled{}); out.Offers != OffersUnchanged {
		t.Fatalf("reconciled with nothing pending: %v, want unchanged", out.Offers)
	}
	h.put(sched("a", everyMin))
	if h.last.Offers != OffersUnchanged {
		t.Errorf("put without pending work: %v", h.last.Offers)
	}
	if out := h.advance(time.Minute); out.Offers != OffersWanted {
		t.Errorf("pending run: %v", out.Offers)
	}
	if out := h.step(Tick{}); out.Offers != OffersUnchanged {
		t.Errorf("still pending: %v, want unchanged", out.Offers)
	}
	if out := h.step(OffersArrived{Offers: []Offer{bigOffer("o", "h")}}); out.Offers != OffersNotWanted {
		t.Errorf("all launched: %v", out.Offers)
	}
}

// TestDeterministicReplay: the same events give equal outputs.
func TestDeterministicReplay(t *testing.T) {
	script := func() []Output {
		h := newHarness(t)
		var outs []Output
		rec := func(o Output) { outs = append(outs, o) }
		h.ready()
		for i, name := range []string{"e", "d", "c", "b", "a"} {
			j := sched(name, everyMin)
			j.Instances = i%2 + 1
			j.Retries = 1
			h.put(j)
		}
		h.put(dep("z", "a", "b", "c"))
		for i := 0; i < 5; i++ {
			rec(h.advance(time.Minute))
			out := h.step(OffersArrived{Offers: []Offer{bigOffer("o1", "h1"), bigOffer("o2", "h2"), {ID: "tiny", Hostname: "h3"}}})
			rec(out)
			for k, id := range launchedIDs(out) {
				rec(h.finish(id, k%3))
			}
		}
		return outs
	}
	a, b := script(), script()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two replays of the same events gave different outputs")
	}
}

// TestOverdueNotice: a run that waits for resources past OverdueAfter is
// announced once (Chronos had no late notification, §8).
func TestOverdueNotice(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("a", "R1/2026-03-01T00:01:00Z/PT1M"))
	h.advance(time.Minute)
	out := h.advance(4 * time.Minute)
	if len(out.Notify) != 0 {
		t.Fatalf("overdue too early: %+v", out.Notify)
	}
	out = h.advance(time.Minute)
	if len(out.Notify) != 1 || out.Notify[0].Kind != NotifyOverdue || out.Notify[0].Run == nil {
		t.Fatalf("want one overdue notice, got %+v", out.Notify)
	}
	if out := h.advance(10 * time.Minute); len(out.Notify) != 0 {
		t.Errorf("overdue repeated: %+v", out.Notify)
	}
}

// TestIntermediateTaskStatesAreNotPersisted: staging/starting do not change
// what a run means, so they cost no store commit; running and the end do.
func TestIntermediateTaskStatesAreNotPersisted(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("a", everyMin))
	h.advance(time.Minute)
	ids := h.launchAll()
	if len(ids) != 1 {
		t.Fatalf("launched %v, want one task", ids)
	}
	if out := h.step(TaskUpdated{TaskID: ids[0], AgentID: "agent-host1", State: TaskStarting}); len(out.Persist) != 0 {
		t.Errorf("TASK_STARTING persisted %d records, want none", len(out.Persist))
	}
	if out := h.step(TaskUpdated{TaskID: ids[0], AgentID: "agent-host1", State: TaskRunning}); len(out.Persist) == 0 {
		t.Error("TASK_RUNNING persisted nothing: the run's start must be durable")
	}
	if out := h.step(TaskUpdated{TaskID: ids[0], AgentID: "agent-host1", State: TaskFinished}); len(out.Persist) == 0 {
		t.Error("TASK_FINISHED persisted nothing")
	}
}

// TestStartedAtFromStatusStamp: a run's start is the executor's stamp on
// TASK_RUNNING, kept between the launch and the moment the leader learns it
// (agent clocks can be off either way).
func TestStartedAtFromStatusStamp(t *testing.T) {
	launch := t0.Add(time.Minute)
	now := launch.Add(40 * time.Millisecond)
	tests := []struct {
		name  string
		stamp time.Time
		want  time.Time
	}{
		{"stamp between launch and now", launch.Add(3 * time.Millisecond), launch.Add(3 * time.Millisecond)},
		{"no stamp", time.Time{}, now},
		{"agent clock ahead", now.Add(time.Second), now},
		{"agent clock behind", launch.Add(-time.Second), launch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ready()
			h.put(sched("a", "R1/2026-03-01T00:01:00Z/PT1M"))
			h.advance(time.Minute)
			ids := h.launchAll()
			h.now = now
			h.step(TaskUpdated{TaskID: ids[0], State: TaskRunning, Timestamp: tc.stamp})
			r := h.run("a.s20260301T000100Z")
			if !r.StartedAt.Equal(tc.want) || !r.Tasks[0].StartedAt.Equal(tc.want) {
				t.Errorf("run started %s, task %s; want %s", r.StartedAt, r.Tasks[0].StartedAt, tc.want)
			}
		})
	}
}
