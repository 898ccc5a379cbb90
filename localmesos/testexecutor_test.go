package localmesos

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// testExec is a tiny JSON HTTP executor, run as a real process by the
// agent. It uses encoding/json on the mesos-go types (their ffjson
// codecs), independently of localmesos's own JSON code. Task data selects
// its behaviour: "finish" (RUNNING, FINISHED), "fail" (RUNNING, FAILED),
// "run" (RUNNING, then KILLED on KILL), "exit" (RUNNING, then exit 3).
type testExec struct {
	endpoint, fwID, exID string

	mu        sync.Mutex
	unacked   map[string]execpb.Call_Update
	live      map[string]bool // tasks not yet terminal
	launched  int
	exitOnAck string // uuid whose ACKNOWLEDGED makes the executor exit 3
}

func runTestExecutor(mode string) int {
	switch mode {
	case "nosub":
		time.Sleep(time.Minute)
		return 0
	case "exit3":
		return 3
	}
	e := &testExec{endpoint: os.Getenv("MESOS_AGENT_ENDPOINT"), fwID: os.Getenv("MESOS_FRAMEWORK_ID"),
		exID: os.Getenv("MESOS_EXECUTOR_ID"), unacked: map[string]execpb.Call_Update{}, live: map[string]bool{}}
	if mode == "env" {
		env := os.Environ()
		sort.Strings(env)
		_ = os.WriteFile("env.txt", []byte(strings.Join(env, "\n")+"\n"), 0o644)
	}
	fmt.Fprintln(os.Stderr, "test executor starting", e.exID)
	for attempt := 0; attempt < 200; attempt++ {
		err := e.subscribe()
		fmt.Fprintln(os.Stderr, "subscription ended:", err)
		if os.Getenv("MESOS_CHECKPOINT") != "1" {
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 2
}

func (e *testExec) post(call *execpb.Call) (*http.Response, error) {
	body, err := json.Marshal(call)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+e.endpoint+"/api/v1/executor", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return http.DefaultClient.Do(req)
}

func (e *testExec) subscribe() error {
	e.mu.Lock()
	sub := &execpb.Call_Subscribe{}
	for _, u := range e.unacked {
		sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, u)
	}
	e.mu.Unlock()
	resp, err := e.post(&execpb.Call{Type: execpb.Call_SUBSCRIBE, FrameworkID: mesos.FrameworkID{Value: e.fwID},
		ExecutorID: mesos.ExecutorID{Value: e.exID}, Subscribe: sub})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("subscribe: %s %s", resp.Status, b)
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			return err
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return err
		}
		var ev execpb.Event
		if err := json.Unmarshal(rec, &ev); err != nil {
			return fmt.Errorf("decode event %s: %w", rec, err)
		}
		fmt.Fprintln(os.Stderr, "event", ev.Type)
		switch ev.Type {
		case execpb.Event_LAUNCH:
			e.launch(ev.Launch.Task)
		case execpb.Event_KILL:
			e.update(ev.Kill.TaskID, mesos.TASK_KILLED, "custom killed")
		case execpb.Event_ACKNOWLEDGED:
			e.acked(string(ev.Acknowledged.UUID))
		case execpb.Event_MESSAGE:
			_, _ = e.post(&execpb.Call{Type: execpb.Call_MESSAGE, FrameworkID: mesos.FrameworkID{Value: e.fwID},
				ExecutorID: mesos.ExecutorID{Value: e.exID}, Message: &execpb.Call_Message{Data: append([]byte("echo:"), ev.Message.Data...)}})
		case execpb.Event_SHUTDOWN:
			os.Exit(0)
		}
	}
}

func (e *testExec) launch(task mesos.TaskInfo) {
	e.mu.Lock()
	e.launched++
	e.live[task.TaskID.Value] = true
	e.mu.Unlock()
	uuid := e.update(task.TaskID, mesos.TASK_RUNNING, "custom running")
	switch string(task.Data) {
	case "finish":
		e.update(task.TaskID, mesos.TASK_FINISHED, "")
	case "fail":
		e.update(task.TaskID, mesos.TASK_FAILED, "custom failed")
	case "exit":
		// A task command left behind in the executor's process group: the
		// agent must kill it when the executor ends.
		child := exec.Command("sleep", "60")
		if err := child.Start(); err == nil {
			_ = os.WriteFile("child.pid", []byte(strconv.Itoa(child.Process.Pid)), 0o644)
		}
		e.mu.Lock()
		if _, pending := e.unacked[uuid]; !pending {
			os.Exit(3)
		}
		e.exitOnAck = uuid
		e.mu.Unlock()
	}
}

// update sends one status update and returns its uuid.
func (e *testExec) update(id mesos.TaskID, state mesos.TaskState, msg string) string {
	u := make([]byte, 16)
	_, _ = rand.Read(u)
	src := mesos.SOURCE_EXECUTOR
	st := mesos.TaskStatus{TaskID: id, State: &state, Source: &src, ExecutorID: &mesos.ExecutorID{Value: e.exID}, UUID: u,
		Data: []byte("data-" + state.String())}
	if msg != "" {
		st.Message = &msg
	}
	upd := execpb.Call_Update{Status: st}
	e.mu.Lock()
	e.unacked[string(u)] = upd
	if state != mesos.TASK_RUNNING {
		delete(e.live, id.Value)
	}
	e.mu.Unlock()
	resp, err := e.post(&execpb.Call{Type: execpb.Call_UPDATE, FrameworkID: mesos.FrameworkID{Value: e.fwID},
		ExecutorID: mesos.ExecutorID{Value: e.exID}, Update: &upd})
	if err == nil {
		resp.Body.Close()
		fmt.Fprintln(os.Stderr, "update", state, resp.Status)
	}
	return string(u)
}

func (e *testExec) acked(uuid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.unacked, uuid)
	if uuid == e.exitOnAck {
		os.Exit(3)
	}
	if e.launched > 0 && len(e.live) == 0 && len(e.unacked) == 0 {
		os.Exit(0)
	}
}
