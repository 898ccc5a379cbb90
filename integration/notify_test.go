package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestFailureNotificationReachesWebhook checks the wiring from the engine's
// notices through the notifier to a webhook receiver: a job whose retries
// are exhausted notifies once.
func TestFailureNotificationReachesWebhook(t *testing.T) {
	var (
		mu       sync.Mutex
		received []map[string]any
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg map[string]any
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		mu.Lock()
		received = append(received, msg)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	h := serveLocal(t, "--notify-webhook-url", receiver.URL)
	job := map[string]any{
		"name": "doomed", "command": "exit 1", "schedule": "R0//PT1H",
		"retries": 1, "retryDelay": "PT0.1S", "cpus": 0.05, "mem": 16, "disk": 1,
	}
	if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs", job, nil); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, body)
	}
	if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs/doomed/runs", map[string]any{}, nil); code != http.StatusAccepted {
		t.Fatalf("run job: %d %s", code, body)
	}
	waitFor(t, 45*time.Second, "a failure notification", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(received) > 0, "none yet"
	})
	time.Sleep(time.Second) // a second notification for the same failure would arrive now
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 1 {
		t.Fatalf("received %d notifications, want exactly 1: %v", len(received), received)
	}
	if received[0]["kind"] != "failure" {
		t.Fatalf("notification kind %v, want failure: %v", received[0]["kind"], received[0])
	}
	runs := runsOf(t, h.URL, "doomed")
	if len(runs) != 1 || runs[0].State != "failed" || runs[0].Attempt != 1 {
		t.Fatalf("runs %+v, want one failed run after 1 retry (attempt 1)", runs)
	}
}
