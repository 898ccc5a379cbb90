package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/api/client"
)

// TestMain lets this test binary be horae itself: with HORAE_TEST_RUN_MAIN=1
// (the server the CLI tests start) or when the built-in Mesos starts it as
// `<binary> executor` (serve runs os.Executable() as the executor, and the
// agent gives executors only the MESOS_* environment).
func TestMain(m *testing.M) {
	if os.Getenv("HORAE_TEST_RUN_MAIN") == "1" ||
		(len(os.Args) > 1 && os.Args[1] == "executor" && os.Getenv("MESOS_EXECUTOR_ID") != "") {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testServer is a real `horae serve` (this binary, re-executed) on a free
// loopback port with an embedded store and the built-in Mesos.
type testServer struct {
	URL    string
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leaderToken is the viewer token startServer uses to wait for leadership;
// a test passing --auth-file must list it.
const leaderToken = "test-viewer-token"

var listenRE = regexp.MustCompile(`msg="horae serving" listen=(\S+)`)

// startServer starts horae serve (with extraArgs) and waits until it leads. It is stopped
// (SIGTERM, then SIGKILL) when the test ends; its log is shown if the test
// failed.
func startServer(t *testing.T, extraArgs ...string) *testServer {
	t.Helper()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--local-heartbeat", "500ms", "--log-level", "info"}, extraArgs...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HORAE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HORAE_TEST_RUN_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start horae serve: %v", err)
	}
	srv := &testServer{stderr: &syncBuffer{}}
	addr := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			srv.stderr.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	exited := make(chan struct{}) // closed once the process is reaped
	var waitErr error
	go func() { waitErr = cmd.Wait(); pw.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Errorf("horae serve did not stop within 20s of SIGTERM; killing it")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		<-copied
		if t.Failed() {
			t.Logf("horae serve log:\n%s", srv.stderr.String())
		}
	})
	select {
	case a := <-addr:
		srv.URL = "http://" + a
	case <-exited:
		t.Fatalf("horae serve exited before serving: %v\n%s", waitErr, srv.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("horae serve did not start within 30s:\n%s", srv.stderr.String())
	}
	c := client.New(srv.URL, leaderToken, nil)
	waitUntil(t, 30*time.Second, "the server to lead", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l, err := c.Leader(ctx)
		if err != nil {
			return false, err.Error()
		}
		return l.Self, l.Leader
	})
	return srv
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cliResult is what one in-process CLI invocation produced.
type cliResult struct {
	stdout, stderr string
	err            error
	code           int // the exit code main would use
}

// cli runs the horae command tree in process (as main does, with the
// client commands added if root.go does not have them yet) with stdin.
func cli(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	r := cliResult{stdout: out.String(), stderr: errb.String(), err: err}
	if err != nil {
		r.code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			r.code = ee.code
		}
	}
	return r
}
