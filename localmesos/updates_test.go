package localmesos

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func wantKeys(t *testing.T, ev event, want []string, path ...string) {
	t.Helper()
	if got := keyOrder(t, ev.raw, path...); !reflect.DeepEqual(got, want) {
		t.Errorf("keys of %s = %v, want %v\n%s", strings.Join(path, "."), got, want, ev.raw)
	}
}

// TestConformanceUpdatesReconcileKill replays §3, §6 and §7 for a plain
// (not PARTITION_AWARE) framework.
func TestConformanceUpdatesReconcileKill(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	agent := m.AgentID()
	// Implicit reconciliation without tasks answers nothing: the next
	// update is the answer to the explicit one sent after it.
	c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[]}}`, c.fwID)
	c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"marker"}}]}}`, c.fwID)
	if ev := c.next("UPDATE"); ev.str("update.status.task_id.value") != "marker" {
		t.Errorf("implicit reconciliation of no tasks answered %s", ev.raw)
	}
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t-run", "ex-run", "json", "run"))

	running := c.update("t-run")
	wantKeys(t, running, []string{"task_id", "state", "message", "source", "data", "agent_id", "executor_id", "timestamp", "uuid", "container_status"}, "update", "status")
	wantKeys(t, running, []string{"container_id", "network_infos", "executor_pid"}, "update", "status", "container_status")
	if !strings.Contains(string(running.raw), `"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"127.0.0.1"}]}]`) {
		t.Errorf("network_infos not as recorded: %s", running.raw)
	}
	c.ack(running)

	// Implicit reconciliation: latest state, no uuid, no executor_id.
	c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[]}}`, c.fwID)
	rec := c.updateWith("t-run", "update.status.reason", "REASON_RECONCILIATION")
	wantKeys(t, rec, []string{"task_id", "state", "message", "source", "reason", "agent_id", "timestamp", "container_status"}, "update", "status")
	if rec.str("update.status.state") != "TASK_RUNNING" || rec.str("update.status.message") != "Reconciliation: Latest task state" ||
		rec.str("update.status.source") != "SOURCE_MASTER" || rec.str("update.status.reason") != "REASON_RECONCILIATION" {
		t.Errorf("implicit reconciliation answer: %s", rec.raw)
	}
	if rec.str("update.status.container_status.container_id.value") != running.str("update.status.container_status.container_id.value") {
		t.Errorf("reconciliation lost the container status: %s", rec.raw)
	}
	// Explicit, without agent_id: the identical answer.
	c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"t-run"}}]}}`, c.fwID)
	if ev := c.updateWith("t-run", "update.status.reason", "REASON_RECONCILIATION"); ev.str("update.status.state") != "TASK_RUNNING" || ev.get("update.status.uuid") != nil {
		t.Errorf("explicit reconciliation answer: %s", ev.raw)
	}

	// KILL reaches the custom executor, whose TASK_KILLED the scheduler sees.
	c.mustCall(`{"framework_id":{"value":%q},"type":"KILL","kill":{"task_id":{"value":"t-run"},"agent_id":{"value":%q}}}`, c.fwID, agent)
	killed := c.updateWith("t-run", "update.status.state", "TASK_KILLED")
	if killed.str("update.status.state") != "TASK_KILLED" || killed.str("update.status.message") != "custom killed" ||
		killed.get("update.status.reason") != nil {
		t.Fatalf("kill answer: %s", killed.raw)
	}
	c.ack(killed)
	if f := c.next("FAILURE"); f.str("failure.status") != "0" {
		t.Errorf("FAILURE after executor exit: %s", f.raw)
	}

	// Explicit reconciliation table of §6 (plain framework).
	for _, tc := range []struct {
		task, agent, state, msg string
		agentInEvent            bool
	}{
		{"t-run", agent, "TASK_LOST", "Reconciliation: Task is unknown to the agent", true},
		{"t-unknown", "", "TASK_LOST", "Reconciliation: Task is unknown", false},
		{"t-unknown2", agent, "TASK_LOST", "Reconciliation: Task is unknown to the agent", true},
		{"t-unknown3", "nope-S7", "TASK_LOST", "Reconciliation: Task is unknown", true},
	} {
		agentJSON := ""
		if tc.agent != "" {
			agentJSON = fmt.Sprintf(`,"agent_id":{"value":%q}`, tc.agent)
		}
		c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":%q}%s}]}}`, c.fwID, tc.task, agentJSON)
		ev := c.updateWith(tc.task, "update.status.reason", "REASON_RECONCILIATION")
		if ev.str("update.status.state") != tc.state || ev.str("update.status.message") != tc.msg ||
			ev.str("update.status.source") != "SOURCE_MASTER" || ev.str("update.status.reason") != "REASON_RECONCILIATION" ||
			ev.get("update.status.uuid") != nil || (ev.get("update.status.agent_id") != nil) != tc.agentInEvent ||
			tc.agentInEvent && ev.str("update.status.agent_id.value") != tc.agent {
			t.Errorf("reconcile %s (agent %q): %s", tc.task, tc.agent, ev.raw)
		}
	}

	// KILL of unknown tasks, §7.
	c.mustCall(`{"framework_id":{"value":%q},"type":"KILL","kill":{"task_id":{"value":"k1"},"agent_id":{"value":%q}}}`, c.fwID, agent)
	if ev := c.update("k1"); ev.str("update.status.state") != "TASK_LOST" || ev.str("update.status.message") != "Reconciliation: Task is unknown to the agent" ||
		ev.str("update.status.agent_id.value") != agent {
		t.Errorf("kill unknown with agent: %s", ev.raw)
	}
	c.mustCall(`{"framework_id":{"value":%q},"type":"KILL","kill":{"task_id":{"value":"k2"}}}`, c.fwID)
	if ev := c.update("k2"); ev.str("update.status.state") != "TASK_LOST" || ev.str("update.status.message") != "Reconciliation: Task is unknown" ||
		ev.get("update.status.agent_id") != nil {
		t.Errorf("kill unknown without agent: %s", ev.raw)
	}
}

// TestConformancePartitionAware checks the PARTITION_AWARE variants of
// §5, §6 and §7.
func TestConformancePartitionAware(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"pa","roles":["*"],
"capabilities":[{"type":"MULTI_ROLE"},{"type":"PARTITION_AWARE"}]}}}`)
	agent := m.AgentID()
	for _, tc := range []struct{ task, agentJSON, state, msg string }{
		{"u1", "", "TASK_UNKNOWN", "Reconciliation: Task is unknown"},
		{"u2", fmt.Sprintf(`,"agent_id":{"value":%q}`, agent), "TASK_GONE", "Reconciliation: Task is unknown to the agent"},
	} {
		c.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":%q}%s}]}}`, c.fwID, tc.task, tc.agentJSON)
		if ev := c.update(tc.task); ev.str("update.status.state") != tc.state || ev.str("update.status.message") != tc.msg {
			t.Errorf("reconcile %s: %s", tc.task, ev.raw)
		}
	}
	c.mustCall(`{"framework_id":{"value":%q},"type":"KILL","kill":{"task_id":{"value":"k3"}}}`, c.fwID)
	if ev := c.update("k3"); ev.str("update.status.state") != "TASK_UNKNOWN" {
		t.Errorf("kill unknown: %s", ev.raw)
	}
	c.launch(m.MasterID()+"-O999", taskInfo(t, m, "t-bad", "ex-bad", "json", "finish"))
	if ev := c.update("t-bad"); ev.str("update.status.state") != "TASK_DROPPED" ||
		ev.str("update.status.message") != "Task launched with invalid offers: Offer "+m.MasterID()+"-O999 is no longer valid" {
		t.Errorf("invalid offer: %s", ev.raw)
	}
}

// TestConformanceInvalidLaunches replays §5: invalid and used offers give
// TASK_LOST, a task too big for what is left gives TASK_ERROR while the
// next task of the same ACCEPT launches, and the unused rest is offered
// again.
func TestConformanceInvalidLaunches(t *testing.T) {
	cfg := testConfig(t)
	cfg.CPUs, cfg.MemMB, cfg.DiskMB, cfg.Ports = 1, 256, 0.001, []PortRange{}
	m := startMesos(t, cfg)
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, _ := c.offer()
	mid := m.MasterID()

	c.launch(mid+"-O999", taskInfo(t, m, "t-badoffer", "ex-x", "json", "finish"))
	ev := c.update("t-badoffer")
	wantKeys(t, ev, []string{"task_id", "state", "message", "source", "reason", "agent_id", "timestamp"}, "update", "status")
	if ev.str("update.status.state") != "TASK_LOST" || ev.str("update.status.reason") != "REASON_INVALID_OFFERS" ||
		ev.str("update.status.source") != "SOURCE_MASTER" ||
		ev.str("update.status.message") != "Task launched with invalid offers: Offer "+mid+"-O999 is no longer valid" {
		t.Errorf("invalid offer: %s", ev.raw)
	}

	big := strings.Replace(taskInfo(t, m, "t-toobig", "ex-big", "json", "finish"), `"scalar":{"value":0.1}`, `"scalar":{"value":100}`, 1)
	c.launch(offerID, big, taskInfo(t, m, "t-ok", "ex-ok", "json", "run"))
	ev = c.update("t-toobig")
	want := "Total resources cpus(allocated: *):100.1; mem(allocated: *):64 required by task and its executor is more than available cpus(allocated: *):1; mem(allocated: *):256; disk(allocated: *):0.001"
	if ev.str("update.status.state") != "TASK_ERROR" || ev.str("update.status.reason") != "REASON_TASK_INVALID" ||
		ev.str("update.status.message") != want {
		t.Errorf("too big:\n got %s\nwant message %s", ev.raw, want)
	}
	ok := c.update("t-ok")
	if ok.str("update.status.state") != "TASK_RUNNING" {
		t.Errorf("second task of the ACCEPT: %s", ok.raw)
	}
	// The offer is used up: using it again is an invalid offer.
	c.launch(offerID, taskInfo(t, m, "t-used", "ex-used", "json", "finish"))
	if ev := c.update("t-used"); ev.str("update.status.state") != "TASK_LOST" {
		t.Errorf("used offer: %s", ev.raw)
	}
	// What t-ok left (after the 1 s refuse filter) comes back as an offer.
	rest, oev := c.offer()
	if !strings.Contains(string(oev.raw), `{"name":"cpus","type":"SCALAR","scalar":{"value":0.8}`) ||
		!strings.Contains(string(oev.raw), `{"name":"mem","type":"SCALAR","scalar":{"value":192.0}`) {
		t.Errorf("re-offer of the unused rest: %s", oev.raw)
	}
	// Command tasks are refused with a clear message.
	cmdTask := fmt.Sprintf(`{"name":"c","task_id":{"value":"t-cmd"},"agent_id":{"value":%q},"resources":[],"command":{"value":"true"}}`, m.AgentID())
	c.launch(rest, cmdTask)
	if ev := c.update("t-cmd"); ev.str("update.status.state") != "TASK_ERROR" ||
		ev.str("update.status.message") != "localmesos does not run the command executor: launch the task with an ExecutorInfo" {
		t.Errorf("command task: %s", ev.raw)
	}
}
