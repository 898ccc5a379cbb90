package scheduler

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const everyMin = "R/2026-03-01T00:01:00Z/PT1M"

func TestRunAndTaskIDsDeterministic(t *testing.T) {
	slot := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	if got := scheduleRunID("nightly", slot); got != "nightly.s20260301T020000Z" {
		t.Errorf("scheduleRunID = %s", got)
	}
	if got := scheduleRunID("n", slot.Add(5*time.Millisecond)); got != "n.s20260301T020000.005000000Z" {
		t.Errorf("scheduleRunID with nanos = %s", got)
	}
	if got := TaskID("nightly.s20260301T020000Z", 2, 1); got != "horae.nightly.s20260301T020000Z.2.1" {
		t.Errorf("TaskID = %s", got)
	}
	valid := regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	h := newHarness(t)
	h.ready()
	a := sched("a", everyMin)
	a.ConcurrencyPolicy = Allow
	h.put(a)
	h.step(RunRequested{Job: "a", TriggerID: "deploy-42"})
	h.step(RunRequested{Job: "a"})
	h.advance(time.Minute)
	for id, r := range h.store.runs {
		for _, tk := range r.Tasks {
			if !valid.MatchString(tk.ID) {
				t.Errorf("task id %q of %s has characters Mesos paths dislike", tk.ID, id)
			}
		}
	}
	for _, id := range []RunID{"a.m-deploy-42", "a.s20260301T000100Z", RunID(fmt.Sprintf("a.m-%d", t0.UnixNano()))} {
		h.run(id)
	}
}

// TestManualRunIdempotent: a repeated trigger key returns the first run
// (a retried HTTP request must not start a second run).
func TestManualRunIdempotent(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("a", everyMin))
	o1 := h.step(RunRequested{Job: "a", TriggerID: "k1"})
	o2 := h.step(RunRequested{Job: "a", TriggerID: "k1"})
	if o1.Run == nil || o2.Run == nil || o1.Run.ID != o2.Run.ID || len(o2.Persist) != 0 {
		t.Fatalf("repeat created a second run: %+v / %+v", o1.Run, o2)
	}
	o3 := h.step(RunRequested{Job: "a"})
	o4 := h.step(RunRequested{Job: "a"})
	if o3.Run.ID == o4.Run.ID {
		t.Errorf("two keyless requests at one instant share run %s", o3.Run.ID)
	}
	if _, err := h.stepErr(RunRequested{Job: "a", TriggerID: "a/b"}); err == nil {
		t.Error("trigger id with / accepted")
	}
	if _, err := h.stepErr(RunRequested{Job: "a", Trigger: TriggerSchedule}); err == nil {
		t.Error("schedule trigger requested by hand accepted")
	}
}

// TestRetriesAreAttempts: retries back off exponentially up to the cap,
// keep the run's ID and never consume a repetition: R1 runs one slot however
// many attempts it takes (Chronos decremented Rn per launch, #776, and
// retried endlessly or not at all, #657, #422).
func TestRetriesAreAttempts(t *testing.T) {
	h := newHarness(t)
	h.ready()
	j := sched("once", "R1/2026-03-01T00:01:00Z/PT1M")
	j.Retries = 4
	j.RetryDelay = time.Minute
	j.RetryDelayMax = 3 * time.Minute
	h.put(j)
	h.advance(time.Minute)
	wantDelays := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute}
	id := RunID("once.s20260301T000100Z")
	for attempt := 0; attempt <= 4; attempt++ {
		ids := h.launchAll()
		want := TaskID(id, attempt, 0)
		if len(ids) != 1 || ids[0] != want {
			t.Fatalf("attempt %d launched %v, want %s", attempt, ids, want)
		}
		out := h.finish(ids[0], 1)
		r := h.run(id)
		if attempt < 4 {
			if r.State != RunPending || r.Attempt != attempt+1 || !r.NotBefore.Equal(h.now.Add(wantDelays[attempt])) {
				t.Fatalf("after attempt %d: state %s attempt %d notBefore %v", attempt, r.State, r.Attempt, r.NotBefore)
			}
			if !out.WakeAt.Equal(r.NotBefore) {
				t.Errorf("WakeAt %v, want retry NotBefore %v", out.WakeAt, r.NotBefore)
			}
			if ids := h.launchAll(); len(ids) != 0 {
				t.Fatalf("retry launched before NotBefore: %v", ids)
			}
			h.advance(wantDelays[attempt])
		} else {
			if r.State != RunFailed {
				t.Fatalf("after last attempt: %s", r.State)
			}
			if len(out.Notify) != 1 || out.Notify[0].Kind != NotifyFailure {
				t.Errorf("want one failure notice, got %+v", out.Notify)
			}
		}
	}
	h.advance(24 * time.Hour)
	if n := len(h.runsOf("once")); n != 1 {
		t.Errorf("R1 made %d runs, want 1", n)
	}
	if st := h.store.cursors["once"].Stats; st.ErrorCount != 1 || st.ErrorsSinceLastSuccess != 1 {
		t.Errorf("stats %+v: one failed run, whatever its attempts", st)
	}
}

// TestManualRunsKeepRepetitions: manual runs never consume an Rn repetition
// (Chronos: "A manual run of an Rn job consumes a recurrence", §5).
func TestManualRunsKeepRepetitions(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("twice", "R2/2026-03-01T00:01:00Z/PT1M"))
	for i := 0; i < 3; i++ {
		o := h.step(RunRequested{Job: "twice", TriggerID: fmt.Sprint("m", i)})
		ids := h.launchAll()
		if len(ids) != 1 {
			t.Fatalf("manual run %d launched %v", i, ids)
		}
		h.finish(ids[0], 0)
		_ = o
	}
	for i := 0; i < 5; i++ {
		h.advance(time.Minute)
		for _, id := range h.launchAll() {
			h.finish(id, 0)
		}
	}
	n := 0
	for _, r := range h.runsOf("twice") {
		if r.Trigger == TriggerSchedule {
			n++
		}
	}
	if n != 2 {
		t.Errorf("R2 with 3 manual runs made %d schedule runs, want 2", n)
	}
}

// TestSplitJoin: instances tasks per attempt on distinct hosts; the run
// ends when all ended and succeeds only if all succeeded; a failed
// instance kills its siblings.
func TestSplitJoin(t *testing.T) {
	h := newHarness(t)
	h.ready()
	j := sched("split", everyMin)
	j.Instances = 3
	j.UniqueHosts = true
	h.put(j)
	h.advance(time.Minute)
	out := h.step(OffersArrived{Offers: []Offer{bigOffer("o1", "h1"), bigOffer("o2", "h1b"), bigOffer("o3", "h1")}})
	hosts := map[string]bool{}
	ids := launchedIDs(out)
	for _, l := range out.Launch {
		for range l.Tasks {
			hosts[l.Hostname] = true
		}
	}
	if len(ids) != 2 || len(hosts) != 2 {
		t.Fatalf("uniqueHosts: launched %v on %v; want 2 tasks on h1 and h1b only", ids, hosts)
	}
	out = h.step(OffersArrived{Offers: []Offer{bigOffer("o4", "h1"), bigOffer("o5", "h2")}})
	ids = append(ids, launchedIDs(out)...)
	if len(ids) != 3 || out.Launch[0].Hostname != "h2" {
		t.Fatalf("third instance: %+v", out.Launch)
	}
	id := RunID("split.s20260301T000100Z")
	h.finish(ids[0], 0)
	h.update(ids[1], TaskRunning, 0)
	h.update(ids[2], TaskRunning, 0)
	if r := h.run(id); r.State != RunRunning {
		t.Fatalf("run %s after one of three ended", r.State)
	}
	out = h.update(ids[1], TaskFailed, 3)
	if len(out.Kill) != 1 || out.Kill[0].TaskID != ids[2] {
		t.Fatalf("failed instance should kill its sibling: kill %v", out.Kill)
	}
	out = h.update(ids[2], TaskKilled, 0)
	r := h.run(id)
	if r.State != RunFailed || r.ExitCode == nil || *r.ExitCode != 3 || !strings.Contains(r.Reason, "instance 1 failed") {
		t.Errorf("join: state %s exit %v reason %q", r.State, r.ExitCode, r.Reason)
	}
	// All succeed: the next slot.
	h.advance(time.Minute)
	var next []string
	for _, host := range []string{"a", "b", "c"} {
		next = append(next, launchedIDs(h.step(OffersArrived{Offers: []Offer{bigOffer("p"+host, host)}}))...)
	}
	for _, tid := range next {
		h.finish(tid, 0)
	}
	if r := h.run("split.s20260301T000200Z"); r.State != RunSucceeded || len(r.Tasks) != 3 {
		t.Errorf("all instances succeeded: run %s with %d tasks", r.State, len(r.Tasks))
	}
}

func TestHistoryLimit(t *testing.T) {
	h := newHarness(t)
	h.cfg = Config{HistoryLimit: 3}
	h.e = New(h.cfg)
	h.ready()
	h.put(sched("a", everyMin))
	var deleted []RunID
	for i := 0; i < 5; i++ {
		h.advance(time.Minute)
		for _, id := range h.launchAll() {
			for _, rec := range h.finish(id, 0).Persist {
				if d, ok := rec.(DeleteRun); ok {
					deleted = append(deleted, d.ID)
				}
			}
		}
	}
	if got := len(h.runsOf("a")); got != 3 {
		t.Errorf("kept %d runs, want 3", got)
	}
	want := []RunID{"a.s20260301T000100Z", "a.s20260301T000200Z"}
	if !reflect.DeepEqual(deleted, want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
	if st := h.store.cursors["a"].Stats; st.SuccessCount != 5 {
		t.Errorf("counters are not bounded by history: %+v", st)
	}
}

// TestForbid: a slot that comes due while a run is going waits for it and
// is then handled by the missed-run policy, once; it holds after a
// failover because it is derived from the run records (Chronos #411, #371,
// #818 ran non-concurrent jobs twice after failover).
func TestForbid(t *testing.T) {
	for _, failover := range []bool{false, true} {
		t.Run(fmt.Sprint("failover=", failover), func(t *testing.T) {
			h := newHarness(t)
			h.ready()
			h.put(sched("a", everyMin))
			h.advance(time.Minute)
			first := h.launchAll()
			h.update(first[0], TaskRunning, 0)
			if failover {
				h.failover()
				h.step(TaskUpdated{TaskID: first[0], State: TaskRunning, Reconciliation: true})
			}
			h.advance(time.Minute)
			h.advance(time.Minute)
			if ids := h.launchAll(); len(ids) != 0 {
				t.Fatalf("forbid: launched %v while %s runs", ids, first[0])
			}
			if n := len(h.runsOf("a")); n != 1 {
				t.Fatalf("slots due during the run made runs already: %s", h.statesOf("a"))
			}
			h.now = h.now.Add(30 * time.Second)
			h.finish(first[0], 0)
			// latest: 00:02 skipped, 00:03 runs now (30 s late).
			if got := h.statesOf("a"); got != "succeeded,skipped,pending" {
				t.Fatalf("after the run: %s", got)
			}
			ids := h.launchAll()
			if len(ids) != 1 || ids[0] != "horae.a.s20260301T000300Z.0.0" {
				t.Fatalf("catch-up launched %v", ids)
			}
		})
	}
}

func TestConcurrencyAllowAndReplace(t *testing.T) {
	h := newHarness(t)
	h.ready()
	a := sched("allow", everyMin)
	a.ConcurrencyPolicy = Allow
	r := sched("replace", everyMin)
	r.ConcurrencyPolicy = Replace
	h.put(a)
	h.put(r)
	h.advance(time.Minute)
	first := h.launchAll()
	for _, id := range first {
		h.update(id, TaskRunning, 0)
	}
	out := h.advance(time.Minute)
	if len(out.Kill) != 1 || out.Kill[0].TaskID != "horae.replace.s20260301T000100Z.0.0" {
		t.Fatalf("replace should kill the running task: %v", out.Kill)
	}
	second := h.launchAll()
	if len(second) != 2 {
		t.Fatalf("allow and replace both launch the new slot, got %v", second)
	}
	h.update("horae.replace.s20260301T000100Z.0.0", TaskKilled, 0)
	if r := h.run("replace.s20260301T000100Z"); r.State != RunKilled || r.Reason != "replaced" {
		t.Errorf("replaced run: %s %q", r.State, r.Reason)
	}
	if r := h.run("allow.s20260301T000100Z"); r.State != RunRunning {
		t.Errorf("allow: first run %s, want still running", r.State)
	}
}

// TestMissedRunPolicies: slots missed while no leader ran are handled per
// policy (Chronos 3.x always ran one catch-up; 2.x skipped silently,
// #476, #532).
func TestMissedRunPolicies(t *testing.T) {
	cases := []struct {
		policy   MissedRunPolicy
		deadline time.Duration
		down     time.Duration
		runs     int
		skipped  int
		notices  int // skipped notices beyond the records
	}{
		{MissedLatest, 0, 10 * time.Minute, 1, 9, 0},
		// The newest slot is on time (within OnTimeWindow): it runs under
		// every policy; only the older ones are missed.
		{MissedSkip, 0, 10 * time.Minute, 1, 9, 0},
		{MissedAll, 0, 10 * time.Minute, 10, 0, 0},
		{MissedAll, 0, 150 * time.Minute, 100, 0, 1},
		{MissedLatest, 20 * time.Second, 10*time.Minute + 30*time.Second, 0, 10, 0},
		{MissedLatest, 90 * time.Second, 10*time.Minute + 30*time.Second, 1, 9, 0},
		{MissedAll, 5 * time.Minute, 10*time.Minute + 30*time.Second, 5, 5, 0},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/deadline=%s/down=%s", c.policy, c.deadline, c.down), func(t *testing.T) {
			h := newHarness(t)
			h.ready()
			j := sched("a", everyMin)
			j.MissedRunPolicy = c.policy
			j.StartingDeadline = c.deadline
			h.put(j)
			h.now = h.now.Add(c.down)
			h.failover()
			out := h.step(Tick{})
			runs, skipped := 0, 0
			for _, r := range h.runsOf("a") {
				switch r.State {
				case RunPending:
					runs++
				case RunSkipped:
					skipped++
				}
			}
			extra := 0
			for _, n := range out.Notify {
				if n.Run == nil {
					extra++
				}
			}
			if c.notices > 0 {
				// The cap keeps the newest slots, in order.
				rs := h.runsOf("a")
				first, last := rs[0].ScheduledFor, rs[len(rs)-1].ScheduledFor
				if want := h.now.Add(-time.Duration(MaxMissedRuns-1) * time.Minute); !first.Equal(want) || !last.Equal(h.now) {
					t.Errorf("kept slots %v..%v, want %v..%v", first, last, want, h.now)
				}
			}
			if runs != c.runs || skipped != c.skipped || extra != c.notices {
				t.Errorf("runs %d skipped %d cap notices %d; want %d %d %d", runs, skipped, extra, c.runs, c.skipped, c.notices)
			}
			want := h.now.Truncate(time.Minute).Add(time.Minute)
			if !out.WakeAt.Equal(want) {
				t.Errorf("WakeAt %v, want next slot %v", out.WakeAt, want)
			}
		})
	}
}

// TestDisabledJob: a disabled job never runs on schedule but runs by hand
// (Chronos discarded a disabled job's manual task, Yelp/paasta#370, #704);
// slots passed while disabled are not owed on re-enable.
func TestDisabledJob(t *testing.T) {
	h := newHarness(t)
	h.ready()
	j := sched("a", everyMin)
	j.Disabled = true
	h.put(j)
	out := h.advance(5 * time.Minute)
	if len(h.runsOf("a")) != 0 || !out.WakeAt.IsZero() {
		t.Fatalf("disabled job scheduled: %s wake %v", h.statesOf("a"), out.WakeAt)
	}
	h.step(RunRequested{Job: "a", TriggerID: "x"})
	if ids := h.launchAll(); len(ids) != 1 {
		t.Fatalf("manual run of a disabled job launched %v", ids)
	}
	h.now = h.now.Add(30 * time.Second)
	out = h.step(JobEnabled{Name: "a", Enabled: true})
	if want := t0.Add(6 * time.Minute); !out.WakeAt.Equal(want) {
		t.Errorf("re-enabled: WakeAt %v, want %v", out.WakeAt, want)
	}
	h.advance(30 * time.Second)
	if got := h.statesOf("a"); got != "launching" {
		t.Errorf("re-enabled job while its manual run goes (forbid): %s", got)
	}
}

// TestMaxRuntimeBackstop: the executor enforces maxRuntime; if it does not
// report, the engine kills the run past a margin and fails it "timeout".
func TestMaxRuntimeBackstop(t *testing.T) {
	h := newHarness(t)
	h.cfg = Config{RuntimeMargin: 30 * time.Second}
	h.e = New(h.cfg)
	h.ready()
	j := sched("slow", "R1/2026-03-01T00:01:00Z/PT1M")
	j.MaxRuntime = 10 * time.Minute
	h.put(j)
	h.advance(time.Minute)
	ids := h.launchAll()
	out := h.update(ids[0], TaskRunning, 0)
	if want := h.now.Add(10*time.Minute + 30*time.Second); !out.WakeAt.Equal(want) {
		t.Fatalf("WakeAt %v, want backstop %v", out.WakeAt, want)
	}
	out = h.advance(10 * time.Minute)
	if len(out.Kill) != 0 {
		t.Fatal("killed before the margin")
	}
	out = h.advance(30 * time.Second)
	if len(out.Kill) != 1 || out.Kill[0].TaskID != ids[0] {
		t.Fatalf("backstop kill: %v", out.Kill)
	}
	h.update(ids[0], TaskKilled, 0)
	if r := h.run("slow.s20260301T000100Z"); r.State != RunFailed || r.Reason != "timeout" {
		t.Errorf("timed-out run: %s %q", r.State, r.Reason)
	}
	// The executor's own timeout report gives the same reason.
	h.step(RunRequested{Job: "slow", TriggerID: "m"})
	ids = h.launchAll()
	c := 137
	h.step(TaskUpdated{TaskID: ids[0], State: TaskFailed, Result: &TaskResult{ExitCode: &c, Reason: "timeout"}})
	if r := h.run("slow.m-m"); r.State != RunFailed || r.Reason != "timeout" {
		t.Errorf("executor timeout: %s %q", r.State, r.Reason)
	}
}

// TestWakeAtEarliest: WakeAt is the earliest of next slots, retry
// NotBefore and backstops.
func TestWakeAtEarliest(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.put(sched("hourly", "R/2026-03-01T01:00:00Z/PT1H"))
	out := h.step(JobPut{Job: sched("daily", "R/2026-03-02T00:00:00Z/P1D")})
	if want := t0.Add(time.Hour); !out.WakeAt.Equal(want) {
		t.Errorf("WakeAt %v, want %v", out.WakeAt, want)
	}
	j := sched("flaky", "R1/2026-03-01T00:10:00Z/PT1M")
	j.Retries = 1
	j.RetryDelay = 5 * time.Minute
	h.put(j)
	h.advance(10 * time.Minute)
	ids := h.launchAll()
	out = h.finish(ids[0], 1)
	if want := h.now.Add(5 * time.Minute); !out.WakeAt.Equal(want) {
		t.Errorf("WakeAt %v, want retry %v", out.WakeAt, want)
	}
	h.step(JobDeleted{Name: "flaky"})
	out = h.step(JobDeleted{Name: "hourly"})
	if want := t0.Add(24 * time.Hour); !out.WakeAt.Equal(want) {
		t.Errorf("after deletes: WakeAt %v, want %v", out.WakeAt, want)
	}
}

// TestEmptyStartAnchor: R//PT15M anchors at the put and keeps that anchor
// across failover (Chronos re-evaluated an empty start at every parse, §5).
func TestEmptyStartAnchor(t *testing.T) {
	h := newHarness(t)
	h.ready()
	h.now = t0.Add(7 * time.Minute)
	out := h.step(JobPut{Job: sched("q", "R//PT15M")})
	if c := h.store.cursors["q"]; !c.Anchor.Equal(h.now) {
		t.Fatalf("anchor %v, want %v", c.Anchor, h.now)
	}
	first := out.WakeAt
	if first.Before(h.now) || first.After(h.now.Add(15*time.Minute)) {
		t.Fatalf("first slot %v", first)
	}
	h.now = h.now.Add(3 * time.Minute)
	h.failover()
	if got := h.last.WakeAt; !got.Equal(first) {
		t.Errorf("after failover next slot %v, want %v", got, first)
	}
}

// walkOnly hides an ISO schedule's index so owedSlots walks it.
type walkOnly struct{ s slotter }

func (w walkOnly) Next(after time.Time) (time.Time, bool) { return w.s.Next(after) }

// TestOwedSlotsIndexedEqualsWalk: the O(1) backlog count of ISO schedules
// agrees with walking the slots one by one, bounded repetitions included.
func TestOwedSlotsIndexedEqualsWalk(t *testing.T) {
	cases := []struct {
		expr, tz  string
		last, now time.Time
	}{
		{everyMin, "", t0, t0.Add(10 * time.Minute)},
		{everyMin, "", t0, t0.Add(150 * time.Minute)},
		{everyMin, "", t0.Add(5 * time.Minute), t0.Add(5 * time.Minute)},
		{"R5/2026-03-01T00:01:00Z/PT1M", "", t0, t0.Add(150 * time.Minute)},
		{"R5/2026-03-01T00:01:00Z/PT1M", "", t0.Add(3 * time.Minute), t0.Add(4*time.Minute + time.Second)},
		{"R/2026-01-31T10:00:00/P1M", "Europe/Berlin", t0.Add(-60 * 24 * time.Hour), t0.Add(400 * 24 * time.Hour)},
		{"R/2026-03-29T01:30:00/PT30M", "Europe/Berlin", t0, t0.Add(40 * 24 * time.Hour)},
	}
	for _, c := range cases {
		t.Run(c.expr+"/"+c.now.Format(time.RFC3339), func(t *testing.T) {
			s, _, err := parseSchedule(c.expr, c.tz, t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := s.(indexed); !ok {
				t.Fatalf("%T is not indexed", s)
			}
			k1, n1 := owedSlots(s, c.last, c.now)
			k2, n2 := owedSlots(walkOnly{s}, c.last, c.now)
			if n1 != n2 || !reflect.DeepEqual(k1, k2) {
				t.Errorf("indexed %d %v\nwalked  %d %v", n1, k1, n2, k2)
			}
		})
	}
}
