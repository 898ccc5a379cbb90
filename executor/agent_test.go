package executor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	mesosexec "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
)

// fakeAgent is the executor side of a Mesos agent, as much of it as the
// executor needs: POST /api/v1/executor with the protobuf codec, a RecordIO
// event stream for SUBSCRIBE, 202 for UPDATE and MESSAGE. It records the
// calls, and the test drives it: queue launches, push events, acknowledge,
// go down and come back (an agent restart).
type fakeAgent struct {
	t    testing.TB
	srv  *http.Server
	addr string

	mu         sync.Mutex
	down       bool
	autoAck    bool
	pending    []*mesosexec.Event // sent after the next SUBSCRIBED
	stream     chan *mesosexec.Event
	subscribes []*mesosexec.Call_Subscribe
	refused    int // SUBSCRIBE calls answered 503 while down
	// UPDATE calls answered 503 while down
	refusedUpdates int
	updates        []mesos.TaskStatus
	changed        chan struct{} // closed and replaced on every recorded call
	bad            []string      // protocol violations by the executor
	execLabels     []mesos.Label // labels of the ExecutorInfo in SUBSCRIBED
	// holdUpdates, when set, keeps every UPDATE call waiting for its answer
	// until it is closed (an agent slow to answer).
	holdUpdates chan struct{}
	heldUpdates int // UPDATE calls waiting on holdUpdates
}

func newFakeAgent(t testing.TB) *fakeAgent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	a := &fakeAgent{t: t, addr: ln.Addr().String(), autoAck: true, changed: make(chan struct{})}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	t.Cleanup(func() {
		a.mu.Lock()
		if a.stream != nil {
			close(a.stream)
			a.stream = nil
		}
		bad := a.bad
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.srv.Shutdown(ctx)
		for _, b := range bad {
			t.Errorf("fake agent: executor broke the protocol: %s", b)
		}
	})
	return a
}

// notify wakes waiters; call with mu held.
func (a *fakeAgent) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/executor" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "Expecting 'Content-Type' of application/json or application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var call mesosexec.Call
	if err := call.Unmarshal(body); err != nil {
		http.Error(w, "Failed to parse body: "+err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	if a.down {
		switch call.GetType() {
		case mesosexec.Call_SUBSCRIBE:
			a.refused++
		case mesosexec.Call_UPDATE:
			a.refusedUpdates++
		}
		a.notify()
		a.mu.Unlock()
		http.Error(w, "Agent has not finished recovery", http.StatusServiceUnavailable)
		return
	}
	if call.FrameworkID.Value != "fw-1" || call.ExecutorID.Value != "ex-1" {
		a.bad = append(a.bad, fmt.Sprintf("call %v with framework %q executor %q", call.GetType(), call.FrameworkID.Value, call.ExecutorID.Value))
	}
	if hold := a.holdUpdates; hold != nil && call.GetType() == mesosexec.Call_UPDATE {
		a.heldUpdates++
		a.notify()
		a.mu.Unlock()
		<-hold
		a.mu.Lock()
		a.heldUpdates--
	}
	switch call.GetType() {
	case mesosexec.Call_SUBSCRIBE:
		a.subscribe(w, r, call.Subscribe) // unlocks
		return
	case mesosexec.Call_UPDATE:
		st := call.Update.Status
		if len(st.UUID) != 16 || st.GetSource() != mesos.SOURCE_EXECUTOR || st.ExecutorID.GetValue() != "ex-1" {
			a.bad = append(a.bad, fmt.Sprintf("update %v: uuid %x source %v executor %v", st.GetState(), st.UUID, st.GetSource(), st.ExecutorID))
		}
		a.updates = append(a.updates, st)
		if a.autoAck && a.stream != nil {
			a.stream <- ackOf(st)
		}
		a.notify()
	case mesosexec.Call_MESSAGE, mesosexec.Call_HEARTBEAT:
	default:
		a.bad = append(a.bad, fmt.Sprintf("unknown call %v", call.GetType()))
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func ackOf(st mesos.TaskStatus) *mesosexec.Event {
	return &mesosexec.Event{
		Type:         mesosexec.Event_ACKNOWLEDGED,
		Acknowledged: &mesosexec.Event_Acknowledged{TaskID: st.TaskID, UUID: st.UUID},
	}
}

// subscribe answers SUBSCRIBE with an event stream; called with mu held.
func (a *fakeAgent) subscribe(w http.ResponseWriter, r *http.Request, sub *mesosexec.Call_Subscribe) {
	a.subscribes = append(a.subscribes, sub)
	if a.stream != nil {
		close(a.stream) // one subscription at a time
	}
	stream := make(chan *mesosexec.Event, 1024)
	a.stream = stream
	stream <- &mesosexec.Event{
		Type: mesosexec.Event_SUBSCRIBED,
		Subscribed: &mesosexec.Event_Subscribed{
			ExecutorInfo: mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "ex-1"}, FrameworkID: &mesos.FrameworkID{Value: "fw-1"},
				Labels: &mesos.Labels{Labels: a.execLabels}},
			FrameworkInfo: mesos.FrameworkInfo{User: "root", Name: "executor-test", ID: &mesos.FrameworkID{Value: "fw-1"}},
			AgentInfo:     mesos.AgentInfo{Hostname: "agent.test", ID: &mesos.AgentID{Value: "agent-S0"}},
		},
	}
	// Like a restarted agent: updates it got in SUBSCRIBE are forwarded
	// again, and acknowledged when auto-acknowledging.
	for _, u := range sub.UnacknowledgedUpdates {
		a.updates = append(a.updates, u.Status)
		if a.autoAck {
			stream <- ackOf(u.Status)
		}
	}
	for _, ev := range a.pending {
		stream <- ev
	}
	a.pending = nil
	a.notify()
	a.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fl.Flush()
	rw := recordio.NewWriter(w)
	for {
		select {
		case ev, ok := <-stream:
			if !ok {
				return
			}
			b, err := ev.Marshal()
			if err != nil {
				a.t.Errorf("fake agent: marshal event: %v", err)
				return
			}
			if err := rw.WriteFrame(b); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// send pushes an event to the executor now, or after it subscribes.
func (a *fakeAgent) send(ev *mesosexec.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stream != nil {
		a.stream <- ev
		return
	}
	a.pending = append(a.pending, ev)
}

func (a *fakeAgent) launch(ti mesos.TaskInfo) {
	ti.AgentID = mesos.AgentID{Value: "agent-S0"}
	a.send(&mesosexec.Event{Type: mesosexec.Event_LAUNCH, Launch: &mesosexec.Event_Launch{Task: ti}})
}

// restart drops the executor's stream and answers 503 until up is called.
func (a *fakeAgent) restart() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.down = true
	if a.stream != nil {
		close(a.stream)
		a.stream = nil
	}
}

func (a *fakeAgent) up() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.down = false
}

// ackAll acknowledges every update recorded so far.
func (a *fakeAgent) ackAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.updates {
		a.stream <- ackOf(st)
	}
}

// waitFor polls the recorded calls until cond holds.
func (a *fakeAgent) waitFor(what string, cond func(a *fakeAgent) bool) {
	a.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		a.mu.Lock()
		ok, ch := cond(a), a.changed
		a.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			a.mu.Lock()
			defer a.mu.Unlock()
			a.t.Fatalf("fake agent: waited 20s for %s; updates: %s", what, describe(a.updates))
		}
	}
}

// terminal returns the terminal update of task id, if any; mu held.
func (a *fakeAgent) terminal(id string) (mesos.TaskStatus, bool) {
	for _, st := range a.updates {
		if st.TaskID.Value == id && isTerminal(st.GetState()) {
			return st, true
		}
	}
	return mesos.TaskStatus{}, false
}

func (a *fakeAgent) states(id string) []mesos.TaskState {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []mesos.TaskState
	for _, st := range a.updates {
		if st.TaskID.Value == id {
			out = append(out, st.GetState())
		}
	}
	return out
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR, mesos.TASK_LOST,
		mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

func describe(sts []mesos.TaskStatus) string {
	s := ""
	for _, st := range sts {
		s += fmt.Sprintf("[%s %v %q] ", st.TaskID.Value, st.GetState(), st.GetMessage())
	}
	return s
}
