package localmesos

import (
	"strings"
	"testing"
)

// offerExecutorIDs lists the executor_ids of the first offer of an OFFERS
// event.
func offerExecutorIDs(ev event) []string {
	var out []string
	offers := ev.get("offers.offers").([]any)
	ids, _ := offers[0].(map[string]any)["executor_ids"].([]any)
	for _, id := range ids {
		out = append(out, id.(map[string]any)["value"].(string))
	}
	return out
}

// TestSharedExecutor: a task naming a running executor goes to that
// executor (no new process, its resources not counted again); offers list
// the running executor in executor_ids; a task naming it with a different
// ExecutorInfo is refused as Mesos refuses it.
func TestSharedExecutor(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, ev := c.offer()
	if ids := offerExecutorIDs(ev); len(ids) != 0 {
		t.Fatalf("first offer lists executors %v", ids)
	}
	c.launch(offerID, taskInfo(t, m, "t1", "shared", "plain", "run"))
	first := c.update("t1")
	c.ack(first)
	container := first.str("update.status.container_status.container_id.value")

	offerID, ev = c.offer()
	if ids := offerExecutorIDs(ev); len(ids) != 1 || ids[0] != "shared" {
		t.Fatalf("offer executor_ids %v, want [shared]", ids)
	}
	// Task and executor each 0.1 cpus of 4: the executor counted once.
	if cpus := offerScalar(ev, "cpus"); cpus != 3.8 {
		t.Errorf("offer cpus %v, want 3.8", cpus)
	}
	c.launch(offerID,
		taskInfo(t, m, "t2", "shared", "plain", "finish"),
		strings.Replace(taskInfo(t, m, "t3", "shared", "plain", "finish"), `"name":"test executor"`, `"name":"another executor"`, 1))
	second := c.update("t2")
	if got := second.str("update.status.container_status.container_id.value"); got != container || second.str("update.status.state") != "TASK_RUNNING" {
		t.Errorf("t2 ran in container %q (%s), want the running executor's %q", got, second.str("update.status.state"), container)
	}
	bad := c.update("t3")
	if bad.str("update.status.state") != "TASK_ERROR" || !strings.Contains(bad.str("update.status.message"), "not compatible") {
		t.Errorf("incompatible ExecutorInfo: %s", bad.raw)
	}
	m.mu.Lock()
	runs := len(m.runs[exKey{c.fwID, "shared"}])
	m.mu.Unlock()
	if runs != 1 {
		t.Errorf("executor shared started %d times, want 1", runs)
	}
}

// TestSharedExecutorExitsWithLaunchInFlight: an executor that ends while
// LAUNCHes for it are queued (it never subscribed) fails those tasks with
// REASON_EXECUTOR_TERMINATED, as a Mesos agent does; nothing hangs, and a
// later task naming the same executor ID starts a new executor run.
func TestSharedExecutorExitsWithLaunchInFlight(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "q1", "shared", "nosub", "finish"), taskInfo(t, m, "q2", "shared", "nosub", "finish"))
	var ex *executor
	eventually(t, "executor process started", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		ex = m.executors[exKey{c.fwID, "shared"}]
		if ex == nil {
			return false
		}
		ex.procMu.Lock()
		defer ex.procMu.Unlock()
		return ex.proc != nil
	})
	m.mu.Lock()
	queued := len(ex.queued)
	m.mu.Unlock()
	if queued != 2 {
		t.Fatalf("%d tasks queued for the unsubscribed executor, want 2", queued)
	}
	ex.kill()
	for _, id := range []string{"q1", "q2"} {
		u := c.update(id)
		if u.str("update.status.state") != "TASK_FAILED" || u.str("update.status.reason") != "REASON_EXECUTOR_TERMINATED" {
			t.Errorf("%s: %s", id, u.raw)
		}
		c.ack(u)
	}
	offerID, _ = c.offer()
	c.launch(offerID, taskInfo(t, m, "q3", "shared", "plain", "finish"))
	if u := c.update("q3"); u.str("update.status.state") != "TASK_RUNNING" {
		t.Errorf("task on a new run of the executor: %s", u.raw)
	}
}

// offerScalar sums the scalar resource name of the first offer.
func offerScalar(ev event, name string) float64 {
	total := 0.0
	offers := ev.get("offers.offers").([]any)
	for _, r := range offers[0].(map[string]any)["resources"].([]any) {
		res := r.(map[string]any)
		if res["name"] == name {
			total += res["scalar"].(map[string]any)["value"].(float64)
		}
	}
	return total
}
