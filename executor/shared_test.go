package executor

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestRetentionDue: which finished tasks' directories are due, by count and
// by age, oldest first.
func TestRetentionDue(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		max       int
		ttl       time.Duration
		ended     []time.Duration // after t0, one directory each: d0, d1, ...
		at        time.Duration
		due       []string
		kept      int
		nextAfter time.Duration // next expiry after t0; -1 = none
	}{
		{name: "nothing kept", max: 2, ttl: time.Hour, at: 0, kept: 0, nextAfter: -1},
		{name: "within both bounds", max: 3, ttl: time.Hour, ended: []time.Duration{0, time.Minute}, at: 2 * time.Minute,
			kept: 2, nextAfter: time.Hour},
		{name: "over the count: oldest go", max: 2, ttl: time.Hour, ended: []time.Duration{0, 1, 2, 3}, at: 4,
			due: []string{"d0", "d1"}, kept: 2, nextAfter: time.Hour + 2},
		{name: "expired by age", max: 10, ttl: time.Hour, ended: []time.Duration{0, 30 * time.Minute, 90 * time.Minute},
			at: 100 * time.Minute, due: []string{"d0", "d1"}, kept: 1, nextAfter: 150 * time.Minute},
		{name: "exactly at the ttl", max: 10, ttl: time.Hour, ended: []time.Duration{0, time.Second}, at: time.Hour,
			due: []string{"d0"}, kept: 1, nextAfter: time.Hour + time.Second},
		{name: "both bounds at once", max: 1, ttl: time.Hour, ended: []time.Duration{0, 2 * time.Hour, 3 * time.Hour},
			at: 3 * time.Hour, due: []string{"d0", "d1"}, kept: 1, nextAfter: 4 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := retention{max: tc.max, ttl: tc.ttl}
			for i, d := range tc.ended {
				r.add(fmt.Sprintf("d%d", i), t0.Add(d))
			}
			due := r.due(t0.Add(tc.at))
			if fmt.Sprint(due) != fmt.Sprint(tc.due) || len(r.dirs) != tc.kept {
				t.Errorf("due %v, %d kept; want %v, %d kept", due, len(r.dirs), tc.due, tc.kept)
			}
			want := time.Time{}
			if tc.nextAfter >= 0 {
				want = t0.Add(tc.nextAfter)
			}
			if got := r.next(); !got.Equal(want) {
				t.Errorf("next %v, want %v", got, want)
			}
			if again := r.due(t0.Add(tc.at)); len(again) != 0 {
				t.Errorf("due twice: %v", again)
			}
		})
	}
}

// TestSharedExecutorRetention: a shared executor, with its retention set by
// ExecutorInfo labels as the scheduler sets it, keeps a running task's
// directory whatever the count, removes the oldest finished ones beyond the
// count before it reports the task whose end made them due, and removes the
// rest once they are older than the retention time. Real processes, real
// directories.
func TestSharedExecutorRetention(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	idle, count, age := "1m", "2", "3s"
	a.execLabels = []mesos.Label{{Key: LabelIdleTimeout, Value: &idle}, {Key: LabelRetainTasks, Value: &count}, {Key: LabelRetainFor, Value: &age}}
	release := filepath.Join(t.TempDir(), "release")
	a.launch(taskInfo(t, "long", taskspec.Spec{Shell: true, Command: "echo long; while [ ! -e " + release + " ]; do sleep 0.05; done"}))
	_, sandbox := startExecutor(t, a, nil)
	dir := func(id string) string { return filepath.Join(sandbox, "task-"+id) }
	exists := func(id string) bool {
		_, err := os.Stat(dir(id))
		return err == nil
	}
	a.waitFor("long running", func(a *fakeAgent) bool {
		for _, st := range a.updates {
			if st.TaskID.Value == "long" && st.GetState() == mesos.TASK_RUNNING {
				return true
			}
		}
		return false
	})
	ids := []string{"t1", "t2", "t3", "t4"}
	for _, id := range ids {
		a.launch(taskInfo(t, id, taskspec.Spec{Shell: true, Command: "echo " + id}))
		a.waitFor(id+" ends", func(a *fakeAgent) bool { _, ok := a.terminal(id); return ok })
	}
	// t4's end made t1 and t2 due; they went before t4 was reported.
	for id, want := range map[string]bool{"long": true, "t1": false, "t2": false, "t3": true, "t4": true} {
		if got := exists(id); got != want {
			t.Errorf("after t4 ended: directory of %s exists = %v, want %v", id, got, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir("t4"), "stdout")); err != nil || string(b) != "t4\n" {
		t.Errorf("t4's kept stdout: %q, %v", b, err)
	}
	// Age: t3 and t4 go once older than 3 s, with no task ending to
	// trigger it; the running task's directory stays.
	deadline := time.Now().Add(20 * time.Second)
	for exists("t3") || exists("t4") {
		if time.Now().After(deadline) {
			t.Fatalf("finished tasks' directories still there 20 s after they ended (retention 3 s)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !exists("long") {
		t.Fatal("the running task's directory was removed")
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitFor("long ends", func(a *fakeAgent) bool { _, ok := a.terminal("long"); return ok })
	if b, err := os.ReadFile(filepath.Join(dir("long"), "stdout")); err != nil || string(b) != "long\n" {
		t.Errorf("long's stdout right after it ended: %q, %v", b, err)
	}
}

// TestPerTaskExecutorKeepsItsDirectory: without an idle timeout (one
// executor per task) nothing is removed, whatever the retention: the
// agent's sandbox garbage collection takes the directory.
func TestPerTaskExecutorKeepsItsDirectory(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	count, age := "1", "1ns"
	a.execLabels = []mesos.Label{{Key: LabelRetainTasks, Value: &count}, {Key: LabelRetainFor, Value: &age}}
	a.launch(taskInfo(t, "only", taskspec.Spec{Shell: true, Command: "echo only"}))
	errc, sandbox := startExecutor(t, a, nil)
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(sandbox, "task-only", "stdout")); err != nil || string(b) != "only\n" {
		t.Errorf("per-task executor's output after exit: %q, %v", b, err)
	}
}

// TestRetentionLabels: valid labels override the configuration, invalid
// ones are ignored.
func TestRetentionLabels(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name  string
		tasks string
		age   string
		max   int
		ttl   time.Duration
	}{
		{"valid", "50", "90m", 50, 90 * time.Minute},
		{"zero and negative ignored", "0", "-1h", DefaultRetainTasks, DefaultRetainFor},
		{"not numbers ignored", "many", "a day", DefaultRetainTasks, DefaultRetainFor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &state{cfg: Config{}.withDefaults(), log: testLogger(t)}
			s.applyLabels([]mesos.Label{{Key: LabelRetainTasks, Value: str(tc.tasks)}, {Key: LabelRetainFor, Value: str(tc.age)}})
			if s.kept.max != tc.max || s.kept.ttl != tc.ttl {
				t.Errorf("retention %d, %v; want %d, %v", s.kept.max, s.kept.ttl, tc.max, tc.ttl)
			}
		})
	}
}
