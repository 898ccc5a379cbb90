package executor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/executor/config"

	"github.com/horae-scheduler/horae/taskspec"
)

// TestMain doubles as the executor binary: with HORAE_EXECUTOR_TEST_MAIN
// set, the test binary runs the executor from the Mesos environment, as
// `horae executor` does.
func TestMain(m *testing.M) {
	if os.Getenv("HORAE_EXECUTOR_TEST_MAIN") == "1" {
		os.Exit(executorMain())
	}
	os.Exit(m.Run())
}

func executorMain() int {
	if p := os.Getenv("HORAE_EXECUTOR_TEST_STAMP"); p != "" {
		// For the benchmarks: when the process got to run Go code.
		_ = os.WriteFile(p, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)+"\n"), 0o644)
	}
	level := slog.LevelDebug
	if os.Getenv("HORAE_EXECUTOR_TEST_QUIET") == "1" {
		level = slog.LevelError
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	mc, err := config.FromEnv()
	if err != nil {
		logger.Error("executor environment", "err", err)
		return 2
	}
	cfg := Config{
		Mesos:     mc,
		Guard:     os.Getenv("HORAE_EXECUTOR_TEST_GUARD") != "0",
		Subreaper: os.Getenv("HORAE_EXECUTOR_TEST_SUBREAPER") != "0",
	}
	if err := Run(context.Background(), cfg, logger); err != nil {
		logger.Error("executor failed", "err", err)
		return 1
	}
	return 0
}

// executorProcess starts the test binary as an executor for agent a, with
// the environment a Mesos agent gives (durations in Mesos units).
func executorProcess(t testing.TB, a *fakeAgent, sandbox string, guard bool, extraEnv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	if bin := os.Getenv("HORAE_EXECUTOR_BIN"); bin != "" {
		// A built horae binary instead of this test binary (benchmarks).
		level := "debug"
		if slices.Contains(extraEnv, "HORAE_EXECUTOR_TEST_QUIET=1") {
			level = "error"
		}
		cmd = exec.Command(bin, "executor", "--log-level", level,
			"--guard="+strconv.FormatBool(guard),
			"--subreaper="+strconv.FormatBool(!slices.Contains(extraEnv, "HORAE_EXECUTOR_TEST_SUBREAPER=0")))
	}
	cmd.Dir = sandbox
	g := "1"
	if !guard {
		g = "0"
	}
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Env = append(cmd.Env,
		"HORAE_EXECUTOR_TEST_MAIN=1",
		"HORAE_EXECUTOR_TEST_GUARD="+g,
		"MESOS_FRAMEWORK_ID=fw-1",
		"MESOS_EXECUTOR_ID=ex-1",
		"MESOS_DIRECTORY="+sandbox,
		"MESOS_SANDBOX="+sandbox,
		"MESOS_AGENT_ENDPOINT="+a.addr,
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs",
		"MESOS_CHECKPOINT=1",
		"MESOS_RECOVERY_TIMEOUT=15mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs",
		"MESOS_SLAVE_ID=agent-S0",
	)
	cmd.Stdout = testWriter{t}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start executor process: %v", err)
	}
	// An executor left running (a failed test) would retry its agent for
	// the 15-minute recovery timeout: end it with the test. After Wait,
	// Kill does nothing (os.Process knows the process is done).
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// waitExit waits (bounded) for an executor process to exit.
func waitExit(tb testing.TB, a *fakeAgent, cmd *exec.Cmd) error {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		a.mu.Lock()
		subs, ups, stream := len(a.subscribes), len(a.updates), a.stream != nil
		a.mu.Unlock()
		_ = cmd.Process.Kill()
		<-done
		tb.Fatalf("executor process did not exit within 30s (agent saw %d subscribes, %d updates, stream open %v)", subs, ups, stream)
		return nil
	}
}

func TestExecutorProcessRunsToTheEnd(t *testing.T) {
	t.Parallel()
	a := newFakeAgent(t)
	a.launch(taskInfo(t, "t", taskspec.Spec{Shell: true, Command: "echo hi"}))
	cmd := executorProcess(t, a, t.TempDir(), true)
	if err := waitExit(t, a, cmd); err != nil {
		t.Fatalf("executor process: %v", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if st, ok := a.terminal("t"); !ok || st.GetMessage() != "exit status 0" {
		t.Errorf("terminal update %v %q", st.GetState(), st.GetMessage())
	}
}

// When the executor itself is SIGKILLed, the parent-death signal kills
// the task's first process only; the guard kills the rest of its group.
// Without the guard a background child survives: this is what the guard
// is for (and shows that the check can fail).
func TestExecutorKilledLeavesNoProcess(t *testing.T) {
	t.Parallel()
	for _, guard := range []bool{true, false} {
		t.Run(fmt.Sprintf("guard=%v", guard), func(t *testing.T) {
			t.Parallel()
			a := newFakeAgent(t)
			a.launch(taskInfo(t, "t", taskspec.Spec{Shell: true, Command: "echo $$; sleep 60 & wait"}))
			sandbox := t.TempDir()
			cmd := executorProcess(t, a, sandbox, guard)
			pgid := readPID(t, filepath.Join(sandbox, "task-t", "stdout"))
			waitMembers(t, pgid, 2) // the shell and its sleep
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			if guard {
				assertGroupGone(t, pgid)
				return
			}
			t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
			// The shell dies of the parent-death signal; its child lives on.
			deadline := time.Now().Add(10 * time.Second)
			for len(groupMembers(t, pgid)) != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("group %d: members %v, want the orphaned sleep only", pgid, groupMembers(t, pgid))
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func waitMembers(t *testing.T, pgid, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(groupMembers(t, pgid)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("group %d: members %v, want %d", pgid, groupMembers(t, pgid), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A task's daemon that left the process group (setsid) escapes group
// kills; as subreaper the executor gets it as a child and kills it once
// the task is over. Without the subreaper it survives (the control case).
func TestExecutorSubreaperKillsEscapedDaemon(t *testing.T) {
	t.Parallel()
	for _, reaper := range []bool{true, false} {
		t.Run(fmt.Sprintf("subreaper=%v", reaper), func(t *testing.T) {
			t.Parallel()
			a := newFakeAgent(t)
			a.launch(taskInfo(t, "t", taskspec.Spec{Shell: true,
				Command: `setsid sh -c 'echo $$ > orphan; exec sleep 61' & while [ ! -s orphan ]; do sleep 0.01; done; cat orphan`}))
			sandbox := t.TempDir()
			flag := "1"
			if !reaper {
				flag = "0"
			}
			cmd := executorProcess(t, a, sandbox, true, "HORAE_EXECUTOR_TEST_SUBREAPER="+flag)
			pid := readPID(t, filepath.Join(sandbox, "task-t", "stdout"))
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			if err := waitExit(t, a, cmd); err != nil {
				t.Fatalf("executor: %v", err)
			}
			if alive := processAlive(pid); alive == reaper {
				t.Errorf("escaped daemon %d alive after the executor exited: %v; want %v", pid, alive, !reaper)
			}
		})
	}
}

// processAlive: pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z' && s[i+2] != 'X'
}
