package leader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// journal records, in order, what the loop did, across all fakes.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
}

func (j *journal) snapshot() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// scriptedEngine answers each event with the Output its function returns.
type scriptedEngine struct {
	j     *journal
	reply func(now time.Time, ev scheduler.Event) (scheduler.Output, error)
}

func (e *scriptedEngine) Step(now time.Time, ev scheduler.Event) (scheduler.Output, error) {
	e.j.add("step %T", ev)
	return e.reply(now, ev)
}

type fakeStore struct {
	j   *journal
	err error
}

func (s *fakeStore) Commit(_ context.Context, epoch int64, records []scheduler.Record) error {
	s.j.add("commit epoch=%d records=%d", epoch, len(records))
	return s.err
}

type fakeMesos struct{ j *journal }

func (m *fakeMesos) Launch(_ context.Context, l []scheduler.Launch) error {
	m.j.add("launch %d", len(l))
	return nil
}
func (m *fakeMesos) Kill(_ context.Context, t []scheduler.TaskRef) error {
	m.j.add("kill %d", len(t))
	return nil
}
func (m *fakeMesos) Decline(_ context.Context, ids []string) error {
	m.j.add("decline %v", ids)
	return nil
}
func (m *fakeMesos) Reconcile(_ context.Context, t []scheduler.TaskRef, implicit bool) error {
	m.j.add("reconcile %d implicit=%v", len(t), implicit)
	return nil
}
func (m *fakeMesos) SetOfferInterest(_ context.Context, want scheduler.OfferInterest) error {
	m.j.add("offers %d", want)
	return nil
}
func (m *fakeMesos) Acknowledge(_ context.Context, u scheduler.TaskUpdated) error {
	m.j.add("ack %s", u.TaskID)
	return nil
}

type fakePublisher struct{ j *journal }

func (p *fakePublisher) Apply(records []scheduler.Record) { p.j.add("publish %d", len(records)) }

var (
	_ Engine    = (*scriptedEngine)(nil)
	_ Persister = (*fakeStore)(nil)
	_ Mesos     = (*fakeMesos)(nil)
	_ Publisher = (*fakePublisher)(nil)
)

func launchOutput() scheduler.Output {
	return scheduler.Output{
		Persist: []scheduler.Record{scheduler.PutRun{Run: scheduler.Run{ID: "a@1"}}},
		Launch:  []scheduler.Launch{{OfferID: "o1", Tasks: []scheduler.TaskLaunch{{TaskID: "t1"}}}},
		Decline: []string{"o2"},
	}
}

func TestLoopPersistsBeforeActingAndAcksAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		eng := &scriptedEngine{j: j, reply: func(time.Time, scheduler.Event) (scheduler.Output, error) {
			return launchOutput(), nil
		}}
		events := make(chan scheduler.Event, 1)
		l := New(7, events, Deps{Engine: eng, Store: &fakeStore{j: j}, Mesos: &fakeMesos{j: j}, Publisher: &fakePublisher{j: j}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		events <- scheduler.TaskUpdated{TaskID: "t0", AckUUID: []byte{1}}
		synctest.Wait()
		cancel()
		<-done
		want := []string{
			"step scheduler.TaskUpdated",
			"commit epoch=7 records=1",
			"publish 1",
			"launch 1",
			"decline [o2]",
			"ack t0", // in the background, after the commit
		}
		if got := j.snapshot(); !slices.Equal(got, want) {
			t.Fatalf("journal:\n got %q\nwant %q", got, want)
		}
	})
}

func TestLoopCommitFailureEndsTermWithoutActing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		fenced := errors.New("fenced")
		eng := &scriptedEngine{j: j, reply: func(time.Time, scheduler.Event) (scheduler.Output, error) {
			return launchOutput(), nil
		}}
		l := New(3, nil, Deps{Engine: eng, Store: &fakeStore{j: j, err: fenced}, Mesos: &fakeMesos{j: j}})
		done := make(chan error, 1)
		go func() { done <- l.Run(t.Context()) }()
		_, err := l.Do(t.Context(), scheduler.RunRequested{Job: "a"})
		if !errors.Is(err, ErrNotLeader) {
			t.Fatalf("command during a failed commit: got %v, want ErrNotLeader", err)
		}
		if err := <-done; !errors.Is(err, fenced) {
			t.Fatalf("Run returned %v, want the commit error", err)
		}
		for _, line := range j.snapshot() {
			if line == "launch 1" || line == "decline [o2]" {
				t.Fatalf("acted after a failed commit: %q", j.snapshot())
			}
		}
		if _, err := l.Do(t.Context(), scheduler.Tick{}); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("command after the term ended: got %v, want ErrNotLeader", err)
		}
	})
}

func TestLoopRejectedCommandCommitsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		bad := scheduler.Invalid("schedule", "bad")
		eng := &scriptedEngine{j: j, reply: func(time.Time, scheduler.Event) (scheduler.Output, error) {
			return scheduler.Output{}, bad
		}}
		l := New(1, nil, Deps{Engine: eng, Store: &fakeStore{j: j}, Mesos: &fakeMesos{j: j}})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() { _ = l.Run(ctx) }()
		_, err := l.Do(ctx, scheduler.JobPut{})
		var ve *scheduler.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("got %v, want the engine's ValidationError", err)
		}
		if got := j.snapshot(); !slices.Equal(got, []string{"step scheduler.JobPut"}) {
			t.Fatalf("journal %q: a rejected command must not commit or act", got)
		}
	})
}

func TestLoopTicksAtWakeAt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		start := time.Now()
		var ticks []time.Duration
		eng := &scriptedEngine{j: j, reply: func(now time.Time, ev scheduler.Event) (scheduler.Output, error) {
			if _, ok := ev.(scheduler.Tick); ok {
				ticks = append(ticks, now.Sub(start))
			}
			if len(ticks) >= 3 {
				return scheduler.Output{}, nil // nothing more due
			}
			return scheduler.Output{WakeAt: now.Add(90 * time.Second)}, nil
		}}
		l := New(1, nil, Deps{Engine: eng, Store: &fakeStore{j: j}, Mesos: &fakeMesos{j: j}})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { _ = l.Run(ctx) }()
		if _, err := l.Do(ctx, scheduler.JobPut{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		cancel()
		want := []time.Duration{90 * time.Second, 180 * time.Second, 270 * time.Second}
		if !slices.Equal(ticks, want) {
			t.Fatalf("ticks at %v, want %v", ticks, want)
		}
	})
}

func TestLoopBatchesQueuedEventsIntoOneCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		eng := &scriptedEngine{j: j, reply: func(time.Time, scheduler.Event) (scheduler.Output, error) {
			return scheduler.Output{Persist: []scheduler.Record{scheduler.PutRun{}}}, nil
		}}
		events := make(chan scheduler.Event, 10)
		for i := range 5 {
			events <- scheduler.TaskUpdated{TaskID: fmt.Sprint("t", i), AckUUID: []byte{1}}
		}
		l := New(1, events, Deps{Engine: eng, Store: &fakeStore{j: j}, Mesos: &fakeMesos{j: j}})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { _ = l.Run(ctx) }()
		synctest.Wait()
		cancel()
		var commits []string
		for _, line := range j.snapshot() {
			if len(line) > 6 && line[:6] == "commit" {
				commits = append(commits, line)
			}
		}
		if !slices.Equal(commits, []string{"commit epoch=1 records=5"}) {
			t.Fatalf("commits %q, want one commit of 5 records", commits)
		}
	})
}

// blockingMesos holds every Launch until release is closed.
type blockingMesos struct {
	fakeMesos
	release chan struct{}
}

func (m *blockingMesos) Launch(ctx context.Context, l []scheduler.Launch) error {
	m.j.add("launch started")
	<-m.release
	return m.fakeMesos.Launch(ctx, l)
}

// TestLoopStepsWhileMesosCallsAreInFlight: a launch waiting on the master
// does not hold up the next event: it is stepped and committed meanwhile,
// and its actions follow the launch in commit order.
func TestLoopStepsWhileMesosCallsAreInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		eng := &scriptedEngine{j: j, reply: func(_ time.Time, ev scheduler.Event) (scheduler.Output, error) {
			if _, ok := ev.(scheduler.Tick); ok {
				return launchOutput(), nil
			}
			return scheduler.Output{Persist: []scheduler.Record{scheduler.PutRun{}}, Decline: []string{"o3"}}, nil
		}}
		m := &blockingMesos{fakeMesos: fakeMesos{j: j}, release: make(chan struct{})}
		l := New(1, nil, Deps{Engine: eng, Store: &fakeStore{j: j}, Mesos: m})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() { _ = l.Run(ctx) }()
		if _, err := l.Do(ctx, scheduler.Tick{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the launch is now waiting on the master
		if _, err := l.Do(ctx, scheduler.JobPut{}); err != nil {
			t.Fatalf("command while a launch is in flight: %v", err)
		}
		got := j.snapshot()
		if want := []string{"step scheduler.Tick", "commit epoch=1 records=1", "launch started",
			"step scheduler.JobPut", "commit epoch=1 records=1"}; !slices.Equal(got, want) {
			t.Fatalf("journal while the launch waits:\n got %q\nwant %q", got, want)
		}
		close(m.release)
		synctest.Wait()
		got = j.snapshot()[5:]
		if want := []string{"launch 1", "decline [o2]", "decline [o3]"}; !slices.Equal(got, want) {
			t.Fatalf("actions after the launch returned:\n got %q\nwant %q", got, want)
		}
	})
}

type recordingNotifier struct{ j *journal }

func (n *recordingNotifier) Notify(ns []scheduler.Notice) { n.j.add("notify %d", len(ns)) }

// TestLoopNotifiesWithoutWaitingForMesos: notices go out right after their
// commit, not behind a launch the master is slow to answer.
func TestLoopNotifiesWithoutWaitingForMesos(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		eng := &scriptedEngine{j: j, reply: func(time.Time, scheduler.Event) (scheduler.Output, error) {
			out := launchOutput()
			out.Notify = []scheduler.Notice{{Kind: scheduler.NotifyFailure, Job: "a"}}
			return out, nil
		}}
		m := &blockingMesos{fakeMesos: fakeMesos{j: j}, release: make(chan struct{})}
		l := New(1, nil, Deps{Engine: eng, Store: &fakeStore{j: j}, Mesos: m, Notifier: &recordingNotifier{j: j}})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() { _ = l.Run(ctx) }()
		if _, err := l.Do(ctx, scheduler.Tick{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got := j.snapshot()
		if want := []string{"step scheduler.Tick", "commit epoch=1 records=1", "notify 1", "launch started"}; !slices.Equal(got, want) {
			t.Fatalf("journal:\n got %q\nwant %q", got, want)
		}
		close(m.release)
	})
}

// blockingStore holds the first Commit until release is closed.
type blockingStore struct {
	fakeStore
	release chan struct{}
	calls   int
}

func (s *blockingStore) Commit(ctx context.Context, epoch int64, records []scheduler.Record) error {
	s.calls++
	if s.calls == 1 {
		s.j.add("commit started")
		<-s.release
	}
	return s.fakeStore.Commit(ctx, epoch, records)
}

// TestLoopStepsWhileACommitSyncs: events that arrive while a commit is
// syncing are stepped meanwhile and made durable together by the next
// commit, and every batch's actions still follow its own commit, in order.
func TestLoopStepsWhileACommitSyncs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		eng := &scriptedEngine{j: j, reply: func(_ time.Time, ev scheduler.Event) (scheduler.Output, error) {
			u := ev.(scheduler.TaskUpdated)
			return scheduler.Output{Persist: []scheduler.Record{scheduler.PutRun{}}, Decline: []string{"o-" + u.TaskID}}, nil
		}}
		st := &blockingStore{fakeStore: fakeStore{j: j}, release: make(chan struct{})}
		events := make(chan scheduler.Event)
		l := New(1, events, Deps{Engine: eng, Store: st, Mesos: &fakeMesos{j: j}})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() { _ = l.Run(ctx) }()
		events <- scheduler.TaskUpdated{TaskID: "t0"}
		synctest.Wait() // t0's commit is syncing
		for _, id := range []string{"t1", "t2", "t3"} {
			events <- scheduler.TaskUpdated{TaskID: id}
			synctest.Wait()
		}
		got := j.snapshot()
		if want := []string{"step scheduler.TaskUpdated", "commit started",
			"step scheduler.TaskUpdated", "step scheduler.TaskUpdated", "step scheduler.TaskUpdated"}; !slices.Equal(got, want) {
			t.Fatalf("journal while the first commit syncs:\n got %q\nwant %q", got, want)
		}
		close(st.release)
		synctest.Wait()
		got = j.snapshot()[len(got):]
		// The actuator runs beside the committer: t0's decline may come
		// before or after the second commit, but never before its own.
		var commits, declines []string
		for _, line := range got {
			if strings.HasPrefix(line, "commit") {
				commits = append(commits, line)
			} else {
				declines = append(declines, line)
			}
		}
		if want := []string{"commit epoch=1 records=1", "commit epoch=1 records=3"}; !slices.Equal(commits, want) {
			t.Fatalf("commits %q, want %q (the three queued updates in one)", commits, want)
		}
		if want := []string{"decline [o-t0]", "decline [o-t1]", "decline [o-t2]", "decline [o-t3]"}; !slices.Equal(declines, want) {
			t.Fatalf("actions %q, want %q", declines, want)
		}
		if i, k := slices.Index(got, "commit epoch=1 records=3"), slices.Index(got, "decline [o-t1]"); k < i {
			t.Fatalf("t1 acted on before its commit: %q", got)
		}
	})
}

// TestLoopLingeringUpdatesShareTheNextCommit: updates whose only effects
// are records and acknowledgements wait up to the linger and go with the
// next urgent batch (a launch) in one commit; on their own they go once
// the linger has passed; an update with nothing to record is not held.
func TestLoopLingeringUpdatesShareTheNextCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		eng := &scriptedEngine{j: j, reply: func(_ time.Time, ev scheduler.Event) (scheduler.Output, error) {
			switch ev := ev.(type) {
			case scheduler.Tick:
				return launchOutput(), nil
			case scheduler.TaskUpdated:
				if ev.Message == "nothing" {
					return scheduler.Output{}, nil
				}
				return scheduler.Output{Persist: []scheduler.Record{scheduler.PutRun{}}}, nil
			}
			return scheduler.Output{}, nil
		}}
		events := make(chan scheduler.Event)
		const linger = 20 * time.Millisecond
		l := New(1, events, Deps{Engine: eng, Store: &fakeStore{j: j}, Mesos: &fakeMesos{j: j}, CommitLinger: linger})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() { _ = l.Run(ctx) }()
		commits := func() (n []string) {
			for _, line := range j.snapshot() {
				if strings.HasPrefix(line, "commit") || strings.HasPrefix(line, "ack") {
					n = append(n, line)
				}
			}
			return n
		}

		events <- scheduler.TaskUpdated{TaskID: "t1", AckUUID: []byte{1}}
		events <- scheduler.TaskUpdated{TaskID: "t2", AckUUID: []byte{1}}
		time.Sleep(linger / 2)
		synctest.Wait()
		if got := commits(); len(got) != 0 {
			t.Fatalf("within the linger: %q, want nothing committed or acknowledged yet", got)
		}
		if _, err := l.Do(ctx, scheduler.Tick{}); err != nil { // a launch: urgent
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := commits(), []string{"commit epoch=1 records=3", "ack t1", "ack t2"}; !slices.Equal(got[:1], want[:1]) || len(got) != 3 {
			t.Fatalf("after a launch: %q, want %q (acks in any order)", got, want)
		}

		before := len(commits())
		start := time.Now()
		events <- scheduler.TaskUpdated{TaskID: "t3", AckUUID: []byte{1}}
		synctest.Wait()
		if got := commits()[before:]; len(got) != 0 {
			t.Fatalf("alone, before the linger passed: %q", got)
		}
		time.Sleep(linger)
		synctest.Wait()
		if got := commits()[before:]; !slices.Equal(got, []string{"commit epoch=1 records=1", "ack t3"}) {
			t.Fatalf("alone, after the linger (%v): %q", time.Since(start), got)
		}

		before = len(commits())
		events <- scheduler.TaskUpdated{TaskID: "t4", AckUUID: []byte{1}, Message: "nothing"}
		synctest.Wait()
		if got := commits()[before:]; !slices.Equal(got, []string{"ack t4"}) {
			t.Fatalf("an update with nothing to record: %q, want its ack at once", got)
		}
	})
}
