package localmesos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// execStream is the test acting as an executor over JSON.
type execStream struct {
	t      testing.TB
	resp   *http.Response
	events chan event
}

func openExecStream(t testing.TB, m *Mesos, body string) *execStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/executor", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("executor SUBSCRIBE: %s %s", resp.Status, b)
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &execStream{t: t, resp: resp, events: make(chan event, 1000)}
	go func() {
		defer close(s.events)
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			n, _ := strconv.Atoi(strings.TrimSpace(line))
			rec := make([]byte, n)
			if _, err := io.ReadFull(r, rec); err != nil {
				return
			}
			var mp map[string]any
			_ = json.Unmarshal(rec, &mp)
			typ, _ := mp["type"].(string)
			s.events <- event{raw: rec, m: mp, typ: typ}
		}
	}()
	return s
}

func (s *execStream) next() event {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("executor stream closed")
		}
		return ev
	case <-time.After(waitFor):
		s.t.Fatal("no executor event")
	}
	return event{}
}

func (s *execStream) closed() {
	s.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			s.t.Fatal("executor stream not closed")
		}
	}
}

// TestExecutorAPI plays the executor itself against the agent (§4 and
// §10.6): calls before SUBSCRIBE, the SUBSCRIBED and LAUNCH events, UPDATE
// with ACKNOWLEDGED, MESSAGE both ways, KILL, an agent restart with
// re-subscription and unacknowledged updates, and SHUTDOWN on TEARDOWN.
func TestExecutorAPI(t *testing.T) {
	cfg := testConfig(t)
	cfg.CPUs, cfg.MemMB, cfg.DiskMB = 2, 23081, 252899
	m := startMesos(t, cfg)
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"wire-test","roles":["*"],
"capabilities":[{"type":"MULTI_ROLE"}],"failover_timeout":0}}}`)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t-py1", "pyex", "nosub", "task-data"))
	ids := fmt.Sprintf(`"framework_id":{"value":%q},"executor_id":{"value":"pyex"}`, c.fwID)
	execURL := m.URL() + "/api/v1/executor"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	update := func(state, uuid string) string {
		return fmt.Sprintf(`{"type":"UPDATE",%s,"update":{"status":{"task_id":{"value":"t-py1"},"state":%q,"source":"SOURCE_EXECUTOR",
"executor_id":{"value":"pyex"},"uuid":%q,"timestamp":1795815424.5,"message":"custom running","data":"aGVsbG8tZGF0YQ=="}}}`, ids, state, uuid)
	}
	eventually(t, "executor launched", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		ex := m.executors[exKey{c.fwID, "pyex"}]
		return ex != nil && ex.pid != 0
	})
	for _, tc := range []struct {
		name, ct, body string
		code           int
		want           string
	}{
		{"UPDATE before SUBSCRIBE", "application/json", update("TASK_RUNNING", "Xwj3hPFNQ5GULem7YX1EVg=="), 403, "Executor is not subscribed"},
		{"MESSAGE from an unknown executor", "application/json", fmt.Sprintf(`{"type":"MESSAGE","framework_id":{"value":%q},"executor_id":{"value":"wrong-ex"},"message":{"data":"eA=="}}`, c.fwID), 400, "Executor cannot be found"},
		{"malformed", "application/json", `{"type":`, 400, "Failed to parse body into JSON: syntax error at line 1 near: "},
		{"SUBSCRIBE as text/plain", "text/plain", fmt.Sprintf(`{"type":"SUBSCRIBE",%s,"subscribe":{}}`, ids), 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
	} {
		resp, body := post(t, execURL, map[string]string{"Content-Type": tc.ct}, tc.body)
		if resp.StatusCode != tc.code || body != tc.want {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.code, tc.want)
		}
	}

	s := openExecStream(t, m, fmt.Sprintf(`{"type":"SUBSCRIBE",%s,"subscribe":{"unacknowledged_tasks":[],"unacknowledged_updates":[]}}`, ids))
	if s.resp.Header.Get("Mesos-Stream-Id") != "" || s.resp.Header.Get("Content-Type") != "application/json" ||
		len(s.resp.TransferEncoding) != 1 || s.resp.TransferEncoding[0] != "chunked" {
		t.Errorf("executor stream headers: %v %v", s.resp.Header, s.resp.TransferEncoding)
	}
	sub := s.next()
	if sub.typ != "SUBSCRIBED" {
		t.Fatalf("first executor event: %s", sub.raw)
	}
	wantKeys(t, sub, []string{"executor_info", "framework_info", "agent_info", "container_id"}, "subscribed")
	raw := string(sub.raw)
	for _, want := range []string{
		`"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},"allocation_info":{"role":"*"}},{"name":"mem","type":"SCALAR","scalar":{"value":32.0},"allocation_info":{"role":"*"}}],"name":"test executor"`,
		`"framework_info":{"user":"root","name":"wire-test","id":{"value":"` + c.fwID + `"},"failover_timeout":0.0,"checkpoint":false,"roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}]}`,
		fmt.Sprintf(`"agent_info":{"hostname":"127.0.0.1","port":%d,"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":2.0}},{"name":"mem","type":"SCALAR","scalar":{"value":23081.0}},{"name":"disk","type":"SCALAR","scalar":{"value":252899.0}},{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}}],"id":{"value":"%s"}}`, m.port, m.AgentID()),
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("SUBSCRIBED lacks\n%s\nin\n%s", want, raw)
		}
	}
	launch := s.next()
	if launch.typ != "LAUNCH" || launch.str("launch.task.task_id.value") != "t-py1" || launch.str("launch.task.data") != b64("task-data") ||
		strings.Contains(string(launch.raw), `"role":"*","allocation_info"`) {
		t.Errorf("LAUNCH: %s", launch.raw)
	}

	// UPDATE: 202, ACKNOWLEDGED at once, the scheduler gets it stamped.
	resp, body := post(t, execURL, jsonCT, update("TASK_RUNNING", "Xwj3hPFNQ5GULem7YX1EVg=="))
	if resp.StatusCode != 202 || body != "" {
		t.Fatalf("UPDATE: %d %q", resp.StatusCode, body)
	}
	if ev := s.next(); string(ev.raw) != `{"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":"t-py1"},"uuid":"Xwj3hPFNQ5GULem7YX1EVg=="}}` {
		t.Errorf("ACKNOWLEDGED: %s", ev.raw)
	}
	running := c.update("t-py1")
	if running.str("update.status.message") != "custom running" || running.str("update.status.data") != "aGVsbG8tZGF0YQ==" ||
		running.str("update.status.timestamp") != "1.7958154245e+09" || running.str("update.status.agent_id.value") != m.AgentID() ||
		running.get("update.status.container_status") == nil {
		t.Errorf("forwarded update: %s", running.raw)
	}

	// MESSAGE both ways.
	c.mustCall(`{"framework_id":{"value":%q},"type":"MESSAGE","message":{"agent_id":{"value":%q},"executor_id":{"value":"pyex"},"data":"ZnJvbS1zY2hlZA=="}}`, c.fwID, m.AgentID())
	if ev := s.next(); string(ev.raw) != `{"type":"MESSAGE","message":{"data":"ZnJvbS1zY2hlZA=="}}` {
		t.Errorf("executor MESSAGE: %s", ev.raw)
	}
	if resp, _ := post(t, execURL, jsonCT, fmt.Sprintf(`{"type":"MESSAGE",%s,"message":{"data":"ZnJvbS1leGVj"}}`, ids)); resp.StatusCode != 202 {
		t.Errorf("executor MESSAGE call: %d", resp.StatusCode)
	}
	if ev := c.next("MESSAGE"); string(ev.raw) != fmt.Sprintf(`{"type":"MESSAGE","message":{"agent_id":{"value":%q},"executor_id":{"value":"pyex"},"data":"ZnJvbS1leGVj"}}`, m.AgentID()) {
		t.Errorf("scheduler MESSAGE: %s", ev.raw)
	}

	// KILL is forwarded without a kill policy.
	c.mustCall(`{"framework_id":{"value":%q},"type":"KILL","kill":{"task_id":{"value":"t-py1"}}}`, c.fwID)
	if ev := s.next(); string(ev.raw) != `{"type":"KILL","kill":{"task_id":{"value":"t-py1"}}}` {
		t.Errorf("KILL: %s", ev.raw)
	}

	// Agent restart: the stream closes, calls are refused until the
	// executor re-subscribes, the unacknowledged update is sent again and
	// the executor's unacknowledged updates are taken.
	m.Faults().RestartAgent()
	s.closed()
	if resp, body := post(t, execURL, jsonCT, update("TASK_KILLED", "Mb4GxyJJSgOFnoAd+c2cZw==")); resp.StatusCode != 403 {
		t.Errorf("UPDATE while recovering: %d %s", resp.StatusCode, body)
	}
	c.updateWith("t-py1", "update.status.uuid", "Xwj3hPFNQ5GULem7YX1EVg==")
	c.mustCall(`{"framework_id":{"value":%q},"type":"KILL","kill":{"task_id":{"value":"t-py1"}}}`, c.fwID)
	killed := strings.TrimSuffix(strings.TrimPrefix(update("TASK_KILLED", "Mb4GxyJJSgOFnoAd+c2cZw=="), `{"type":"UPDATE",`+ids+`,"update":`), "}")
	s = openExecStream(t, m, fmt.Sprintf(`{"type":"SUBSCRIBE",%s,"subscribe":{"unacknowledged_updates":[%s]}}`, ids, killed))
	if ev := s.next(); ev.typ != "SUBSCRIBED" {
		t.Errorf("re-subscribe: %s", ev.raw)
	}
	if ev := s.next(); ev.typ != "KILL" {
		t.Errorf("KILL sent while the executor was away, after re-subscribe: %s", ev.raw)
	}
	if ev := s.next(); ev.typ != "ACKNOWLEDGED" || ev.str("acknowledged.uuid") != "Mb4GxyJJSgOFnoAd+c2cZw==" {
		t.Errorf("after re-subscribe: %s", ev.raw)
	}
	c.ack(running)
	if ev := c.updateWith("t-py1", "update.status.state", "TASK_KILLED"); ev.str("update.status.uuid") != "Mb4GxyJJSgOFnoAd+c2cZw==" {
		t.Errorf("update handed over on re-subscribe: %s", ev.raw)
	}

	// TEARDOWN sends SHUTDOWN to the executor.
	c.mustCall(`{"framework_id":{"value":%q},"type":"TEARDOWN"}`, c.fwID)
	if ev := s.next(); string(ev.raw) != `{"type":"SHUTDOWN"}` {
		t.Errorf("on TEARDOWN: %s", ev.raw)
	}
}
