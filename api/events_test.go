package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/events"
	"github.com/horae-scheduler/horae/scheduler"
)

// hubCommander is the tests' leader loop with an event stream: the real
// engine (engineCommander), and every committed Persist handed to the real
// events hub after the catalog, as leader.Fanout{catalog, hub} does.
type hubCommander struct {
	mu    sync.Mutex
	inner *engineCommander
	hub   *events.Hub
}

func (c *hubCommander) Do(ctx context.Context, ev scheduler.Event) (scheduler.Output, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.inner.Do(ctx, ev)
	if err == nil {
		c.hub.Apply(out.Persist)
	}
	return out, err
}

// do steps the engine outside HTTP (Mesos side of the loop).
func (c *hubCommander) do(t testing.TB, ev scheduler.Event) scheduler.Output {
	t.Helper()
	out, err := c.Do(context.Background(), ev)
	if err != nil {
		t.Fatalf("step %T: %v", ev, err)
	}
	return out
}

type hubServer struct {
	*server
	hub *events.Hub
	cmd *hubCommander
}

func newHubServer(t testing.TB, cfg Config, opts events.Options) *hubServer {
	t.Helper()
	hub := events.NewHub(opts)
	var cmd *hubCommander
	s := newServer(t, cfg, func(d *Deps) {
		cmd = &hubCommander{inner: d.Commander.(*engineCommander), hub: hub}
		d.Commander = cmd
		d.Events = hub
	})
	// Mesos is connected and reconciled, so runs launch on offers.
	cmd.do(t, scheduler.Subscribed{})
	cmd.do(t, scheduler.Reconciled{})
	return &hubServer{server: s, hub: hub, cmd: cmd}
}

// runThrough launches the pending runs on one big offer and reports each
// task running, then finished; it returns the task IDs.
func (s *hubServer) runThrough(t testing.TB, offer string) []string {
	t.Helper()
	out := s.cmd.do(t, scheduler.OffersArrived{Offers: []scheduler.Offer{{ID: offer, AgentID: "ag", Hostname: "h", CPUs: 16, Mem: 65536, Disk: 1 << 20}}})
	var ids []string
	for _, l := range out.Launch {
		for _, tl := range l.Tasks {
			ids = append(ids, tl.TaskID)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("offer %s launched nothing: %+v", offer, out)
	}
	for _, st := range []scheduler.TaskState{scheduler.TaskRunning, scheduler.TaskFinished} {
		for _, id := range ids {
			code := 0
			up := scheduler.TaskUpdated{TaskID: id, AgentID: "ag", State: st}
			if st.Terminal() {
				up.Result = &scheduler.TaskResult{ExitCode: &code, Reason: "exit"}
			}
			s.cmd.do(t, up)
		}
	}
	return ids
}

// sse is a client reading the real stream over HTTP.
type sse struct {
	res    *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

type sseEvent struct {
	id, typ string
	data    StreamEvent
	raw     string
}

// openSSE opens GET path and parses frames in a goroutine until the
// stream ends; hdr are header name/value pairs.
func openSSE(t testing.TB, base, path string, hdr ...string) *sse {
	t.Helper()
	s := openStalled(t, base, path, hdr...)
	s.read()
	return s
}

// openStalled opens the stream without reading it: a stalled client.
func openStalled(t testing.TB, base, path string, hdr ...string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		res.Body.Close()
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sse{res: res, events: make(chan sseEvent, 1024), cancel: cancel}
	t.Cleanup(s.close)
	return s
}

// read parses frames in a goroutine until the stream ends.
func (s *sse) read() {
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(s.res.Body)
		sc.Buffer(nil, 8<<20)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.typ != "" || cur.raw != "" {
					s.events <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, ":"):
				if strings.HasPrefix(line, ": heartbeat") {
					s.events <- sseEvent{typ: "heartbeat"}
				}
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.raw = strings.TrimPrefix(line, "data: ")
				_ = json.Unmarshal([]byte(cur.raw), &cur.data)
			default:
				cur.typ = "malformed line " + line
			}
		}
	}()
}

func (s *sse) close() {
	s.cancel()
	s.res.Body.Close()
}

// next returns the next event that is not a heartbeat, failing after 10 s.
func (s *sse) next(t testing.TB) sseEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.typ == "heartbeat" {
				continue
			}
			return ev
		case <-deadline:
			t.Fatal("no event within 10 s")
		}
	}
}

func (e sseEvent) String() string {
	s := e.typ + " " + e.data.Job
	if e.data.Run != nil {
		s += " " + e.data.Run.State
	}
	if e.data.Leading != nil {
		s += fmt.Sprintf(" epoch=%d leading=%v", e.data.Epoch, *e.data.Leading)
	}
	return s
}

// expect reads len(want) events and compares their summaries.
func (s *sse) expect(t testing.TB, want ...string) []sseEvent {
	t.Helper()
	var got []sseEvent
	for range want {
		got = append(got, s.next(t))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("event %d = %q, want %q (all: %v)", i, got[i], want[i], got)
		}
	}
	return got
}

const hookJob = `{"name":"%s","command":"echo hi",` + `"schedule":"R/2030-01-01T00:00:00Z/PT1H"` + `,"webhook":{"enabled":%v,"secret":"%s"}}`

func TestEventStreamRunStates(t *testing.T) {
	s := newHubServer(t, Config{}, events.Options{})
	all := openSSE(t, s.URL, "/api/v1/events")
	onlyB := openSSE(t, s.URL, "/api/v1/events?job=b")
	s.must(t, 201, "POST", "/api/v1/jobs", fmt.Sprintf(hookJob, "a", false, ""))
	s.must(t, 201, "POST", "/api/v1/jobs", fmt.Sprintf(hookJob, "b", false, ""))
	s.must(t, 202, "POST", "/api/v1/jobs/a/runs", `{}`)
	s.runThrough(t, "o1")
	s.must(t, 200, "POST", "/api/v1/jobs/a/disable", "")
	s.must(t, 204, "DELETE", "/api/v1/jobs/a", "")
	got := all.expect(t, "job.created a", "job.created b", "run.state a pending", "run.state a launching",
		"run.state a running", "run.state a succeeded", "job.updated a", "job.deleted a")
	for i := 1; i < len(got); i++ {
		var prev, cur uint64
		fmt.Sscan(got[i-1].id, &prev)
		fmt.Sscan(got[i].id, &cur)
		if cur <= prev || got[i].data.ID != cur {
			t.Fatalf("event %d: id %q (data %d) after %q", i, got[i].id, got[i].data.ID, got[i-1].id)
		}
	}
	if r := got[5].data.Run; r.Trigger != "manual" || r.ExitCode == nil || *r.ExitCode != 0 || len(r.Tasks) != 1 {
		t.Fatalf("succeeded run %+v", r)
	}
	if sp := got[6].data.Spec; sp == nil || !sp.Disabled || sp.Name != "a" {
		t.Fatalf("job.updated spec %+v, want a disabled", sp)
	}
	// The filtered stream saw only b's creation, then a live event of b.
	s.must(t, 202, "POST", "/api/v1/jobs/b/runs", `{}`)
	onlyB.expect(t, "job.created b", "run.state b pending")
}

func TestEventStreamResume(t *testing.T) {
	s := newHubServer(t, Config{}, events.Options{Ring: 4})
	first := openSSE(t, s.URL, "/api/v1/events")
	for _, n := range []string{"a", "b"} {
		s.must(t, 201, "POST", "/api/v1/jobs", fmt.Sprintf(hookJob, n, false, ""))
	}
	seen := first.expect(t, "job.created a", "job.created b")
	first.close()
	// Missed while disconnected: c and d.
	for _, n := range []string{"c", "d"} {
		s.must(t, 201, "POST", "/api/v1/jobs", fmt.Sprintf(hookJob, n, false, ""))
	}
	again := openSSE(t, s.URL, "/api/v1/events", "Last-Event-ID", seen[1].id)
	again.expect(t, "job.created c", "job.created d")
	s.must(t, 201, "POST", "/api/v1/jobs", fmt.Sprintf(hookJob, "e", false, ""))
	again.expect(t, "job.created e")

	// The query parameter works too, filtered.
	q := openSSE(t, s.URL, "/api/v1/events?job=d&lastEventId="+seen[1].id)
	q.expect(t, "job.created d")

	// Beyond the ring (4 events: b..e kept): a reset, then live events.
	var aID uint64
	fmt.Sscan(seen[0].id, &aID)
	old := openSSE(t, s.URL, "/api/v1/events", "Last-Event-ID", fmt.Sprint(aID-1))
	old.expect(t, "reset ")
	s.must(t, 201, "POST", "/api/v1/jobs", fmt.Sprintf(hookJob, "f", false, ""))
	old.expect(t, "job.created f")

	r := s.call(t, "GET", "/api/v1/events", "", "", "Last-Event-ID", "x1")
	if r.code != 400 || !strings.Contains(r.body, "Last-Event-ID") {
		t.Fatalf("bad Last-Event-ID: %d %s", r.code, r.body)
	}
	if r := s.call(t, "GET", "/api/v1/events?job=a%20b", "", ""); r.code != 400 {
		t.Fatalf("bad job filter: %d %s", r.code, r.body)
	}
}

// smallBuffers is a listener whose connections have small socket send
// buffers, so a client that stops reading blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestEventStreamSlowConsumer: a client that stops reading does not hold up
// commands (Apply never blocks, the handler blocks alone); once it is a
// whole buffer behind it is cut off with an overflow event, and it resumes
// without loss from the last ID it got.
func TestEventStreamSlowConsumer(t *testing.T) {
	s := newHubServer(t, Config{}, events.Options{Buffer: 4, Ring: 256})
	small := httptest.NewUnstartedServer(s.api.Handler())
	small.Listener = smallBuffers{small.Listener}
	small.Start()
	t.Cleanup(small.Close)
	s.must(t, 201, "POST", "/api/v1/jobs", fmt.Sprintf(hookJob, "a", false, ""))
	slow := openStalled(t, small.URL, "/api/v1/events")
	fast := openSSE(t, s.URL, "/api/v1/events")
	// 48 runs with 16 KiB of env each: 768 KiB of events, far more than the
	// small socket buffers hold, so the stalled stream's handler blocks in
	// Write while commands go on.
	big, _ := json.Marshal(map[string]any{"env": map[string]string{"BIG": strings.Repeat("x", 16<<10)}})
	const n = 48
	for i := range n {
		s.must(t, 202, "POST", "/api/v1/jobs/a/runs", string(big))
		// The reading client keeps up (its buffer is small too).
		if ev := fast.next(t); ev.String() != "run.state a pending" {
			t.Fatalf("fast reader: event %d = %q", i, ev)
		}
	}
	// Now the stalled client reads: some events, an overflow, the end.
	slow.read()
	var got []sseEvent
	deadline := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case ev, ok := <-slow.events:
			if !ok {
				done = true
			} else if ev.typ != "heartbeat" {
				got = append(got, ev)
			}
		case <-deadline:
			t.Fatalf("stalled stream not ended 20 s after reading resumed; got %d events", len(got))
		}
	}
	if len(got) < 2 || len(got) > n || got[len(got)-1].typ != "overflow" || got[len(got)-1].id != "" {
		t.Fatalf("stalled client got %d events (%v); want some, then an overflow", len(got), got)
	}
	if s.hub.Subscribers() != 1 {
		t.Fatalf("%d subscribers, want the fast one only", s.hub.Subscribers())
	}
	// Resuming from the last event it got loses nothing.
	again := openSSE(t, s.URL, "/api/v1/events", "Last-Event-ID", got[len(got)-2].id)
	for i := len(got) - 1; i < n; i++ {
		if ev := again.next(t); ev.String() != "run.state a pending" {
			t.Fatalf("resumed: event %d = %q", i, ev)
		}
	}
	var last uint64
	fmt.Sscan(got[len(got)-2].id, &last)
	if want := s.hub.LastID() - last; uint64(n-len(got)+1) != want {
		t.Fatalf("resumed %d events, hub has %d after %d", n-len(got)+1, want, last)
	}
}

func TestEventStreamLeadership(t *testing.T) {
	s := newHubServer(t, Config{}, events.Options{Heartbeat: 20 * time.Millisecond})
	c := openSSE(t, s.URL, "/api/v1/events?job=zz")
	s.hub.Leadership(4, true)
	c.expect(t, "leadership  epoch=4 leading=true")
	// Heartbeats arrive while nothing happens.
	deadline := time.After(10 * time.Second)
	for beat := false; !beat; {
		select {
		case ev := <-c.events:
			if ev.typ != "heartbeat" {
				t.Fatalf("unexpected %v", ev)
			}
			beat = true
		case <-deadline:
			t.Fatal("no heartbeat within 10 s")
		}
	}
	// Losing leadership is the stream's last event: the client reconnects
	// and reaches the new leader.
	s.hub.Leadership(4, false)
	s.hub.Leadership(5, true)
	c.expect(t, "leadership  epoch=4 leading=false")
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return
			}
			if ev.typ != "heartbeat" {
				t.Fatalf("after losing leadership: %v", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("stream open 10 s after leadership was lost")
		}
	}
}

func TestEventStreamWithoutHub(t *testing.T) {
	s := newServer(t, Config{}, nil)
	r := s.call(t, "GET", "/api/v1/events", "", "")
	if r.code != 404 || !strings.Contains(r.body, "not enabled") {
		t.Fatalf("without hub: %d %s", r.code, r.body)
	}
}

func TestEventStreamNeedsViewer(t *testing.T) {
	s := newHubServer(t, Config{Users: []User{{User: "v", Token: "vt", Role: "viewer"}}}, events.Options{})
	if r := s.call(t, "GET", "/api/v1/events", "", ""); r.code != 401 {
		t.Fatalf("anonymous: %d %s", r.code, r.body)
	}
	c := openSSE(t, s.URL, "/api/v1/events", "Authorization", "Bearer vt")
	s.hub.Leadership(1, true)
	c.expect(t, "leadership  epoch=1 leading=true")
}

// followerOf is a follower's view of leadership: someone else leads at url.
type followerOf struct{ url string }

func (f followerOf) Leader(context.Context) (string, string, error) { return "leader-1", f.url, nil }
func (followerOf) IsLeader() bool                                   { return false }

// TestFollowerProxiesStreamAndHooks: a follower streams the leader's events
// (its own hub sees nothing) and forwards webhook deliveries.
func TestFollowerProxiesStreamAndHooks(t *testing.T) {
	leader := newHookServer(t, Config{})
	ownHub := events.NewHub(events.Options{})
	follower := newServer(t, Config{}, func(d *Deps) {
		d.Leadership = followerOf{url: leader.URL}
		d.Events = ownHub
	})
	c := openSSE(t, follower.URL, "/api/v1/events?job=h")
	r := follower.call(t, "POST", "/api/v1/hooks/h", `{"A":"b"}`, "", TokenHeader, hookSecret, IdempotencyHeader, "k1")
	if r.code != 202 {
		t.Fatalf("hook through the follower: %d %s", r.code, r.body)
	}
	run := decodeRun(t, r.body)
	if _, ok := leader.cat.Run(scheduler.RunID(run.ID)); !ok {
		t.Fatalf("run %s not on the leader", run.ID)
	}
	if ev := c.next(t); ev.String() != "run.state h pending" || ev.data.Run.ID != run.ID {
		t.Fatalf("event through the follower: %s %s", ev, ev.raw)
	}
	if ownHub.Subscribers() != 0 {
		t.Fatal("the follower subscribed to its own hub")
	}
}
