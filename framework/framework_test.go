package framework

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/horae-scheduler/horae/internal/zktest"
	"github.com/horae-scheduler/horae/localmesos"
	"github.com/horae-scheduler/horae/scheduler"
)

// TestTasksRunToSuccessAndFailure: subscribe, persist the framework ID,
// pack two tasks into one offer, run them in real Horae executor processes,
// receive their status updates with the executor's result, acknowledge
// them; a task too big for the offer comes back as TASK_ERROR without being
// sent. No call is refused by the master.
func TestTasksRunToSuccessAndFailure(t *testing.T) {
	m := startMesos(t)
	px := proxyTo(t, m.URL())
	ids := &idStore{}
	h := startFramework(t, testFrameworkConfig(t, px.URL(), ids))
	h.subscribed()
	if got := ids.writes(); len(got) != 1 || got[0] == "" || got[0] != h.f.FrameworkID() {
		t.Fatalf("framework id writes %v, want exactly the subscribed id %q", got, h.f.FrameworkID())
	}
	if err := h.f.SetOfferInterest(context.Background(), scheduler.OffersWanted); err != nil {
		t.Fatal(err)
	}
	o := h.offer()
	if o.CPUs != 4 || o.Mem != 4096 || o.Hostname == "" || o.AgentURL == "" || len(o.Ports) == 0 {
		t.Fatalf("offer %+v", o)
	}
	ok := taskLaunch("t-ok", shellJob("ok", "echo hello; exit 0"))
	bad := taskLaunch("t-bad", shellJob("bad", "echo oops >&2; exit 3"))
	huge := taskLaunch("t-huge", shellJob("huge", "true"))
	huge.Job.CPUs = 100
	err := h.f.Launch(context.Background(), []scheduler.Launch{{
		OfferID: o.ID, AgentID: o.AgentID, Hostname: o.Hostname, Tasks: []scheduler.TaskLaunch{ok, huge, bad},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if u := h.update("t-huge", scheduler.TaskError); !strings.Contains(u.Message, "cpus") || u.Reason != "REASON_TASK_INVALID" {
		t.Errorf("refused task update %+v", u)
	}
	fin := h.update("t-ok", scheduler.TaskFinished)
	if fin.Result == nil || fin.Result.ExitCode == nil || *fin.Result.ExitCode != 0 || !strings.Contains(fin.Result.StdoutTail, "hello") {
		t.Errorf("finished task result %+v", fin.Result)
	}
	failed := h.update("t-bad", scheduler.TaskFailed)
	if failed.Result == nil || failed.Result.ExitCode == nil || *failed.Result.ExitCode != 3 || !strings.Contains(failed.Result.StderrTail, "oops") {
		t.Errorf("failed task result %+v", failed.Result)
	}
	if len(fin.AckUUID) == 0 || len(failed.AckUUID) == 0 {
		t.Error("executor updates without ack uuid")
	}
	for _, want := range []string{"t-ok", "t-bad"} {
		running := false
		for _, ev := range h.seen {
			if u, ok := ev.(scheduler.TaskUpdated); ok && u.TaskID == want && u.State == scheduler.TaskRunning {
				running = true
			}
		}
		if !running {
			t.Errorf("no TASK_RUNNING seen for %s: %s", want, describe(h.seen))
		}
	}
	if got := h.counter("horae_mesos_tasks_launched_total"); got != 2 {
		t.Errorf("tasks launched %g, want 2", got)
	}
	if got := h.counter("horae_mesos_offers_used_total"); got != 1 {
		t.Errorf("offers used %g, want 1", got)
	}
	if got := h.counter("horae_mesos_status_updates_total", "state", "finished"); got < 1 {
		t.Errorf("finished updates counted %g", got)
	}
	if r := px.rejected(); len(r) > 0 {
		t.Errorf("master rejected calls: %+v", r)
	}
}

// TestKillReconcileAndAgentLoss: kill by task ID, explicit reconciliation
// of known and unknown tasks ends in Reconciled, and a lost agent turns a
// running task unreachable (PARTITION_AWARE).
func TestKillReconcileAndAgentLoss(t *testing.T) {
	m := startMesos(t)
	px := proxyTo(t, m.URL())
	h := startFramework(t, testFrameworkConfig(t, px.URL(), &idStore{}))
	h.subscribed()
	if err := h.f.SetOfferInterest(context.Background(), scheduler.OffersWanted); err != nil {
		t.Fatal(err)
	}
	o := h.offer()
	a, b := taskLaunch("t-kill", shellJob("sleeper", "sleep 60")), taskLaunch("t-lose", shellJob("sleeper2", "sleep 60"))
	if err := h.f.Launch(context.Background(), []scheduler.Launch{{OfferID: o.ID, AgentID: o.AgentID, Tasks: []scheduler.TaskLaunch{a, b}}}); err != nil {
		t.Fatal(err)
	}
	h.update("t-kill", scheduler.TaskRunning)
	h.update("t-lose", scheduler.TaskRunning)

	if err := h.f.Kill(context.Background(), []scheduler.TaskRef{{TaskID: "t-kill", AgentID: o.AgentID}}); err != nil {
		t.Fatal(err)
	}
	killed := h.update("t-kill", scheduler.TaskKilled)
	if killed.Result == nil || killed.Result.Reason != "killed" {
		t.Errorf("killed result %+v", killed.Result)
	}

	err := h.f.Reconcile(context.Background(), []scheduler.TaskRef{{TaskID: "t-lose", AgentID: o.AgentID}, {TaskID: "t-never"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var answers []scheduler.TaskUpdated
	rec := h.next("Reconciled", func(ev scheduler.Event) bool {
		if u, ok := ev.(scheduler.TaskUpdated); ok && u.Reconciliation {
			answers = append(answers, u)
		}
		return isType[scheduler.Reconciled](ev)
	}).(scheduler.Reconciled)
	if strings.Join(rec.Missing, ",") != "t-never" {
		t.Errorf("reconciled with missing %v, want [t-never] (answered TASK_UNKNOWN)", rec.Missing)
	}
	states := map[string]scheduler.TaskState{}
	for _, u := range answers {
		states[u.TaskID] = u.State
		if len(u.AckUUID) != 0 {
			t.Errorf("reconciliation answer %s carries an ack uuid", u.TaskID)
		}
	}
	if states["t-lose"] != scheduler.TaskRunning || states["t-never"] != scheduler.TaskUnknown {
		t.Errorf("reconciliation answers %v, want t-lose running and t-never unknown", states)
	}

	m.Faults().LoseAgent()
	lost := h.update("t-lose", scheduler.TaskUnreachable)
	if lost.Reason != "REASON_AGENT_REMOVED" {
		t.Errorf("agent loss update %+v", lost)
	}
	if r := px.rejected(); len(r) > 0 {
		t.Errorf("master rejected calls: %+v", r)
	}
}

// TestReconcileGivesUp: with the master silent, explicit reconciliation is
// resent ReconcileAttempts times and then reported with every task Missing.
func TestReconcileGivesUp(t *testing.T) {
	m := startMesos(t)
	cfg := testFrameworkConfig(t, m.URL(), &idStore{})
	cfg.HeartbeatMisses = 1000 // keep the subscription while silent
	h := startFramework(t, cfg)
	h.subscribed()
	m.Faults().Silence(true)
	if err := h.f.Reconcile(context.Background(), []scheduler.TaskRef{{TaskID: "t-b"}, {TaskID: "t-a"}}, false); err != nil {
		t.Fatal(err)
	}
	rec := h.next("Reconciled", isType[scheduler.Reconciled]).(scheduler.Reconciled)
	if strings.Join(rec.Missing, ",") != "t-a,t-b" {
		t.Fatalf("missing %v, want [t-a t-b]", rec.Missing)
	}
	if got := h.counter("horae_mesos_reconcile_calls_total", "kind", "explicit"); got != 3 {
		t.Errorf("explicit reconcile calls %g, want 3 (ReconcileAttempts)", got)
	}
	m.Faults().Silence(false)
}

// TestResubscribeKeepsFrameworkID: a dropped stream, a silent master (the
// heartbeat watchdog) and a restart of the framework all end in a
// re-subscription with the same framework ID, and the running task is
// still there to be reconciled.
func TestResubscribeKeepsFrameworkID(t *testing.T) {
	m := startMesos(t)
	ids := &idStore{}
	cfg := testFrameworkConfig(t, m.URL(), ids)
	h := startFramework(t, cfg)
	h.subscribed()
	id := h.f.FrameworkID()
	if err := h.f.SetOfferInterest(context.Background(), scheduler.OffersWanted); err != nil {
		t.Fatal(err)
	}
	o := h.offer()
	task := taskLaunch("t-long", shellJob("long", "sleep 60"))
	if err := h.f.Launch(context.Background(), []scheduler.Launch{{OfferID: o.ID, AgentID: o.AgentID, Tasks: []scheduler.TaskLaunch{task}}}); err != nil {
		t.Fatal(err)
	}
	h.update("t-long", scheduler.TaskRunning)

	stillRunning := func(t *testing.T, h *harness) {
		t.Helper()
		if err := h.f.Reconcile(context.Background(), []scheduler.TaskRef{{TaskID: "t-long"}}, false); err != nil {
			t.Fatal(err)
		}
		var st scheduler.TaskState
		h.next("Reconciled", func(ev scheduler.Event) bool {
			if u, ok := ev.(scheduler.TaskUpdated); ok && u.TaskID == "t-long" && u.Reconciliation {
				st = u.State
			}
			return isType[scheduler.Reconciled](ev)
		})
		if st != scheduler.TaskRunning {
			t.Fatalf("t-long reconciled as %q, want running", st)
		}
	}

	t.Run("stream dropped", func(t *testing.T) {
		h.t = t
		m.Faults().DropStream()
		h.next("Disconnected", isType[scheduler.Disconnected])
		h.subscribed()
		if h.f.FrameworkID() != id {
			t.Fatalf("framework id %q after re-subscribe, want %q", h.f.FrameworkID(), id)
		}
		stillRunning(t, h)
	})

	t.Run("master silent", func(t *testing.T) {
		h.t = t
		before := h.counter("horae_mesos_heartbeat_timeouts_total")
		m.Faults().Silence(true)
		h.next("Disconnected", isType[scheduler.Disconnected])
		if got := h.counter("horae_mesos_heartbeat_timeouts_total"); got != before+1 {
			t.Errorf("heartbeat timeouts %g, want %g", got, before+1)
		}
		m.Faults().Silence(false)
		h.subscribed()
		if h.f.FrameworkID() != id {
			t.Fatalf("framework id %q after watchdog re-subscribe, want %q", h.f.FrameworkID(), id)
		}
		stillRunning(t, h)
	})

	t.Run("framework restarted", func(t *testing.T) {
		h.t = t
		h.stop()
		h2 := startFramework(t, cfg)
		h2.subscribed()
		if h2.f.FrameworkID() != id {
			t.Fatalf("restarted framework subscribed as %q, want %q", h2.f.FrameworkID(), id)
		}
		stillRunning(t, h2)
		if err := h2.f.Kill(context.Background(), []scheduler.TaskRef{{TaskID: "t-long"}}); err != nil {
			t.Fatal(err)
		}
		h2.update("t-long", scheduler.TaskKilled)
	})

	if got := ids.writes(); len(got) != 1 {
		t.Errorf("framework id written %v, want once", got)
	}
	// No zero-4xx check here: a call racing an injected stream drop is
	// refused (403 not subscribed, or 400 stale stream id) as by a real
	// master; it only costs that subscription.
}

// TestFollowsLeaderAfterRedirect: the configured master is not the leader
// and answers 307 to everything; after SUBSCRIBE followed the redirect,
// every other call must go to the leader too (mesos-go alone would send
// them to the non-leader and lose the subscription, P1).
func TestFollowsLeaderAfterRedirect(t *testing.T) {
	leader := startMesos(t)
	standby := startMesos(t)
	lpx := proxyTo(t, leader.URL())
	lu, _ := url.Parse(lpx.URL())
	standby.Faults().NotLeader(lu.Host)
	spx := proxyTo(t, standby.URL())

	h := startFramework(t, testFrameworkConfig(t, spx.URL(), &idStore{}))
	h.subscribed()
	if err := h.f.Reconcile(context.Background(), []scheduler.TaskRef{{TaskID: "t-x"}}, false); err != nil {
		t.Fatal(err)
	}
	h.next("Reconciled", isType[scheduler.Reconciled])
	if err := h.f.SetOfferInterest(context.Background(), scheduler.OffersNotWanted); err != nil {
		t.Fatal(err)
	}
	if err := h.f.SetOfferInterest(context.Background(), scheduler.OffersWanted); err != nil {
		t.Fatal(err)
	}
	h.offer()
	for _, c := range spx.calls() {
		if c.call != "SUBSCRIBE" || c.status != http.StatusTemporaryRedirect {
			t.Errorf("standby got %s answered %d; only redirected SUBSCRIBEs expected", c.call, c.status)
		}
	}
	seen := map[string]bool{}
	for _, c := range lpx.calls() {
		seen[c.call] = true
	}
	for _, want := range []string{"SUBSCRIBE", "RECONCILE", "SUPPRESS", "REVIVE"} {
		if !seen[want] {
			t.Errorf("leader never got %s: %+v", want, lpx.calls())
		}
	}
	if got := h.counter("horae_mesos_call_errors_total"); got != 0 {
		t.Errorf("call errors %g", got)
	}
	if r := append(lpx.rejected(), spx.rejected()...); len(r) > 0 {
		t.Errorf("masters rejected calls: %+v", r)
	}
}

// TestSuppressAndRevive: suppressed, no offer comes even after the decline
// filters expired; REVIVE brings offers back; a second REVIVE within
// ReviveInterval is not sent.
func TestSuppressAndRevive(t *testing.T) {
	m := startMesos(t)
	h := startFramework(t, testFrameworkConfig(t, m.URL(), &idStore{}))
	h.subscribed()
	ctx := context.Background()
	if err := h.f.SetOfferInterest(ctx, scheduler.OffersNotWanted); err != nil {
		t.Fatal(err)
	}
	// Decline whatever was offered before SUPPRESS took effect, then watch
	// for a while well beyond the 100 ms refuse filter.
	quiet := time.After(1500 * time.Millisecond)
wait:
	for {
		select {
		case ev := <-h.out:
			oa, ok := ev.(scheduler.OffersArrived)
			if !ok {
				continue
			}
			for _, o := range oa.Offers {
				if err := h.f.Decline(ctx, []string{o.ID}); err != nil {
					t.Fatal(err)
				}
			}
			// An offer made before SUPPRESS may still be in flight once;
			// after the first decline none may come.
			if h.counter("horae_mesos_offers_declined_total") > 1 {
				t.Fatalf("offer received while suppressed: %+v", oa)
			}
		case <-quiet:
			break wait
		}
	}
	if err := h.f.SetOfferInterest(ctx, scheduler.OffersWanted); err != nil {
		t.Fatal(err)
	}
	h.offer()
	if err := h.f.SetOfferInterest(ctx, scheduler.OffersWanted); err != nil {
		t.Fatal(err)
	}
	if s, r := h.counter("horae_mesos_suppress_calls_total"), h.counter("horae_mesos_revive_calls_total"); s != 1 || r != 1 {
		t.Errorf("suppress %g revive %g calls, want 1 and 1", s, r)
	}
}

// TestRemovedFrameworkRegistersAnew: after Mesos removed the framework
// (teardown), the re-subscription with the old ID gets "Framework has been
// removed"; the framework clears the stored ID and registers a new one.
func TestRemovedFrameworkRegistersAnew(t *testing.T) {
	m := startMesos(t)
	ids := &idStore{}
	h := startFramework(t, testFrameworkConfig(t, m.URL(), ids))
	h.subscribed()
	old := h.f.FrameworkID()
	resp, err := http.PostForm(m.URL()+"/master/teardown", url.Values{"frameworkId": {old}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("teardown: %s", resp.Status)
	}
	h.next("Disconnected", isType[scheduler.Disconnected])
	h.subscribed()
	if id := h.f.FrameworkID(); id == old || id == "" {
		t.Fatalf("framework id after removal %q (old %q)", id, old)
	}
	if got := ids.writes(); len(got) != 3 || got[0] != old || got[1] != "" || got[2] != h.f.FrameworkID() {
		t.Errorf("id store writes %q, want [old, cleared, new]", got)
	}
}

// TestCallsWithoutSubscription fail fast with ErrNotSubscribed.
func TestCallsWithoutSubscription(t *testing.T) {
	f, err := New(testFrameworkConfig(t, "http://127.0.0.1:1", nil), testLogger(t), nil2reg())
	if err != nil {
		t.Fatal(err)
	}
	err = f.Kill(context.Background(), []scheduler.TaskRef{{TaskID: "x"}})
	if !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("Kill before Run: %v, want ErrNotSubscribed", err)
	}
	if err := f.Acknowledge(context.Background(), scheduler.TaskUpdated{TaskID: "x"}); err != nil {
		t.Fatalf("ack without uuid must be a no-op: %v", err)
	}
}

// TestZooKeeperLeaderChange: with a zk:// master the framework subscribes to
// the master whose json.info_ node has the lowest sequence, and when that
// node goes away it re-subscribes, with the same framework ID, to the next.
func TestZooKeeperLeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	zks := zktest.Start(t)
	a, b := startMesos(t), startMesos(t)
	conn, _, err := zk.Connect([]string{zks.Addr()}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/mesos", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	register := func(m *localmesos.Mesos) string {
		host, port, _ := net.SplitHostPort(m.HostPort())
		data := fmt.Sprintf(`{"address":{"hostname":%q,"ip":%q,"port":%s},"hostname":%q,"id":%q,"ip":16777343,"port":%s,"version":"1.12.0"}`,
			host, host, port, host, m.MasterID(), port)
		p, err := conn.Create("/mesos/json.info_", []byte(data), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	nodeA := register(a)
	register(b)

	h := startFramework(t, testFrameworkConfig(t, "zk://"+zks.Addr()+"/mesos", &idStore{}))
	h.subscribed()
	id := h.f.FrameworkID()
	if !connectedTo(t, a, id) || connectedTo(t, b, id) {
		t.Fatalf("framework %s not subscribed to the leading master only", id)
	}
	if err := conn.Delete(nodeA, -1); err != nil {
		t.Fatal(err)
	}
	h.next("Disconnected", isType[scheduler.Disconnected])
	h.subscribed()
	if h.f.FrameworkID() != id {
		t.Fatalf("framework id %q after leader change, want %q", h.f.FrameworkID(), id)
	}
	if !connectedTo(t, b, id) {
		t.Fatalf("framework %s not subscribed to the new leader", id)
	}
}

// connectedTo reads the master's /master/state.
func connectedTo(t *testing.T, m *localmesos.Mesos, frameworkID string) bool {
	t.Helper()
	resp, err := http.Get(m.URL() + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Frameworks []struct {
			ID        string `json:"id"`
			Connected bool   `json:"connected"`
		} `json:"frameworks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, fw := range st.Frameworks {
		if fw.ID == frameworkID && fw.Connected {
			return true
		}
	}
	return false
}

// TestPeriodicImplicitReconcile: an implicit RECONCILE is sent every
// ReconcileInterval while subscribed.
func TestPeriodicImplicitReconcile(t *testing.T) {
	m := startMesos(t)
	cfg := testFrameworkConfig(t, m.URL(), &idStore{})
	cfg.ReconcileInterval = 100 * time.Millisecond
	h := startFramework(t, cfg)
	h.next("Subscribed", isType[scheduler.Subscribed])
	deadline := time.Now().Add(waitFor)
	for h.counter("horae_mesos_reconcile_calls_total", "kind", "implicit") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("implicit reconcile calls %g after %s", h.counter("horae_mesos_reconcile_calls_total", "kind", "implicit"), waitFor)
		}
		select {
		case <-h.out:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestRecoversFromUnavailableMaster: a master answering 503 costs the
// subscription (P11); calls fail with an error instead of hanging, and the
// framework subscribes again, with the same ID, once the master is back.
func TestRecoversFromUnavailableMaster(t *testing.T) {
	m := startMesos(t)
	h := startFramework(t, testFrameworkConfig(t, m.URL(), &idStore{}))
	h.subscribed()
	id := h.f.FrameworkID()
	m.Faults().Unavailable(true)
	if err := h.f.Reconcile(context.Background(), []scheduler.TaskRef{{TaskID: "t-x"}}, false); err == nil {
		t.Fatal("RECONCILE to an unavailable master succeeded")
	}
	h.next("Disconnected", isType[scheduler.Disconnected])
	if err := h.f.Kill(context.Background(), []scheduler.TaskRef{{TaskID: "t-x"}}); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("call after the subscription was lost: %v, want ErrNotSubscribed", err)
	}
	m.Faults().Unavailable(false)
	h.subscribed()
	if h.f.FrameworkID() != id {
		t.Fatalf("framework id %q, want %q", h.f.FrameworkID(), id)
	}
	// The pump's implicit RECONCILE may race the explicit one: 1 or 2.
	if got := h.counter("horae_mesos_call_errors_total", "call", "RECONCILE"); got < 1 || got > 2 {
		t.Errorf("RECONCILE call errors %g, want 1 or 2", got)
	}
}

// TestTLSAndFrameworkAuth: an https master (here a TLS proxy in front of
// localmesos that demands HTTP Basic credentials, as a Mesos master with
// framework authentication does), trusted through Config.TLS.CAFile; the
// principal and secret file are sent on every call. A wrong secret gets
// 401 and no subscription.
func TestTLSAndFrameworkAuth(t *testing.T) {
	m := startMesos(t)
	target, _ := url.Parse(m.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	var mu sync.Mutex
	authorized, refused := 0, 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		mu.Lock()
		if !ok || user != "horae" || pass != "s3cret" {
			refused++
			mu.Unlock()
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		authorized++
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(dir, "secret"), filepath.Join(dir, "wrong")
	if err := os.WriteFile(good, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("guess\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := testFrameworkConfig(t, srv.URL, &idStore{})
	cfg.Principal, cfg.SecretFile, cfg.TLS.CAFile = "horae", good, ca
	h := startFramework(t, cfg)
	h.subscribed()
	if err := h.f.Reconcile(context.Background(), []scheduler.TaskRef{{TaskID: "t-x"}}, false); err != nil {
		t.Fatal(err)
	}
	h.next("Reconciled", isType[scheduler.Reconciled])
	mu.Lock()
	if authorized < 2 || refused != 0 {
		t.Errorf("authorized %d refused %d requests, want ≥2 and 0", authorized, refused)
	}
	mu.Unlock()
	h.stop()

	cfg.SecretFile = bad
	h2 := startFramework(t, cfg)
	// mesos-go retries a refused SUBSCRIBE itself (with backoff from
	// 0.5 s) before reporting it, so watch the master's side.
	refusedNow := func() int { mu.Lock(); defer mu.Unlock(); return refused }
	deadline := time.Now().Add(waitFor)
	for refusedNow() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no refused subscription with a wrong secret")
		}
		select {
		case ev := <-h2.out:
			t.Fatalf("event with a wrong secret: %T", ev)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if h2.f.FrameworkID() != h.f.FrameworkID() {
		t.Errorf("stored framework id lost after refused subscriptions")
	}
}

// TestExecutorFetchedFromURI: the deployment path, where the agent fetches
// the executor binary over HTTP (as from GET /executor/horae) into the
// sandbox as ./horae and runs it.
func TestExecutorFetchedFromURI(t *testing.T) {
	m := startMesos(t)
	fetched := 0
	var mu sync.Mutex
	bin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched++
		mu.Unlock()
		http.ServeFile(w, r, os.Args[0])
	}))
	t.Cleanup(bin.Close)
	cfg := testFrameworkConfig(t, m.URL(), &idStore{})
	cfg.ExecutorURI = bin.URL + "/executor/horae"
	cfg.ExecutorCommand = "HORAE_FW_TEST_EXECUTOR=1 exec ./horae executor"
	h := startFramework(t, cfg)
	h.subscribed()
	if err := h.f.SetOfferInterest(context.Background(), scheduler.OffersWanted); err != nil {
		t.Fatal(err)
	}
	o := h.offer()
	task := taskLaunch("t-fetched", shellJob("fetched", "test -x ./horae"))
	if err := h.f.Launch(context.Background(), []scheduler.Launch{{OfferID: o.ID, AgentID: o.AgentID, Tasks: []scheduler.TaskLaunch{task}}}); err != nil {
		t.Fatal(err)
	}
	u := h.update("t-fetched", scheduler.TaskFinished)
	if u.Result == nil || u.Result.Directory == "" {
		t.Errorf("result %+v", u.Result)
	}
	mu.Lock()
	defer mu.Unlock()
	if fetched != 1 {
		t.Errorf("executor fetched %d times, want 1", fetched)
	}
}
