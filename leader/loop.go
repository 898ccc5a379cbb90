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
	// CommitLinger is how long a batch nothing waits for may wait to share
	// a commit (DefaultCommitLinger in production); 0 commits every batch
	// at once.
	CommitLinger time.Duration
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
// store holds, committed before it returns. It must be called once, before
// Run.
func (l *Loop) Start(ctx context.Context, state scheduler.State) error {
	b, _ := l.step([]input{{ev: scheduler.LeaderElected{Epoch: l.epoch, State: state}}})
	return l.settle(ctx, []batch{b})
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
//
// Three goroutines share the work, each in order: this one steps the
// engine, the committer makes stepped batches durable (one store commit
// for every batch that queued up while the previous commit synced), the
// actuator carries out committed batches' Mesos side. So a due run is
// stepped while an earlier status update is still being synced, and a
// burst of updates costs one sync, not one each: at 100 runs a second the
// store's syncs were a third of the loop's time (docs/benchmarks.md,
// Throughput).
func (l *Loop) Run(ctx context.Context) error {
	defer close(l.done)
	defer l.acking.Wait()
	// The actuator and the committer stop with the term, also when a
	// commit fails: batches not yet carried out are left to the next
	// leader's reconciliation rather than holding up the hand-over.
	actx, stopActing := context.WithCancel(ctx)
	actuated := make(chan struct{})
	go func() {
		defer close(actuated)
		l.actuate(actx)
	}()
	stepped := make(chan batch, commitQueue)
	commitErr := make(chan error, 1)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		l.commit(actx, stepped, commitErr)
	}()
	defer func() {
		stopActing()
		close(stepped)
		<-committed // the committer feeds the actuator: it stops first
		close(l.actions)
		<-actuated
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wake := l.arm(timer, time.Time{})
	inputs := make([]input, 0, maxBatch)
	for {
		inputs = inputs[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-commitErr:
			return err
		case <-wake:
			wake = nil
			inputs = append(inputs, input{ev: scheduler.Tick{}})
		case ev, ok := <-l.events:
			if !ok {
				l.events = nil
				continue
			}
			inputs = append(inputs, input{ev: ev})
		case c := <-l.cmds:
			inputs = append(inputs, c)
		}
		inputs = l.drain(inputs)
		b, wakeAt := l.step(inputs)
		if b.accepted {
			wake = l.arm(timer, wakeAt)
		}
		select {
		case stepped <- b:
		case <-ctx.Done():
			b.answer(ErrNotLeader)
			return ctx.Err()
		case err := <-commitErr:
			b.answer(ErrNotLeader)
			return err
		}
	}
}

// commitQueue bounds the stepped batches waiting for the committer; when it
// is full the loop waits (backpressure from a slow store).
const commitQueue = 64

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

// batch is one step of the engine over some inputs: their combined Output,
// the updates to acknowledge once it is durable, and the answers owed to
// commands.
type batch struct {
	now      time.Time
	out      scheduler.Output
	acks     []scheduler.TaskUpdated
	replies  []reply
	accepted bool // the engine accepted at least one input
}

type reply struct {
	to chan result
	r  result
}

// answer replies to the batch's commands with err instead of their
// results: their consequences will never be durable in this term.
func (b batch) answer(err error) {
	for _, r := range b.replies {
		r.to <- result{err: err}
	}
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

// step steps every input and combines their Outputs. It returns the
// engine's WakeAt after the last accepted step (batch.accepted false when
// the engine accepted none, so the timer stays as it was).
func (l *Loop) step(inputs []input) (b batch, wakeAt time.Time) {
	b.now = l.now()
	for _, in := range inputs {
		out, err := l.deps.Engine.Step(b.now, in.ev)
		if in.reply != nil {
			b.replies = append(b.replies, reply{to: in.reply, r: result{out: out, err: err}})
		}
		if err != nil {
			if in.reply == nil {
				l.logger.Warn("engine rejected an event", "event", fmt.Sprintf("%T", in.ev), "err", err)
			}
			continue
		}
		merge(&b.out, out)
		// WakeAt is the engine's earliest due time after that step, so the
		// newest accepted step knows best.
		wakeAt, b.accepted = out.WakeAt, true
		if u, ok := in.ev.(scheduler.TaskUpdated); ok && len(u.AckUUID) > 0 {
			b.acks = append(b.acks, u)
		}
	}
	return b, wakeAt
}

// maxGroup bounds how many stepped batches one store commit covers.
const maxGroup = 64

// DefaultCommitLinger is how long a batch nothing waits for may wait for
// company before it is committed: status updates whose only effects are
// records, notices and acknowledgements (Mesos re-sends an update until it
// is acknowledged, so holding an acknowledgement back loses nothing). At
// 100 runs a second each run's RUNNING and FINISHED then ride along with
// the next launch's commit instead of costing a store sync each.
const DefaultCommitLinger = 20 * time.Millisecond

// urgent tells whether something waits on the batch's commit: a command's
// caller, or Mesos actions (a due run's launch above all). Acknowledgements
// and notices can wait.
func (b batch) urgent() bool {
	return len(b.replies) > 0 || hasActions(b.out, nil)
}

// commit makes stepped batches durable in order until in is closed. One
// store commit covers every batch that queued up meanwhile; batches that
// are not urgent wait up to the linger for an urgent one (or for the
// linger to pass) and go with it. After the first failure it reports the
// error once and answers every later command with ErrNotLeader. Batches
// still lingering when the term ends are dropped: they answer no command,
// and their updates, unacknowledged, come again to the next leader.
func (l *Loop) commit(ctx context.Context, in <-chan batch, errc chan<- error) {
	failed := false
	group := make([]batch, 0, maxGroup)
	urgent := false
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var lingerC <-chan time.Time
	flush := func() {
		if lingerC != nil {
			linger.Stop()
			lingerC = nil
		}
		if failed {
			for _, b := range group {
				b.answer(ErrNotLeader)
			}
		} else if err := l.settle(ctx, group); err != nil {
			failed = true
			errc <- err
		}
		group, urgent = group[:0], false
	}
	take := func(b batch) {
		group = append(group, b)
		urgent = urgent || b.urgent()
	}
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return
			}
			take(b)
		case <-lingerC:
			lingerC = nil
			flush()
			continue
		}
	more:
		for len(group) < maxGroup {
			select {
			case b, ok := <-in:
				if !ok {
					break more
				}
				take(b)
			default:
				break more
			}
		}
		switch {
		case urgent || len(group) >= maxGroup || l.deps.CommitLinger <= 0 || failed:
			flush()
		case !hasRecords(group):
			flush() // nothing to sync: no reason to wait
		case lingerC == nil:
			linger.Reset(l.deps.CommitLinger)
			lingerC = linger.C
		}
	}
}

func hasRecords(group []batch) bool {
	for _, b := range group {
		if len(b.out.Persist) > 0 {
			return true
		}
	}
	return false
}

// settle commits the records of the batches in one store commit, then
// publishes them, answers the commands, sends the notices and queues the
// Mesos side for the actuator. It returns an error only when the term must
// end; the batches' commands are then answered with ErrNotLeader.
func (l *Loop) settle(ctx context.Context, group []batch) error {
	var records []scheduler.Record
	for _, b := range group {
		records = append(records, b.out.Persist...)
	}
	if len(records) > 0 {
		if err := l.deps.Store.Commit(ctx, l.epoch, records); err != nil {
			for _, b := range group {
				b.answer(ErrNotLeader)
			}
			return fmt.Errorf("leader: commit %d records: %w", len(records), err)
		}
		if l.deps.Publisher != nil {
			l.deps.Publisher.Apply(records)
		}
	}
	for i, b := range group {
		// Durable now: answer commands first, so API callers are not held
		// up by Mesos round trips.
		for _, r := range b.replies {
			r.to <- r.r
		}
		// Notices do not wait for Mesos calls (the notifier never blocks).
		if len(b.out.Notify) > 0 && l.deps.Notifier != nil {
			l.deps.Notifier.Notify(b.out.Notify)
		}
		if hasActions(b.out, b.acks) {
			select {
			case l.actions <- actions{now: b.now, out: b.out, acks: b.acks}:
			case <-ctx.Done():
				for _, later := range group[i+1:] {
					later.answer(ErrNotLeader)
				}
				return ctx.Err()
			}
		}
	}
	return nil
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
