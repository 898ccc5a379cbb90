package localmesos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain doubles as the test executor: the agent runs this test binary
// with LOCALMESOS_TEST_EXECUTOR set.
func TestMain(m *testing.M) {
	if mode := os.Getenv("LOCALMESOS_TEST_EXECUTOR"); mode != "" {
		os.Exit(runTestExecutor(mode))
	}
	os.Exit(m.Run())
}

const waitFor = 20 * time.Second

func testConfig(t testing.TB) Config {
	return Config{
		WorkDir:                     t.TempDir(),
		CPUs:                        4,
		MemMB:                       4096,
		DiskMB:                      10000,
		HeartbeatInterval:           200 * time.Millisecond,
		UpdateResendInterval:        300 * time.Millisecond,
		ExecutorRegistrationTimeout: 10 * time.Second,
		ExecutorShutdownGracePeriod: 2 * time.Second,
	}
}

func startMesos(t testing.TB, cfg Config) *Mesos {
	t.Helper()
	m, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// event is one record of a scheduler stream, raw and parsed.
type event struct {
	raw []byte
	m   map[string]any
	typ string
}

// get walks a parsed event: get("update.status.state").
func (e event) get(path string) any {
	var cur any = e.m
	for _, p := range strings.Split(path, ".") {
		mp, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mp[p]
	}
	return cur
}

func (e event) str(path string) string {
	v := e.get(path)
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

type schedClient struct {
	t        testing.TB
	url      string
	resp     *http.Response
	streamID string
	fwID     string
	events   chan event
	backlog  []event
	raw      chan []byte // the stream's bytes, as read
}

const multiRoleInfo = `{"user":"root","name":"wire-test","roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}],"failover_timeout":0}`

func post(t testing.TB, url string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// subscribe sends SUBSCRIBE with the JSON codec and reads the stream.
func subscribe(t testing.TB, m *Mesos, body string) *schedClient {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/scheduler", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("SUBSCRIBE: %s %s", resp.Status, b)
	}
	c := &schedClient{t: t, url: m.URL() + "/api/v1/scheduler", resp: resp, streamID: resp.Header.Get("Mesos-Stream-Id"),
		events: make(chan event, 10000), raw: make(chan []byte, 10000)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(c.events)
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			n, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
			if err != nil {
				return
			}
			rec := make([]byte, n)
			if _, err := io.ReadFull(r, rec); err != nil {
				return
			}
			c.raw <- append([]byte(line), rec...)
			var mp map[string]any
			if err := json.Unmarshal(rec, &mp); err != nil {
				return
			}
			typ, _ := mp["type"].(string)
			c.events <- event{raw: rec, m: mp, typ: typ}
		}
	}()
	ev := c.next("SUBSCRIBED")
	c.fwID = ev.str("subscribed.framework_id.value")
	return c
}

// await returns the first event, oldest first, that pred accepts. Events
// it passes over stay queued for later calls (heartbeats excepted).
func (c *schedClient) await(what string, pred func(event) bool) event {
	c.t.Helper()
	for i, ev := range c.backlog {
		if pred(ev) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return ev
		}
	}
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("stream closed while waiting for %s", what)
			}
			if pred(ev) {
				return ev
			}
			if ev.typ != "HEARTBEAT" {
				c.backlog = append(c.backlog, ev)
			}
		case <-deadline:
			c.t.Fatalf("no %s within %v", what, waitFor)
		}
	}
}

// next returns the next event of one of the given types.
func (c *schedClient) next(types ...string) event {
	c.t.Helper()
	return c.await(fmt.Sprint(types), func(ev event) bool {
		for _, typ := range types {
			if ev.typ == typ {
				return true
			}
		}
		return false
	})
}

// update returns the next UPDATE of the given task.
func (c *schedClient) update(taskID string) event {
	c.t.Helper()
	return c.updateWith(taskID, "", "")
}

// updateWith returns the next UPDATE of the task whose field has value.
func (c *schedClient) updateWith(taskID, field, value string) event {
	c.t.Helper()
	return c.await("UPDATE of "+taskID+" with "+field+"="+value, func(ev event) bool {
		return ev.typ == "UPDATE" && ev.str("update.status.task_id.value") == taskID && (field == "" || ev.str(field) == value)
	})
}

// closed waits for the stream to end and returns the events before the end.
func (c *schedClient) closed() []event {
	c.t.Helper()
	evs := c.backlog
	c.backlog = nil
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-deadline:
			c.t.Fatalf("stream not closed within %v", waitFor)
		}
	}
}

func (c *schedClient) call(body string) (int, string) {
	c.t.Helper()
	resp, b := post(c.t, c.url, map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": c.streamID}, body)
	return resp.StatusCode, b
}

// mustCall sends a call that must be answered 202.
func (c *schedClient) mustCall(format string, args ...any) {
	c.t.Helper()
	body := fmt.Sprintf(format, args...)
	code, b := c.call(body)
	if code != http.StatusAccepted {
		c.t.Fatalf("call %s: %d %s", body, code, b)
	}
}

func (c *schedClient) ack(ev event) {
	c.t.Helper()
	c.mustCall(`{"framework_id":{"value":%q},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":%q},"task_id":{"value":%q},"uuid":%q}}`,
		c.fwID, ev.str("update.status.agent_id.value"), ev.str("update.status.task_id.value"), ev.str("update.status.uuid"))
}

// offer waits for an OFFERS event and returns its first offer's id.
func (c *schedClient) offer() (id string, ev event) {
	c.t.Helper()
	ev = c.next("OFFERS")
	offers := ev.get("offers.offers").([]any)
	return offers[0].(map[string]any)["id"].(map[string]any)["value"].(string), ev
}

// testExecutorInfo is an ExecutorInfo running this test binary as a JSON
// HTTP executor in the given mode.
func testExecutorInfo(t testing.TB, id, mode string, cpus, mem float64) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"executor_id":{"value":%q},"name":"test executor","command":{"shell":false,"value":%q,"arguments":["test-executor"],
"environment":{"variables":[{"name":"LOCALMESOS_TEST_EXECUTOR","value":%q}]}},
"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":%v}},{"name":"mem","type":"SCALAR","scalar":{"value":%v}}]}`,
		id, exe, mode, cpus, mem)
}

// taskInfo is a TaskInfo for the test executor; data selects what the
// executor does with it (finish, fail, run, exit).
func taskInfo(t testing.TB, m *Mesos, id, exID, mode, data string) string {
	return fmt.Sprintf(`{"name":%q,"task_id":{"value":%q},"agent_id":{"value":%q},
"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR","scalar":{"value":32}}],
"executor":%s,"data":%q}`, id, id, m.AgentID(), testExecutorInfo(t, exID, mode, 0.1, 32), b64(data))
}

func (c *schedClient) launch(offerID string, tasks ...string) {
	c.t.Helper()
	c.mustCall(`{"framework_id":{"value":%q},"type":"ACCEPT","accept":{"offer_ids":[{"value":%q}],
"operations":[{"type":"LAUNCH","launch":{"task_infos":[%s]}}],"filters":{"refuse_seconds":1}}}`,
		c.fwID, offerID, strings.Join(tasks, ","))
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
