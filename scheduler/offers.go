package scheduler

import (
	"slices"
	"time"
)

// Offer holding.
//
// Without it a run that comes due waits for an offer: the framework revives,
// the master allocates (once a second in Apache Mesos) and only then does
// the launch go out, so every run starts hundreds of milliseconds late and
// the p99 is set by the allocation cycle, not by Horae. With Config.OfferHold
// set, an offer that no task can use now is kept, not declined, when slots
// or retries whose resources it could hold come due within OfferHold; the
// due run is then matched in the very Step that creates it, and its launch
// intent and launch leave in one commit. The engine also asks for offers
// OfferHold before such work is due, so they are there in time.
//
// So that Horae never sits on a cluster, what it keeps is bounded by demand:
// offers are kept, oldest first, only until their cpus and memory cover the
// work due within the window; the rest are declined as before. A kept offer
// still unused when OfferHold has passed since it arrived is declined,
// unless the work due within the next window needs it and its smallest task
// would fit in it: then it is kept for another hold (a decline's refuse
// filter would hold back the agent's smaller offers too). It is forgotten
// when the master rescinds it or when the subscription ends (offers do not
// outlive their subscription).

// heldOffer is an offer kept for work due soon.
type heldOffer struct {
	Offer
	until time.Time // declined then if still unused, unless renewed (trimHeld)
}

// demand is what work due within the hold window needs: in all, and the
// least any one of its tasks needs (zero when there is none).
type demand struct{ cpus, mem, minCPUs, minMem float64 }

// fitsOne reports whether an offer of cpus and mem is at least as large as
// the smallest imminent task in both dimensions.
func (d demand) fitsOne(cpus, mem float64) bool {
	return (d.minCPUs > 0 || d.minMem > 0) && cpus >= d.minCPUs && mem >= d.minMem
}

// maxDemandVisits bounds the timers looked at to estimate demand: the
// estimate only decides how many offers to keep, and a cluster-sized window
// must not cost a scan of every job.
const maxDemandVisits = 4096

// acceptOffers takes the offers of an OffersArrived: matched at the end of
// the Step (finish) with any offers already held.
func (e *Engine) acceptOffers(offers []Offer) {
	if !e.connected || !e.reconciled {
		for _, o := range offers {
			e.out.Decline = append(e.out.Decline, o.ID)
		}
		return
	}
	for _, o := range offers {
		e.held = append(e.held, &heldOffer{Offer: o, until: e.now.Add(e.cfg.OfferHold)})
	}
	e.rematch = true
}

// rescind forgets a held offer the master withdrew.
func (e *Engine) rescind(id string) {
	e.held = slices.DeleteFunc(e.held, func(h *heldOffer) bool { return h.ID == id })
}

// dropHeld forgets every held offer without declining: they belonged to a
// subscription that has ended.
func (e *Engine) dropHeld() {
	clear(e.held)
	e.held = e.held[:0]
}

// settleOffers runs at the end of every Step: held offers are matched to
// placeable tasks when either side changed, then what is unused is kept
// for imminent demand or declined.
func (e *Engine) settleOffers() {
	if len(e.held) == 0 {
		e.rematch = false
		return
	}
	if e.rematch {
		e.rematch = false
		offers := make([]*Offer, len(e.held))
		for i, h := range e.held {
			offers[i] = &h.Offer
		}
		used := e.match(offers)
		kept := e.held[:0]
		for i, h := range e.held {
			if !used[i] {
				kept = append(kept, h)
			}
		}
		clear(e.held[len(kept):])
		e.held = kept
	}
	e.trimHeld()
}

// trimHeld declines held offers beyond what imminent work needs, and those
// past their hold unless that work still needs them (then their hold is
// renewed). It runs at the end of every Step, Ticks included.
func (e *Engine) trimHeld() {
	if len(e.held) == 0 {
		return
	}
	var need demand
	if e.cfg.OfferHold > 0 {
		need = e.imminentDemand(e.now.Add(e.cfg.OfferHold))
	}
	var have demand
	e.declineHeld(func(h *heldOffer) bool {
		if have.cpus >= need.cpus && have.mem >= need.mem {
			return false
		}
		if !h.until.After(e.now) {
			// Its hold is over, unused. While imminent work still needs
			// it and could run on it, it is kept for another hold rather
			// than declined: a decline sets a refuse filter, and a filter
			// on a large offer (typically what an ACCEPT left over) holds
			// back every smaller offer of the agent, each finished task's
			// freed resources among them, for the filter's duration. At
			// 100 runs/s that stalled due runs for up to a second.
			if !need.fitsOne(h.CPUs, h.Mem) {
				return false
			}
			h.until = e.now.Add(e.cfg.OfferHold)
		}
		have.cpus += h.CPUs
		have.mem += h.Mem
		return true
	})
}

// declineHeld declines the held offers keep rejects, visiting them oldest
// first, and keeps the rest in order.
func (e *Engine) declineHeld(keep func(*heldOffer) bool) {
	e.held = slices.DeleteFunc(e.held, func(h *heldOffer) bool {
		if keep(h) {
			return false
		}
		e.out.Decline = append(e.out.Decline, h.ID)
		return true
	})
}

// workImminent reports whether slots or retries come due by until. Offers
// stay wanted while they do, even when the held ones cover them: a held
// offer is used up by its first launch, and asking again for every run
// would be a REVIVE and a SUPPRESS per run.
func (e *Engine) workImminent(until time.Time) bool {
	d := e.walkImminent(until, true)
	return d.cpus > 0 || d.mem > 0
}

// imminentDemand sums the resources of the schedule slots and retries due
// at or before until. The timer heap is walked depth first, pruning every
// subtree whose root is later than until (a heap's children are never
// earlier than their parent), so the cost follows the number of timers due,
// not the number of jobs.
func (e *Engine) imminentDemand(until time.Time) demand {
	return e.walkImminent(until, false)
}

// walkImminent is imminentDemand; with first it stops at the first slot or
// retry that needs anything (an O(1) answer to "is work due?" in the usual
// case, where the earliest timer is one).
func (e *Engine) walkImminent(until time.Time, first bool) demand {
	var d demand
	h := &e.timers
	visits := 0
	stack := append(e.walkStack[:0], 0)
	defer func() { e.walkStack = stack[:0] }()
	for len(stack) > 0 && visits < maxDemandVisits {
		if first && (d.cpus > 0 || d.mem > 0) {
			break
		}
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(h.s) || h.s[i].at.After(until) {
			continue
		}
		visits++
		stack = append(stack, 2*i+1, 2*i+2)
		t := &h.s[i]
		if !t.valid() {
			continue
		}
		switch t.kind {
		case timerSlot:
			if !t.js.job.Disabled {
				e.addDemand(&d, t.js.job, instances(t.js.job))
			}
		case timerRetry:
			n := 0
			for _, task := range t.run.Tasks {
				if task.State == TaskPending {
					n++
				}
			}
			e.addDemand(&d, t.run.job, n)
		}
	}
	return d
}

func (e *Engine) addDemand(d *demand, j *Job, n int) {
	if n <= 0 {
		return
	}
	cpus, mem := j.CPUs+e.cfg.ExecutorCPUs, j.Mem+e.cfg.ExecutorMem
	d.cpus += float64(n) * cpus
	d.mem += float64(n) * mem
	if d.minCPUs == 0 || cpus < d.minCPUs {
		d.minCPUs = cpus
	}
	if d.minMem == 0 || mem < d.minMem {
		d.minMem = mem
	}
}

func instances(j *Job) int {
	if j.Instances < 1 {
		return 1
	}
	return j.Instances
}

// wakeAt is the next instant the engine wants a Tick: its earliest timer,
// the end of a hold, or, when offers are held for imminent work, OfferHold
// before the earliest timer so that offers are asked for in time.
func (e *Engine) wakeAt() time.Time {
	at := e.timers.earliest()
	for _, h := range e.held {
		if at.IsZero() || h.until.Before(at) {
			at = h.until
		}
	}
	if e.cfg.OfferHold > 0 && e.connected && e.reconciled && !at.IsZero() {
		if early := at.Add(-e.cfg.OfferHold); early.After(e.now) {
			return early
		}
	}
	return at
}
