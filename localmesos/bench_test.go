package localmesos

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func benchConfig(b *testing.B) Config {
	return Config{WorkDir: b.TempDir(), CPUs: 64, MemMB: 65536, DiskMB: 10000,
		HeartbeatInterval: time.Second, UpdateResendInterval: 10 * time.Second, ExecutorRegistrationTimeout: time.Minute}
}

// BenchmarkLaunchToFinished measures one task's way through localmesos
// with a real executor process (this test binary): ACCEPT, fork/exec,
// executor SUBSCRIBE, LAUNCH, RUNNING and FINISHED acknowledged. Tasks are
// launched in batches of 10 per ACCEPT; ns/op is per task.
func BenchmarkLaunchToFinished(b *testing.B) {
	t := b
	m := startMesos(t, benchConfig(b))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	b.ResetTimer()
	for done := 0; done < b.N; {
		batch := min(10, b.N-done)
		// Take every outstanding offer: freed resources come as small
		// offers of their own.
		first, _ := c.offer()
		offerIDs := []string{fmt.Sprintf(`{"value":%q}`, first)}
		kept := c.backlog[:0]
		for _, ev := range c.backlog {
			if ev.typ != "OFFERS" {
				kept = append(kept, ev)
				continue
			}
			for _, o := range ev.get("offers.offers").([]any) {
				offerIDs = append(offerIDs, fmt.Sprintf(`{"value":%q}`, o.(map[string]any)["id"].(map[string]any)["value"]))
			}
		}
		c.backlog = kept
		var tasks []string
		for i := 0; i < batch; i++ {
			id := fmt.Sprintf("b%d", done+i)
			tasks = append(tasks, taskInfo(t, m, id, "ex-"+id, "json", "finish"))
		}
		c.mustCall(`{"framework_id":{"value":%q},"type":"ACCEPT","accept":{"offer_ids":[%s],
"operations":[{"type":"LAUNCH","launch":{"task_infos":[%s]}}],"filters":{"refuse_seconds":0}}}`, c.fwID, strings.Join(offerIDs, ","), strings.Join(tasks, ","))
		for i := 0; i < batch; i++ {
			id := fmt.Sprintf("b%d", done+i)
			c.ack(c.updateWith(id, "update.status.state", "TASK_RUNNING"))
			c.ack(c.updateWith(id, "update.status.state", "TASK_FINISHED"))
		}
		done += batch
	}
	b.StopTimer()
}

// BenchmarkStatusUpdate measures one status update's round trip: executor
// UPDATE call, ACKNOWLEDGED to the executor, UPDATE event to the
// scheduler, scheduler ACKNOWLEDGE.
func BenchmarkStatusUpdate(b *testing.B) {
	t := b
	m := startMesos(t, benchConfig(b))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t", "ex", "nosub", "x"))
	ids := fmt.Sprintf(`"framework_id":{"value":%q},"executor_id":{"value":"ex"}`, c.fwID)
	eventually(t, "executor started", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		ex := m.executors[exKey{c.fwID, "ex"}]
		return ex != nil && ex.pid != 0
	})
	s := openExecStream(t, m, fmt.Sprintf(`{"type":"SUBSCRIBE",%s,"subscribe":{}}`, ids))
	s.next() // SUBSCRIBED
	s.next() // LAUNCH
	headers := map[string]string{"Content-Type": "application/json"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		uuid := base64.StdEncoding.EncodeToString(newUUID())
		resp, _ := post(t, m.URL()+"/api/v1/executor", headers, fmt.Sprintf(`{"type":"UPDATE",%s,"update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","uuid":%q}}}`, ids, uuid))
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("UPDATE: %d", resp.StatusCode)
		}
		s.next() // ACKNOWLEDGED
		c.ack(c.updateWith("t", "update.status.uuid", uuid))
	}
	b.StopTimer()
}

// BenchmarkBareExec is the baseline for BenchmarkLaunchToFinished: a plain
// fork/exec and wait of the same executor binary, exiting at once.
func BenchmarkBareExec(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(exe)
		cmd.Env = []string{"LOCALMESOS_TEST_EXECUTOR=exit3"}
		if err := cmd.Run(); err == nil {
			b.Fatal("exit3 executor exited 0")
		}
	}
}
