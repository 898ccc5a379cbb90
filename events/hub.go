package events

import (
	"context"
	"sync"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// Event types.
const (
	// TypeRunState: a run's state changed (Run is set).
	TypeRunState = "run.state"
	// TypeJobCreated, TypeJobUpdated: a job definition was stored (Spec is
	// set, without its webhook secret).
	TypeJobCreated = "job.created"
	TypeJobUpdated = "job.updated"
	// TypeJobDeleted: a job was deleted (Job names it).
	TypeJobDeleted = "job.deleted"
	// TypeLeadership: this instance started or stopped leading (Leadership
	// is set). It matches every filter.
	TypeLeadership = "leadership"
	// TypeOverflow is the last event of a subscriber that fell behind by a
	// whole buffer; its channel is closed right after. ID is zero.
	TypeOverflow = "overflow"
	// TypeReset is the first event of a resumed subscription whose After is
	// no longer in the replay ring (or comes from another hub): events were
	// missed and the subscriber should re-read what it shows. ID is zero.
	TypeReset = "reset"
)

// Event is one entry of the stream. Its fields are shared between
// subscribers and must not be modified.
type Event struct {
	// ID increases strictly within a hub; zero for Overflow and Reset.
	ID   uint64
	Type string
	Time time.Time
	// Job is the job the event is about; empty for leadership events.
	Job string
	// Run is the run as committed, for run.state.
	Run *scheduler.Run
	// Spec is the job as committed, for job.created and job.updated; its
	// Webhook.Secret is always empty.
	Spec *scheduler.Job
	// Leadership is set for leadership events.
	Leadership *Leadership
}

// Leadership is the data of a leadership event.
type Leadership struct {
	Epoch   int64
	Leading bool
}

// Filter selects the events of a subscription.
type Filter struct {
	// Job, when set, keeps only events about that job (and leadership).
	Job string
	// After, when non-zero, resumes after the event with this ID (the SSE
	// Last-Event-ID): the ring's newer events are replayed first.
	After uint64
}

func (f Filter) match(ev *Event) bool {
	return f.Job == "" || ev.Job == f.Job || ev.Type == TypeLeadership
}

// Options configure a Hub. Zero values take the defaults.
type Options struct {
	// Buffer is how many events a subscriber may fall behind before it is
	// dropped with an Overflow event; default 256.
	Buffer int
	// Ring is how many recent events are kept for resuming; default 1024.
	Ring int
	// Finished is how many recently finished runs are remembered, so that a
	// terminal run stored again is not reported twice; default 4096.
	Finished int
	// Heartbeat is how often a stream with nothing to send should send a
	// keep-alive; default 15 s. The hub does not use it; servers do.
	Heartbeat time.Duration
	// Now gives event times; default time.Now.
	Now func() time.Time
	// FirstID is the ID before the first event. The default, the start time
	// in microseconds since the epoch, makes a restarted hub's IDs larger
	// than its predecessor's, so a client resuming across a restart gets a
	// Reset rather than events it takes for newer ones.
	FirstID uint64
}

// Hub numbers events and fans them out. It is safe for concurrent use.
type Hub struct {
	opts Options

	mu     sync.Mutex
	last   uint64  // ID of the newest event, or FirstID
	ring   []Event // circular, len == cap once full
	head   int     // index of the oldest event when the ring is full
	subs   map[*sub]struct{}
	jobs   map[string]struct{}                               // known jobs
	active map[string]map[scheduler.RunID]scheduler.RunState // job → non-terminal runs' last states
	done   map[scheduler.RunID]scheduler.RunState            // recently finished runs
	order  []scheduler.RunID                                 // done, circular
	next   int                                               // slot in order for the next finished run
}

type sub struct {
	f  Filter
	ch chan Event
}

// NewHub returns an empty hub.
func NewHub(opts Options) *Hub {
	if opts.Buffer <= 0 {
		opts.Buffer = 256
	}
	if opts.Ring <= 0 {
		opts.Ring = 1024
	}
	if opts.Finished <= 0 {
		opts.Finished = 4096
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FirstID == 0 {
		opts.FirstID = uint64(opts.Now().UnixMicro())
	}
	return &Hub{
		opts:   opts,
		last:   opts.FirstID,
		ring:   make([]Event, 0, opts.Ring),
		subs:   map[*sub]struct{}{},
		jobs:   map[string]struct{}{},
		active: map[string]map[scheduler.RunID]scheduler.RunState{},
		done:   map[scheduler.RunID]scheduler.RunState{},
	}
}

// Heartbeat is the keep-alive period of Options.Heartbeat.
func (h *Hub) Heartbeat() time.Duration { return h.opts.Heartbeat }

// LastID returns the ID of the newest event (FirstID before any).
func (h *Hub) LastID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Reset replaces what the hub knows of jobs and runs with state, as a new
// leadership term starts from it. It emits nothing: the leadership event
// that follows tells subscribers to re-read.
func (h *Hub) Reset(state scheduler.State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.jobs = make(map[string]struct{}, len(state.Jobs))
	for _, j := range state.Jobs {
		h.jobs[j.Name] = struct{}{}
	}
	h.active = map[string]map[scheduler.RunID]scheduler.RunState{}
	h.done = map[scheduler.RunID]scheduler.RunState{}
	h.order, h.next = h.order[:0], 0
	for _, r := range state.Runs {
		h.noteRun(r.Job, r.ID, r.State)
	}
}

// Apply turns one committed batch into events, in record order: a PutRun
// whose run changed state into run.state, a PutJob into job.created or
// job.updated, a DeleteJob into job.deleted. Its cost is O(len(records))
// plus the sends to subscribers; it never blocks on a subscriber.
func (h *Hub) Apply(records []scheduler.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.Now().UTC()
	for _, rec := range records {
		switch r := rec.(type) {
		case scheduler.PutRun:
			if h.runState(r.Run.Job, r.Run.ID) == r.Run.State {
				continue
			}
			h.noteRun(r.Run.Job, r.Run.ID, r.Run.State)
			run := r.Run
			h.emit(Event{Type: TypeRunState, Time: now, Job: run.Job, Run: &run})
		case scheduler.DeleteRun:
			if m := h.active[r.Job]; m != nil {
				delete(m, r.ID)
			}
		case scheduler.PutJob:
			typ := TypeJobUpdated
			if _, ok := h.jobs[r.Job.Name]; !ok {
				typ = TypeJobCreated
				h.jobs[r.Job.Name] = struct{}{}
			}
			spec := r.Job
			if spec.Webhook != nil {
				wh := *spec.Webhook
				wh.Secret = ""
				spec.Webhook = &wh
			}
			h.emit(Event{Type: typ, Time: now, Job: spec.Name, Spec: &spec})
		case scheduler.DeleteJob:
			delete(h.jobs, r.Name)
			delete(h.active, r.Name)
			h.emit(Event{Type: TypeJobDeleted, Time: now, Job: r.Name})
		}
	}
}

// Leadership emits a leadership event. It is meant for
// leader.SupervisorConfig.OnLeadership and does not block.
//
// A term that starts leading moves the IDs up to the current time in
// microseconds (when they are below it), so IDs of this term exceed those
// any earlier leader gave out before it (short of a clock skew between
// machines, or more than one event per microsecond): a client resuming with
// an ID from the previous leader gets a Reset instead of a wrong replay. The
// ring is emptied then, so resuming across terms is always a Reset.
func (h *Hub) Leadership(epoch int64, leading bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.Now()
	if us := now.UnixMicro(); leading && us > 0 && uint64(us) > h.last {
		// The ring must not bridge the jump: resuming across it is a Reset.
		h.last = uint64(us)
		h.ring, h.head = h.ring[:0], 0
	}
	h.emit(Event{Type: TypeLeadership, Time: now.UTC(), Leadership: &Leadership{Epoch: epoch, Leading: leading}})
}

// Subscribe returns a channel of the events matching f, in ID order. With
// f.After set, the ring's events after it are delivered first, or, when the
// ring no longer reaches back to it, a Reset event. The channel is closed
// when ctx ends or after an Overflow event; the caller must keep receiving
// until then or cancel ctx.
func (h *Hub) Subscribe(ctx context.Context, f Filter) <-chan Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var replay []Event
	if f.After != 0 && f.After != h.last {
		oldest := h.last + 1 // no event kept: only After == last resumes
		if n := len(h.ring); n > 0 {
			oldest = h.ring[h.head].ID
		}
		if f.After+1 < oldest || f.After > h.last {
			replay = append(replay, Event{Type: TypeReset, Time: h.opts.Now().UTC(), Job: f.Job})
		} else {
			for i := range h.ring {
				ev := &h.ring[(h.head+i)%len(h.ring)]
				if ev.ID > f.After && f.match(ev) {
					replay = append(replay, *ev)
				}
			}
		}
	}
	// One extra slot is kept for the Overflow event.
	s := &sub{f: f, ch: make(chan Event, len(replay)+h.opts.Buffer+1)}
	for _, ev := range replay {
		s.ch <- ev
	}
	if ctx.Err() != nil {
		close(s.ch)
		return s.ch
	}
	h.subs[s] = struct{}{}
	context.AfterFunc(ctx, func() { h.drop(s) })
	return s.ch
}

// Subscribers returns how many subscriptions are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) drop(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// emit numbers ev, keeps it in the ring and sends it to every matching
// subscriber that has room; one without room gets Overflow and is closed.
// h.mu is held.
func (h *Hub) emit(ev Event) {
	h.last++
	ev.ID = h.last
	if len(h.ring) < cap(h.ring) {
		h.ring = append(h.ring, ev)
	} else {
		h.ring[h.head] = ev
		h.head = (h.head + 1) % len(h.ring)
	}
	for s := range h.subs {
		if !s.f.match(&ev) {
			continue
		}
		if len(s.ch) < cap(s.ch)-1 {
			s.ch <- ev
			continue
		}
		s.ch <- Event{Type: TypeOverflow, Time: ev.Time, Job: s.f.Job}
		close(s.ch)
		delete(h.subs, s)
	}
}

// runState is the last state reported for a run, "" if none. h.mu is held.
func (h *Hub) runState(job string, id scheduler.RunID) scheduler.RunState {
	if st, ok := h.active[job][id]; ok {
		return st
	}
	return h.done[id]
}

// noteRun records a run's state: non-terminal runs per job, finished runs
// in a bounded FIFO. h.mu is held.
func (h *Hub) noteRun(job string, id scheduler.RunID, st scheduler.RunState) {
	if !st.Terminal() {
		m := h.active[job]
		if m == nil {
			m = map[scheduler.RunID]scheduler.RunState{}
			h.active[job] = m
		}
		m[id] = st
		return
	}
	if m := h.active[job]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(h.active, job)
		}
	}
	if _, ok := h.done[id]; !ok {
		if len(h.order) < h.opts.Finished {
			h.order = append(h.order, id)
		} else {
			delete(h.done, h.order[h.next])
			h.order[h.next] = id
			h.next = (h.next + 1) % len(h.order)
		}
	}
	h.done[id] = st
}
