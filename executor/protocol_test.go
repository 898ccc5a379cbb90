package executor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	mesosexec "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"

	"github.com/horae-scheduler/horae/taskspec"
)

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startExecutor runs the executor in this process against agent a and
// returns the channel Run's result arrives on, and the sandbox.
func startExecutor(t *testing.T, a *fakeAgent, mod func(*Config)) (<-chan error, string) {
	t.Helper()
	sandbox := t.TempDir()
	cfg := Config{
		Mesos: config.Config{
			FrameworkID:                 "fw-1",
			ExecutorID:                  "ex-1",
			Directory:                   sandbox,
			Sandbox:                     sandbox,
			AgentEndpoint:               a.addr,
			ExecutorShutdownGracePeriod: 5 * time.Second,
		},
		KillGrace: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() { errc <- Run(ctx, cfg, testLogger(t)); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("executor did not stop within 20s of cancel")
		}
	})
	return errc, sandbox
}

// waitRun waits for Run to return.
func waitRun(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("executor did not exit within 20s")
		return nil
	}
}

func taskInfo(t testing.TB, id string, s taskspec.Spec) mesos.TaskInfo {
	t.Helper()
	if s.ScheduledFor == "" {
		s.ScheduledFor = "2026-11-27T02:00:00Z"
	}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, Data: data}
}

func TestProtocolTaskEndings(t *testing.T) {
	t.Parallel()
	sec := func(d time.Duration) *mesos.DurationInfo { return &mesos.DurationInfo{Nanoseconds: int64(d)} }
	tests := []struct {
		name    string
		task    func(t *testing.T) mesos.TaskInfo
		kill    *mesosexec.Event_Kill // sent once the task is running
		states  []mesos.TaskState
		reason  mesos.TaskStatus_Reason
		message string // prefix
		check   func(t *testing.T, r taskspec.Result)
	}{
		{
			name: "success",
			task: func(t *testing.T) mesos.TaskInfo {
				return taskInfo(t, "ok", taskspec.Spec{Job: "j", Shell: true, Command: "echo out; echo err >&2; echo $HOST $HORAE_JOB_NAME"})
			},
			states:  []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED},
			message: "exit status 0",
			check: func(t *testing.T, r taskspec.Result) {
				if r.ExitCode == nil || *r.ExitCode != 0 || r.StdoutTail != "out\nagent.test j\n" || r.StderrTail != "err\n" {
					t.Errorf("result %+v", r)
				}
				if b, err := os.ReadFile(filepath.Join(r.Directory, "stdout")); err != nil || string(b) != "out\nagent.test j\n" {
					t.Errorf("stdout file in Result.Directory %s: %q, %v", r.Directory, b, err)
				}
			},
		},
		{
			name: "exit code",
			task: func(t *testing.T) mesos.TaskInfo {
				return taskInfo(t, "fail", taskspec.Spec{Shell: true, Command: "exit 3"})
			},
			states:  []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FAILED},
			message: "exit status 3",
			check: func(t *testing.T, r taskspec.Result) {
				if r.ExitCode == nil || *r.ExitCode != 3 || r.Reason != taskspec.ReasonExit {
					t.Errorf("result %+v", r)
				}
			},
		},
		{
			name: "command not found",
			task: func(t *testing.T) mesos.TaskInfo {
				return taskInfo(t, "nf", taskspec.Spec{Command: "horae-no-such-command-xyz"})
			},
			states:  []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_FAILED},
			message: "command not found: horae-no-such-command-xyz",
			check: func(t *testing.T, r taskspec.Result) {
				if r.Reason != taskspec.ReasonStartFailed {
					t.Errorf("result %+v", r)
				}
			},
		},
		{
			name: "bad spec",
			task: func(t *testing.T) mesos.TaskInfo {
				return mesos.TaskInfo{Name: "bad", TaskID: mesos.TaskID{Value: "bad"}, Data: []byte(`{"version":1}`)}
			},
			states:  []mesos.TaskState{mesos.TASK_FAILED},
			reason:  mesos.REASON_TASK_INVALID,
			message: "invalid task spec in TaskInfo.data: taskspec: spec field command: empty",
		},
		{
			name: "bad start time",
			task: func(t *testing.T) mesos.TaskInfo {
				return taskInfo(t, "badstart", taskspec.Spec{Command: "true", StartAt: "tomorrow"})
			},
			states:  []mesos.TaskState{mesos.TASK_FAILED},
			reason:  mesos.REASON_TASK_INVALID,
			message: `invalid task spec in TaskInfo.data: spec field startAt "tomorrow": parsing time`,
		},
		{
			name: "cannot switch user",
			task: func(t *testing.T) mesos.TaskInfo {
				return taskInfo(t, "user", taskspec.Spec{Shell: true, Command: "true", User: "horae-no-such-user"})
			},
			states:  []mesos.TaskState{mesos.TASK_FAILED},
			message: "cannot run as user horae-no-such-user",
		},
		{
			name: "max completion time",
			task: func(t *testing.T) mesos.TaskInfo {
				ti := taskInfo(t, "slow", taskspec.Spec{Shell: true, Command: "sleep 60", MaxRuntimeMillis: 60000})
				ti.MaxCompletionTime = sec(300 * time.Millisecond)
				return ti
			},
			states:  []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FAILED},
			reason:  mesos.REASON_MAX_COMPLETION_TIME_REACHED,
			message: "timed out after 300ms",
			check: func(t *testing.T, r taskspec.Result) {
				if r.Reason != taskspec.ReasonTimeout || r.Signal != "terminated" {
					t.Errorf("result %+v", r)
				}
			},
		},
		{
			name: "kill with policy grace then SIGKILL",
			task: func(t *testing.T) mesos.TaskInfo {
				return taskInfo(t, "stubborn", taskspec.Spec{Shell: true, Command: "trap '' TERM; echo ready; sleep 60", KillGraceMillis: 60000})
			},
			kill: &mesosexec.Event_Kill{TaskID: mesos.TaskID{Value: "stubborn"},
				KillPolicy: &mesos.KillPolicy{GracePeriod: sec(200 * time.Millisecond)}},
			states:  []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_KILLED},
			message: "killed on request (killed by signal 9 (killed))",
			check: func(t *testing.T, r taskspec.Result) {
				if r.Reason != taskspec.ReasonKilled || r.Signal != "killed" {
					t.Errorf("result %+v", r)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newFakeAgent(t)
			ti := tc.task(t)
			id := ti.TaskID.Value
			a.launch(ti)
			errc, sandbox := startExecutor(t, a, nil)
			if tc.kill != nil {
				waitContent(t, filepath.Join(sandbox, "task-"+id, "stdout"), "ready\n")
				a.send(&mesosexec.Event{Type: mesosexec.Event_KILL, Kill: tc.kill})
			}
			if err := waitRun(t, errc); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := a.states(id); !equalStates(got, tc.states) {
				t.Fatalf("states %v, want %v", got, tc.states)
			}
			a.mu.Lock()
			st, _ := a.terminal(id)
			a.mu.Unlock()
			if !strings.HasPrefix(st.GetMessage(), tc.message) {
				t.Errorf("message %q, want prefix %q", st.GetMessage(), tc.message)
			}
			if st.GetReason() != tc.reason {
				t.Errorf("reason %v, want %v", st.GetReason(), tc.reason)
			}
			r, err := taskspec.ParseResult(st.Data)
			if err != nil {
				t.Fatalf("terminal data: %v", err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// readPID waits for a task's first output line, its shell's pid (which is
// its process group id).
func readPID(t testing.TB, path string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if line, ok := strings.CutSuffix(string(b), "\n"); ok {
			pid, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("%s: first line %q is not a pid", path, line)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no pid line within 20s (holds %q)", path, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitContent polls until the file at path holds want.
func waitContent(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", path, b, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func equalStates(a, b []mesos.TaskState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestProtocolLaunchGroupRejectedAndOtherEvents(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	group := mesos.TaskGroupInfo{Tasks: []mesos.TaskInfo{
		taskInfo(t, "g1", taskspec.Spec{Shell: true, Command: "true"}),
		taskInfo(t, "g2", taskspec.Spec{Shell: true, Command: "true"}),
	}}
	a.send(&mesosexec.Event{Type: mesosexec.Event_HEARTBEAT})
	a.send(&mesosexec.Event{Type: mesosexec.Event_MESSAGE, Message: &mesosexec.Event_Message{Data: []byte("hi")}})
	a.send(&mesosexec.Event{Type: mesosexec.Event_Type(77)}) // a type from a future Mesos
	a.send(&mesosexec.Event{Type: mesosexec.Event_LAUNCH_GROUP, LaunchGroup: &mesosexec.Event_LaunchGroup{TaskGroup: group}})
	a.send(&mesosexec.Event{Type: mesosexec.Event_KILL, Kill: &mesosexec.Event_Kill{TaskID: mesos.TaskID{Value: "unknown"}}})
	// The executor goes on after all of these and runs its next task.
	a.launch(taskInfo(t, "after", taskspec.Spec{Shell: true, Command: "true"}))
	errc, _ := startExecutor(t, a, nil)
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, id := range []string{"g1", "g2"} {
		a.mu.Lock()
		st, ok := a.terminal(id)
		a.mu.Unlock()
		if !ok || st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_TASK_GROUP_INVALID ||
			!strings.Contains(st.GetMessage(), "LAUNCH_GROUP") {
			t.Errorf("%s: %v %v %q; want TASK_FAILED REASON_TASK_GROUP_INVALID naming LAUNCH_GROUP", id, st.GetState(), st.GetReason(), st.GetMessage())
		}
	}
	if got := a.states("after"); !equalStates(got, []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}) {
		t.Errorf("after: states %v", got)
	}
}

func TestProtocolShutdown(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	a.launch(taskInfo(t, "long", taskspec.Spec{Shell: true, Command: "sleep 60"}))
	errc, _ := startExecutor(t, a, func(c *Config) { c.Mesos.ExecutorShutdownGracePeriod = 2 * time.Second })
	a.waitFor("running", func(a *fakeAgent) bool { return len(a.updates) >= 2 })
	a.send(&mesosexec.Event{Type: mesosexec.Event_SHUTDOWN})
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run: %v", err)
	}
	a.mu.Lock()
	st, ok := a.terminal("long")
	a.mu.Unlock()
	r, _ := taskspec.ParseResult(st.Data)
	if !ok || st.GetState() != mesos.TASK_KILLED || r.Reason != taskspec.ReasonShutdown {
		t.Errorf("terminal %v %q reason %q; want TASK_KILLED, shutdown", st.GetState(), st.GetMessage(), r.Reason)
	}
}

// An agent restart: the stream drops, the agent refuses calls for a while,
// the task ends meanwhile; with checkpointing the executor subscribes again
// and hands over every update the agent has not acknowledged, including the
// terminal one it could not send.
func TestProtocolAgentRestartResendsUnacknowledged(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	a.autoAck = false
	a.launch(taskInfo(t, "t", taskspec.Spec{Shell: true, Command: "while [ ! -f go ]; do sleep 0.01; done; echo done"}))
	errc, sandbox := startExecutor(t, a, func(c *Config) {
		c.Mesos.Checkpoint = true
		c.Mesos.RecoveryTimeout = 30 * time.Second
		c.Mesos.SubscriptionBackoffMax = 200 * time.Millisecond
	})
	a.waitFor("running", func(a *fakeAgent) bool { return len(a.updates) >= 2 })
	a.restart()
	if err := os.WriteFile(filepath.Join(sandbox, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The task ends while the agent is down: the executor tries to send
	// TASK_FINISHED and is refused.
	waitContent(t, filepath.Join(sandbox, "task-t", "stdout"), "done\n")
	a.waitFor("terminal update refused", func(a *fakeAgent) bool { return a.refusedUpdates > 0 })
	a.up()
	a.waitFor("re-subscribe", func(a *fakeAgent) bool {
		if len(a.subscribes) < 2 {
			return false
		}
		last := a.subscribes[len(a.subscribes)-1]
		return len(last.UnacknowledgedUpdates) == 3
	})
	a.mu.Lock()
	last := a.subscribes[len(a.subscribes)-1]
	var got []mesos.TaskState
	for _, u := range last.UnacknowledgedUpdates {
		got = append(got, u.Status.GetState())
	}
	first := a.updates[0]
	if len(last.UnacknowledgedTasks) != 1 || last.UnacknowledgedTasks[0].TaskID.Value != "t" {
		t.Errorf("unacknowledged tasks %v, want [t]", last.UnacknowledgedTasks)
	}
	if string(last.UnacknowledgedUpdates[0].Status.UUID) != string(first.UUID) {
		t.Errorf("re-sent STARTING has a new uuid")
	}
	a.mu.Unlock()
	if !equalStates(got, []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}) {
		t.Errorf("unacknowledged updates in SUBSCRIBE: %v", got)
	}
	select {
	case err := <-errc:
		t.Fatalf("executor exited (%v) with updates unacknowledged", err)
	default:
	}
	a.ackAll()
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// Without checkpointing a lost agent is final: tasks are killed, Run fails.
func TestProtocolAgentLostWithoutCheckpoint(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	a.launch(taskInfo(t, "t", taskspec.Spec{Shell: true, Command: "echo $$; sleep 60"}))
	errc, sandbox := startExecutor(t, a, nil)
	a.waitFor("running", func(a *fakeAgent) bool { return len(a.updates) >= 2 })
	pgid := readPID(t, filepath.Join(sandbox, "task-t", "stdout"))
	a.restart()
	err := waitRun(t, errc)
	if !errors.Is(err, ErrAgentLost) {
		t.Fatalf("Run = %v, want ErrAgentLost", err)
	}
	assertGroupGone(t, pgid)
}

// ERROR makes the executor subscribe again.
func TestProtocolErrorResubscribes(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	a.send(&mesosexec.Event{Type: mesosexec.Event_ERROR, Error: &mesosexec.Event_Error{Message: "something broke"}})
	errc, _ := startExecutor(t, a, nil)
	a.waitFor("second subscribe", func(a *fakeAgent) bool { return len(a.subscribes) >= 2 })
	a.launch(taskInfo(t, "t", taskspec.Spec{Shell: true, Command: "true"}))
	if err := waitRun(t, errc); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// With checkpointing the executor waits for the agent only as long as
// MESOS_RECOVERY_TIMEOUT; then it kills its tasks and fails.
func TestProtocolRecoveryTimeout(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	a.launch(taskInfo(t, "t", taskspec.Spec{Shell: true, Command: "echo $$; sleep 60"}))
	errc, sandbox := startExecutor(t, a, func(c *Config) {
		c.Mesos.Checkpoint = true
		c.Mesos.RecoveryTimeout = 300 * time.Millisecond
		c.Mesos.SubscriptionBackoffMax = 50 * time.Millisecond
	})
	a.waitFor("running", func(a *fakeAgent) bool { return len(a.updates) >= 2 })
	pgid := readPID(t, filepath.Join(sandbox, "task-t", "stdout"))
	a.restart() // and never up again
	err := waitRun(t, errc)
	if !errors.Is(err, ErrAgentLost) || !strings.Contains(err.Error(), "recovery timeout 300ms") {
		t.Fatalf("Run = %v, want ErrAgentLost naming the recovery timeout", err)
	}
	assertGroupGone(t, pgid)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.refused < 2 {
		t.Errorf("%d SUBSCRIBE retries while the agent was down; want several within the recovery timeout", a.refused)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{Mesos: config.Config{FrameworkID: "f", ExecutorID: "e", AgentEndpoint: "127.0.0.1:5051", Sandbox: "/s"}}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no framework", func(c *Config) { c.Mesos.FrameworkID = "" }, "MESOS_FRAMEWORK_ID"},
		{"no executor", func(c *Config) { c.Mesos.ExecutorID = "" }, "MESOS_EXECUTOR_ID"},
		{"no agent", func(c *Config) { c.Mesos.AgentEndpoint = "" }, "MESOS_AGENT_ENDPOINT"},
		{"no sandbox", func(c *Config) { c.Mesos.Sandbox = "" }, "MESOS_SANDBOX"},
		{"negative output limit", func(c *Config) { c.OutputLimit = -1 }, "output limit -1"},
		{"negative tail", func(c *Config) { c.TailBytes = -1 }, "tail bytes -1"},
		{"negative grace", func(c *Config) { c.KillGrace = -time.Second }, "kill grace -1s"},
		{"negative idle timeout", func(c *Config) { c.IdleTimeout = -time.Second }, "idle timeout -1s"},
		{"checkpoint without backoff", func(c *Config) { c.Mesos.Checkpoint = true }, "MESOS_SUBSCRIPTION_BACKOFF_MAX"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
