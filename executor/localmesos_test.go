package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/horae-scheduler/horae/localmesos"
	"github.com/horae-scheduler/horae/taskspec"
)

// These tests run the real executor (this test binary re-executed, see
// TestMain) under localmesos, driven by a tiny scheduler written against
// the v1 scheduler API with the protobuf codec. Only test code imports
// localmesos; the executor package itself does not.

// testScheduler is a minimal framework: subscribe, launch one task per
// offer on request, acknowledge every update, record them.
type testScheduler struct {
	t        *testing.T
	url      string
	streamID string
	fwID     string
	events   chan *scheduler.Event
	offers   chan mesos.Offer
}

func startLocalMesos(t *testing.T) *localmesos.Mesos {
	t.Helper()
	m, err := localmesos.New(localmesos.Config{
		WorkDir:                     t.TempDir(),
		CPUs:                        4,
		MemMB:                       4096,
		DiskMB:                      10000,
		HeartbeatInterval:           500 * time.Millisecond,
		UpdateResendInterval:        300 * time.Millisecond,
		ExecutorRegistrationTimeout: 20 * time.Second,
		ExecutorShutdownGracePeriod: 3 * time.Second,
		RecoveryTimeout:             30 * time.Second,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("localmesos: %v", err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("localmesos start: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func (s *testScheduler) post(call *scheduler.Call) *http.Response {
	s.t.Helper()
	body, err := call.Marshal()
	if err != nil {
		s.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Accept", "application/x-protobuf")
	if s.streamID != "" {
		req.Header.Set("Mesos-Stream-Id", s.streamID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%v call: %v", call.GetType(), err)
	}
	return resp
}

func (s *testScheduler) call(call *scheduler.Call) {
	s.t.Helper()
	call.FrameworkID = &mesos.FrameworkID{Value: s.fwID}
	resp := s.post(call)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("%v call: %s %s", call.GetType(), resp.Status, b)
	}
}

func newTestScheduler(t *testing.T, m *localmesos.Mesos) *testScheduler {
	t.Helper()
	s := &testScheduler{t: t, url: m.URL() + "/api/v1/scheduler", events: make(chan *scheduler.Event, 1000), offers: make(chan mesos.Offer, 100)}
	resp := s.post(calls.Subscribe(&mesos.FrameworkInfo{User: "root", Name: "executor-test", Checkpoint: ptr(true), FailoverTimeout: ptr(60.0)}))
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("subscribe: %s %s", resp.Status, b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	s.streamID = resp.Header.Get("Mesos-Stream-Id")
	subscribed := make(chan string, 1)
	go func() {
		defer close(s.events)
		r := recordio.NewReader(resp.Body)
		for {
			frame, err := r.ReadFrame()
			if err != nil {
				return
			}
			var ev scheduler.Event
			if err := ev.Unmarshal(frame); err != nil {
				return
			}
			switch ev.GetType() {
			case scheduler.Event_SUBSCRIBED:
				subscribed <- ev.GetSubscribed().FrameworkID.Value
			case scheduler.Event_OFFERS:
				for _, o := range ev.GetOffers().Offers {
					s.offers <- o
				}
			case scheduler.Event_UPDATE:
				s.events <- &ev
			}
		}
	}()
	select {
	case s.fwID = <-subscribed:
	case <-time.After(20 * time.Second):
		t.Fatal("no SUBSCRIBED within 20s")
	}
	return s
}

func scalar(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

// launch starts one task with the Horae executor on the next offer.
func (s *testScheduler) launch(ti mesos.TaskInfo) {
	s.t.Helper()
	var o mesos.Offer
	select {
	case o = <-s.offers:
	case <-time.After(20 * time.Second):
		s.t.Fatal("no offer within 20s")
	}
	env := []mesos.Environment_Variable{{Name: "HORAE_EXECUTOR_TEST_MAIN", Value: ptr("1")}}
	ti.AgentID = o.AgentID
	ti.Resources = []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)}
	ti.Executor = &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_CUSTOM,
		ExecutorID: mesos.ExecutorID{Value: "horae-" + ti.TaskID.Value},
		Name:       ptr("horae executor"),
		Command: &mesos.CommandInfo{
			Shell:       ptr(false),
			Value:       ptr(os.Args[0]),
			Arguments:   []string{os.Args[0]},
			Environment: &mesos.Environment{Variables: env},
		},
		Resources: []mesos.Resource{scalar("cpus", 0.05), scalar("mem", 32)},
	}
	s.call(calls.Accept(calls.OfferOperations{calls.OpLaunch(ti)}.WithOffers(o.ID)))
}

// next returns the next update of task id, acknowledging it when ack.
func (s *testScheduler) next(id string, ack bool) mesos.TaskStatus {
	s.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatal("scheduler stream closed")
			}
			st := ev.GetUpdate().Status
			if ack && len(st.UUID) > 0 {
				s.call(calls.Acknowledge(st.AgentID.GetValue(), st.TaskID.Value, st.UUID))
			}
			if st.TaskID.Value == id {
				return st
			}
		case <-deadline:
			s.t.Fatalf("no update of %s within 20s", id)
		}
	}
}

// terminal acknowledges updates of id until its terminal one.
func (s *testScheduler) terminal(id string) (mesos.TaskStatus, []mesos.TaskState) {
	s.t.Helper()
	var states []mesos.TaskState
	for {
		st := s.next(id, true)
		states = append(states, st.GetState())
		if isTerminal(st.GetState()) {
			return st, states
		}
	}
}

// filesRead reads a whole file through the agent's /files/read endpoint.
func filesRead(t *testing.T, m *localmesos.Mesos, path string) string {
	t.Helper()
	resp, err := http.Get(m.URL() + "/files/read?offset=0&path=" + url.QueryEscape(path))
	if err != nil {
		t.Fatalf("files/read: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Data string `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("files/read %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("files/read: %v", err)
	}
	return body.Data
}

// filesReadMaybe is filesRead that answers "" while the file is missing.
func filesReadMaybe(m *localmesos.Mesos, path string) string {
	resp, err := http.Get(m.URL() + "/files/read?offset=0&path=" + url.QueryEscape(path))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct {
		Data string `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return ""
	}
	return body.Data
}

func TestLocalMesos(t *testing.T) {
	t.Parallel()
	m := startLocalMesos(t)
	s := newTestScheduler(t, m)

	t.Run("success with output readable through files/read", func(t *testing.T) {
		s.t = t
		s.launch(taskInfo(t, "ok", taskspec.Spec{Job: "hello", Shell: true, Command: "echo hello $HORAE_JOB_NAME; echo warn >&2"}))
		st, states := s.terminal("ok")
		if want := []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}; !equalStates(states, want) {
			t.Fatalf("states %v, want %v (%q)", states, want, st.GetMessage())
		}
		r, err := taskspec.ParseResult(st.Data)
		if err != nil {
			t.Fatal(err)
		}
		if r.StdoutTail != "hello hello\n" || r.StderrTail != "warn\n" || r.ExitCode == nil || *r.ExitCode != 0 {
			t.Errorf("result %+v", r)
		}
		if got := filesRead(t, m, filepath.Join(r.Directory, "stdout")); got != "hello hello\n" {
			t.Errorf("files/read stdout = %q", got)
		}
	})

	t.Run("kill with kill policy: SIGTERM ignored, SIGKILL after grace", func(t *testing.T) {
		s.t = t
		ti := taskInfo(t, "stubborn", taskspec.Spec{Shell: true, Command: "trap '' TERM; echo ready; sleep 60"})
		ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(300 * time.Millisecond)}}
		s.launch(ti)
		if st := s.next("stubborn", true); st.GetState() != mesos.TASK_STARTING {
			t.Fatalf("first update %v", st.GetState())
		}
		if st := s.next("stubborn", true); st.GetState() != mesos.TASK_RUNNING {
			t.Fatalf("second update %v", st.GetState())
		}
		// Kill only once the trap is installed, or SIGTERM would do.
		stdout := fmt.Sprintf("/frameworks/%s/executors/horae-stubborn/runs/latest/task-stubborn/stdout", s.fwID)
		deadline := time.Now().Add(20 * time.Second)
		for filesReadMaybe(m, stdout) != "ready\n" {
			if time.Now().After(deadline) {
				t.Fatalf("%s never said ready", stdout)
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.call(calls.Kill("stubborn", m.AgentID()))
		st, _ := s.terminal("stubborn")
		r, _ := taskspec.ParseResult(st.Data)
		if st.GetState() != mesos.TASK_KILLED || r.Signal != "killed" || r.Reason != taskspec.ReasonKilled {
			t.Errorf("terminal %v %q, result %+v", st.GetState(), st.GetMessage(), r)
		}
	})

	t.Run("agent restart: executor re-subscribes and the update arrives", func(t *testing.T) {
		s.t = t
		marker := filepath.Join(t.TempDir(), "go")
		s.launch(taskInfo(t, "survivor", taskspec.Spec{Shell: true, Command: fmt.Sprintf("while [ ! -f %s ]; do sleep 0.01; done; echo survived", marker)}))
		s.next("survivor", true) // STARTING
		s.next("survivor", true) // RUNNING
		m.Faults().RestartAgent()
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		st, _ := s.terminal("survivor")
		r, _ := taskspec.ParseResult(st.Data)
		if st.GetState() != mesos.TASK_FINISHED || r.StdoutTail != "survived\n" {
			t.Errorf("terminal %v %q, result %+v", st.GetState(), st.GetMessage(), r)
		}
	})
}

// TestRunningStatusNamesDirectory: TASK_RUNNING carries a Result holding
// the task's directory as the agent sees it, and the output of the still
// running task can be read there through /files/read (how `horae job logs
// -f` follows a running task).
func TestRunningStatusNamesDirectory(t *testing.T) {
	t.Parallel()
	m := startLocalMesos(t)
	s := newTestScheduler(t, m)
	marker := filepath.Join(t.TempDir(), "go")
	s.launch(taskInfo(t, "chatty", taskspec.Spec{Shell: true,
		Command: fmt.Sprintf("echo early; while [ ! -f %s ]; do sleep 0.01; done; echo late", marker)}))
	if st := s.next("chatty", true); st.GetState() != mesos.TASK_STARTING || len(st.Data) != 0 {
		t.Fatalf("first update %v with data %q, want TASK_STARTING without data", st.GetState(), st.Data)
	}
	st := s.next("chatty", true)
	if st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("second update %v, want TASK_RUNNING", st.GetState())
	}
	r, err := taskspec.ParseResult(st.Data)
	if err != nil {
		t.Fatalf("TASK_RUNNING data %q: %v", st.Data, err)
	}
	if r.Directory == "" || filepath.Base(r.Directory) != "task-chatty" || r.ExitCode != nil {
		t.Fatalf("TASK_RUNNING result %+v, want only the directory .../task-chatty", r)
	}
	stdout := filepath.Join(r.Directory, "stdout")
	deadline := time.Now().Add(20 * time.Second)
	for filesReadMaybe(m, stdout) != "early\n" {
		if time.Now().After(deadline) {
			t.Fatalf("%s of the running task never showed its first line (now %q)", stdout, filesReadMaybe(m, stdout))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	end, _ := s.terminal("chatty")
	fin, err := taskspec.ParseResult(end.Data)
	if err != nil || end.GetState() != mesos.TASK_FINISHED || fin.Directory != r.Directory {
		t.Fatalf("terminal %v, result %+v (%v); want TASK_FINISHED in %s", end.GetState(), fin, err, r.Directory)
	}
	if got := filesRead(t, m, stdout); got != "early\nlate\n" {
		t.Fatalf("stdout after the end %q", got)
	}
}
