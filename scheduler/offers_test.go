package scheduler

import (
	"slices"
	"testing"
	"time"
)

func newHoldHarness(t *testing.T, hold time.Duration) *harness {
	h := newHarness(t)
	h.cfg.OfferHold = hold
	h.e = New(h.cfg)
	h.ready()
	return h
}

// at moves the clock to an absolute instant and ticks.
func (h *harness) at(ts time.Time) Output {
	h.t.Helper()
	h.now = ts
	return h.step(Tick{})
}

// TestOfferHoldLaunchesOnTime: with OfferHold the engine asks for offers
// that long before a slot, keeps the offer it gets, and launches the run in
// the Step that creates it — one commit, no wait for an allocation cycle.
func TestOfferHoldLaunchesOnTime(t *testing.T) {
	h := newHoldHarness(t, time.Second)
	h.put(sched("a", everyMin))
	slot := t0.Add(time.Minute)
	if got, want := h.last.WakeAt, slot.Add(-time.Second); !got.Equal(want) {
		t.Fatalf("WakeAt %s, want %s (OfferHold before the slot)", got, want)
	}
	out := h.at(slot.Add(-time.Second))
	if out.Offers != OffersWanted {
		t.Fatalf("OfferHold before the slot: interest %v, want wanted", out.Offers)
	}
	h.now = slot.Add(-800 * time.Millisecond)
	out = h.step(OffersArrived{Offers: []Offer{bigOffer("o1", "host1")}})
	if len(out.Launch)+len(out.Decline) != 0 {
		t.Fatalf("offer for a slot due in 800ms: launch %v decline %v, want it held", out.Launch, out.Decline)
	}
	if !out.WakeAt.Equal(slot) {
		t.Fatalf("WakeAt %s, want the slot %s", out.WakeAt, slot)
	}
	out = h.at(slot)
	if ids := launchedIDs(out); !slices.Equal(ids, []string{"horae.a.s20260301T000100Z.0.0"}) || out.Launch[0].OfferID != "o1" {
		t.Fatalf("at the slot launched %v on %+v, want the run on the held offer o1", ids, out.Launch)
	}
	var intent bool
	for _, rec := range out.Persist {
		if pr, ok := rec.(PutRun); ok && pr.Run.Tasks[0].State == TaskStaging {
			intent = true
		}
	}
	if !intent {
		t.Errorf("launch without its intent in the same Persist: %+v", out.Persist)
	}
	if out.Offers != OffersNotWanted {
		t.Errorf("after the launch, next slot a minute away: interest %v, want not wanted (suppress)", out.Offers)
	}
}

// TestOfferHoldBounds: what is kept is bounded by the work due within the
// hold, by the hold's end, and by the subscription.
func TestOfferHoldBounds(t *testing.T) {
	small := func(id string) Offer {
		return Offer{ID: id, AgentID: "agent-h", Hostname: "h", CPUs: 1, Mem: 1024, Disk: 1024}
	}
	slot := t0.Add(time.Minute)
	tests := []struct {
		name string
		// after puts job "a" (0.1 cpus, 128 MiB, due at slot) and hands
		// over offers at slot-500ms; it returns the offers declined by then
		// and the Output to check launches in.
		run         func(h *harness) (declined []string, out Output)
		wantDecline []string
		wantLaunch  []string // offer IDs launched on
	}{
		{
			name: "one offer covers one task: the second is declined",
			run: func(h *harness) ([]string, Output) {
				out := h.step(OffersArrived{Offers: []Offer{small("o1"), small("o2")}})
				d := out.Decline
				out = h.at(slot)
				return d, out
			},
			wantDecline: []string{"o2"},
			wantLaunch:  []string{"o1"},
		},
		{
			name: "nothing due within the hold: declined at once",
			run: func(h *harness) ([]string, Output) {
				h.now = t0.Add(10 * time.Second)
				out := h.step(OffersArrived{Offers: []Offer{small("o1")}})
				return out.Decline, out
			},
			wantDecline: []string{"o1"},
		},
		{
			name: "job disabled while its offer is held: declined",
			run: func(h *harness) ([]string, Output) {
				h.step(OffersArrived{Offers: []Offer{small("o1")}})
				out := h.step(JobEnabled{Name: "a", Enabled: false})
				return out.Decline, h.at(slot)
			},
			wantDecline: []string{"o1"},
		},
		{
			name: "too small for the due run: declined once that run cannot use it",
			run: func(h *harness) ([]string, Output) {
				tiny := small("o1")
				tiny.Mem = 64
				h.step(OffersArrived{Offers: []Offer{tiny}})
				out := h.at(slot)
				return out.Decline, out
			},
			wantDecline: []string{"o1"},
		},
		{
			name: "kept for later work but unused: declined when its hold ends",
			run: func(h *harness) ([]string, Output) {
				h.put(sched("b", "R/2026-03-01T00:01:00.6Z/PT1M"))
				tiny := small("o1")
				tiny.Mem = 64
				h.now = slot.Add(-900 * time.Millisecond)
				h.step(OffersArrived{Offers: []Offer{tiny}})
				out := h.at(slot) // a's run does not fit; b is due within the hold
				if len(out.Decline) != 0 {
					h.t.Fatalf("declined before the hold ended: %v", out.Decline)
				}
				if want := slot.Add(100 * time.Millisecond); !out.WakeAt.Equal(want) {
					h.t.Fatalf("WakeAt %s, want the end of the hold %s", out.WakeAt, want)
				}
				end := h.at(slot.Add(100 * time.Millisecond))
				return end.Decline, end
			},
			wantDecline: []string{"o1"},
		},
		{
			name: "rescinded: neither launched on nor declined",
			run: func(h *harness) ([]string, Output) {
				h.step(OffersArrived{Offers: []Offer{small("o1")}})
				out := h.step(OfferRescinded{OfferID: "o1"})
				return out.Decline, h.at(slot)
			},
		},
		{
			name: "subscription lost: forgotten, never used",
			run: func(h *harness) ([]string, Output) {
				h.step(OffersArrived{Offers: []Offer{small("o1")}})
				out := h.step(Disconnected{})
				h.step(Subscribed{})
				h.step(Reconciled{})
				return out.Decline, h.at(slot)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHoldHarness(t, time.Second)
			h.put(sched("a", everyMin))
			h.now = slot.Add(-500 * time.Millisecond)
			declined, out := tc.run(h)
			if !slices.Equal(declined, tc.wantDecline) {
				t.Errorf("declined %v, want %v", declined, tc.wantDecline)
			}
			var launched []string
			for _, l := range out.Launch {
				launched = append(launched, l.OfferID)
			}
			if !slices.Equal(launched, tc.wantLaunch) {
				t.Errorf("launched on %v, want %v", launched, tc.wantLaunch)
			}
		})
	}
}

// TestOfferHoldZeroDeclinesAtOnce: without OfferHold nothing is kept and
// no early wake is asked for (the engine as Chronos users know it).
func TestOfferHoldZeroDeclinesAtOnce(t *testing.T) {
	h := newHoldHarness(t, 0)
	h.put(sched("a", everyMin))
	if !h.last.WakeAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("WakeAt %s, want the slot itself", h.last.WakeAt)
	}
	h.now = t0.Add(time.Minute - time.Millisecond)
	out := h.step(OffersArrived{Offers: []Offer{bigOffer("o1", "h")}})
	if !slices.Equal(out.Decline, []string{"o1"}) {
		t.Fatalf("declined %v, want o1 at once", out.Decline)
	}
}

// TestImminentDemandPrunes: the demand estimate counts the slots due
// within the window (split runs count each instance) and skips disabled
// jobs, however many jobs lie beyond it.
func TestImminentDemandPrunes(t *testing.T) {
	h := newHoldHarness(t, time.Second)
	for i := range 500 {
		j := sched("later-"+string(rune('a'+i%26))+time.Duration(i).String(), "R/2026-03-01T01:00:00Z/PT1H")
		h.put(j)
	}
	split := sched("split", everyMin)
	split.Instances = 3
	h.put(split)
	h.put(sched("one", everyMin))
	off := sched("off", everyMin)
	off.Disabled = true
	h.put(off)
	h.now = t0.Add(59 * time.Second)
	d := h.e.imminentDemand(t0.Add(time.Minute))
	if want := 4 * DefaultCPUs; d.cpus < want-1e-9 || d.cpus > want+1e-9 {
		t.Errorf("demand %.2f cpus, want %.2f (3 instances + 1)", d.cpus, want)
	}
	if d := h.e.imminentDemand(t0.Add(30 * time.Second)); d.cpus != 0 {
		t.Errorf("nothing due by 00:00:30, demand %.2f cpus", d.cpus)
	}
}

// TestOfferHoldRenewedWhileNeeded: an offer still unused when its hold ends
// is kept for another hold while work due within it needs it and would fit
// in it, not declined (a decline's refuse filter would also hold back the
// agent's smaller offers); otherwise it is declined.
func TestOfferHoldRenewedWhileNeeded(t *testing.T) {
	slot := t0.Add(time.Minute)
	tests := []struct {
		name        string
		cpus        float64
		at          time.Time // when the hold ends and the Tick comes
		wantDecline bool
	}{
		{name: "work due within the next hold: renewed", cpus: 1, at: slot.Add(-300 * time.Millisecond)},
		{name: "nothing due within the next hold: declined", cpus: 1, at: slot.Add(-3 * time.Second), wantDecline: true},
		{name: "too small for the work due: declined", cpus: 0.01, at: slot.Add(-300 * time.Millisecond), wantDecline: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHoldHarness(t, time.Second)
			h.put(sched("a", everyMin))
			// Held since a hold ago, unused (as a leftover that a newer
			// offer was preferred to).
			h.e.held = append(h.e.held, &heldOffer{Offer: Offer{ID: "o1", AgentID: "agent-h", Hostname: "h", CPUs: tc.cpus, Mem: 1024, Disk: 1024}, until: tc.at})
			out := h.at(tc.at)
			if got := slices.Equal(out.Decline, []string{"o1"}); got != tc.wantDecline {
				t.Fatalf("declined %v at the end of the hold, want declined=%v", out.Decline, tc.wantDecline)
			}
			if tc.wantDecline {
				return
			}
			if got := h.e.held[0].until; !got.Equal(tc.at.Add(time.Second)) {
				t.Fatalf("hold renewed until %s, want %s", got, tc.at.Add(time.Second))
			}
			if out := h.at(slot); len(out.Launch) != 1 || out.Launch[0].OfferID != "o1" {
				t.Fatalf("at the slot: launch %+v, want a on o1", out.Launch)
			}
		})
	}
}
