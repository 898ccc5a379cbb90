package localmesos

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestFailoverAndTeardown replays §8: a re-SUBSCRIBE with the same ID
// fails the old stream over; TEARDOWN closes the stream silently; a
// removed framework gets "Framework has been removed".
func TestFailoverAndTeardown(t *testing.T) {
	m := startMesos(t, testConfig(t))
	info := `{"user":"root","name":"fo","failover_timeout":3600}`
	c1 := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+info+`}}`)
	offerID, _ := c1.offer()
	c1.launch(offerID, taskInfo(t, m, "t1", "ex1", "json", "run"))
	c1.ack(c1.update("t1"))

	withID := fmt.Sprintf(`{"type":"SUBSCRIBE","framework_id":{"value":%q},"subscribe":{"framework_info":{"user":"root","name":"fo","failover_timeout":3600,"id":{"value":%q}}}}`, c1.fwID, c1.fwID)
	c2 := subscribe(t, m, withID)
	if c2.fwID != c1.fwID || c2.streamID == c1.streamID {
		t.Fatalf("failover: framework %s stream %s (old %s %s)", c2.fwID, c2.streamID, c1.fwID, c1.streamID)
	}
	evs := c1.closed()
	if len(evs) == 0 || string(evs[len(evs)-1].raw) != `{"type":"ERROR","error":{"message":"Framework failed over"}}` {
		t.Fatalf("old stream's last event: %v", evs)
	}
	if code, body := c1.call(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"REVIVE"}`, c1.fwID)); code != 400 ||
		!strings.Contains(body, "didn't match the stream ID currently associated") {
		t.Errorf("old stream id: %d %s", code, body)
	}
	// The task survived the failover.
	c2.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{}}`, c2.fwID)
	if ev := c2.updateWith("t1", "update.status.reason", "REASON_RECONCILIATION"); ev.str("update.status.state") != "TASK_RUNNING" {
		t.Errorf("after failover: %s", ev.raw)
	}

	// A dropped connection keeps the framework for failover_timeout.
	c2.resp.Body.Close()
	c2.closed()
	c3 := subscribe(t, m, withID)
	c3.mustCall(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{}}`, c3.fwID)
	if ev := c3.updateWith("t1", "update.status.reason", "REASON_RECONCILIATION"); ev.str("update.status.state") != "TASK_RUNNING" {
		t.Errorf("after reconnect: %s", ev.raw)
	}

	// TEARDOWN: 202, the stream ends with no event, the executor is shut down.
	c3.mustCall(`{"framework_id":{"value":%q},"type":"TEARDOWN"}`, c3.fwID)
	for _, ev := range c3.closed() {
		if ev.typ != "HEARTBEAT" && ev.typ != "OFFERS" && ev.typ != "UPDATE" {
			t.Errorf("event after TEARDOWN: %s", ev.raw)
		}
	}
	if code, body := c3.call(fmt.Sprintf(`{"framework_id":{"value":%q},"type":"REVIVE"}`, c3.fwID)); code != 400 || body != "Framework cannot be found" {
		t.Errorf("call after teardown: %d %s", code, body)
	}
	_, _, br, _ := rawExchange(t, m, subscribeRequest(m, "application/json", withID))
	if got := string(readChunk(t, br)); got != `65`+"\n"+`{"type":"ERROR","error":{"message":"Framework has been removed"}}` {
		t.Errorf("subscribe of a removed framework: %q", got)
	}
	// The connection closes without a terminating chunk, so that no client
	// pools it and sends its next call into a closed socket.
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("stream of a removed framework not closed at once: %q %v", rest, err)
	}
	eventually(t, "executor of the torn-down framework gone", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.executors) == 0
	})
}

// TestFailoverTimeout: with failover_timeout 0 a disconnected framework is
// removed at once; with a short one, when it expires.
func TestFailoverTimeout(t *testing.T) {
	m := startMesos(t, testConfig(t))
	for _, timeout := range []string{"0", "0.2"} {
		c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x","failover_timeout":`+timeout+`}}}`)
		c.resp.Body.Close()
		eventually(t, "framework removed after failover timeout "+timeout, func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.removed[c.fwID]
		})
	}
}

// TestExecutorFailures replays §4: an executor that exits without
// subscribing, one that never subscribes, and one that exits mid-task each
// give FAILURE (raw wait status) first, then a reliable TASK_FAILED.
func TestExecutorFailures(t *testing.T) {
	for _, tc := range []struct {
		name, mode, data, status, msg, reason string
		registration                          time.Duration
	}{
		{"exits without subscribing", "exit3", "finish", "768", "Executor terminated", "REASON_EXECUTOR_TERMINATED", time.Minute},
		{"never subscribes", "nosub", "finish", "9", "Executor did not register within 500ms", "REASON_EXECUTOR_REGISTRATION_TIMEOUT", 500 * time.Millisecond},
		{"exits mid-task", "json", "exit", "768", "Executor terminated", "REASON_EXECUTOR_TERMINATED", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ExecutorRegistrationTimeout = tc.registration
			m := startMesos(t, cfg)
			c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
			offerID, _ := c.offer()
			id := "t-" + tc.mode
			c.launch(offerID, taskInfo(t, m, id, "ex-"+tc.mode, tc.mode, tc.data))
			if tc.data == "exit" {
				c.ack(c.update(id))
			}
			ev := c.await("FAILURE of ex-"+tc.mode, func(ev event) bool {
				return ev.typ == "FAILURE" && ev.str("failure.executor_id.value") == "ex-"+tc.mode
			})
			if ev.str("failure.status") != tc.status || ev.str("failure.executor_id.value") != "ex-"+tc.mode ||
				ev.str("failure.agent_id.value") != m.AgentID() {
				t.Errorf("FAILURE: %s", ev.raw)
			}
			for _, b := range c.backlog {
				if b.typ == "UPDATE" && b.str("update.status.state") == "TASK_FAILED" {
					t.Errorf("TASK_FAILED came before FAILURE: %s", b.raw)
				}
			}
			failed := c.updateWith(id, "update.status.state", "TASK_FAILED")
			wantKeys(t, failed, []string{"task_id", "state", "message", "source", "reason", "agent_id", "executor_id", "timestamp", "uuid"}, "update", "status")
			if failed.str("update.status.task_id.value") != id || failed.str("update.status.state") != "TASK_FAILED" ||
				failed.str("update.status.message") != tc.msg || failed.str("update.status.source") != "SOURCE_AGENT" ||
				failed.str("update.status.reason") != tc.reason {
				t.Errorf("TASK_FAILED: %s", failed.raw)
			}
			if tc.data == "exit" {
				// The task's command, left in the executor's process group,
				// is killed by the time the agent reports the executor's
				// end. SIGKILL is sent then; the kernel may take a moment
				// more to tear the process down (it shows R meanwhile), so
				// allow 2 s, far short of its sleep 60.
				_, body := get(t, m.URL()+"/files/read?offset=0&path=/frameworks/"+c.fwID+"/executors/ex-json/runs/latest/child.pid")
				var fr struct{ Data string }
				_ = json.Unmarshal([]byte(body), &fr)
				pid, err := strconv.Atoi(fr.Data)
				if err != nil {
					t.Fatalf("child.pid: %s", body)
				}
				for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
					stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
					if err != nil || strings.Contains(string(stat), ") Z ") {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("task command %d outlived its executor by 2s: %s", pid, stat)
						break
					}
				}
			}
			// Agent-generated updates are reliable: re-sent until acknowledged.
			again := c.updateWith(id, "update.status.uuid", failed.str("update.status.uuid"))
			if string(again.raw) != string(failed.raw) {
				t.Errorf("re-send differs: %s", again.raw)
			}
			c.ack(again)
		})
	}
}

// TestRelativeWorkDirGivesAbsoluteSandboxes: a relative work directory (as
// `horae serve`'s default --data-dir makes) becomes absolute, so that an
// executor, which starts in its sandbox, does not resolve its sandbox path
// from there (its tasks then failed with "shell not found": their working
// directory did not exist).
func TestRelativeWorkDirGivesAbsoluteSandboxes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := testConfig(t)
	cfg.WorkDir = filepath.Join("data", "mesos")
	m, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data", "mesos"); m.WorkDir() != want {
		t.Fatalf("work dir %q, want %q", m.WorkDir(), want)
	}
}
