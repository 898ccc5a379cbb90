package scheduler

import "time"

type timerKind uint8

const (
	timerSlot     timerKind = iota // a job's next schedule slot (LaunchAhead early)
	timerRetry                     // a pending retry's NotBefore
	timerBackstop                  // maxRuntime + margin of a launched attempt
	timerOverdue                   // an attempt still waiting for resources
)

// timer is one entry of the engine's due-time index. Entries are never
// removed when superseded: an entry is stale when the state it points at no
// longer carries the same instant, and stale entries are dropped when they
// reach the top. The heap is ordered by (at, kind, seq): seq is the order
// of insertion, itself a function of the events, so equal instants fire in
// a deterministic order without touching the jobs (cache-friendly).
type timer struct {
	at   time.Time
	sec  int64 // at as Unix seconds and nanoseconds: the sort key
	nsec int32
	seq  uint64
	kind timerKind
	js   *jobState
	run  *runState
}

func (t timer) valid() bool {
	switch t.kind {
	case timerSlot:
		return !t.js.deleted && t.js.slotAt.Equal(t.at)
	case timerRetry:
		return !t.run.js.deleted && !t.run.State.Terminal() && t.run.retryAt.Equal(t.at)
	case timerOverdue:
		return !t.run.js.deleted && !t.run.State.Terminal() && t.run.overdueAt.Equal(t.at)
	default:
		return !t.run.js.deleted && !t.run.State.Terminal() && t.run.backstopAt.Equal(t.at)
	}
}

// timerHeap is a binary min-heap of timers (typed, to avoid boxing every
// push and pop through container/heap).
type timerHeap struct {
	s   []timer
	seq uint64
}

func (h *timerHeap) less(i, j int) bool {
	a, b := &h.s[i], &h.s[j]
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}

func (h *timerHeap) add(t timer) {
	if t.js == nil && t.run != nil {
		t.js = t.run.js
	}
	t.sec, t.nsec = t.at.Unix(), int32(t.at.Nanosecond())
	h.seq++
	t.seq = h.seq
	h.s = append(h.s, t)
	s := h
	for i := len(s.s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s.s[i], s.s[p] = s.s[p], s.s[i]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	n := len(h.s) - 1
	top := h.s[0]
	h.s[0] = h.s[n]
	h.s[n] = timer{}
	h.s = h.s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.s[i], h.s[m] = h.s[m], h.s[i]
		i = m
	}
	return top
}

// dropStale removes stale entries from the top.
func (h *timerHeap) dropStale() {
	for len(h.s) > 0 && !h.s[0].valid() {
		h.pop()
	}
}

// popDue pops the earliest valid timer at or before now.
func (h *timerHeap) popDue(now time.Time) (timer, bool) {
	h.dropStale()
	if len(h.s) == 0 || h.s[0].at.After(now) {
		return timer{}, false
	}
	return h.pop(), true
}

// earliest is the instant of the earliest valid timer, zero if none.
func (h *timerHeap) earliest() time.Time {
	h.dropStale()
	if len(h.s) == 0 {
		return time.Time{}
	}
	return h.s[0].at
}
