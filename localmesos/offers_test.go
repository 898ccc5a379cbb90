package localmesos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// quiet reports whether no OFFERS event arrives during n heartbeats: the
// stream's own heartbeats bound the wait, not a sleep.
func (c *schedClient) quiet(n int) bool {
	c.t.Helper()
	for i := 0; i < n; {
		ev := c.next("HEARTBEAT", "OFFERS")
		if ev.typ == "OFFERS" {
			return false
		}
		i++
	}
	return true
}

func offerResources(t *testing.T, ev event) string {
	t.Helper()
	var out []string
	for _, o := range ev.get("offers.offers").([]any) {
		for _, r := range o.(map[string]any)["resources"].([]any) {
			rm := r.(map[string]any)
			if s, ok := rm["scalar"].(map[string]any); ok {
				out = append(out, fmt.Sprintf("%s:%v", rm["name"], s["value"]))
			}
		}
	}
	return strings.Join(out, ",")
}

// TestOffersDeclineSuppressRevive replays §1 and §6: a declined whole-agent
// offer stops offers for refuse_seconds; SUPPRESS stops them for good until
// REVIVE, which offers the whole agent at once; freed resources come back
// as a separate offer while a bigger one is outstanding.
func TestOffersDeclineSuppressRevive(t *testing.T) {
	cfg := testConfig(t)
	cfg.HeartbeatInterval = 50 * time.Millisecond
	cfg.CPUs, cfg.MemMB, cfg.DiskMB, cfg.Ports = 1, 256, 100, []PortRange{}
	m := startMesos(t, cfg)
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	o0, _ := c.offer()
	c.mustCall(`{"framework_id":{"value":%q},"type":"DECLINE","decline":{"offer_ids":[{"value":%q}],"filters":{"refuse_seconds":3600}}}`, c.fwID, o0)
	if !c.quiet(10) {
		t.Fatal("offer during the refuse filter of a declined whole-agent offer")
	}
	c.mustCall(`{"framework_id":{"value":%q},"type":"REVIVE","revive":{}}`, c.fwID)
	o1, ev := c.offer()
	if got := offerResources(t, ev); got != "cpus:1,mem:256,disk:100" {
		t.Errorf("offer after REVIVE: %s", got)
	}
	// SUPPRESS, then decline without a filter: nothing until REVIVE.
	c.mustCall(`{"framework_id":{"value":%q},"type":"SUPPRESS","suppress":{}}`, c.fwID)
	c.mustCall(`{"framework_id":{"value":%q},"type":"DECLINE","decline":{"offer_ids":[{"value":%q}],"filters":{"refuse_seconds":0}}}`, c.fwID, o1)
	if !c.quiet(10) {
		t.Fatal("offer while suppressed")
	}
	c.mustCall(`{"framework_id":{"value":%q},"type":"REVIVE"}`, c.fwID)
	o2, _ := c.offer()

	// Launch on part of it; the rest comes back after the 1 s filter; then
	// the task's resources come back as a separate offer of their own.
	c.launch(o2, taskInfo(t, m, "t1", "ex1", "json", "run"))
	_, rest := c.offer()
	if got := offerResources(t, rest); got != "cpus:0.8,mem:192,disk:100" {
		t.Errorf("rest offer: %s", got)
	}
	c.ack(c.updateWith("t1", "update.status.state", "TASK_RUNNING"))
	c.mustCall(`{"framework_id":{"value":%q},"type":"KILL","kill":{"task_id":{"value":"t1"}}}`, c.fwID)
	killed := c.updateWith("t1", "update.status.state", "TASK_KILLED")
	if _, ev := c.offer(); offerResources(t, ev) != "cpus:0.1,mem:32" {
		t.Errorf("resources of the killed task offered as %s", offerResources(t, ev))
	}
	c.ack(killed) // the executor exits once its last update is taken
	if _, ev := c.offer(); offerResources(t, ev) != "cpus:0.1,mem:32" {
		t.Errorf("resources of the exited executor offered as %s", offerResources(t, ev))
	}
}

// TestMasterStateAndTeardown: /master/state lists frameworks and tasks;
// POST /master/teardown removes a framework (200), then 400.
func TestMasterStateAndTeardown(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t1", "ex1", "json", "run"))
	c.update("t1")
	resp, body := get(t, m.URL()+"/master/state")
	if resp.StatusCode != 200 {
		t.Fatalf("state: %d", resp.StatusCode)
	}
	var st struct {
		ID         string `json:"id"`
		Frameworks []struct {
			ID    string `json:"id"`
			Tasks []struct {
				ID, State string
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.ID != m.MasterID() || len(st.Frameworks) != 1 || st.Frameworks[0].ID != c.fwID ||
		len(st.Frameworks[0].Tasks) != 1 || st.Frameworks[0].Tasks[0].State != "TASK_RUNNING" {
		t.Errorf("state: %s", body)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if resp, body := post(t, m.URL()+"/master/teardown", form, "frameworkId="+c.fwID); resp.StatusCode != 200 || body != "" {
		t.Errorf("teardown: %d %q", resp.StatusCode, body)
	}
	c.closed()
	if resp, body := post(t, m.URL()+"/master/teardown", form, "frameworkId="+c.fwID); resp.StatusCode != 400 || body != "No framework found with specified ID" {
		t.Errorf("second teardown: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, m.URL()+"/health"); resp.StatusCode != http.StatusOK {
		t.Errorf("health: %d", resp.StatusCode)
	}
}
