package events

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

var t0 = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

func newTestHub(opts Options) *Hub {
	if opts.Now == nil {
		// The epoch: Leadership(_, true) does not move IDs (see
		// TestLeadershipMovesIDsToNow), so IDs are 101, 102...
		opts.Now = func() time.Time { return time.Unix(0, 0) }
	}
	if opts.FirstID == 0 {
		opts.FirstID = 100
	}
	return NewHub(opts)
}

func run(job, id string, st scheduler.RunState) scheduler.Record {
	return scheduler.PutRun{Run: scheduler.Run{ID: scheduler.RunID(id), Job: job, State: st}}
}

// drain receives what is buffered now, without waiting.
func drain(ch <-chan Event) (evs []Event, closed bool) {
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return evs, true
			}
			evs = append(evs, ev)
		default:
			return evs, false
		}
	}
}

func summary(evs []Event) []string {
	var s []string
	for _, ev := range evs {
		x := fmt.Sprintf("%d %s %s", ev.ID, ev.Type, ev.Job)
		switch {
		case ev.Run != nil:
			x += fmt.Sprintf(" %s=%s", ev.Run.ID, ev.Run.State)
		case ev.Leadership != nil:
			x += fmt.Sprintf(" epoch=%d leading=%v", ev.Leadership.Epoch, ev.Leadership.Leading)
		}
		s = append(s, x)
	}
	return s
}

func equal(t *testing.T, got []Event, want ...string) {
	t.Helper()
	g := summary(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("events\n got %q\nwant %q", g, want)
	}
}

func TestApply(t *testing.T) {
	cases := []struct {
		name    string
		state   scheduler.State
		batches [][]scheduler.Record
		want    []string
	}{
		{
			name: "run states only when changed",
			batches: [][]scheduler.Record{
				{run("a", "a.1", scheduler.RunPending)},
				{run("a", "a.1", scheduler.RunPending), scheduler.PutCursor{Cursor: scheduler.Cursor{Job: "a"}}},
				{run("a", "a.1", scheduler.RunLaunching), run("a", "a.1", scheduler.RunRunning)},
				{run("a", "a.1", scheduler.RunSucceeded)},
				{run("a", "a.1", scheduler.RunSucceeded)}, // stored again: no second event
			},
			want: []string{"101 run.state a a.1=pending", "102 run.state a a.1=launching", "103 run.state a a.1=running", "104 run.state a a.1=succeeded"},
		},
		{
			name: "retry goes back to pending",
			batches: [][]scheduler.Record{
				{run("a", "a.1", scheduler.RunRunning)},
				{run("a", "a.1", scheduler.RunPending)},
			},
			want: []string{"101 run.state a a.1=running", "102 run.state a a.1=pending"},
		},
		{
			name: "jobs",
			batches: [][]scheduler.Record{
				{scheduler.PutJob{Job: scheduler.Job{Name: "a"}}, scheduler.PutJob{Job: scheduler.Job{Name: "a"}}},
				{scheduler.DeleteJob{Name: "a"}},
				{scheduler.PutJob{Job: scheduler.Job{Name: "a"}}},
			},
			want: []string{"101 job.created a", "102 job.updated a", "103 job.deleted a", "104 job.created a"},
		},
		{
			name:  "reset state is known",
			state: scheduler.State{Jobs: []scheduler.Job{{Name: "a"}}, Runs: []scheduler.Run{{ID: "a.1", Job: "a", State: scheduler.RunRunning}, {ID: "a.0", Job: "a", State: scheduler.RunFailed}}},
			batches: [][]scheduler.Record{
				{scheduler.PutJob{Job: scheduler.Job{Name: "a"}}, run("a", "a.1", scheduler.RunRunning), run("a", "a.0", scheduler.RunFailed)},
				{run("a", "a.1", scheduler.RunFailed)},
			},
			want: []string{"101 job.updated a", "102 run.state a a.1=failed"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHub(Options{})
			h.Reset(tc.state)
			ch := h.Subscribe(t.Context(), Filter{})
			for _, b := range tc.batches {
				h.Apply(b)
			}
			got, _ := drain(ch)
			equal(t, got, tc.want...)
		})
	}
}

func TestFinishedRunsAreBounded(t *testing.T) {
	h := newTestHub(Options{Finished: 2})
	ch := h.Subscribe(t.Context(), Filter{})
	for _, id := range []string{"1", "2", "3", "1", "3"} {
		h.Apply([]scheduler.Record{run("a", id, scheduler.RunSucceeded)})
	}
	got, _ := drain(ch)
	// 1 was forgotten when 3 finished, so storing it again reports it.
	equal(t, got, "101 run.state a 1=succeeded", "102 run.state a 2=succeeded", "103 run.state a 3=succeeded", "104 run.state a 1=succeeded")
	if len(h.done) != 2 || len(h.order) != 2 {
		t.Fatalf("done %v order %v, want 2 each", h.done, h.order)
	}
}

func TestSecretNeverInEvents(t *testing.T) {
	h := newTestHub(Options{})
	ch := h.Subscribe(t.Context(), Filter{})
	spec := &scheduler.WebhookSpec{Enabled: true, Secret: "s3cret"}
	h.Apply([]scheduler.Record{scheduler.PutJob{Job: scheduler.Job{Name: "a", Webhook: spec}}})
	got, _ := drain(ch)
	if len(got) != 1 || got[0].Spec == nil || got[0].Spec.Webhook == nil {
		t.Fatalf("events %+v", got)
	}
	if w := got[0].Spec.Webhook; w.Secret != "" || !w.Enabled {
		t.Fatalf("webhook in event %+v, want enabled without secret", w)
	}
	if spec.Secret != "s3cret" {
		t.Fatal("the committed record was modified")
	}
}

func TestFilterAndLeadership(t *testing.T) {
	h := newTestHub(Options{})
	all := h.Subscribe(t.Context(), Filter{})
	onlyB := h.Subscribe(t.Context(), Filter{Job: "b"})
	h.Leadership(7, true)
	h.Apply([]scheduler.Record{run("a", "a.1", scheduler.RunPending), run("b", "b.1", scheduler.RunPending), scheduler.DeleteJob{Name: "a"}})
	h.Leadership(7, false)
	got, _ := drain(all)
	equal(t, got, "101 leadership  epoch=7 leading=true", "102 run.state a a.1=pending", "103 run.state b b.1=pending", "104 job.deleted a", "105 leadership  epoch=7 leading=false")
	got, _ = drain(onlyB)
	equal(t, got, "101 leadership  epoch=7 leading=true", "103 run.state b b.1=pending", "105 leadership  epoch=7 leading=false")
}

func TestResume(t *testing.T) {
	cases := []struct {
		name string
		f    Filter
		want []string
	}{
		{"in ring", Filter{After: 103}, []string{"104 run.state j1 3=pending", "105 run.state j0 4=pending"}},
		{"just before the ring", Filter{After: 102}, []string{"103 run.state j0 2=pending", "104 run.state j1 3=pending", "105 run.state j0 4=pending"}},
		{"in ring, filtered", Filter{After: 102, Job: "j1"}, []string{"104 run.state j1 3=pending"}},
		{"up to date", Filter{After: 105}, nil},
		{"too old", Filter{After: 101}, []string{"0 reset "}},
		{"from another hub", Filter{After: 900}, []string{"0 reset "}},
		{"no resume", Filter{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHub(Options{Ring: 3})
			for i := range 5 { // IDs 101..105; the ring keeps 103..105
				h.Apply([]scheduler.Record{run(fmt.Sprint("j", i%2), fmt.Sprint(i), scheduler.RunPending)})
			}
			ch := h.Subscribe(t.Context(), tc.f)
			got, _ := drain(ch)
			equal(t, got, tc.want...)
			// Live events follow the replay.
			h.Leadership(1, true)
			got, _ = drain(ch)
			if len(got) != 1 || got[0].Type != TypeLeadership {
				t.Fatalf("after replay: %q", summary(got))
			}
		})
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	h := newTestHub(Options{Buffer: 4})
	slow := h.Subscribe(t.Context(), Filter{})
	fast := h.Subscribe(t.Context(), Filter{})
	var fastGot []Event
	// Apply must return although nobody reads slow.
	for i := range 10 {
		h.Apply([]scheduler.Record{run("a", fmt.Sprint(i), scheduler.RunPending)})
		evs, _ := drain(fast)
		fastGot = append(fastGot, evs...)
	}
	got, closed := drain(slow)
	if !closed || len(got) != 5 || got[4].Type != TypeOverflow || got[3].ID != 104 {
		t.Fatalf("slow subscriber: closed %v events %q, want 4 events, overflow, closed", closed, summary(got))
	}
	if len(fastGot) != 10 || fastGot[9].ID != 110 {
		t.Fatalf("fast subscriber got %q", summary(fastGot))
	}
	if n := h.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	// It resumes where it stopped, without loss.
	again, _ := drain(h.Subscribe(t.Context(), Filter{After: got[3].ID}))
	if len(again) != 6 || again[0].ID != 105 || again[5].ID != 110 {
		t.Fatalf("resumed: %q", summary(again))
	}
}

func TestCancelCloses(t *testing.T) {
	h := newTestHub(Options{})
	ctx, cancel := context.WithCancel(t.Context())
	ch := h.Subscribe(ctx, Filter{})
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed 10 s after cancel")
	}
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
	h.Leadership(1, true) // no send on a closed channel
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, closed := drain(h.Subscribe(ctx, Filter{})); !closed {
		t.Fatal("subscription with a done context is open")
	}
}

func TestDefaultIDsGrowAcrossHubs(t *testing.T) {
	a := NewHub(Options{})
	a.Leadership(1, true)
	b := NewHub(Options{Now: func() time.Time { return time.Now().Add(time.Millisecond) }})
	if b.LastID() <= a.LastID() {
		t.Fatalf("second hub starts at %d, first is at %d", b.LastID(), a.LastID())
	}
}

// TestConcurrentInOrder: publishers and subscribers at once (run with
// -race); every subscriber sees strictly increasing IDs, and one that keeps
// up sees every event.
func TestConcurrentInOrder(t *testing.T) {
	h := newTestHub(Options{Buffer: 64})
	const publishers, perPublisher = 4, 200
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	results := make([][]Event, 6)
	for i := range results {
		ch := h.Subscribe(ctx, Filter{})
		wg.Go(func() {
			for ev := range ch {
				results[i] = append(results[i], ev)
				if i == 0 && len(results[i]) == publishers*perPublisher {
					return
				}
			}
		})
	}
	var pub sync.WaitGroup
	for p := range publishers {
		pub.Go(func() {
			for k := range perPublisher {
				h.Apply([]scheduler.Record{run("a", fmt.Sprintf("%d.%d", p, k), scheduler.RunPending)})
				if k%50 == 0 {
					h.Leadership(int64(k), true)
				}
			}
		})
	}
	pub.Wait()
	cancel()
	wg.Wait()
	for i, evs := range results {
		for k := 1; k < len(evs); k++ {
			if evs[k].Type != TypeOverflow && evs[k].ID <= evs[k-1].ID {
				t.Fatalf("subscriber %d: event %d has ID %d after %d", i, k, evs[k].ID, evs[k-1].ID)
			}
		}
	}
	if n := len(results[0]); n < publishers*perPublisher {
		// It may have been dropped when slow; then it saw an overflow last.
		if n == 0 || results[0][n-1].Type != TypeOverflow {
			t.Fatalf("subscriber 0 got %d events without an overflow", n)
		}
	}
}

// TestLeadershipMovesIDsToNow: a new term's IDs exceed the previous
// leader's, so a client coming from it is told to reset.
func TestLeadershipMovesIDsToNow(t *testing.T) {
	now := t0
	h := newTestHub(Options{Now: func() time.Time { return now }})
	h.Apply([]scheduler.Record{run("a", "a.1", scheduler.RunPending)}) // 101
	h.Leadership(1, false)
	if h.LastID() != 102 {
		t.Fatalf("last %d, want 102", h.LastID())
	}
	h.Leadership(2, true)
	want := uint64(t0.UnixMicro()) + 1
	if h.LastID() != want {
		t.Fatalf("last %d, want %d", h.LastID(), want)
	}
	// An ID the other leader gave out before this term is foreign, and so
	// is one of this hub's previous term.
	for _, after := range []uint64{want - 50, 101} {
		got, _ := drain(h.Subscribe(t.Context(), Filter{After: after}))
		equal(t, got, "0 reset ")
	}
	// Leading again at an earlier clock never moves IDs back.
	now = t0.Add(-time.Hour)
	h.Leadership(3, true)
	if h.LastID() != want+1 {
		t.Fatalf("last %d, want %d", h.LastID(), want+1)
	}
}
