package scheduler

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// placeable reports whether r has tasks that may be launched now.
func (e *Engine) placeable(r *runState) bool {
	if r.State.Terminal() || r.NotBefore.After(e.now) || r.js.deleted {
		return false
	}
	// forbid: runs of a job go one at a time: none while another run has
	// tasks out, else the oldest waiting run first.
	if r.js.job.ConcurrencyPolicy == Forbid {
		for _, a := range r.js.active {
			if a != r && launched(a) {
				return false
			}
		}
		for _, a := range r.js.active {
			if a.NotBefore.After(e.now) && a != r {
				continue
			}
			return a == r
		}
	}
	return true
}

// launched reports whether r has a task out in Mesos.
func launched(r *runState) bool {
	for _, t := range r.Tasks {
		if t.State != TaskPending && !t.State.Terminal() {
			return true
		}
	}
	return false
}

func (e *Engine) anyPlaceable() bool {
	for r := range e.waiting {
		if e.placeable(r) {
			return true
		}
	}
	return false
}

type candidate struct {
	r    *runState
	task int
	due  time.Time
}

// offerState is an offer's resources left during one matching round.
type offerState struct {
	o                     *Offer
	cpus, mem, disk, gpus float64
	ports                 []PortRange
	n                     int // tasks placed
	launch                int // index in Output.Launch
}

func (e *Engine) regexp(pattern string) *regexp.Regexp {
	re, ok := e.reCache[pattern]
	if !ok {
		re = regexp.MustCompile(`^(?:` + pattern + `)$`) // validated at JobPut
		e.reCache[pattern] = re
	}
	return re
}

// match matches placeable tasks to offers: high priority first, then due
// time, then job name. Each task takes the first offer it fits (resources
// plus executor overhead, ports, GPUs, constraints, distinct hosts); a task
// that fits nowhere is passed over and the ones behind it still get their
// turn (Chronos stopped the whole round at the first misfit). Several tasks
// may share an offer. Every offer that gets a task becomes one Launch;
// used[i] says whether offers[i] did (the caller keeps or declines the
// others).
func (e *Engine) match(offers []*Offer) (used []bool) {
	used = make([]bool, len(offers))
	cands := make([]candidate, 0, len(e.waiting))
	for r := range e.waiting {
		if !e.placeable(r) {
			continue
		}
		due := r.ScheduledFor
		if r.NotBefore.After(due) {
			due = r.NotBefore
		}
		for i, t := range r.Tasks {
			if t.State == TaskPending {
				cands = append(cands, candidate{r: r, task: i, due: due})
			}
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.r.job.HighPriority != b.r.job.HighPriority {
			if a.r.job.HighPriority {
				return -1
			}
			return 1
		}
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		if c := strings.Compare(a.r.Job, b.r.Job); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.r.ID), string(b.r.ID)); c != 0 {
			return c
		}
		return a.task - b.task
	})
	if len(cands) == 0 {
		return used
	}
	states := make([]offerState, len(offers))
	for i, o := range offers {
		states[i] = offerState{o: o, cpus: o.CPUs, mem: o.Mem, disk: o.Disk, gpus: o.GPUs,
			ports: append([]PortRange(nil), o.Ports...)}
	}
	var placed []placement
	for _, c := range cands {
		for i := range states {
			if e.fits(c.r, &states[i]) {
				placed = append(placed, e.place(c.r, c.task, &states[i], i))
				break
			}
		}
	}
	// Build the launches with their exact sizes: a TaskLaunch carries the
	// whole job, so growing these slices would copy a lot.
	for _, p := range placed {
		states[p.offer].n++
	}
	for i := range states {
		s := &states[i]
		if s.n == 0 {
			continue
		}
		used[i] = true
		s.launch = len(e.out.Launch)
		e.out.Launch = append(e.out.Launch, Launch{OfferID: s.o.ID, AgentID: s.o.AgentID, Hostname: s.o.Hostname,
			Tasks: make([]TaskLaunch, 0, s.n)})
	}
	for _, p := range placed {
		r, t := p.r, &p.r.Tasks[p.task]
		l := &e.out.Launch[states[p.offer].launch]
		var startAt time.Time
		if d := r.due(); d.After(e.now) {
			startAt = d // created ahead of its slot (LaunchAhead)
		}
		l.Tasks = append(l.Tasks, TaskLaunch{
			TaskID: t.ID, Run: r.ID, Job: r.job, Attempt: r.Attempt, Instance: p.task, Instances: len(r.Tasks),
			ScheduledFor: r.ScheduledFor, StartAt: startAt, Env: r.Env, Arguments: r.Arguments, Ports: p.ports,
		})
	}
	return used
}

// placement is one task placed on one offer during a matching round.
type placement struct {
	r     *runState
	task  int
	offer int
	ports []uint64
}

func portCount(rs []PortRange) uint64 {
	var n uint64
	for _, r := range rs {
		if r.End >= r.Begin {
			n += r.End - r.Begin + 1
		}
	}
	return n
}

func (e *Engine) attr(o *Offer, name string) (string, bool) {
	if name == "hostname" {
		return o.Hostname, true
	}
	v, ok := o.Attributes[name]
	return v, ok
}

func (e *Engine) fits(r *runState, s *offerState) bool {
	j := r.job
	if s.cpus < j.CPUs+e.cfg.ExecutorCPUs || s.mem < j.Mem+e.cfg.ExecutorMem || s.disk < j.Disk || s.gpus < j.GPUs {
		return false
	}
	if j.Ports > 0 && portCount(s.ports) < uint64(j.Ports) {
		return false
	}
	host := s.o.Hostname
	if j.UniqueHosts {
		for _, t := range r.Tasks {
			if t.State != TaskPending && !t.State.Terminal() && t.Host == host {
				return false
			}
		}
	}
	for _, c := range j.Constraints {
		v, ok := e.attr(s.o, c.Attribute)
		switch c.Operator {
		case OpEquals:
			if !ok || v != c.Value {
				return false
			}
		case OpLike:
			if !ok || !e.regexp(c.Value).MatchString(v) {
				return false
			}
		case OpUnlike:
			// As Chronos: a missing attribute does not match UNLIKE.
			if !ok || e.regexp(c.Value).MatchString(v) {
				return false
			}
		case OpUnique:
			for _, a := range r.js.active {
				for _, t := range a.Tasks {
					if t.State != TaskPending && !t.State.Terminal() && t.Host == host {
						return false
					}
				}
			}
		}
	}
	return true
}

// place puts task i of r on offer s: the run is marked for persisting with
// the task launching (the intent is durable before the launch).
func (e *Engine) place(r *runState, i int, s *offerState, offer int) placement {
	j := r.job
	s.cpus -= j.CPUs + e.cfg.ExecutorCPUs
	s.mem -= j.Mem + e.cfg.ExecutorMem
	s.disk -= j.Disk
	s.gpus -= j.GPUs
	var ports []uint64
	for k := 0; k < j.Ports; k++ {
		pr := &s.ports[0]
		ports = append(ports, pr.Begin)
		if pr.Begin == pr.End {
			s.ports = s.ports[1:]
		} else {
			pr.Begin++
		}
	}
	t := &r.Tasks[i]
	t.State = TaskStaging
	t.AgentID = s.o.AgentID
	t.Host = s.o.Hostname
	t.AgentURL = s.o.AgentURL
	t.LaunchedAt = e.now
	if r.State == RunPending {
		r.State = RunLaunching
	}
	if !hasPending(r) {
		delete(e.waiting, r)
		r.overdueAt = time.Time{}
	}
	if j.MaxRuntime > 0 && r.backstopAt.IsZero() {
		r.backstopAt = e.now.Add(j.MaxRuntime + e.cfg.RuntimeMargin)
		e.timers.add(timer{at: r.backstopAt, kind: timerBackstop, run: r})
	}
	e.markRun(r)
	return placement{r: r, task: i, offer: offer, ports: ports}
}
