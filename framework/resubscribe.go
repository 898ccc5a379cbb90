package framework

import (
	"context"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/backoff"
)

// resubscribePacer hands out subscription attempts. It is mesos-go's
// backoff notifier (the wait doubles with every attempt up to
// ResubscribeMax, and halves only while no attempt is made) plus one thing
// it lacks: a subscription that worked resets the pace. Without that, a
// master that dropped the stream a few times in an hour left Horae waiting
// 15 s before its next re-subscription although every subscription had
// succeeded (the stream-drop drill recovered in 0.6, 0.6, 1, 6 and 14 s).
// After a reset the next attempt still comes no sooner than ResubscribeMin
// after the previous one, so a master that accepts and drops at once is
// not hammered.
type resubscribePacer struct {
	min, max time.Duration
	tokens   chan struct{}
	resets   chan struct{}
}

func newResubscribePacer(ctx context.Context, min, max time.Duration) *resubscribePacer {
	p := &resubscribePacer{min: min, max: max, tokens: make(chan struct{}), resets: make(chan struct{}, 1)}
	go p.run(ctx)
	return p
}

// reset starts the pace again from ResubscribeMin (never blocks).
func (p *resubscribePacer) reset() {
	select {
	case p.resets <- struct{}{}:
	default:
	}
}

func (p *resubscribePacer) run(ctx context.Context) {
	var last time.Time // when the last attempt was handed out
	for {
		stop := make(chan struct{})
		src := backoff.Notifier(p.min, p.max, stop)
		reset := p.pace(ctx, src, &last)
		close(stop)
		if !reset {
			return
		}
	}
}

// pace hands out the tokens of one notifier; it returns true on a reset,
// false when ctx ends.
func (p *resubscribePacer) pace(ctx context.Context, src <-chan struct{}, last *time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-p.resets:
			return true
		case <-src:
		}
		if wait := p.min - time.Since(*last); !last.IsZero() && wait > 0 && !sleepCtx(ctx, wait) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.resets:
			return true
		case p.tokens <- struct{}{}:
			*last = time.Now()
		}
	}
}
