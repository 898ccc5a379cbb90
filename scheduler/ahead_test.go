package scheduler

import (
	"slices"
	"testing"
	"time"
)

const ahead = 100 * time.Millisecond

func newAheadHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.cfg.OfferHold = time.Second
	h.cfg.LaunchAhead = ahead
	h.e = New(h.cfg)
	h.ready()
	return h
}

// TestLaunchAheadCreatesAndLaunchesBeforeTheSlot: with LaunchAhead a slot's
// run is created, committed and launched that long before the slot, and
// its task says when to start (the slot), so the launch path is not part
// of the run's lateness.
func TestLaunchAheadCreatesAndLaunchesBeforeTheSlot(t *testing.T) {
	h := newAheadHarness(t)
	h.put(sched("a", everyMin))
	slot := t0.Add(time.Minute)
	if got, want := h.last.WakeAt, slot.Add(-ahead-time.Second); !got.Equal(want) {
		t.Fatalf("WakeAt %s, want %s (OfferHold before the early slot timer)", got, want)
	}
	h.at(slot.Add(-ahead - time.Second))
	h.now = slot.Add(-500 * time.Millisecond)
	if out := h.step(OffersArrived{Offers: []Offer{bigOffer("o1", "host1")}}); len(out.Launch) != 0 || !out.WakeAt.Equal(slot.Add(-ahead)) {
		t.Fatalf("offer 500ms before the slot: launched %v, WakeAt %s; want it held until %s", launchedIDs(out), out.WakeAt, slot.Add(-ahead))
	}
	if out := h.at(slot.Add(-ahead - time.Millisecond)); len(out.Launch) != 0 || len(out.Persist) != 0 {
		t.Fatalf("1ms before LaunchAhead: launched %v, persisted %v; want nothing yet", launchedIDs(out), out.Persist)
	}
	out := h.at(slot.Add(-ahead))
	if ids := launchedIDs(out); !slices.Equal(ids, []string{"horae.a.s20260301T000100Z.0.0"}) {
		t.Fatalf("LaunchAhead before the slot launched %v, want the slot's run", ids)
	}
	tl := out.Launch[0].Tasks[0]
	if !tl.StartAt.Equal(slot) || !tl.ScheduledFor.Equal(slot) {
		t.Errorf("task StartAt %s ScheduledFor %s, want both the slot %s", tl.StartAt, tl.ScheduledFor, slot)
	}
	r := h.run("a.s20260301T000100Z")
	if !r.CreatedAt.Equal(slot.Add(-ahead)) || !r.ScheduledFor.Equal(slot) || r.State != RunLaunching {
		t.Errorf("run created %s for %s in %s, want created %s for the slot, launching", r.CreatedAt, r.ScheduledFor, r.State, slot.Add(-ahead))
	}
	next := slot.Add(time.Minute)
	if got, want := out.WakeAt, next.Add(-ahead-time.Second); !got.Equal(want) {
		t.Errorf("after the launch WakeAt %s, want %s", got, want)
	}
	if out := h.at(slot); len(out.Launch)+len(out.Persist) != 0 {
		t.Errorf("at the slot itself: launched %v, persisted %v; want nothing (already launched)", launchedIDs(out), out.Persist)
	}
}

// TestLaunchAheadNoOfferStartsAtOnce: a run created ahead that gets its
// offer only after its slot starts at once (no StartAt).
func TestLaunchAheadNoOfferStartsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.cfg.LaunchAhead = ahead
	h.e = New(h.cfg)
	h.ready()
	h.put(sched("a", everyMin))
	slot := t0.Add(time.Minute)
	h.at(slot.Add(-ahead))
	if h.statesOf("a") != "pending" {
		t.Fatalf("LaunchAhead before the slot: runs %s, want one pending", h.statesOf("a"))
	}
	h.now = slot.Add(-ahead / 2)
	out := h.step(OffersArrived{Offers: []Offer{bigOffer("o1", "host1")}})
	if len(out.Launch) != 1 || !out.Launch[0].Tasks[0].StartAt.Equal(slot) {
		t.Fatalf("offer before the slot: launch %+v, want the run with StartAt %s", out.Launch, slot)
	}
	h.finish("horae.a.s20260301T000100Z.0.0", 0)
	h.at(slot.Add(time.Minute - ahead))
	h.now = slot.Add(time.Minute + time.Millisecond)
	out = h.step(OffersArrived{Offers: []Offer{bigOffer("o2", "host1")}})
	if len(out.Launch) != 1 || !out.Launch[0].Tasks[0].StartAt.IsZero() {
		t.Fatalf("offer after the slot: launch %+v, want the run with no StartAt", out.Launch)
	}
}

// TestLaunchAheadConcurrency: allow creates ahead while another run is
// active; forbid creates the next run ahead once the active run ended
// before its slot; replace never creates ahead (its run would kill the
// active one early), with or without a run active.
func TestLaunchAheadConcurrency(t *testing.T) {
	slot := t0.Add(2 * time.Minute)
	first := map[ConcurrencyPolicy]string{}
	h := newAheadHarness(t)
	for _, p := range []ConcurrencyPolicy{Allow, Forbid, Replace} {
		j := sched(string(p), everyMin)
		j.ConcurrencyPolicy = p
		h.put(j)
	}
	if out := h.at(t0.Add(time.Minute - ahead)); len(out.Persist) == 0 || h.statesOf("replace") != "" {
		t.Fatalf("LaunchAhead before the first slot: runs of replace %q, want none (allow and forbid: one each)", h.statesOf("replace"))
	}
	h.at(t0.Add(time.Minute))
	for _, id := range h.launchAll() {
		h.update(id, TaskRunning, 0)
		first[h.e.tasks[id].job.ConcurrencyPolicy] = id
	}
	if len(first) != 3 {
		t.Fatalf("first slot launched %v, want one task per job", first)
	}

	out := h.at(slot.Add(-ahead))
	if len(out.Kill) != 0 {
		t.Fatalf("LaunchAhead before the slot killed %v; replace must wait for the slot", out.Kill)
	}
	for job, want := range map[string]string{"replace": "running", "forbid": "running", "allow": "running,pending"} {
		if got := h.statesOf(job); got != want {
			t.Errorf("%s before the slot: runs %s, want %s", job, got, want)
		}
	}
	ids := h.launchAll()
	if !slices.Equal(ids, []string{"horae.allow.s20260301T000200Z.0.0"}) {
		t.Fatalf("launched %v before the slot, want only allow's next run", ids)
	}
	if !h.last.WakeAt.Equal(slot) {
		t.Errorf("WakeAt %s, want the slot %s (replace evaluated then)", h.last.WakeAt, slot)
	}

	// forbid's run ends 50ms before the slot: the next run is created at
	// once, ahead, to start at the slot.
	h.now = slot.Add(-ahead / 2)
	h.update(first[Forbid], TaskFinished, 0)
	if got := h.statesOf("forbid"); got != "succeeded,pending" {
		t.Fatalf("forbid after its run ended before the slot: runs %s, want succeeded,pending", got)
	}
	out = h.step(OffersArrived{Offers: []Offer{bigOffer("o-forbid", "host1")}})
	if len(out.Launch) != 1 || out.Launch[0].Tasks[0].Run != "forbid.s20260301T000200Z" || !out.Launch[0].Tasks[0].StartAt.Equal(slot) {
		t.Fatalf("forbid's next run: launch %+v, want it with StartAt %s", out.Launch, slot)
	}

	out = h.at(slot)
	if len(out.Kill) != 1 || out.Kill[0].TaskID != first[Replace] {
		t.Fatalf("at the slot: killed %v, want replace's running task %s", out.Kill, first[Replace])
	}
	out = h.step(OffersArrived{Offers: []Offer{bigOffer("o-replace", "host1")}})
	if len(out.Launch) != 1 || out.Launch[0].Tasks[0].Run != "replace.s20260301T000200Z" || !out.Launch[0].Tasks[0].StartAt.IsZero() {
		t.Fatalf("replace's next run: launch %+v, want it at once (no StartAt)", out.Launch)
	}
}

// TestLaunchAheadKeepsMissedRunPolicies: a slot created ahead is not a
// newer slot that makes an owed one missed. A tick 59.9 s after a slot
// (within the on-time window) runs that slot under missedRunPolicy latest
// exactly as without LaunchAhead; the slot 100ms away is created ahead too
// only where the concurrency policy lets it start beside that run.
func TestLaunchAheadKeepsMissedRunPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy ConcurrencyPolicy
		want   string
	}{
		{Forbid, "pending"},
		{Allow, "pending,pending"},
		{Replace, "pending"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			h := newAheadHarness(t)
			j := sched("a", everyMin)
			j.ConcurrencyPolicy, j.MissedRunPolicy = tc.policy, MissedLatest
			h.put(j)
			h.at(t0.Add(2*time.Minute - ahead))
			if got := h.statesOf("a"); got != tc.want {
				t.Fatalf("runs %s, want %s", got, tc.want)
			}
			if r := h.runsOf("a")[0]; !r.ScheduledFor.Equal(t0.Add(time.Minute)) {
				t.Errorf("first run for %s, want the owed slot %s", r.ScheduledFor, t0.Add(time.Minute))
			}
		})
	}
}

// TestLaunchAheadAfterADeferringRunEnds: a forbid job's slot timer armed
// at the slot itself (a late run was active when it was armed) goes ahead
// once that run ends inside the window.
func TestLaunchAheadAfterADeferringRunEnds(t *testing.T) {
	h := newAheadHarness(t)
	j := sched("a", everyMin)
	j.ConcurrencyPolicy = Forbid
	h.put(j)
	slot2 := t0.Add(2 * time.Minute)
	h.at(slot2.Add(-ahead / 2)) // the 00:01 slot is owed, 59.95 s late
	ids := h.launchAll()
	if !slices.Equal(ids, []string{"horae.a.s20260301T000100Z.0.0"}) {
		t.Fatalf("launched %v, want the owed slot's run", ids)
	}
	if !h.last.WakeAt.IsZero() && h.last.WakeAt.Before(slot2) {
		t.Fatalf("WakeAt %s, want no earlier than the slot %s while the forbid run is active", h.last.WakeAt, slot2)
	}
	h.now = slot2.Add(-ahead / 4)
	h.finish(ids[0], 0)
	if got := h.statesOf("a"); got != "succeeded,pending" {
		t.Fatalf("after the run ended inside the window: runs %s, want succeeded,pending", got)
	}
	out := h.step(OffersArrived{Offers: []Offer{bigOffer("o2", "host1")}})
	if len(out.Launch) != 1 || !out.Launch[0].Tasks[0].StartAt.Equal(slot2) {
		t.Fatalf("next run: launch %+v, want it launched ahead with StartAt %s", out.Launch, slot2)
	}
}

// TestLaunchAheadRunNotReplacedBeforeItsSlot: a run created ahead while the
// job was allow is not killed by a manual run after the job was edited to
// replace: its slot has not come.
func TestLaunchAheadRunNotReplacedBeforeItsSlot(t *testing.T) {
	h := newAheadHarness(t)
	j := sched("a", everyMin)
	j.ConcurrencyPolicy = Allow
	h.put(j)
	slot := t0.Add(time.Minute)
	h.at(slot.Add(-ahead))
	if ids := h.launchAll(); len(ids) != 1 {
		t.Fatalf("launched %v ahead, want the slot's run", ids)
	}
	j.ConcurrencyPolicy = Replace
	h.now = slot.Add(-ahead / 2)
	h.put(j)
	out := h.step(RunRequested{Job: "a"})
	if len(out.Kill) != 0 {
		t.Fatalf("manual run before the slot killed %v; the run created ahead must keep its slot", out.Kill)
	}
}
