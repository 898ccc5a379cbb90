package executor

import (
	"context"
	"errors"
	"sync"
)

// outbox sends status updates to the agent from a goroutine of its own, in
// the order they were produced, so that the executor's event loop never
// waits on an HTTP round trip: a LAUNCH that arrives while updates of
// earlier tasks are on their way starts its command at once (measured:
// with updates sent inline, 100 launches a second on a busy machine put
// seconds between a LAUNCH and its command).
//
// Order matters (a task's TASK_RUNNING must not overtake its
// TASK_STARTING), so there is one sender, and after a failed send the
// outbox halts: what is queued behind the failure comes back unsent, and
// nothing is sent until the event loop, having seen every update come back,
// resumes it and queues the unsent ones again in order.
type outbox struct {
	send    func(context.Context, *pending) error
	results chan sendResult

	mu     sync.Mutex
	queue  []*pending
	halted bool
	wake   chan struct{}
}

// sendResult is what became of one queued update.
type sendResult struct {
	p   *pending
	err error // nil: the agent took it; errHalted: not sent
}

var errHalted = errors.New("not sent: an earlier status update failed")

func newOutbox(send func(context.Context, *pending) error) *outbox {
	return &outbox{send: send, results: make(chan sendResult, 64), wake: make(chan struct{}, 1)}
}

// push queues updates for sending.
func (o *outbox) push(ps ...*pending) {
	if len(ps) == 0 {
		return
	}
	o.mu.Lock()
	o.queue = append(o.queue, ps...)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// resume lets the outbox send again after a failure.
func (o *outbox) resume() {
	o.mu.Lock()
	o.halted = false
	o.mu.Unlock()
}

// run sends until ctx ends; every queued update is answered on results.
func (o *outbox) run(ctx context.Context) {
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			o.mu.Unlock()
			select {
			case <-o.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		p := o.queue[0]
		o.queue[0] = nil
		o.queue = o.queue[1:]
		halted := o.halted
		o.mu.Unlock()

		err := errHalted
		if !halted {
			if err = o.send(ctx, p); err != nil {
				o.mu.Lock()
				o.halted = true
				o.mu.Unlock()
			}
		}
		select {
		case o.results <- sendResult{p: p, err: err}:
		case <-ctx.Done():
			return
		}
	}
}
