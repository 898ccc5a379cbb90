package localmesos

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaultDropStream: the stream ends without an event; the framework
// keeps its tasks and re-subscribes with its ID.
func TestFaultDropStream(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"d","failover_timeout":3600}}}`)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t1", "ex1", "json", "run"))
	running := c.update("t1")
	m.Faults().DropStream()
	for _, ev := range c.closed() {
		if ev.typ == "ERROR" {
			t.Errorf("dropped stream sent %s", ev.raw)
		}
	}
	c2 := subscribe(t, m, fmt.Sprintf(`{"type":"SUBSCRIBE","framework_id":{"value":%q},"subscribe":{"framework_info":{"user":"root","name":"d","failover_timeout":3600,"id":{"value":%q}}}}`, c.fwID, c.fwID))
	// The unacknowledged update is sent again on the new stream.
	again := c2.updateWith("t1", "update.status.uuid", running.str("update.status.uuid"))
	c2.ack(again)
}

// TestFaultSilence: while silent the connection stays open but carries no
// heartbeats and no events; afterwards heartbeats resume.
func TestFaultSilence(t *testing.T) {
	cfg := testConfig(t)
	cfg.HeartbeatInterval = 50 * time.Millisecond
	m := startMesos(t, cfg)
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	c.offer()
	c.next("HEARTBEAT")
	m.Faults().Silence(true)
	// An event produced while silent is lost.
	c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"during"}}]}}`, c.fwID)
	// Watch 20 heartbeat intervals: at most the one or two records already
	// on their way when the switch flipped may arrive, not a heartbeat each
	// interval.
	window := time.After(20 * cfg.HeartbeatInterval)
	var late []string
	for done := false; !done; {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("silent stream closed")
			}
			late = append(late, string(ev.raw))
		case <-window:
			done = true
		}
	}
	if len(late) > 2 {
		t.Errorf("%d events while silent: %v", len(late), late)
	}
	m.Faults().Silence(false)
	c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"after"}}]}}`, c.fwID)
	ev := c.next("UPDATE")
	if ev.str("update.status.task_id.value") != "after" {
		t.Errorf("first update after silence: %s (the one produced while silent must be lost)", ev.raw)
	}
	c.next("HEARTBEAT")
}

// TestFaultNotLeaderAndUnavailable: 307 with a scheme-relative Location
// for every call, before any validation; 503 while unavailable.
func TestFaultNotLeaderAndUnavailable(t *testing.T) {
	m := startMesos(t, testConfig(t))
	m.Faults().NotLeader("127.0.0.1:5052")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ method, path, body, location string }{
		{"POST", "/api/v1/scheduler", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`, "//127.0.0.1:5052/master/api/v1/scheduler"},
		{"POST", "/api/v1/scheduler", `{"type":"REVIVE","framework_id":{"value":"x"}}`, "//127.0.0.1:5052/master/api/v1/scheduler"},
		{"POST", "/master/api/v1/scheduler", `{"framework_id":`, "//127.0.0.1:5052/master/api/v1/scheduler"},
		{"GET", "/master/state", "", "//127.0.0.1:5052/master/state"},
		{"POST", "/api/v1", `{"type":"GET_MASTER"}`, "//127.0.0.1:5052/master/api/v1"},
		{"POST", "/master/teardown", "frameworkId=x", "//127.0.0.1:5052/master/teardown"},
		{"GET", "/redirect", "", "//127.0.0.1:5052"},
		{"GET", "/master/redirect", "", "//127.0.0.1:5052"},
	} {
		req, _ := http.NewRequest(tc.method, m.URL()+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 307 || resp.Header.Get("Location") != tc.location || resp.Header.Get("Content-Length") != "0" {
			t.Errorf("%s %s: %d Location=%q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	m.Faults().NotLeader("")
	m.Faults().Unavailable(true)
	resp, _ := post(t, m.URL()+"/api/v1/scheduler", map[string]string{"Content-Type": "application/json"}, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`)
	if resp.StatusCode != 503 {
		t.Errorf("unavailable: %d", resp.StatusCode)
	}
	m.Faults().Unavailable(false)
	subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`)
}

// TestFaultLoseAgent: tasks become TASK_LOST, outstanding offers are
// rescinded, FAILURE names the agent, and the agent returns with a new ID.
func TestFaultLoseAgent(t *testing.T) {
	for _, tc := range []struct{ name, caps, state string }{
		{"plain", `[{"type":"MULTI_ROLE"}]`, "TASK_LOST"},
		{"partition aware", `[{"type":"MULTI_ROLE"},{"type":"PARTITION_AWARE"}]`, "TASK_UNREACHABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMesos(t, testConfig(t))
			c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"la","roles":["*"],"capabilities":`+tc.caps+`}}}`)
			offerID, _ := c.offer()
			lost := m.AgentID()
			c.launch(offerID, taskInfo(t, m, "t1", "ex1", "json", "run"))
			c.ack(c.update("t1"))
			rest, _ := c.offer() // after the 1 s refuse filter
			m.Faults().LoseAgent()
			ev := c.updateWith("t1", "update.status.state", tc.state)
			if ev.str("update.status.source") != "SOURCE_MASTER" || ev.str("update.status.reason") != "REASON_AGENT_REMOVED" || ev.get("update.status.uuid") != nil {
				t.Errorf("lost task: %s", ev.raw)
			}
			if r := c.next("RESCIND"); r.str("rescind.offer_id.value") != rest {
				t.Errorf("RESCIND: %s, want offer %s", r.raw, rest)
			}
			if f := c.next("FAILURE"); f.str("failure.agent_id.value") != lost || f.get("failure.executor_id") != nil {
				t.Errorf("FAILURE: %s", f.raw)
			}
			_, o := c.offer()
			if !strings.Contains(string(o.raw), `"agent_id":{"value":"`+m.AgentID()+`"}`) || m.AgentID() == lost {
				t.Errorf("offer after agent loss: %s", o.raw)
			}
			eventually(t, "executor of the lost agent killed", func() bool {
				m.mu.Lock()
				defer m.mu.Unlock()
				for _, runs := range m.runs {
					for _, ex := range runs {
						ex.procMu.Lock()
						alive := ex.proc != nil && !ex.exited
						ex.procMu.Unlock()
						if alive {
							return false
						}
					}
				}
				return true
			})
		})
	}
}

// TestFaultDuplicateAndDelayUpdates: every update comes twice; updates
// come no earlier than the delay.
func TestFaultDuplicateAndDelayUpdates(t *testing.T) {
	cfg := testConfig(t)
	cfg.UpdateResendInterval = time.Hour // only the fault repeats updates
	m := startMesos(t, cfg)
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	m.Faults().DuplicateUpdates(true)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t1", "ex1", "json", "finish"))
	first := c.update("t1")
	second := c.update("t1")
	if string(first.raw) != string(second.raw) {
		t.Errorf("duplicate differs:\n%s\n%s", first.raw, second.raw)
	}
	m.Faults().DuplicateUpdates(false)

	const delay = 300 * time.Millisecond
	m.Faults().DelayUpdates(delay)
	start := time.Now()
	c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"late"}}]}}`, c.fwID)
	c.update("late")
	if waited := time.Since(start); waited < delay {
		t.Errorf("delayed update came after %v, before the %v delay", waited, delay)
	}
	m.Faults().DelayUpdates(0)
}
