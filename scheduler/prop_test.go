package scheduler

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// sim is a tiny Mesos for property tests: it keeps the tasks the engine
// launched until they end, and answers kills and reconciliations.
type sim struct {
	t      *rapid.T
	h      *harness
	policy map[string]ConcurrencyPolicy
	live   map[string]TaskLaunch // task → launch
	events []timedEvent
	outs   []Output
	offerN int
	// held is every offer handed to the engine and not yet answered, with
	// the instant by which it must be (arrival + OfferHold).
	held  map[string]time.Time
	runs  map[RunID]Run // newest record of every run seen
	slots map[string]RunID
}

type timedEvent struct {
	at time.Time
	ev Event
}

func (s *sim) step(ev Event) Output {
	s.events = append(s.events, timedEvent{s.h.now, ev})
	out, err := s.h.e.Step(s.h.now, ev)
	if err != nil {
		s.t.Fatalf("step %T: %v", ev, err)
	}
	s.h.store.apply(out.Persist)
	s.outs = append(s.outs, out)
	s.check(ev, out)
	for _, l := range out.Launch {
		for _, tl := range l.Tasks {
			s.live[tl.TaskID] = tl
		}
	}
	// Kills are carried out at once.
	for _, k := range out.Kill {
		if _, ok := s.live[k.TaskID]; ok {
			delete(s.live, k.TaskID)
			s.step(TaskUpdated{TaskID: k.TaskID, State: TaskKilled})
		}
	}
	return out
}

// heldUntil is the end of the engine's hold on offer id (zero if not held).
func (s *sim) heldUntil(id string) time.Time {
	for _, h := range s.h.e.held {
		if h.ID == id {
			return h.until
		}
	}
	return time.Time{}
}

func (s *sim) check(ev Event, out Output) {
	// Every offer is launched on or declined exactly once, and no later
	// than its hold allows (at once without OfferHold), unless work due
	// within the next hold still needs it. Offers of an ended
	// subscription are forgotten, not answered.
	switch ev := ev.(type) {
	case LeaderElected, Subscribed, Disconnected:
		clear(s.held)
	case OffersArrived:
		for _, o := range ev.Offers {
			s.held[o.ID] = s.h.now.Add(s.h.cfg.OfferHold)
		}
	}
	answered := make([]string, 0, len(out.Launch)+len(out.Decline))
	for _, l := range out.Launch {
		answered = append(answered, l.OfferID)
	}
	answered = append(answered, out.Decline...)
	for _, id := range answered {
		if _, ok := s.held[id]; !ok {
			s.t.Fatalf("%T answered offer %s, which the engine did not hold (or answered it twice)", ev, id)
		}
		delete(s.held, id)
	}
	for id, until := range s.held {
		if until.After(s.h.now) {
			continue
		}
		// Past its hold an offer may only be kept for another hold, and
		// only while work is due within it.
		if renewed := s.heldUntil(id); renewed.After(s.h.now) && s.h.e.workImminent(s.h.now.Add(s.h.cfg.OfferHold)) {
			s.held[id] = renewed
			continue
		}
		s.t.Fatalf("after %T at %s: offer %s still unanswered, its hold ended at %s", ev, s.h.now, id, until)
	}
	// One run per slot; a terminal run never comes back.
	for _, rec := range out.Persist {
		pr, ok := rec.(PutRun)
		if !ok {
			continue
		}
		r := pr.Run
		if old, ok := s.runs[r.ID]; ok && old.State.Terminal() && !r.State.Terminal() {
			s.t.Fatalf("run %s went from %s back to %s", r.ID, old.State, r.State)
		}
		_, seen := s.runs[r.ID]
		s.runs[r.ID] = r
		if !seen && r.State == RunSkipped && strings.Contains(r.Reason, "superseded") && !s.supersededByDue(r, out.Persist) {
			s.t.Fatalf("slot %s skipped as superseded at %s, but no newer slot of %s was due then", r.ScheduledFor, s.h.now, r.Job)
		}
		if r.Trigger == TriggerSchedule && !seen && r.State != RunSkipped {
			// Created no earlier than LaunchAhead before its slot, and a
			// run created ahead kills nothing (replace waits for the slot).
			if early := r.ScheduledFor.Sub(s.h.now); early > s.h.cfg.LaunchAhead {
				s.t.Fatalf("run %s created %s before its slot, LaunchAhead is %s", r.ID, early, s.h.cfg.LaunchAhead)
			} else if early > 0 {
				for _, k := range out.Kill {
					if tl, ok := s.live[k.TaskID]; ok && tl.Job.Name == r.Job {
						s.t.Fatalf("run %s created ahead of its slot killed %s of the same job", r.ID, k.TaskID)
					}
				}
			}
		}
		if r.Trigger == TriggerSchedule {
			key := r.Job + "@" + r.ScheduledFor.String()
			if id, ok := s.slots[key]; ok && id != r.ID {
				s.t.Fatalf("slot %s has runs %s and %s", key, id, r.ID)
			}
			s.slots[key] = r.ID
		}
	}
	// forbid never overlaps: live tasks of a forbid job belong to one run.
	byJob := map[string]map[RunID]bool{}
	for _, tl := range s.live {
		if byJob[tl.Job.Name] == nil {
			byJob[tl.Job.Name] = map[RunID]bool{}
		}
		byJob[tl.Job.Name][tl.Run] = true
	}
	for _, l := range out.Launch {
		for _, tl := range l.Tasks {
			if !tl.StartAt.IsZero() && (!tl.StartAt.After(s.h.now) || tl.StartAt.Sub(s.h.now) > s.h.cfg.LaunchAhead) {
				s.t.Fatalf("task %s launched at %s with StartAt %s (LaunchAhead %s)", tl.TaskID, s.h.now, tl.StartAt, s.h.cfg.LaunchAhead)
			}
			if byJob[tl.Job.Name] == nil {
				byJob[tl.Job.Name] = map[RunID]bool{}
			}
			byJob[tl.Job.Name][tl.Run] = true
		}
	}
	for job, rs := range byJob {
		if s.policy[job] == Forbid && len(rs) > 1 {
			s.t.Fatalf("forbid job %s has tasks of %d runs live: %v", job, len(rs), rs)
		}
	}
}

// supersededByDue reports whether a run of r's job exists, or is created
// in persist, for a slot newer than r's and due by now (missedRunPolicy
// latest supersedes only with due slots, never with one created ahead).
func (s *sim) supersededByDue(r Run, persist []Record) bool {
	newer := func(o Run) bool {
		return o.Job == r.Job && o.Trigger == TriggerSchedule && o.State != RunSkipped &&
			o.ScheduledFor.After(r.ScheduledFor) && !o.ScheduledFor.After(s.h.now)
	}
	for _, rec := range persist {
		if pr, ok := rec.(PutRun); ok && newer(pr.Run) {
			return true
		}
	}
	for _, o := range s.runs {
		if newer(o) {
			return true
		}
	}
	return false
}

func (s *sim) liveIDs() []string {
	var ids []string
	for id := range s.live {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (s *sim) elect() {
	s.h.e = New(s.h.cfg)
	s.h.epoch++
	s.step(LeaderElected{Epoch: s.h.epoch, State: s.h.store.state()})
	out := s.step(Subscribed{})
	var missing []string
	for _, ref := range out.Reconcile {
		if _, ok := s.live[ref.TaskID]; ok {
			s.step(TaskUpdated{TaskID: ref.TaskID, State: TaskRunning, Reconciliation: true})
		} else {
			missing = append(missing, ref.TaskID)
		}
	}
	s.step(Reconciled{Missing: missing})
}

func TestProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(t)
		h.cfg.OfferHold = rapid.SampledFrom([]time.Duration{0, time.Second, 30 * time.Second}).Draw(rt, "offerHold")
		h.cfg.LaunchAhead = rapid.SampledFrom([]time.Duration{0, 250 * time.Millisecond, 20 * time.Second}).Draw(rt, "launchAhead")
		s := &sim{t: rt, h: h, policy: map[string]ConcurrencyPolicy{}, live: map[string]TaskLaunch{},
			runs: map[RunID]Run{}, slots: map[string]RunID{}, held: map[string]time.Time{}}
		s.elect()
		nJobs := rapid.IntRange(1, 4).Draw(rt, "jobs")
		for i := 0; i < nJobs; i++ {
			j := sched(fmt.Sprintf("j%d", i), rapid.SampledFrom([]string{everyMin, "R3/2026-03-01T00:00:30Z/PT2M", "*/3 * * * *", "R/2026-03-01T00:00:05Z/PT10S"}).Draw(rt, "schedule"))
			j.ConcurrencyPolicy = rapid.SampledFrom([]ConcurrencyPolicy{Forbid, Allow, Replace}).Draw(rt, "policy")
			j.MissedRunPolicy = rapid.SampledFrom([]MissedRunPolicy{MissedLatest, MissedSkip, MissedAll}).Draw(rt, "missed")
			j.Retries = rapid.IntRange(0, 2).Draw(rt, "retries")
			j.RetryDelay = time.Duration(rapid.IntRange(1, 120).Draw(rt, "delay")) * time.Second
			j.Instances = rapid.IntRange(1, 2).Draw(rt, "instances")
			s.policy[j.Name] = j.ConcurrencyPolicy
			s.step(JobPut{Job: j})
		}
		if rapid.Bool().Draw(rt, "dependent") {
			d := dep("child", "j0")
			s.policy["child"] = Forbid
			s.step(JobPut{Job: d})
		}
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			switch rapid.IntRange(0, 8).Draw(rt, "action") {
			case 0:
				h.now = h.now.Add(time.Duration(rapid.IntRange(0, 800).Draw(rt, "advance")) * 250 * time.Millisecond)
				s.step(Tick{})
			case 1:
				var offers []Offer
				for k := rapid.IntRange(0, 3).Draw(rt, "offers"); k > 0; k-- {
					s.offerN++
					host := fmt.Sprint("h", rapid.IntRange(0, 2).Draw(rt, "host"))
					offers = append(offers, Offer{ID: fmt.Sprint("o", s.offerN), AgentID: "a-" + host, Hostname: host,
						CPUs: rapid.Float64Range(0, 1).Draw(rt, "cpus"), Mem: 4096, Disk: 4096})
				}
				s.step(OffersArrived{Offers: offers})
			case 2, 3:
				ids := s.liveIDs()
				if len(ids) == 0 {
					continue
				}
				id := rapid.SampledFrom(ids).Draw(rt, "task")
				st := rapid.SampledFrom([]TaskState{TaskRunning, TaskFinished, TaskFailed, TaskLost, TaskKilled}).Draw(rt, "state")
				if st.Terminal() {
					delete(s.live, id)
				}
				s.step(TaskUpdated{TaskID: id, State: st})
			case 4:
				s.step(RunRequested{Job: fmt.Sprint("j", rapid.IntRange(0, nJobs-1).Draw(rt, "manual"))})
			case 5:
				if rapid.IntRange(0, 3).Draw(rt, "failover") == 0 {
					s.elect()
				}
			case 6:
				s.step(JobEnabled{Name: fmt.Sprint("j", rapid.IntRange(0, nJobs-1).Draw(rt, "toggle")), Enabled: rapid.Bool().Draw(rt, "enabled")})
			case 7:
				var ids []RunID
				for id, r := range s.runs {
					if !r.State.Terminal() {
						ids = append(ids, id)
					}
				}
				if len(ids) == 0 {
					continue
				}
				sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
				s.step(RunKillRequested{Run: rapid.SampledFrom(ids).Draw(rt, "kill")})
			case 8:
				if ids := s.liveIDs(); len(ids) > 0 {
					// Mesos repeats an update (at-least-once delivery).
					id := rapid.SampledFrom(ids).Draw(rt, "repeat")
					s.step(TaskUpdated{TaskID: id, State: TaskRunning})
					s.step(TaskUpdated{TaskID: id, State: TaskRunning, Reconciliation: true})
				}
			}
		}
		// Liveness: with ample offers and every task succeeding, nothing
		// stays pending (no run is stranded by forbid, kills or failover).
		for round := 0; round < 3; round++ {
			h.now = h.now.Add(10 * time.Minute)
			s.step(Tick{})
			idle := 0 // offers in a row that launched nothing
			for k := 0; k < 500; k++ {
				s.offerN++
				out := s.step(OffersArrived{Offers: []Offer{bigOffer(fmt.Sprint("o", s.offerN), fmt.Sprint("h", k%3))}})
				for _, id := range s.liveIDs() {
					delete(s.live, id)
					c := 0
					s.step(TaskUpdated{TaskID: id, State: TaskFinished, Result: &TaskResult{ExitCode: &c}})
				}
				// A split run's instances need distinct hosts (and an offer
				// kept for one may be held still): only a whole round of
				// the three hosts without a launch shows nothing is left.
				if idle++; len(out.Launch) > 0 {
					idle = 0
				}
				if idle >= 3 && len(s.live) == 0 {
					break
				}
			}
		}
		for id, r := range s.h.store.runs {
			if !r.State.Terminal() && !r.NotBefore.After(h.now) {
				rt.Fatalf("run %s stranded in %s (attempt %d, created %s, now %s)", id, r.State, r.Attempt, r.CreatedAt, h.now)
			}
		}
		// Replay: the same events on a fresh engine give equal outputs.
		e := New(h.cfg)
		for i, te := range s.events {
			out, err := e.Step(te.at, te.ev)
			if err != nil {
				rt.Fatalf("replay step %d: %v", i, err)
			}
			if !reflect.DeepEqual(out, s.outs[i]) {
				rt.Fatalf("replay step %d (%T) differs:\n%+v\n%+v", i, te.ev, out, s.outs[i])
			}
		}
	})
}
