package events

import (
	"context"
	"fmt"
	"testing"

	"github.com/horae-scheduler/horae/scheduler"
)

// BenchmarkApply: one batch of a run state change and a cursor, with
// subscribers that keep up, as the leader loop publishes it.
func BenchmarkApply(b *testing.B) {
	for _, subs := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			// A buffer deep enough that readers are not dropped.
			h := NewHub(Options{Buffer: 1 << 16})
			ctx, cancel := context.WithCancel(b.Context())
			defer cancel()
			for range subs {
				ch := h.Subscribe(ctx, Filter{})
				go func() {
					for range ch {
					}
				}()
			}
			states := []scheduler.RunState{scheduler.RunPending, scheduler.RunLaunching, scheduler.RunRunning, scheduler.RunSucceeded}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := scheduler.RunID(fmt.Sprint("r", i/4))
				h.Apply([]scheduler.Record{
					scheduler.PutRun{Run: scheduler.Run{ID: id, Job: "a", State: states[i%4]}},
					scheduler.PutCursor{Cursor: scheduler.Cursor{Job: "a"}},
				})
				i++
			}
			b.StopTimer()
			if n := h.Subscribers(); n != subs {
				b.Fatalf("%d of %d subscribers dropped: the figure is not for %d", subs-n, subs, subs)
			}
		})
	}
}
