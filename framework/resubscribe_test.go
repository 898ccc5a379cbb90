package framework

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestResubscribePacer: attempts back off while they keep coming, a reset
// (a subscription that worked) brings the next one back to ResubscribeMin,
// and never sooner than ResubscribeMin after the previous attempt.
func TestResubscribePacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p := newResubscribePacer(ctx, time.Second, 16*time.Second)
		start := time.Now()
		take := func() time.Duration {
			t.Helper()
			<-p.tokens
			return time.Since(start)
		}
		// Greedy attempts: 0, then waits that grow (1, 2, 4, 8 s).
		var at []time.Duration
		for range 5 {
			at = append(at, take())
		}
		for i := 2; i < len(at); i++ {
			if at[i]-at[i-1] <= at[i-1]-at[i-2] {
				t.Fatalf("attempts at %v: the waits do not grow", at)
			}
		}
		// A subscription that worked; it drops 5 s later: the next attempt
		// comes at once, not after the grown wait.
		p.reset()
		time.Sleep(5 * time.Second)
		before := time.Since(start)
		if got := take() - before; got > 0 {
			t.Errorf("after a reset and 5 s of working subscription, the next attempt waited %v, want none", got)
		}
		// It works again and drops at once: no sooner than ResubscribeMin
		// after the previous attempt.
		prev := time.Since(start)
		p.reset()
		synctest.Wait()
		if got := take() - prev; got < time.Second {
			t.Errorf("an attempt %v after the previous one, want at least ResubscribeMin (1s)", got)
		}
	})
}
