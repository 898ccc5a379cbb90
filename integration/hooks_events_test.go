package integration

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestWebhookAndEventStream starts a run through a signed inbound webhook
// while reading the live event stream, through a running horae serve.
func TestWebhookAndEventStream(t *testing.T) {
	h := serveLocal(t)
	const secret = "s3cret-hook-key"
	job := map[string]any{
		"name": "deploy", "command": `echo "deploying $VERSION"`, "schedule": "R0//PT1H",
		"webhook": map[string]any{"enabled": true, "secret": secret},
		"cpus":    0.05, "mem": 16, "disk": 1,
	}
	if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs", job, nil); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, body)
	}

	// Subscribe before triggering, so every state change is seen.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/api/v1/events?job=deploy", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("event stream: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("event stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	body := `{"VERSION": "1.2.3"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	deliver := func(signature string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/api/v1/hooks/deploy", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Horae-Signature", signature)
		req.Header.Set("Idempotency-Key", "delivery-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("webhook: %v", err)
		}
		defer resp.Body.Close()
		var run map[string]any
		data, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(data, &run)
		return resp.StatusCode, run
	}
	if code, _ := deliver("sha256=" + strings.Repeat("0", 64)); code != http.StatusUnauthorized {
		t.Fatalf("webhook with a wrong signature: %d, want 401", code)
	}
	good := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	code, first := deliver(good)
	if code != http.StatusAccepted {
		t.Fatalf("webhook: %d %v", code, first)
	}
	code, second := deliver(good) // a retried delivery
	if code != http.StatusAccepted || second["id"] != first["id"] {
		t.Fatalf("repeated delivery: %d run %v, want the first run %v", code, second["id"], first["id"])
	}

	// The stream shows the run's states in order, ending succeeded.
	var states []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Type string `json:"type"`
			Run  *struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"run"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		if ev.Type == "run.state" && ev.Run != nil && ev.Run.ID == first["id"] {
			states = append(states, ev.Run.State)
			if ev.Run.State == "succeeded" || ev.Run.State == "failed" {
				break
			}
		}
	}
	// A run placed in the Step that creates it (on an offer the engine
	// held) is first committed as launching.
	if len(states) == 0 || states[len(states)-1] != "succeeded" || states[0] != "pending" && states[0] != "launching" {
		t.Fatalf("run states from the event stream: %v, want pending or launching … succeeded", states)
	}
	runs := runsOf(t, h.URL, "deploy")
	if len(runs) != 1 || runs[0].Trigger != "webhook" {
		t.Fatalf("runs %+v, want one webhook run", runs)
	}
	_, out := call(t, http.MethodGet, h.URL+"/api/v1/runs/"+url.PathEscape(runs[0].ID)+"/log?stream=stdout", nil, nil)
	if !strings.Contains(out, "deploying 1.2.3") {
		t.Fatalf("run output %q lacks the webhook's VERSION", out)
	}
}
