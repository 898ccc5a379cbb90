package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// ErrNotLeader is returned for commands sent while this instance does not
// lead (no term, or the term ended before the command was carried out).
var ErrNotLeader = errors.New("leader: this instance is not the leader")

// Engine is the state machine the loop drives.
type Engine interface {
	Step(now time.Time, ev scheduler.Event) (scheduler.Output, error)
}

// Persister commits an Output's records durably, fenced by the term's epoch.
type Persister interface {
	Commit(ctx context.Context, epoch int64, records []scheduler.Record) error
}

// Mesos carries out the engine's Mesos actions.
type Mesos interface {
	Launch(ctx context.Context, launches []scheduler.Launch) error
	Kill(ctx context.Context, tasks []scheduler.TaskRef) error
	Decline(ctx context.Context, offerIDs []string) error
	Reconcile(ctx context.Context, tasks []scheduler.TaskRef, implicit bool) error
	SetOfferInterest(ctx context.Context, want scheduler.OfferInterest) error
	Acknowledge(ctx context.Context, u scheduler.TaskUpdated) error
}

// Publisher receives every committed batch of records (the API's read model).
type Publisher interface {
	Apply(records []scheduler.Record)
}

// Notifier receives notices; it must not block.
type Notifier interface {
	Notify(notices []scheduler.Notice)
}

// Deps are what one term's loop works with.
type Deps struct {
	Engine    Engine
	Store     Persister
	Mesos     Mesos
	Publisher Publisher // may be nil
	Notifier  Notifier  // may be nil
	Metrics   *Metrics  // may be nil
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil. Tests inject their own.
	Now func() time.Time
}

// maxBatch bounds how many queued inputs one commit covers. Batching keeps
// the store's fsyncs off the per-event path when updates arrive in bursts.
const maxBatch = 256

// Loop owns one engine for one leadership term.
type Loop struct {
	epoch  int64
	deps   Deps
	logger *slog.Logger
	now    func() time.Time

	cmds   chan input
	events <-chan scheduler.Event
	done   chan struct{}

	ackSlots chan struct{} // acknowledgements in flight (ackParallelism)
	acking   sync.WaitGroup
	actions  chan actions // committed Outputs for the actuator, in order
}

// actions is the Mesos side of one committed batch.
type actions struct {
	now  time.Time
	out  scheduler.Output
	acks []scheduler.TaskUpdated
}

// actionQueue bounds the committed batches waiting for the actuator; when
// it is full the loop waits (backpressure from a slow master).
const actionQueue = 256

type result struct {
	out scheduler.Output
	err error
}

// New prepares the loop of the term with the given epoch. Mesos events are
// read from events. Start it with Run.
func New(epoch int64, events <-chan scheduler.Event, deps Deps) *Loop {
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	return &Loop{
		epoch:  epoch,
		deps:   deps,
		logger: logger.With("epoch", epoch),
		now:    now,
		cmds:   make(chan input),
		events: events,
		done:   make(chan struct{}),

		ackSlots: make(chan struct{}, ackParallelism),
		actions:  make(chan actions, actionQueue),
	}
}

// Start steps the engine into the term: LeaderElected with the state the
// store holds. It must be called once, before Run.
func (l *Loop) Start(ctx context.Context, state scheduler.State) error {
	_, _, err := l.process(ctx, []input{{ev: scheduler.LeaderElected{Epoch: l.epoch, State: state}}})
	return err
}

// Do sends a command to the engine and waits until its consequences are
// durable. Rejected commands return the engine's error.
func (l *Loop) Do(ctx context.Context, ev scheduler.Event) (scheduler.Output, error) {
	c := input{ev: ev, reply: make(chan result, 1)}
	select {
	case l.cmds <- c:
	case <-l.done:
		return scheduler.Output{}, ErrNotLeader
	case <-ctx.Done():
		return scheduler.Output{}, ctx.Err()
	}
	select {
	case r := <-c.reply:
		return r.out, r.err
	case <-l.done:
		return scheduler.Output{}, ErrNotLeader
	case <-ctx.Done():
		return scheduler.Output{}, ctx.Err()
	}
}

// Run drives the engine until ctx ends or a commit fails; the error says
// why the term's loop stopped.
func (l *Loop) Run(ctx context.Context) error {
	defer close(l.done)
	defer l.acking.Wait()
	// The actuator stops with the term, also when a commit fails: batches
	// not yet carried out are left to the next leader's reconciliation
	// rather than holding up the hand-over.
	actx, stopActing := context.WithCancel(ctx)
	actuated := make(chan struct{})
	go func() {
		defer close(actuated)
		l.actuate(actx)
	}()
	defer func() {
		stopActing()
		close(l.actions)
		<-actuated
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wake := l.arm(timer, time.Time{})
	batch := make([]input, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
			wake = nil
			batch = append(batch, input{ev: scheduler.Tick{}})
		case ev, ok := <-l.events:
			if !ok {
				l.events = nil
				continue
			}
			batch = append(batch, input{ev: ev})
		case c := <-l.cmds:
			batch = append(batch, c)
		}
		batch = l.drain(batch)
		wakeAt, stepped, err := l.process(ctx, batch)
		if err != nil {
			return err
		}
		if stepped {
			wake = l.arm(timer, wakeAt)
		}
	}
}

// drain adds what is already queued, without waiting, up to maxBatch.
func (l *Loop) drain(batch []input) []input {
	for len(batch) < maxBatch {
		select {
		case ev, ok := <-l.events:
			if !ok {
				l.events = nil
				return batch
			}
			batch = append(batch, input{ev: ev})
		case c := <-l.cmds:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// input is one event for the engine; commands carry a reply channel.
type input struct {
	ev    scheduler.Event
	reply chan result
}

// arm sets the timer to fire at wakeAt and returns its channel, or nil when
// nothing is due (a nil channel never fires in a select).
func (l *Loop) arm(timer *time.Timer, wakeAt time.Time) <-chan time.Time {
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
	if wakeAt.IsZero() {
		return nil
	}
	d := wakeAt.Sub(l.now())
	if d < 0 {
		d = 0
	}
	timer.Reset(d)
	return timer.C
}

// process steps every input, commits the combined records once, then
// carries out the combined actions and answers the commands. It returns the
// engine's WakeAt after the last accepted step (stepped false when the
// engine accepted none, so the timer stays as it was), and an error only
// when the term must end.
func (l *Loop) process(ctx context.Context, batch []input) (wakeAt time.Time, stepped bool, err error) {
	now := l.now()
	var (
		combined scheduler.Output
		outs     = make([]result, len(batch))
		acks     []scheduler.TaskUpdated
	)
	for i, in := range batch {
		out, err := l.deps.Engine.Step(now, in.ev)
		outs[i] = result{out: out, err: err}
		if err != nil {
			if in.reply == nil {
				l.logger.Warn("engine rejected an event", "event", fmt.Sprintf("%T", in.ev), "err", err)
			}
			continue
		}
		merge(&combined, out)
		// WakeAt is the engine's earliest due time after that step, so the
		// newest accepted step knows best.
		wakeAt, stepped = out.WakeAt, true
		if u, ok := in.ev.(scheduler.TaskUpdated); ok && len(u.AckUUID) > 0 {
			acks = append(acks, u)
		}
	}

	if len(combined.Persist) > 0 {
		if err = l.deps.Store.Commit(ctx, l.epoch, combined.Persist); err != nil {
			err = fmt.Errorf("leader: commit %d records: %w", len(combined.Persist), err)
			for i, in := range batch {
				if in.reply != nil {
					in.reply <- result{err: ErrNotLeader}
					outs[i] = result{}
				}
			}
			return time.Time{}, false, err
		}
		if l.deps.Publisher != nil {
			l.deps.Publisher.Apply(combined.Persist)
		}
	}

	// Durable now: answer commands first, so API callers are not held up by
	// Mesos round trips.
	for i, in := range batch {
		if in.reply != nil {
			in.reply <- outs[i]
		}
	}
	// Notices do not wait for Mesos calls (the notifier never blocks).
	if len(combined.Notify) > 0 && l.deps.Notifier != nil {
		l.deps.Notifier.Notify(combined.Notify)
	}
	if hasActions(combined, acks) {
		select {
		case l.actions <- actions{now: now, out: combined, acks: acks}:
		case <-ctx.Done():
			return time.Time{}, false, ctx.Err()
		}
	}
	return wakeAt, stepped, nil
}

// ackParallelism bounds the acknowledgements in flight at once. Each is one
// HTTP round trip to the master; sent one after another, inline, they were
// the loop's second-largest cost under load (docs/benchmarks.md,
// Throughput).
const ackParallelism = 16

// acknowledge sends the acknowledgements of updates whose consequences are
// now durable, in the background: nothing waits on them (Mesos re-sends an
// update until it is acknowledged, so a lost one costs a repeat, which the
// engine ignores). The loop blocks only when ackParallelism are in flight.
func (l *Loop) acknowledge(ctx context.Context, acks []scheduler.TaskUpdated) {
	for _, u := range acks {
		select {
		case l.ackSlots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		l.acking.Add(1)
		go func() {
			defer func() { <-l.ackSlots; l.acking.Done() }()
			if err := l.deps.Mesos.Acknowledge(ctx, u); err != nil {
				l.logger.Warn("acknowledge status update", "task", u.TaskID, "err", err)
			}
		}()
	}
}

// merge appends out's work to into, keeping each list's order.
func merge(into *scheduler.Output, out scheduler.Output) {
	into.Persist = append(into.Persist, out.Persist...)
	into.Launch = append(into.Launch, out.Launch...)
	into.Kill = append(into.Kill, out.Kill...)
	into.Decline = append(into.Decline, out.Decline...)
	into.Reconcile = append(into.Reconcile, out.Reconcile...)
	into.Implicit = into.Implicit || out.Implicit
	if out.Offers != scheduler.OffersUnchanged {
		into.Offers = out.Offers
	}
	into.Notify = append(into.Notify, out.Notify...)
}

func hasActions(out scheduler.Output, acks []scheduler.TaskUpdated) bool {
	return len(acks) > 0 || len(out.Launch) > 0 || len(out.Kill) > 0 || len(out.Decline) > 0 ||
		len(out.Reconcile) > 0 || out.Implicit || out.Offers != scheduler.OffersUnchanged
}

// actuate carries out committed batches in commit order, until the loop
// closes the queue. Mesos calls are HTTP round trips to the master; made
// here, off the loop, they never hold up the next Tick or status update,
// while their order (a launch before a kill of the same task, an interest
// change after the launches it follows) is kept.
func (l *Loop) actuate(ctx context.Context) {
	for a := range l.actions {
		if ctx.Err() != nil {
			continue // the term is over: drain, act no more
		}
		l.carryOut(ctx, a.now, a.out, a.acks)
	}
}

// carryOut performs the Mesos side of a committed Output. Failures are
// logged, not fatal: their consequences come back as events (a failed
// launch is answered by reconciliation, a failed ack by a re-sent update).
func (l *Loop) carryOut(ctx context.Context, now time.Time, out scheduler.Output, acks []scheduler.TaskUpdated) {
	m := l.deps.Mesos
	// Launches first: they are what a due run waits for.
	if len(out.Launch) > 0 {
		if err := m.Launch(ctx, out.Launch); err != nil {
			l.logger.Warn("launch tasks", "offers", len(out.Launch), "err", err)
		} else {
			l.deps.Metrics.observeLaunches(now, out.Launch)
		}
	}
	if len(out.Kill) > 0 {
		if err := m.Kill(ctx, out.Kill); err != nil {
			l.logger.Warn("kill tasks", "tasks", len(out.Kill), "err", err)
		}
	}
	if len(out.Decline) > 0 {
		if err := m.Decline(ctx, out.Decline); err != nil {
			l.logger.Warn("decline offers", "offers", len(out.Decline), "err", err)
		}
	}
	if len(out.Reconcile) > 0 || out.Implicit {
		if err := m.Reconcile(ctx, out.Reconcile, out.Implicit); err != nil {
			l.logger.Warn("reconcile tasks", "tasks", len(out.Reconcile), "err", err)
		}
	}
	if out.Offers != scheduler.OffersUnchanged {
		if err := m.SetOfferInterest(ctx, out.Offers); err != nil {
			l.logger.Warn("set offer interest", "err", err)
		}
	}
	l.acknowledge(ctx, acks)
}
