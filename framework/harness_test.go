package framework

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/user"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
	mscheduler "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/executor"
	"github.com/horae-scheduler/horae/localmesos"
	"github.com/horae-scheduler/horae/scheduler"
)

// TestMain doubles as the Horae executor: localmesos's agent starts this
// test binary with HORAE_FW_TEST_EXECUTOR=1 as a task's executor, and it
// runs executor.Run as `horae executor` does.
func TestMain(m *testing.M) {
	if os.Getenv("HORAE_FW_TEST_EXECUTOR") == "1" {
		os.Exit(executorMain())
	}
	os.Exit(m.Run())
}

func executorMain() int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mc, err := config.FromEnv()
	if err != nil {
		logger.Error("executor environment", "err", err)
		return 2
	}
	if err := executor.Run(context.Background(), executor.Config{Mesos: mc, Guard: true, Subreaper: true}, logger); err != nil {
		logger.Error("executor failed", "err", err)
		return 1
	}
	return 0
}

// waitFor bounds every wait of these tests; nothing waits a fixed time
// except the "no offer while suppressed" check.
const waitFor = 30 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startMesos(t testing.TB) *localmesos.Mesos {
	t.Helper()
	m, err := localmesos.New(localmesos.Config{
		WorkDir:                     t.TempDir(),
		CPUs:                        4,
		MemMB:                       4096,
		DiskMB:                      10000,
		HeartbeatInterval:           200 * time.Millisecond,
		UpdateResendInterval:        300 * time.Millisecond,
		ExecutorRegistrationTimeout: 20 * time.Second,
		ExecutorShutdownGracePeriod: 2 * time.Second,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// callLog is a reverse proxy in front of a master that records every
// scheduler call and the status the master answered.
type callLog struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []loggedCall
}

type loggedCall struct {
	call   string
	status int
}

func proxyTo(t *testing.T, target string) *callLog {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	cl := &callLog{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = nil
	cl.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var c mscheduler.Call
		name := "?"
		if err := c.Unmarshal(body); err == nil {
			name = c.GetType().String()
		}
		rec := &statusRecorder{ResponseWriter: w, onStatus: func(code int) {
			cl.mu.Lock()
			cl.log = append(cl.log, loggedCall{call: name, status: code})
			cl.mu.Unlock()
		}}
		rp.ServeHTTP(rec, r)
	}))
	t.Cleanup(cl.srv.Close)
	return cl
}

func (cl *callLog) URL() string { return cl.srv.URL }

func (cl *callLog) calls() []loggedCall {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]loggedCall(nil), cl.log...)
}

// rejected lists the calls the master answered with a 4xx.
func (cl *callLog) rejected() []loggedCall {
	var out []loggedCall
	for _, c := range cl.calls() {
		if c.status >= 400 && c.status < 500 {
			out = append(out, c)
		}
	}
	return out
}

// statusRecorder reports the status of a response as soon as its header
// is written (streams stay open long after).
type statusRecorder struct {
	http.ResponseWriter
	status   int
	onStatus func(int)
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.onStatus(code)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// idStore is a FrameworkIDStore that records its writes.
type idStore struct {
	mu   sync.Mutex
	id   string
	sets []string
}

func (s *idStore) Get(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id, nil
}

func (s *idStore) Set(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id = id
	s.sets = append(s.sets, id)
	return nil
}

func (s *idStore) writes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sets...)
}

// harness runs a Framework and plays the engine's part by hand.
type harness struct {
	t      *testing.T
	f      *Framework
	reg    *prometheus.Registry
	out    chan scheduler.Event
	cancel context.CancelFunc
	done   chan error
	seen   []scheduler.Event
	// backlog holds updates skipped by next, for later next calls.
	backlog []scheduler.Event
}

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func testFrameworkConfig(t *testing.T, masterURL string, ids FrameworkIDStore) Config {
	return Config{
		Master:            masterURL,
		User:              currentUser(t),
		FrameworkIDs:      ids,
		ExecutorCommand:   "HORAE_FW_TEST_EXECUTOR=1 exec '" + os.Args[0] + "'",
		HeartbeatMisses:   3,
		Refuse:            100 * time.Millisecond,
		SuppressedRefuse:  100 * time.Millisecond,
		ReviveInterval:    time.Hour,
		ReconcileRetry:    100 * time.Millisecond,
		ReconcileAttempts: 3,
		CallTimeout:       5 * time.Second,
		ResubscribeMin:    50 * time.Millisecond,
		ResubscribeMax:    200 * time.Millisecond,
		KillGrace:         2 * time.Second,
	}
}

func startFramework(t *testing.T, cfg Config) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	f, err := New(cfg, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, f: f, reg: reg, out: make(chan scheduler.Event, 64), cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- f.Run(ctx, h.out) }()
	t.Cleanup(h.stop)
	return h
}

// stop ends Run and waits for it.
func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.done <- nil
	case <-time.After(waitFor):
		h.t.Error("Run did not return after its context ended")
	}
}

// next returns the first event for which match holds, from the backlog of
// skipped updates first, then from the framework; it records every event
// in h.seen, declines offers it skips and acknowledges updates it skips.
func (h *harness) next(what string, match func(scheduler.Event) bool) scheduler.Event {
	h.t.Helper()
	for i, ev := range h.backlog {
		if match(ev) {
			h.backlog = append(h.backlog[:i:i], h.backlog[i+1:]...)
			return ev
		}
	}
	deadline := time.After(waitFor)
	for {
		select {
		case ev := <-h.out:
			h.seen = append(h.seen, ev)
			if match(ev) {
				return ev
			}
			if isType[scheduler.TaskUpdated](ev) {
				h.backlog = append(h.backlog, ev)
			}
			if oa, ok := ev.(scheduler.OffersArrived); ok {
				ids := make([]string, len(oa.Offers))
				for i, o := range oa.Offers {
					ids[i] = o.ID
				}
				_ = h.f.Decline(context.Background(), ids)
			}
			if u, ok := ev.(scheduler.TaskUpdated); ok {
				_ = h.f.Acknowledge(context.Background(), u)
			}
		case <-deadline:
			h.t.Fatalf("no %s within %s; events seen: %s", what, waitFor, describe(h.seen))
		}
	}
}

func describe(evs []scheduler.Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i >= 40 {
			fmt.Fprintf(&b, " … (%d more)", len(evs)-i)
			break
		}
		switch e := ev.(type) {
		case scheduler.TaskUpdated:
			fmt.Fprintf(&b, " update(%s %s %s)", e.TaskID, e.State, e.Reason)
		case scheduler.OffersArrived:
			fmt.Fprintf(&b, " offers(%d)", len(e.Offers))
		default:
			fmt.Fprintf(&b, " %T", ev)
		}
	}
	return b.String()
}

func isType[T scheduler.Event](ev scheduler.Event) bool { _, ok := ev.(T); return ok }

// subscribed waits for Subscribed and answers it as the engine does: an
// (empty) reconciliation and an offer interest.
func (h *harness) subscribed() {
	h.t.Helper()
	h.next("Subscribed", isType[scheduler.Subscribed])
	if err := h.f.Reconcile(context.Background(), nil, true); err != nil {
		h.t.Fatal(err)
	}
	h.next("Reconciled", isType[scheduler.Reconciled])
}

// offer waits for an offer and returns it.
func (h *harness) offer() scheduler.Offer {
	h.t.Helper()
	ev := h.next("OffersArrived", isType[scheduler.OffersArrived]).(scheduler.OffersArrived)
	return ev.Offers[0]
}

// update waits for an update of task in state (acknowledging what it
// passes, as the leader does once durable) and returns it.
func (h *harness) update(task string, state scheduler.TaskState) scheduler.TaskUpdated {
	h.t.Helper()
	ev := h.next(fmt.Sprintf("update %s %s", task, state), func(ev scheduler.Event) bool {
		u, ok := ev.(scheduler.TaskUpdated)
		return ok && u.TaskID == task && u.State == state
	}).(scheduler.TaskUpdated)
	if err := h.f.Acknowledge(context.Background(), ev); err != nil {
		h.t.Fatalf("ack %s %s: %v", task, state, err)
	}
	return ev
}

func (h *harness) counter(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			if c := m.GetCounter(); c != nil {
				total += c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				total += g.GetValue()
			}
		}
	}
	return total
}

func shellJob(name, cmd string) scheduler.Job {
	return scheduler.Job{Name: name, Command: cmd, Shell: true, CPUs: 0.1, Mem: 32, Disk: 1}
}

func taskLaunch(id string, j scheduler.Job) scheduler.TaskLaunch {
	return scheduler.TaskLaunch{TaskID: id, Run: scheduler.RunID(j.Name + "@1"), Job: &j, Instances: 1,
		ScheduledFor: time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)}
}

func nil2reg() *prometheus.Registry { return prometheus.NewRegistry() }
