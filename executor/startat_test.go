package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	mesosexec "github.com/mesos/mesos-go/api/v1/lib/executor"

	"github.com/horae-scheduler/horae/taskspec"
)

// statusTime is an update's timestamp.
func statusTime(st mesos.TaskStatus) time.Time {
	return time.Unix(0, int64(st.GetTimestamp()*1e9))
}

// update returns the first update of task id in state st; mu held.
func (a *fakeAgent) update(id string, st mesos.TaskState) (mesos.TaskStatus, bool) {
	for _, u := range a.updates {
		if u.TaskID.Value == id && u.GetState() == st {
			return u, true
		}
	}
	return mesos.TaskStatus{}, false
}

// TestHeldTaskStartsAtItsStartTime: a task launched ahead of its StartAt
// reports TASK_STARTING at once and runs its command at StartAt, not
// before (TASK_RUNNING carries the exec's time).
func TestHeldTaskStartsAtItsStartTime(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	startAt := time.Now().Add(time.Second)
	a.launch(taskInfo(t, "held", taskspec.Spec{Command: "true", StartAt: startAt.UTC().Format(time.RFC3339Nano)}))
	errc, _ := startExecutor(t, a, nil)
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := a.states("held"), []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}; !equalStates(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	a.mu.Lock()
	starting, _ := a.update("held", mesos.TASK_STARTING)
	running, _ := a.update("held", mesos.TASK_RUNNING)
	a.mu.Unlock()
	if st := statusTime(starting); !st.Before(startAt) {
		t.Errorf("TASK_STARTING stamped %s, want before the start time %s (sent when launched)", st, startAt)
	}
	if rt := statusTime(running); rt.Before(startAt) || rt.After(startAt.Add(maxStartHold/2)) {
		t.Errorf("TASK_RUNNING stamped %s, want at the start time %s", rt, startAt)
	}
}

// TestHeldTaskEndedBeforeItsStartTime: a kill or the agent's shutdown
// while a task is held ends it TASK_KILLED without running its command.
func TestHeldTaskEndedBeforeItsStartTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		event  *mesosexec.Event
		reason string
	}{
		{"kill", &mesosexec.Event{Type: mesosexec.Event_KILL, Kill: &mesosexec.Event_Kill{TaskID: mesos.TaskID{Value: "held"}}}, taskspec.ReasonKilled},
		{"shutdown", &mesosexec.Event{Type: mesosexec.Event_SHUTDOWN}, taskspec.ReasonShutdown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newFakeAgent(t)
			// Far ahead: held for maxStartHold at most, which the test
			// does not wait for.
			startAt := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
			a.launch(taskInfo(t, "held", taskspec.Spec{Shell: true, Command: "touch ran", StartAt: startAt}))
			errc, sandbox := startExecutor(t, a, nil)
			a.waitFor("TASK_STARTING", func(a *fakeAgent) bool { _, ok := a.update("held", mesos.TASK_STARTING); return ok })
			a.send(tc.event)
			if err := waitRun(t, errc); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got, want := a.states("held"), []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_KILLED}; !equalStates(got, want) {
				t.Fatalf("states %v, want %v", got, want)
			}
			a.mu.Lock()
			st, _ := a.terminal("held")
			a.mu.Unlock()
			r, err := taskspec.ParseResult(st.Data)
			if err != nil || r.Reason != tc.reason || r.ExitCode != nil {
				t.Errorf("result %+v (%v), want reason %s and no exit code", r, err, tc.reason)
			}
			if !strings.Contains(st.GetMessage(), "before its start time "+startAt) || !strings.Contains(st.GetMessage(), "never started") {
				t.Errorf("message %q, want it to say the command never started and name the start time", st.GetMessage())
			}
			if _, err := os.Stat(filepath.Join(sandbox, "ran")); !os.IsNotExist(err) {
				t.Errorf("the held command ran (stat: %v)", err)
			}
		})
	}
}
