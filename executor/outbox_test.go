package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/taskspec"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	mesosexec "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
)

func pendingFor(id string) *pending {
	return &pending{update: mesosexec.Call_Update{Status: mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}}}}
}

// TestOutboxOrderAndHalt: updates go out in order; after a failure the ones
// queued behind it come back unsent and nothing is sent until resume, so a
// later update can never overtake an earlier one.
func TestOutboxOrderAndHalt(t *testing.T) {
	var (
		mu   sync.Mutex
		sent []string
		fail = map[string]bool{"b": true}
	)
	o := newOutbox(func(_ context.Context, p *pending) error {
		mu.Lock()
		defer mu.Unlock()
		id := p.update.Status.TaskID.Value
		if fail[id] {
			delete(fail, id) // fails once
			return errors.New("agent refused")
		}
		sent = append(sent, id)
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go o.run(ctx)

	collect := func(n int) []string {
		t.Helper()
		var got []string
		for range n {
			select {
			case r := <-o.results:
				got = append(got, fmt.Sprintf("%s:%v", r.p.update.Status.TaskID.Value, r.err))
			case <-time.After(10 * time.Second):
				t.Fatalf("outbox answered %d of %d updates: %v", len(got), n, got)
			}
		}
		return got
	}
	ps := []*pending{pendingFor("a"), pendingFor("b"), pendingFor("c"), pendingFor("d")}
	o.push(ps...)
	got := collect(4)
	want := []string{"a:<nil>", "b:agent refused", "c:" + errHalted.Error(), "d:" + errHalted.Error()}
	if !slices.Equal(got, want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
	// Halted: a new update is not sent either.
	o.push(pendingFor("e"))
	if got := collect(1); !slices.Equal(got, []string{"e:" + errHalted.Error()}) {
		t.Fatalf("while halted: %q", got)
	}
	o.resume()
	o.push(ps[1], ps[2], ps[3])
	collect(3)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sent, []string{"a", "b", "c", "d"}) {
		t.Errorf("sent %v, want a b c d in order", sent)
	}
}

// TestLaunchNotHeldUpBySlowUpdates: while the agent sits on the answers to
// the first task's status updates, a second LAUNCH still starts its command
// (updates are sent off the event loop); once the agent answers, every
// update arrives, each task's in order.
func TestLaunchNotHeldUpBySlowUpdates(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	hold := make(chan struct{})
	a.holdUpdates = hold
	a.launch(taskInfo(t, "one", taskspec.Spec{Shell: true, Command: "sleep 30"}))
	// Longer than the wait below: an executor that sent inline would still
	// be waiting on the first answer when the test gives up.
	_, sandbox := startExecutor(t, a, func(c *Config) { c.HTTPTimeout = time.Minute })
	a.waitFor("the first update held", func(a *fakeAgent) bool { return a.heldUpdates > 0 })

	marker := filepath.Join(sandbox, "two-ran")
	a.launch(taskInfo(t, "two", taskspec.Spec{Shell: true, Command: "touch " + marker}))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second task's command did not run while the agent held the first task's updates")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(hold)
	a.waitFor("two finished", func(a *fakeAgent) bool { _, ok := a.terminal("two"); return ok })
	for _, id := range []string{"one", "two"} {
		states := a.states(id)
		if len(states) < 2 || states[0] != mesos.TASK_STARTING || states[1] != mesos.TASK_RUNNING {
			t.Errorf("task %s updates %v, want STARTING then RUNNING first", id, states)
		}
	}
}

// TestExitSendsQueuedUpdates: an update still in the outbox when the
// executor is told to stop (here: the agent sat on the answers) is sent
// before Run returns, so the agent learns the task finished and does not
// report it failed (which would run it again).
func TestExitSendsQueuedUpdates(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	hold := make(chan struct{})
	a.holdUpdates = hold
	sandbox := t.TempDir()
	marker := filepath.Join(sandbox, "ran")
	a.launch(taskInfo(t, "one", taskspec.Spec{Shell: true, Command: "touch " + marker}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{
			Mesos: config.Config{FrameworkID: "fw-1", ExecutorID: "ex-1", Directory: sandbox, Sandbox: sandbox,
				AgentEndpoint: a.addr, ExecutorShutdownGracePeriod: 5 * time.Second},
			KillGrace: 5 * time.Second, HTTPTimeout: time.Minute,
		}, testLogger(t))
	}()
	a.waitFor("the first update held", func(a *fakeAgent) bool { return a.heldUpdates > 0 })
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the task's command did not run")
		}
	}
	time.Sleep(300 * time.Millisecond) // the command has ended and been reported to the outbox
	cancel()
	time.Sleep(300 * time.Millisecond)
	close(hold)
	select {
	case <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("executor did not return after cancel")
	}
	a.mu.Lock()
	st, ok := a.terminal("one")
	a.mu.Unlock()
	if !ok || st.GetState() != mesos.TASK_FINISHED {
		t.Errorf("agent got terminal %v (ok %v) for the finished task, want TASK_FINISHED; updates %v", st.GetState(), ok, a.states("one"))
	}
}
