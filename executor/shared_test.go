package executor

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	mesosexec "github.com/mesos/mesos-go/api/v1/lib/executor"

	"github.com/horae-scheduler/horae/taskspec"
)

// TestSharedExecutorIdle: with an idle timeout (here from the
// ExecutorInfo's label, as the scheduler sets it) the executor outlives its
// last task, runs tasks launched while it is idle, and exits once the
// timeout passes with no task. Each task gets its own output directory.
func TestSharedExecutorIdle(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	idle := "2s"
	a.execLabels = []mesos.Label{{Key: LabelIdleTimeout, Value: &idle}}
	a.launch(taskInfo(t, "first", taskspec.Spec{Shell: true, Command: "echo one"}))
	errc, sandbox := startExecutor(t, a, nil)
	a.waitFor("first ends", func(a *fakeAgent) bool { _, ok := a.terminal("first"); return ok })
	// Idle now, and still up: a new task runs in the same process.
	a.launch(taskInfo(t, "second", taskspec.Spec{Shell: true, Command: "echo two"}))
	a.waitFor("second ends", func(a *fakeAgent) bool { _, ok := a.terminal("second"); return ok })
	select {
	case err := <-errc:
		t.Fatalf("executor exited (%v) right after its task with an idle timeout", err)
	default:
	}
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run after idle timeout: %v", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range []string{"first", "second"} {
		st, _ := a.terminal(id)
		r, err := taskspec.ParseResult(st.Data)
		if st.GetState() != mesos.TASK_FINISHED || err != nil || r.Directory != sandbox+"/task-"+id {
			t.Errorf("%s: %v dir %q err %v", id, st.GetState(), r.Directory, err)
		}
	}
}

// TestSharedExecutorForgetsAcknowledgedTasks: a long-lived executor keeps
// only tasks that run or have unacknowledged updates.
func TestSharedExecutorForgetsAcknowledgedTasks(t *testing.T) {
	s := &state{tasks: map[string]*task{}, unackedTasks: map[string]bool{}}
	for _, id := range []string{"a", "b"} {
		s.add(&task{info: mesos.TaskInfo{TaskID: mesos.TaskID{Value: id}}, terminal: id == "a"})
		s.queue(mesos.TaskID{Value: id}, mesos.TASK_FINISHED, nil, "", nil)
	}
	for _, p := range s.unacked {
		if p.update.Status.TaskID.Value == "a" {
			s.acknowledged("a", p.update.Status.UUID)
			break
		}
	}
	if _, ok := s.tasks["a"]; ok || len(s.order) != 1 || s.order[0] != "b" {
		t.Errorf("acknowledged terminal task kept: tasks %v order %v", s.tasks, s.order)
	}
	s.acknowledged("b", s.unacked[0].update.Status.UUID)
	if _, ok := s.tasks["b"]; !ok {
		t.Error("a task not yet terminal was forgotten on acknowledgement")
	}
}

// TestSharedExecutorLaunchDuringShutdown: a LAUNCH that arrives after the
// agent's SHUTDOWN is failed at once, and the executor still exits.
func TestSharedExecutorLaunchDuringShutdown(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	a.launch(taskInfo(t, "long", taskspec.Spec{Shell: true, Command: "sleep 60"}))
	errc, _ := startExecutor(t, a, func(c *Config) {
		c.IdleTimeout = time.Hour
		c.Mesos.ExecutorShutdownGracePeriod = 2 * time.Second
	})
	a.waitFor("running", func(a *fakeAgent) bool { return len(a.updates) >= 2 })
	a.send(&mesosexec.Event{Type: mesosexec.Event_SHUTDOWN})
	a.launch(taskInfo(t, "late", taskspec.Spec{Shell: true, Command: "true"}))
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run: %v", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st, ok := a.terminal("late"); !ok || st.GetState() != mesos.TASK_FAILED {
		t.Errorf("late launch: %v %q, want TASK_FAILED", st.GetState(), st.GetMessage())
	}
	if st, _ := a.terminal("long"); st.GetState() != mesos.TASK_KILLED {
		t.Errorf("running task at shutdown: %v", st.GetState())
	}
}
