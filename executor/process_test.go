package executor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/horae-scheduler/horae/taskspec"
)

// procSpecFor builds a procSpec running s in a fresh sandbox.
func procSpecFor(t *testing.T, s taskspec.Spec, limit int64) procSpec {
	t.Helper()
	sandbox := t.TempDir()
	env, err := taskEnv(os.Environ(), s, "task-1", "test-host")
	if err != nil {
		t.Fatalf("taskEnv: %v", err)
	}
	return procSpec{
		TaskID:      "task-1",
		Spec:        s,
		OutputDir:   filepath.Join(sandbox, "task-1"),
		WorkDir:     sandbox,
		Env:         env,
		OutputLimit: limit,
		TailBytes:   taskspec.TailBytes,
	}
}

// runToEnd starts ps and waits for its terminal status, killing it after
// killAfter (when positive) with the given grace.
func runToEnd(t *testing.T, ps procSpec, maxRuntime, killAfter, grace time.Duration) final {
	t.Helper()
	r, err := startRunner(ps, maxRuntime, grace, ps.OutputDir)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if killAfter > 0 {
		waitFile(t, filepath.Join(ps.WorkDir, "ready"))
		r.kill(grace, endKilled)
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.kill(0, endKilled)
		t.Fatalf("task did not end within 30s")
	}
	assertGroupGone(t, r.p.pgid)
	return r.final
}

// waitFile polls for a file the command creates once it is ready (e.g.
// after installing its signal traps).
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 10s", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// groupMembers lists the live (not zombie) processes of process group
// pgid from /proc.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		// A zombie runs nothing; it waits for its parent (here possibly a
		// slow init) to reap it.
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := groupMembers(t, pgid)
		if len(m) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has processes %v after the task ended", pgid, m)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunnerOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		spec       taskspec.Spec
		maxRuntime time.Duration
		killAfter  time.Duration
		grace      time.Duration
		state      mesos.TaskState
		reason     string
		exit       *int
		signal     string
		message    string // prefix
		stdout     string
		stderr     string
	}{
		{
			name:    "success",
			spec:    taskspec.Spec{Shell: true, Command: "echo hello; echo oops >&2"},
			state:   mesos.TASK_FINISHED,
			reason:  taskspec.ReasonExit,
			exit:    ptr(0),
			message: "exit status 0",
			stdout:  "hello\n",
			stderr:  "oops\n",
		},
		{
			name:    "argv success with arguments",
			spec:    taskspec.Spec{Command: "echo", Arguments: []string{"a b", "c"}},
			state:   mesos.TASK_FINISHED,
			reason:  taskspec.ReasonExit,
			exit:    ptr(0),
			message: "exit status 0",
			stdout:  "a b c\n",
		},
		{
			name:    "shell arguments appended",
			spec:    taskspec.Spec{Shell: true, Command: "echo", Arguments: []string{"x", "y"}},
			state:   mesos.TASK_FINISHED,
			reason:  taskspec.ReasonExit,
			exit:    ptr(0),
			message: "exit status 0",
			stdout:  "x y\n",
		},
		{
			name:    "failure with exit code",
			spec:    taskspec.Spec{Shell: true, Command: "echo bad >&2; exit 3"},
			state:   mesos.TASK_FAILED,
			reason:  taskspec.ReasonExit,
			exit:    ptr(3),
			message: "exit status 3",
			stderr:  "bad\n",
		},
		{
			name:    "killed by signal",
			spec:    taskspec.Spec{Shell: true, Command: "kill -9 $$"},
			state:   mesos.TASK_FAILED,
			reason:  taskspec.ReasonSignal,
			signal:  "killed",
			message: "killed by signal 9 (killed)",
		},
		{
			name:    "shell command not found",
			spec:    taskspec.Spec{Shell: true, Command: "horae-no-such-command-xyz"},
			state:   mesos.TASK_FAILED,
			reason:  taskspec.ReasonExit,
			exit:    ptr(127),
			message: "command not found (exit status 127): ",
		},
		{
			name:       "timeout",
			spec:       taskspec.Spec{Shell: true, Command: "sleep 60"},
			maxRuntime: 200 * time.Millisecond,
			grace:      5 * time.Second,
			state:      mesos.TASK_FAILED,
			reason:     taskspec.ReasonTimeout,
			signal:     "terminated",
			message:    "timed out after 200ms (killed by signal 15 (terminated))",
		},
		{
			name:      "kill obeyed",
			spec:      taskspec.Spec{Shell: true, Command: "touch ready; sleep 60"},
			killAfter: 1,
			grace:     30 * time.Second,
			state:     mesos.TASK_KILLED,
			reason:    taskspec.ReasonKilled,
			signal:    "terminated",
			message:   "killed on request (killed by signal 15 (terminated))",
		},
		{
			name:      "kill ignoring SIGTERM gets SIGKILL after grace",
			spec:      taskspec.Spec{Shell: true, Command: "trap '' TERM; touch ready; sleep 60"},
			killAfter: 1,
			grace:     300 * time.Millisecond,
			state:     mesos.TASK_KILLED,
			reason:    taskspec.ReasonKilled,
			signal:    "killed",
			message:   "killed on request (killed by signal 9 (killed))",
		},
		{
			name:    "leftover background processes are killed",
			spec:    taskspec.Spec{Shell: true, Command: "sleep 60 & (sleep 61 &); echo started"},
			state:   mesos.TASK_FINISHED,
			reason:  taskspec.ReasonExit,
			exit:    ptr(0),
			message: "exit status 0",
			stdout:  "started\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := procSpecFor(t, tc.spec, 1<<20)
			f := runToEnd(t, ps, tc.maxRuntime, tc.killAfter, tc.grace)
			if f.State != tc.state {
				t.Errorf("state = %v, want %v (message %q)", f.State, tc.state, f.Message)
			}
			if f.Result.Reason != tc.reason {
				t.Errorf("result reason = %q, want %q", f.Result.Reason, tc.reason)
			}
			if !strings.HasPrefix(f.Message, tc.message) {
				t.Errorf("message = %q, want prefix %q", f.Message, tc.message)
			}
			switch {
			case tc.exit == nil && f.Result.ExitCode != nil:
				t.Errorf("exit code = %d, want none", *f.Result.ExitCode)
			case tc.exit != nil && (f.Result.ExitCode == nil || *f.Result.ExitCode != *tc.exit):
				t.Errorf("exit code = %v, want %d", f.Result.ExitCode, *tc.exit)
			}
			if f.Result.Signal != tc.signal {
				t.Errorf("signal = %q, want %q", f.Result.Signal, tc.signal)
			}
			if tc.stdout != "" && f.Result.StdoutTail != tc.stdout {
				t.Errorf("stdout tail = %q, want %q", f.Result.StdoutTail, tc.stdout)
			}
			if tc.stderr != "" && f.Result.StderrTail != tc.stderr {
				t.Errorf("stderr tail = %q, want %q", f.Result.StderrTail, tc.stderr)
			}
			if tc.stdout != "" {
				b, err := os.ReadFile(filepath.Join(ps.OutputDir, "stdout"))
				if err != nil || string(b) != tc.stdout {
					t.Errorf("stdout file = %q (%v), want %q", b, err, tc.stdout)
				}
			}
			wantReason := tc.state == mesos.TASK_FAILED && tc.reason == taskspec.ReasonTimeout
			if gotReason := f.Reason != nil && *f.Reason == mesos.REASON_MAX_COMPLETION_TIME_REACHED; gotReason != wantReason {
				t.Errorf("status reason = %v, want REASON_MAX_COMPLETION_TIME_REACHED: %v", f.Reason, wantReason)
			}
			if f.Result.Directory != ps.OutputDir {
				t.Errorf("directory = %q, want %q", f.Result.Directory, ps.OutputDir)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestStartFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spec    taskspec.Spec
		message string
	}{
		{"argv command not found", taskspec.Spec{Command: "horae-no-such-command-xyz"}, "command not found: horae-no-such-command-xyz"},
		{"argv path not found", taskspec.Spec{Command: "/nonexistent/bin/x"}, "command not found: /nonexistent/bin/x"},
		{"argv not executable", taskspec.Spec{Command: notExec}, "cannot run " + notExec + ": " + notExec + " is not executable: permission denied"},
		{"argv directory", taskspec.Spec{Command: "/tmp"}, "cannot run /tmp: /tmp is a directory: permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := startRunner(procSpecFor(t, tc.spec, 1<<20), 0, time.Second, "")
			if err == nil {
				t.Fatalf("started; want start error %q", tc.message)
			}
			if err.Error() != tc.message {
				t.Errorf("error = %q, want %q", err, tc.message)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	s := taskspec.Spec{
		Shell: true, Command: "env",
		Job: "nightly", Run: "nightly@20261127T0200Z", Owner: "ops@example.com",
		Attempt: 2, Instance: 1, Instances: 3,
		ScheduledFor: "2026-11-27T02:00:00.5Z",
		CPUs:         0.5, Mem: 128, Disk: 10,
		Env: map[string]string{"JOB_VAR": "v=1", "HORAE_JOB_NAME": "overridden", "PATH": "/usr/bin:/bin"},
	}
	ps := procSpecFor(t, s, 1<<20)
	f := runToEnd(t, ps, 0, 0, 0)
	if f.State != mesos.TASK_FINISHED {
		t.Fatalf("state %v: %s", f.State, f.Message)
	}
	b, err := os.ReadFile(filepath.Join(ps.OutputDir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"JOB_VAR":                 "v=1",
		"PATH":                    "/usr/bin:/bin",
		"HORAE_JOB_NAME":          "nightly",
		"HORAE_RUN_ID":            "nightly@20261127T0200Z",
		"HORAE_SCHEDULED_TIME":    "2026-11-27T02:00:00.5Z",
		"HORAE_ATTEMPT":           "2",
		"HORAE_INSTANCE":          "1",
		"HORAE_INSTANCES":         "3",
		"CHRONOS_JOB_NAME":        "nightly",
		"CHRONOS_JOB_OWNER":       "ops@example.com",
		"CHRONOS_JOB_RUN_TIME":    strconv.FormatInt(time.Date(2026, 11, 27, 2, 0, 0, 5e8, time.UTC).UnixMilli(), 10),
		"CHRONOS_JOB_RUN_ATTEMPT": "2",
		"CHRONOS_RESOURCE_CPU":    "0.5",
		"CHRONOS_RESOURCE_MEM":    "128",
		"CHRONOS_RESOURCE_DISK":   "10",
		"mesos_task_id":           "task-1",
		"MESOS_TASK_ID":           "task-1",
		"HOST":                    "test-host",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if pwd := got["PWD"]; pwd != ps.WorkDir {
		t.Errorf("PWD = %q, want the sandbox %q", pwd, ps.WorkDir)
	}
}

func TestEnvironmentRejectsBadSpec(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]taskspec.Spec{
		"name with =":      {Env: map[string]string{"A=B": "x"}},
		"empty name":       {Env: map[string]string{"": "x"}},
		"NUL in value":     {Env: map[string]string{"A": "x\x00y"}},
		"bad scheduledFor": {ScheduledFor: "yesterday"},
	} {
		if _, err := taskEnv(nil, s, "t", "h"); err == nil {
			t.Errorf("%s: taskEnv accepted it", name)
		}
	}
}

func TestHugeOutputCapped(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	// 3 MiB of numbered lines on stdout, 1 MiB on stderr.
	s := taskspec.Spec{Shell: true, Command: "seq 1 400000; head -c 1048576 /dev/zero | tr '\\0' x >&2"}
	ps := procSpecFor(t, s, limit)
	f := runToEnd(t, ps, 0, 0, 0)
	if f.State != mesos.TASK_FINISHED {
		t.Fatalf("state %v: %s", f.State, f.Message)
	}
	for _, name := range []string{"stdout", "stdout.1", "stderr", "stderr.1"} {
		fi, err := os.Stat(filepath.Join(ps.OutputDir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Size() > limit {
			t.Errorf("%s is %d bytes, over the cap %d", name, fi.Size(), limit)
		}
	}
	if len(f.Result.StdoutTail) != taskspec.TailBytes || !strings.HasSuffix(f.Result.StdoutTail, "399999\n400000\n") {
		t.Errorf("stdout tail: %d bytes ending %q", len(f.Result.StdoutTail), f.Result.StdoutTail[max(0, len(f.Result.StdoutTail)-20):])
	}
	if len(f.Result.StderrTail) != taskspec.TailBytes {
		t.Errorf("stderr tail: %d bytes, want %d", len(f.Result.StderrTail), taskspec.TailBytes)
	}
	// The newest bytes are in stdout, the ones before them in stdout.1.
	b, _ := os.ReadFile(filepath.Join(ps.OutputDir, "stdout"))
	if !strings.HasSuffix(string(b), "400000\n") {
		t.Errorf("stdout file does not end with the last line")
	}
}

// TestOutputDirectoryUnwritable: the output files are made after the
// fork, so a directory that cannot be created no longer stops the task:
// it runs, its output is kept in the tails, and its terminal status says
// that the output is incomplete.
func TestOutputDirectoryUnwritable(t *testing.T) {
	t.Parallel()
	ps := procSpecFor(t, taskspec.Spec{Shell: true, Command: "echo out; echo err >&2"}, 1<<20)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ps.OutputDir = filepath.Join(blocker, "task") // a path under a regular file
	f := runToEnd(t, ps, 0, 0, 0)
	if f.State != mesos.TASK_FINISHED {
		t.Fatalf("state %v: %s", f.State, f.Message)
	}
	if f.Result.StdoutTail != "out\n" || f.Result.StderrTail != "err\n" {
		t.Errorf("tails %q / %q, want the output kept", f.Result.StdoutTail, f.Result.StderrTail)
	}
	if !strings.Contains(f.Message, "output incomplete: output: create directory "+ps.OutputDir) {
		t.Errorf("message %q does not say the output directory could not be made", f.Message)
	}
}

func TestRunAsUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		cred, _, err := credential("nobody")
		if err == nil || cred != nil || !strings.Contains(err.Error(), "may not switch users") {
			t.Fatalf("credential(nobody) as non-root = %v, %v; want a 'may not switch users' error", cred, err)
		}
		return
	}
	cred, u, err := credential("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	ps := procSpecFor(t, taskspec.Spec{Shell: true, Command: "id -u; pwd"}, 1<<20)
	ps.Cred = cred
	// As on a Mesos agent, the sandbox must be reachable by the task's user.
	sandbox, err := os.MkdirTemp("", "horae-executor-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sandbox) })
	if err := os.Chmod(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	ps.WorkDir, ps.OutputDir = sandbox, filepath.Join(sandbox, "task-1")
	f := runToEnd(t, ps, 0, 0, 0)
	if f.State != mesos.TASK_FINISHED || f.Result.StdoutTail != u.Uid+"\n"+ps.WorkDir+"\n" {
		t.Errorf("state %v, message %q, stdout %q; want finished printing %s", f.State, f.Message, f.Result.StdoutTail, u.Uid)
	}
	if _, _, err := credential("horae-no-such-user"); err == nil || !strings.Contains(err.Error(), "cannot run as user horae-no-such-user") {
		t.Errorf("unknown user: err = %v", err)
	}
}

func TestCappedFileRotationAndTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limit  int64
		tail   int
		writes []string
		file   string
		file1  string
		want   string
	}{
		{"under limit", 10, 4, []string{"ab", "cd"}, "abcd", "", "abcd"},
		{"exact limit", 4, 4, []string{"abcd"}, "abcd", "", "abcd"},
		{"rotates once", 4, 3, []string{"abcdef"}, "ef", "abcd", "def"},
		{"rotates twice keeps last", 2, 8, []string{"abc", "def"}, "ef", "cd", "abcdef"},
		{"tail across writes", 100, 3, []string{"a", "b", "c", "d", "e"}, "abcde", "", "cde"},
		{"tail cut inside a rune", 100, 2, []string{"x€"}, "x€", "", ""},
		{"no tail", 100, 0, []string{"abc"}, "abc", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "stdout")
			c, err := newCappedFile(p, tc.limit, tc.tail)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write %q = %d, %v", w, n, err)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if got := c.Tail(); got != tc.want {
				t.Errorf("tail = %q, want %q", got, tc.want)
			}
			b, _ := os.ReadFile(p)
			if string(b) != tc.file {
				t.Errorf("file = %q, want %q", b, tc.file)
			}
			b1, err := os.ReadFile(p + ".1")
			if tc.file1 == "" && err == nil {
				t.Errorf("unexpected rotation %q", b1)
			}
			if tc.file1 != "" && string(b1) != tc.file1 {
				t.Errorf("file.1 = %q (%v), want %q", b1, err, tc.file1)
			}
		})
	}
}

// FuzzCappedFile checks that whatever is written, the file never passes
// its cap, the last bytes are in the file, and the tail is a suffix of the
// input.
func FuzzCappedFile(f *testing.F) {
	f.Add([]byte("hello world"), uint8(4), uint8(3), uint8(5))
	f.Add([]byte("€€€€"), uint8(1), uint8(2), uint8(1))
	f.Add([]byte{}, uint8(1), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, limit, tail, chunk uint8) {
		if limit == 0 || chunk == 0 {
			return
		}
		p := filepath.Join(t.TempDir(), "out")
		c, err := newCappedFile(p, int64(limit), int(tail))
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			n := min(int(chunk), len(rest))
			if _, err := c.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if int64(len(b)) > int64(limit) {
			t.Fatalf("file %d bytes over cap %d", len(b), limit)
		}
		if !strings.HasSuffix(string(data), string(b)) {
			t.Fatalf("file %q is not the end of the input %q", b, data)
		}
		if tl := c.Tail(); !strings.HasSuffix(string(data), tl) || len(tl) > int(tail) {
			t.Fatalf("tail %q is not a suffix of at most %d bytes of %q", tl, tail, data)
		}
		if c.Total() != int64(len(data)) {
			t.Fatalf("total %d, want %d", c.Total(), len(data))
		}
	})
}

var _ = syscall.SIGTERM
