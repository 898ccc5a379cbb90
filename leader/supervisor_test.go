package leader

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

type fakeTerm struct {
	epoch    int64
	lost     chan struct{}
	resigned atomic.Bool
}

func (t *fakeTerm) Epoch() int64                 { return t.epoch }
func (t *fakeTerm) Lost() <-chan struct{}        { return t.lost }
func (t *fakeTerm) Resign(context.Context) error { t.resigned.Store(true); return nil }
func (f *fakeFramework) Run(ctx context.Context, _ chan<- scheduler.Event) error {
	f.runs.Add(1)
	<-ctx.Done()
	return nil
}

type fakeFramework struct {
	fakeMesos
	runs atomic.Int32
}

type recordingModel struct {
	mu     sync.Mutex
	resets int
}

func (m *recordingModel) Apply([]scheduler.Record) {}
func (m *recordingModel) Reset(scheduler.State) {
	m.mu.Lock()
	m.resets++
	m.mu.Unlock()
}

var (
	_ Term      = (*fakeTerm)(nil)
	_ Framework = (*fakeFramework)(nil)
	_ Resetter  = (*recordingModel)(nil)
)

func TestSupervisorLeadsTermAfterTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		term1 := &fakeTerm{epoch: 1, lost: make(chan struct{})}
		term2 := &fakeTerm{epoch: 2, lost: make(chan struct{})}
		terms := make(chan *fakeTerm, 2)
		terms <- term1
		terms <- term2
		var elected []int64
		var leadings []string
		model := &recordingModel{}
		fw := &fakeFramework{fakeMesos: fakeMesos{j: j}}
		sup, err := NewSupervisor(SupervisorConfig{
			Elect: func(ctx context.Context) (Term, error) {
				select {
				case term := <-terms:
					elected = append(elected, term.epoch)
					return term, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			},
			Load: func(context.Context) (scheduler.State, error) { return scheduler.State{}, nil },
			NewEngine: func() Engine {
				return &scriptedEngine{j: j, reply: func(time.Time, scheduler.Event) (scheduler.Output, error) {
					return scheduler.Output{}, nil
				}}
			},
			Store:     &fakeStore{j: j},
			Framework: fw,
			ReadModel: model,
			OnLeadership: func(epoch int64, on bool) {
				if on {
					leadings = append(leadings, "lead")
				} else {
					leadings = append(leadings, "over")
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sup.Do(t.Context(), scheduler.Tick{}); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("Do before any term: %v, want ErrNotLeader", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- sup.Run(ctx) }()
		synctest.Wait()

		if !sup.IsLeader() {
			t.Fatal("not leading after winning term 1")
		}
		if _, err := sup.Do(ctx, scheduler.Tick{}); err != nil {
			t.Fatalf("Do while leading: %v", err)
		}
		if sup.IfFollower(func() { t.Error("follower work ran during a term") }) {
			t.Fatal("IfFollower ran while leading")
		}

		// Term 1 is lost: the loop stops, the next term is won.
		close(term1.lost)
		synctest.Wait()
		if term1.resigned.Load() {
			t.Fatal("a lost term resigned: only a shutdown resigns")
		}
		time.Sleep(2 * time.Second) // past RetryDelay
		synctest.Wait()
		if len(elected) != 2 || !sup.IsLeader() {
			t.Fatalf("elected %v, leading %v: want term 2 led after term 1 was lost", elected, sup.IsLeader())
		}
		cancel()
		<-done
		if sup.IsLeader() {
			t.Fatal("still leading after Run returned")
		}
		if !term2.resigned.Load() {
			t.Fatal("shutdown did not resign the running term")
		}
		ran := false
		if !sup.IfFollower(func() { ran = true }) || !ran {
			t.Fatal("IfFollower did not run once no term was running")
		}
		if got, want := leadings, []string{"lead", "over", "lead", "over"}; !slices.Equal(got, want) {
			t.Fatalf("leadership events %v, want %v", got, want)
		}
		if model.resets != 2 {
			t.Fatalf("read model reset %d times, want once per term (2)", model.resets)
		}
		if fw.runs.Load() != 2 {
			t.Fatalf("framework ran %d times, want once per term (2)", fw.runs.Load())
		}
	})
}
