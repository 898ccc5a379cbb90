package localmesos

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestLaunchUpdatesAcknowledge runs a real executor process: SUBSCRIBE,
// OFFERS, ACCEPT, executor SUBSCRIBE and LAUNCH, updates re-sent until
// acknowledged and released one at a time, then FAILURE when it exits.
func TestLaunchUpdatesAcknowledge(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t1", "ex1", "env", "finish"))

	running := c.update("t1")
	if got := running.str("update.status.state"); got != "TASK_RUNNING" {
		t.Fatalf("first update state = %s, want TASK_RUNNING", got)
	}
	for _, k := range []string{"update.status.uuid", "update.status.container_status.container_id.value",
		"update.status.container_status.executor_pid", "update.status.agent_id.value", "update.status.timestamp"} {
		if running.get(k) == nil {
			t.Errorf("RUNNING update lacks %s: %s", k, running.raw)
		}
	}
	if got := running.str("update.status.message"); got != "custom running" {
		t.Errorf("message = %q, want the executor's", got)
	}
	if got := running.str("update.status.data"); got != b64("data-TASK_RUNNING") {
		t.Errorf("data = %q, want the executor's", got)
	}
	if got := running.str("update.status.source"); got != "SOURCE_EXECUTOR" {
		t.Errorf("source = %q", got)
	}

	// Not acknowledged: the same update comes again, and FINISHED waits.
	again := c.update("t1")
	if string(again.raw) != string(running.raw) {
		t.Fatalf("re-sent update differs:\n%s\n%s", again.raw, running.raw)
	}
	c.ack(running)
	finished := c.update("t1")
	for finished.str("update.status.uuid") == running.str("update.status.uuid") {
		finished = c.update("t1") // a re-send raced with the ACK
	}
	if got := finished.str("update.status.state"); got != "TASK_FINISHED" {
		t.Fatalf("second update = %s, want TASK_FINISHED", got)
	}
	c.ack(finished)

	fail := c.next("FAILURE")
	if got := fail.str("failure.status"); got != "0" {
		t.Errorf("FAILURE status = %s, want 0 for a clean exit", got)
	}
	if got := fail.str("failure.executor_id.value"); got != "ex1" {
		t.Errorf("FAILURE executor = %s", got)
	}

	// The executor's environment, read back through /files/read.
	resp, err := http.Get(m.URL() + "/files/read?path=/frameworks/" + c.fwID + "/executors/ex1/runs/latest/env.txt&offset=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fr struct {
		Data   string `json:"data"`
		Offset int    `json:"offset"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&fr); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(fr.Data), "\n") {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	want := map[string]string{
		"LIBPROCESS_IP": "127.0.0.1", "LIBPROCESS_PORT": "0", "MESOS_AGENT_ENDPOINT": m.HostPort(),
		"MESOS_CHECKPOINT": "0", "MESOS_EXECUTOR_ID": "ex1", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "2secs",
		"MESOS_FRAMEWORK_ID": c.fwID, "MESOS_HTTP_COMMAND_EXECUTOR": "0", "MESOS_SLAVE_ID": m.AgentID(),
		"MESOS_SLAVE_PID": "slave(1)@" + m.HostPort(), "PATH": defaultPath, "LOCALMESOS_TEST_EXECUTOR": "env",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if env["MESOS_DIRECTORY"] == "" || env["MESOS_SANDBOX"] != env["MESOS_DIRECTORY"] ||
		!strings.HasPrefix(env["MESOS_DIRECTORY"], m.WorkDir()+"/slaves/"+m.AgentID()+"/frameworks/"+c.fwID+"/executors/ex1/runs/") {
		t.Errorf("sandbox env: MESOS_DIRECTORY=%q MESOS_SANDBOX=%q", env["MESOS_DIRECTORY"], env["MESOS_SANDBOX"])
	}
	for _, k := range []string{"HOME", "USER", "MESOS_RECOVERY_TIMEOUT", "MESOS_ALLOCATION_ROLE"} {
		if _, ok := env[k]; ok {
			t.Errorf("env has %s, which a Mesos agent does not set", k)
		}
	}
}
