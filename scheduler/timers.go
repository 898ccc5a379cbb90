package scheduler

import (
	"container/heap"
	"time"
)

type timerKind uint8

const (
	timerSlot     timerKind = iota // a job's next schedule slot
	timerRetry                     // a pending retry's NotBefore
	timerBackstop                  // maxRuntime + margin of a launched attempt
)

// timer is one entry of the engine's due-time index. Entries are never
// removed when superseded: an entry is stale when the state it points at no
// longer carries the same instant, and stale entries are dropped when they
// reach the top. The heap is ordered by (at, kind, job, run) so that equal
// instants fire in a deterministic order.
type timer struct {
	at   time.Time
	kind timerKind
	js   *jobState
	run  *runState
}

func (t timer) valid() bool {
	switch t.kind {
	case timerSlot:
		return !t.js.deleted && t.js.nextSlot.Equal(t.at)
	case timerRetry:
		return !t.run.js.deleted && !t.run.State.Terminal() && t.run.retryAt.Equal(t.at)
	default:
		return !t.run.js.deleted && !t.run.State.Terminal() && t.run.backstopAt.Equal(t.at)
	}
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	if a.js != nil && b.js != nil && a.js.job.Name != b.js.job.Name {
		return a.js.job.Name < b.js.job.Name
	}
	if a.run != nil && b.run != nil {
		return a.run.ID < b.run.ID
	}
	return false
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = timer{}
	*h = old[:n-1]
	return t
}

func (h *timerHeap) add(t timer) {
	if t.js == nil && t.run != nil {
		t.js = t.run.js
	}
	heap.Push(h, t)
}

// dropStale removes stale entries from the top.
func (h *timerHeap) dropStale() {
	for len(*h) > 0 && !(*h)[0].valid() {
		heap.Pop(h)
	}
}

// popDue pops the earliest valid timer at or before now.
func (h *timerHeap) popDue(now time.Time) (timer, bool) {
	h.dropStale()
	if len(*h) == 0 || (*h)[0].at.After(now) {
		return timer{}, false
	}
	return heap.Pop(h).(timer), true
}

// earliest is the instant of the earliest valid timer, zero if none.
func (h *timerHeap) earliest() time.Time {
	h.dropStale()
	if len(*h) == 0 {
		return time.Time{}
	}
	return (*h)[0].at
}
