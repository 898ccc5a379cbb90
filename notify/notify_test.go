package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/horae-scheduler/horae/leader"
	"github.com/horae-scheduler/horae/scheduler"
)

// The leader loop hands notices to a Notifier through this interface.
var _ leader.Notifier = (*Notifier)(nil)

// request is one POST a receiver got.
type request struct {
	Header http.Header
	Body   []byte
}

// receiver is a local HTTP endpoint that records what it is sent and
// answers with status(n) for the n-th request (0-based).
type receiver struct {
	srv    *httptest.Server
	status func(n int) int

	mu   sync.Mutex
	reqs []request
}

func startReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("receiver: read body: %v", err)
		}
		r.mu.Lock()
		n := len(r.reqs)
		r.reqs = append(r.reqs, request{Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		code := http.StatusOK
		if r.status != nil {
			code = r.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fixture builds a notifier over its own registry and starts Run; cleanup
// stops it and waits for Run to return.
type fixture struct {
	n    *Notifier
	reg  *prometheus.Registry
	stop func() // cancels Run and waits for it
}

func start(t *testing.T, cfg Config, jobs map[string]scheduler.Job, tweak func(*Deps)) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps := Deps{
		Jobs: func(name string) (scheduler.Job, bool) {
			j, ok := jobs[name]
			return j, ok
		},
		Registerer: reg,
		Now:        func() time.Time { return time.Date(2026, 11, 27, 2, 0, 5, 0, time.UTC) },
	}
	if tweak != nil {
		tweak(&deps)
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Millisecond
	}
	n, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return &fixture{n: n, reg: reg, stop: stop}
}

var (
	failedAt = time.Date(2026, 11, 27, 2, 0, 4, 0, time.UTC)
	exitOne  = 1
)

func backupJob() scheduler.Job {
	return scheduler.Job{
		Name:     "nightly-backup",
		Command:  "backup.sh",
		Owner:    "Ann Admin <ann@example.com>, bob@example.com,ANN@example.com",
		Schedule: "R/2026-11-01T02:00:00Z/P1D",
		Retries:  2,
		Env:      []scheduler.EnvVar{{Name: "DB_PASSWORD", Value: "hunter2"}},
		Webhook:  &scheduler.WebhookSpec{Enabled: true, Secret: "inbound-s3cret"},
	}
}

func failedRun(id string, attempt int) *scheduler.Run {
	return &scheduler.Run{
		ID: scheduler.RunID(id), Job: "nightly-backup", Trigger: scheduler.TriggerSchedule,
		State: scheduler.RunFailed, Reason: "exit", Attempt: attempt, ExitCode: &exitOne,
		ScheduledFor: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC),
		StartedAt:    time.Date(2026, 11, 27, 2, 0, 1, 0, time.UTC),
		FinishedAt:   failedAt,
		Env:          map[string]string{"TOKEN": "per-run-secret"},
		Tasks: []scheduler.Task{{
			ID: "ct:1:2:nightly-backup:", Instance: 0, Host: "agent-1", State: scheduler.TaskFailed,
			ExitCode: &exitOne, StderrTail: "tar: /data: Cannot open: Permission denied\n",
		}},
	}
}

func failure(id string) scheduler.Notice {
	return scheduler.Notice{
		Kind: scheduler.NotifyFailure, Job: "nightly-backup", Run: failedRun(id, 2), At: failedAt,
		Text: "retries exhausted after 3 attempts",
	}
}

func TestWebhookPayloadAndSignature(t *testing.T) {
	rcv := startReceiver(t, nil)
	secret := "webhook-key"
	f := start(t, Config{WebhookURL: rcv.srv.URL + "/hook", WebhookSecret: secret, ClusterName: "prod"},
		map[string]scheduler.Job{"nightly-backup": backupJob()}, nil)

	f.n.Notify([]scheduler.Notice{failure("nightly-backup@2026-11-27T02:00:00Z")})
	waitFor(t, "the webhook delivery", func() bool {
		return testutil.ToFloat64(f.n.metrics.sent.WithLabelValues(SinkWebhook, "failure")) == 1
	})
	reqs := rcv.got()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	req := reqs[0]

	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(req.Body)
	if got, want := req.Header.Get(SignatureHeader), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("%s = %q, want %q", SignatureHeader, got, want)
	}
	if !Verify([]byte(secret), req.Body, req.Header.Get(SignatureHeader)) {
		t.Errorf("Verify rejects the delivered signature")
	}
	if Verify([]byte("other"), req.Body, req.Header.Get(SignatureHeader)) {
		t.Errorf("Verify accepts the signature under another secret")
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := req.Header.Get(EventHeader); got != "failure" {
		t.Errorf("%s = %q, want failure", EventHeader, got)
	}

	var p Payload
	if err := json.Unmarshal(req.Body, &p); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, req.Body)
	}
	if got := req.Header.Get(DeliveryHeader); got == "" || got != p.ID {
		t.Errorf("%s = %q, payload id %q", DeliveryHeader, got, p.ID)
	}
	want := "[prod] [horae] job nightly-backup failed (run nightly-backup@2026-11-27T02:00:00Z)"
	checks := []struct {
		name      string
		got, want any
	}{
		{"kind", p.Kind, scheduler.NotifyFailure},
		{"subject", p.Subject, want},
		{"cluster", p.Cluster, "prod"},
		{"job.name", p.Job.Name, "nightly-backup"},
		{"job.command", p.Job.Command, "backup.sh"},
		{"run.id", p.Run.ID, scheduler.RunID("nightly-backup@2026-11-27T02:00:00Z")},
		{"run.state", p.Run.State, scheduler.RunFailed},
		{"at", p.At, failedAt},
		{"text", p.Text, "retries exhausted after 3 attempts"},
		{"owners", strings.Join(p.Owners, ","), "ann@example.com,bob@example.com"},
		{"job env value", p.Job.Env[0].Value, Redacted},
		{"run env value", p.Run.Env["TOKEN"], Redacted},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("payload %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, secret := range []string{"inbound-s3cret", "hunter2", "per-run-secret"} {
		if strings.Contains(string(req.Body), secret) {
			t.Errorf("payload leaks secret %q:\n%s", secret, req.Body)
		}
	}
	if !strings.Contains(string(req.Body), `"owner":"Ann Admin <ann@example.com>, bob@example.com,ANN@example.com"`) {
		t.Errorf("payload does not carry the job's owner field as written:\n%s", req.Body)
	}
	if p.Job.Webhook == nil || !p.Job.Webhook.Enabled {
		t.Errorf("payload job.webhook = %+v, want enabled without secret", p.Job.Webhook)
	}
}

func TestWebhookUnsignedWithoutSecret(t *testing.T) {
	rcv := startReceiver(t, nil)
	f := start(t, Config{WebhookURL: rcv.srv.URL}, nil, nil)
	f.n.Notify([]scheduler.Notice{failure("r1")})
	waitFor(t, "the delivery", func() bool { return len(rcv.got()) == 1 })
	if sig := rcv.got()[0].Header.Get(SignatureHeader); sig != "" {
		t.Errorf("unsigned delivery carries %s %q", SignatureHeader, sig)
	}
	var p Payload
	if err := json.Unmarshal(rcv.got()[0].Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Job.Name != "nightly-backup" || len(p.Owners) != 0 {
		t.Errorf("unknown job: payload job %q owners %v, want the name only", p.Job.Name, p.Owners)
	}
}

func TestSlackText(t *testing.T) {
	rcv := startReceiver(t, nil)
	f := start(t, Config{SlackURL: rcv.srv.URL, ClusterName: "prod"},
		map[string]scheduler.Job{"nightly-backup": backupJob()}, nil)
	f.n.Notify([]scheduler.Notice{failure("nightly-backup@2026-11-27T02:00:00Z")})
	waitFor(t, "the Slack delivery", func() bool { return len(rcv.got()) == 1 })
	var msg map[string]any
	if err := json.Unmarshal(rcv.got()[0].Body, &msg); err != nil {
		t.Fatalf("Slack body is not JSON: %v", err)
	}
	if len(msg) != 1 {
		t.Errorf("Slack body has keys %v, want text only", msg)
	}
	text, _ := msg["text"].(string)
	first, rest, _ := strings.Cut(text, "\n")
	if want := "[prod] [horae] job nightly-backup failed (run nightly-backup@2026-11-27T02:00:00Z)"; first != want {
		t.Errorf("Slack first line = %q, want %q", first, want)
	}
	for _, want := range []string{"retries exhausted after 3 attempts\n```\n", "attempt:    3 of 3", "exit code:  1\n```"} {
		if !strings.Contains(rest, want) {
			t.Errorf("Slack text lacks %q:\n%s", want, text)
		}
	}
}

func TestSlackEscapes(t *testing.T) {
	rcv := startReceiver(t, nil)
	f := start(t, Config{SlackURL: rcv.srv.URL}, nil, nil)
	n := failure("r1")
	n.Text = "exit 1: <b>bold</b> & co"
	f.n.Notify([]scheduler.Notice{n})
	waitFor(t, "the Slack delivery", func() bool { return len(rcv.got()) == 1 })
	var msg struct{ Text string }
	if err := json.Unmarshal(rcv.got()[0].Body, &msg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, "exit 1: &lt;b&gt;bold&lt;/b&gt; &amp; co") {
		t.Errorf("Slack control characters not escaped: %q", msg.Text)
	}
}

// TestConcurrentNotify runs Notify from several goroutines while Run
// delivers (meant for -race): every notice arrives exactly once.
func TestConcurrentNotify(t *testing.T) {
	rcv := startReceiver(t, nil)
	f := start(t, Config{WebhookURL: rcv.srv.URL, Workers: 4}, nil, nil)
	const callers, each = 4, 50
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				f.n.Notify([]scheduler.Notice{failure(fmt.Sprintf("run-%d-%d", c, i))})
			}
		})
	}
	wg.Wait()
	waitFor(t, "every delivery", func() bool { return len(rcv.got()) == callers*each })
	f.stop()
	ids := map[string]bool{}
	for _, r := range rcv.got() {
		id := r.Header.Get(DeliveryHeader)
		if ids[id] {
			t.Errorf("event %s delivered twice", id)
		}
		ids[id] = true
	}
	if got := testutil.ToFloat64(f.n.metrics.sent.WithLabelValues(SinkWebhook, "failure")); got != callers*each {
		t.Errorf("sent = %v, want %d", got, callers*each)
	}
}

func TestHTTPRetries(t *testing.T) {
	tests := []struct {
		name                 string
		status               func(n int) int
		wantRequests         int
		wantSent, wantFailed float64
		wantRetries          float64
	}{
		{"500 twice then 200", func(n int) int { return map[bool]int{true: 500, false: 200}[n < 2] }, 3, 1, 0, 2},
		{"always 503", func(int) int { return 503 }, 4, 0, 1, 3},
		{"429 then 200", func(n int) int { return map[bool]int{true: 429, false: 204}[n < 1] }, 2, 1, 0, 1},
		{"400 is permanent", func(int) int { return 400 }, 1, 0, 1, 0},
		{"404 is permanent", func(int) int { return 404 }, 1, 0, 1, 0},
		{"redirect not followed", func(int) int { return 302 }, 1, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := startReceiver(t, tt.status)
			f := start(t, Config{WebhookURL: rcv.srv.URL, WebhookSecret: "k", MaxAttempts: 4}, nil, nil)
			f.n.Notify([]scheduler.Notice{failure("r1")})
			m := f.n.metrics
			waitFor(t, "the delivery to end", func() bool {
				return testutil.ToFloat64(m.sent.WithLabelValues(SinkWebhook, "failure"))+testutil.ToFloat64(m.failed.WithLabelValues(SinkWebhook)) == 1
			})
			reqs := rcv.got()
			if len(reqs) != tt.wantRequests {
				t.Errorf("receiver got %d requests, want %d", len(reqs), tt.wantRequests)
			}
			for i, r := range reqs[1:] {
				if string(r.Body) != string(reqs[0].Body) || r.Header.Get(SignatureHeader) != reqs[0].Header.Get(SignatureHeader) ||
					r.Header.Get(DeliveryHeader) != reqs[0].Header.Get(DeliveryHeader) {
					t.Errorf("retry %d differs from the first attempt", i+1)
				}
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"sent", testutil.ToFloat64(m.sent.WithLabelValues(SinkWebhook, "failure")), tt.wantSent},
				{"failed", testutil.ToFloat64(m.failed.WithLabelValues(SinkWebhook)), tt.wantFailed},
				{"retries", testutil.ToFloat64(m.retries.WithLabelValues(SinkWebhook)), tt.wantRetries},
			} {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if n := testutil.CollectAndCount(f.reg, "horae_notification_delivery_duration_seconds"); n != 1 {
				t.Errorf("duration histogram has %d series, want 1 (webhook)", n)
			}
		})
	}
}

// decodeHeader undoes the RFC 2047 encoding of a header value.
func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("decode header %q: %v", v, err)
	}
	return s
}

func parseMessage(t *testing.T, data string) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, data)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	return msg, string(body)
}

func TestOncePerEventPerSink(t *testing.T) {
	hook := startReceiver(t, nil)
	slackRcv := startReceiver(t, nil)
	smtpSrv := startSMTP(t, nil)
	f := start(t, Config{
		WebhookURL: hook.srv.URL, SlackURL: slackRcv.srv.URL,
		SMTPAddr: smtpSrv.addr(), SMTPFrom: "Horae <horae@example.org>", ClusterName: "prod", Workers: 1,
	}, map[string]scheduler.Job{"nightly-backup": backupJob()}, nil)

	n := failure("nightly-backup@2026-11-27T02:00:00Z")
	// The same event twice (as a repeated Output would carry it), then a
	// second event as a marker: queues are FIFO with one worker, so once the
	// marker arrived a repeat would have arrived before it.
	f.n.Notify([]scheduler.Notice{n})
	f.n.Notify([]scheduler.Notice{n})
	marker := failure("nightly-backup@2026-11-28T02:00:00Z")
	f.n.Notify([]scheduler.Notice{marker})
	waitFor(t, "two events on every sink", func() bool {
		return len(hook.got()) == 2 && len(slackRcv.got()) == 2 && len(smtpSrv.received()) == 2
	})

	msgs := smtpSrv.received()
	m0 := msgs[0]
	if m0.From != "horae@example.org" {
		t.Errorf("MAIL FROM %q", m0.From)
	}
	if got := strings.Join(m0.To, ","); got != "ann@example.com,bob@example.com" {
		t.Errorf("RCPT TO %s, want ann and bob once each in one message", got)
	}
	msg, body := parseMessage(t, m0.Data)
	want := "[prod] [horae] job nightly-backup failed (run nightly-backup@2026-11-27T02:00:00Z)"
	if got := decodeHeader(t, msg.Header.Get("Subject")); got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 2 {
		t.Errorf("To = %q (%v), want two addresses", msg.Header.Get("To"), err)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Horae" || from[0].Address != "horae@example.org" {
		t.Errorf("From = %q", msg.Header.Get("From"))
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(time.Date(2026, 11, 27, 2, 0, 5, 0, time.UTC)) {
		t.Errorf("Date = %q (%v), want the injected clock", msg.Header.Get("Date"), err)
	}
	if id := msg.Header.Get("Message-ID"); !strings.HasSuffix(id, "@example.org>") {
		t.Errorf("Message-ID = %q", id)
	}
	// mail.ReadMessage does not undo quoted-printable; the body is ASCII here.
	for _, want := range []string{"retries exhausted after 3 attempts", "run:        nightly-backup@2026-11-27T02:00:00Z",
		"state:      failed (exit)", "agent-1", "Permission denied"} {
		if !strings.Contains(body, want) {
			t.Errorf("mail body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(m0.Data, "hunter2") {
		t.Errorf("mail leaks the job's environment")
	}
	if !strings.Contains(string(hook.got()[1].Body), "2026-11-28") {
		t.Errorf("second webhook delivery is not the marker event")
	}
}

func TestFilterByJobNotify(t *testing.T) {
	all := []scheduler.NotifyOn{scheduler.NotifyFailure, scheduler.NotifySuccess, scheduler.NotifySkipped, scheduler.NotifyOverdue, scheduler.NotifyDisabled}
	tests := []struct {
		name   string
		notify []scheduler.NotifyOn
		want   []scheduler.NotifyOn
	}{
		{"default is failure only", nil, []scheduler.NotifyOn{scheduler.NotifyFailure}},
		{"success only", []scheduler.NotifyOn{scheduler.NotifySuccess}, []scheduler.NotifyOn{scheduler.NotifySuccess}},
		{"skipped and overdue", []scheduler.NotifyOn{scheduler.NotifyOverdue, scheduler.NotifySkipped}, []scheduler.NotifyOn{scheduler.NotifySkipped, scheduler.NotifyOverdue}},
		{"everything", all, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := startReceiver(t, nil)
			job := scheduler.Job{Name: "j", Command: "true", Notify: tt.notify}
			f := start(t, Config{WebhookURL: rcv.srv.URL, Workers: 1}, map[string]scheduler.Job{"j": job}, nil)
			for _, k := range all {
				f.n.Notify([]scheduler.Notice{{Kind: k, Job: "j", At: failedAt, Text: string(k)}})
			}
			// A marker the filter lets through, last: FIFO delivery means
			// anything else let through arrived before it.
			f.n.Notify([]scheduler.Notice{{Kind: tt.want[0], Job: "j", At: failedAt.Add(time.Hour), Text: "marker"}})
			waitFor(t, "the marker", func() bool {
				r := rcv.got()
				return len(r) > 0 && strings.Contains(string(r[len(r)-1].Body), `"text":"marker"`)
			})
			var got []scheduler.NotifyOn
			for _, r := range rcv.got() {
				var p Payload
				if err := json.Unmarshal(r.Body, &p); err != nil {
					t.Fatal(err)
				}
				if p.Text != "marker" {
					got = append(got, p.Kind)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("delivered %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNotifyDoesNotBlockWithStuckSink(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // never answers on its own
		case <-r.Context().Done():
		case <-release:
		}
	}))
	// Cleanups run last-in first-out: release, then close the server.
	t.Cleanup(stuck.Close)
	t.Cleanup(func() { close(release) })
	f := start(t, Config{WebhookURL: stuck.URL, QueueSize: 2, Workers: 1, Timeout: time.Hour, DrainTimeout: 10 * time.Millisecond}, nil, nil)

	f.n.Notify([]scheduler.Notice{failure("first")})
	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("the first delivery never reached the stuck sink")
	}

	const burst = 100
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for i := range burst {
			f.n.Notify([]scheduler.Notice{failure(fmt.Sprintf("run-%d", i))})
		}
	}()
	select {
	case <-returned:
	case <-time.After(15 * time.Second):
		t.Fatal("Notify blocked behind a stuck sink")
	}
	m := f.n.metrics
	if got := testutil.ToFloat64(m.dropped); got != burst-2 {
		t.Errorf("dropped = %v, want %d (queue of 2 keeps the newest)", got, burst-2)
	}
	if got := testutil.ToFloat64(m.queued.WithLabelValues(SinkWebhook)); got != 2 {
		t.Errorf("queued = %v, want 2", got)
	}
	// Stopping aborts the stuck attempt after the drain period and drops
	// what is still queued.
	f.stop()
	if got := testutil.ToFloat64(m.failed.WithLabelValues(SinkWebhook)); got != 1 {
		t.Errorf("failed = %v, want 1 (the stuck attempt)", got)
	}
	if got := testutil.ToFloat64(m.dropped); got != burst {
		t.Errorf("dropped after stop = %v, want %d", got, burst)
	}
	f.n.Notify([]scheduler.Notice{failure("after-stop")})
	if got := testutil.ToFloat64(m.dropped); got != burst+1 {
		t.Errorf("dropped after a notice to a stopped notifier = %v, want %d", got, burst+1)
	}
}

func TestStopDrainsQueue(t *testing.T) {
	rcv := startReceiver(t, nil)
	reg := prometheus.NewRegistry()
	n, err := New(Config{WebhookURL: rcv.srv.URL, Workers: 3}, Deps{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	const queued = 20
	for i := range queued {
		n.Notify([]scheduler.Notice{failure(fmt.Sprintf("run-%d", i))})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run starts already asked to stop: it must still drain.
	if err := n.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(rcv.got()); got != queued {
		t.Errorf("delivered %d of %d queued notices", got, queued)
	}
	if got := testutil.ToFloat64(n.metrics.dropped); got != 0 {
		t.Errorf("dropped = %v, want 0", got)
	}
	if err := n.Run(context.Background()); err == nil {
		t.Errorf("second Run returned nil, want an error")
	}
}

func TestEmail(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name        string
		server      func(*smtpServer)
		cfg         func(addr string) Config
		wantSent    float64
		wantRetries float64
		check       func(t *testing.T, msgs []smtpMessage)
	}{
		{
			name:        "451 then accepted",
			server:      func(s *smtpServer) { s.failData = 1 },
			cfg:         func(addr string) Config { return Config{SMTPAddr: addr, SMTPFrom: "horae@example.org"} },
			wantSent:    1,
			wantRetries: 1,
			check: func(t *testing.T, msgs []smtpMessage) {
				if len(msgs) != 1 {
					t.Errorf("server kept %d messages, want 1", len(msgs))
				}
			},
		},
		{
			name: "STARTTLS and AUTH PLAIN",
			server: func(s *smtpServer) {
				s.tls, s.user, s.password = serverTLS, "horae", "pw"
			},
			cfg: func(addr string) Config {
				return Config{SMTPAddr: addr, SMTPFrom: "horae@example.org", SMTPStartTLS: true, SMTPUser: "horae", SMTPPassword: "pw"}
			},
			wantSent: 1,
			check: func(t *testing.T, msgs []smtpMessage) {
				if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "horae" {
					t.Errorf("messages %+v, want one sent over TLS by user horae", msgs)
				}
			},
		},
		{
			name:   "wrong password is permanent",
			server: func(s *smtpServer) { s.tls, s.user, s.password = serverTLS, "horae", "pw" },
			cfg: func(addr string) Config {
				return Config{SMTPAddr: addr, SMTPFrom: "horae@example.org", SMTPStartTLS: true, SMTPUser: "horae", SMTPPassword: "nope"}
			},
			check: func(t *testing.T, msgs []smtpMessage) {
				if len(msgs) != 0 {
					t.Errorf("server kept %d messages, want 0", len(msgs))
				}
			},
		},
		{
			name:   "STARTTLS required but not offered",
			server: nil,
			cfg: func(addr string) Config {
				return Config{SMTPAddr: addr, SMTPFrom: "horae@example.org", SMTPStartTLS: true}
			},
			check: func(t *testing.T, msgs []smtpMessage) {
				if len(msgs) != 0 {
					t.Errorf("a message went out without TLS")
				}
			},
		},
		{
			name:     "one owner refused, the other served",
			server:   func(s *smtpServer) { s.reject["ann@example.com"] = true },
			cfg:      func(addr string) Config { return Config{SMTPAddr: addr, SMTPFrom: "horae@example.org"} },
			wantSent: 1,
			check: func(t *testing.T, msgs []smtpMessage) {
				if len(msgs) != 1 || strings.Join(msgs[0].To, ",") != "bob@example.com" {
					t.Errorf("messages %+v, want one to bob", msgs)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.server)
			f := start(t, tt.cfg(srv.addr()), map[string]scheduler.Job{"nightly-backup": backupJob()},
				func(d *Deps) { d.TLSConfig = clientTLS })
			f.n.Notify([]scheduler.Notice{failure("r1")})
			m := f.n.metrics
			waitFor(t, "the delivery to end", func() bool {
				return testutil.ToFloat64(m.sent.WithLabelValues(SinkEmail, "failure"))+testutil.ToFloat64(m.failed.WithLabelValues(SinkEmail)) == 1
			})
			if got := testutil.ToFloat64(m.sent.WithLabelValues(SinkEmail, "failure")); got != tt.wantSent {
				t.Errorf("sent = %v, want %v", got, tt.wantSent)
			}
			if got := testutil.ToFloat64(m.retries.WithLabelValues(SinkEmail)); got != tt.wantRetries {
				t.Errorf("retries = %v, want %v", got, tt.wantRetries)
			}
			tt.check(t, srv.received())
		})
	}
}

func TestEmailSkipsJobsWithoutOwners(t *testing.T) {
	srv := startSMTP(t, nil)
	rcv := startReceiver(t, nil)
	job := scheduler.Job{Name: "nightly-backup", Command: "true"}
	f := start(t, Config{SMTPAddr: srv.addr(), SMTPFrom: "horae@example.org", WebhookURL: rcv.srv.URL},
		map[string]scheduler.Job{"nightly-backup": job}, nil)
	f.n.Notify([]scheduler.Notice{failure("r1")})
	waitFor(t, "the webhook delivery", func() bool { return len(rcv.got()) == 1 })
	f.stop()
	if len(srv.received()) != 0 || testutil.ToFloat64(f.n.metrics.failed.WithLabelValues(SinkEmail)) != 0 ||
		testutil.ToFloat64(f.n.metrics.dropped) != 0 {
		t.Errorf("a job without owners produced e-mail activity")
	}
}

func TestMetricsLint(t *testing.T) {
	rcv := startReceiver(t, nil)
	srv := startSMTP(t, nil)
	f := start(t, Config{WebhookURL: rcv.srv.URL, SlackURL: rcv.srv.URL, SMTPAddr: srv.addr(), SMTPFrom: "horae@example.org"},
		map[string]scheduler.Job{"nightly-backup": backupJob()}, nil)
	f.n.Notify([]scheduler.Notice{failure("r1")})
	waitFor(t, "three deliveries", func() bool { return len(rcv.got()) == 2 && len(srv.received()) == 1 })

	problems, err := testutil.CollectAndLint(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for name, want := range map[string]int{
		"horae_notifications_sent_total":               15, // 3 sinks × 5 kinds, present from the start
		"horae_notifications_failed_total":             3,
		"horae_notifications_dropped_total":            1,
		"horae_notification_delivery_duration_seconds": 3,
		"horae_notification_retries_total":             3,
		"horae_notifications_queued":                   3,
	} {
		if got := testutil.CollectAndCount(f.reg, name); got != want {
			t.Errorf("%s has %d series, want %d", name, got, want)
		}
	}
	expected := `
# HELP horae_notifications_failed_total Notifications given up on after their last attempt or a permanent error, by sink.
# TYPE horae_notifications_failed_total counter
horae_notifications_failed_total{sink="email"} 0
horae_notifications_failed_total{sink="slack"} 0
horae_notifications_failed_total{sink="webhook"} 0
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(expected), "horae_notifications_failed_total"); err != nil {
		t.Error(err)
	}
}

func TestNewRejectsInvalidConfigAndDuplicateRegistration(t *testing.T) {
	if _, err := New(Config{WebhookURL: "ftp://x"}, Deps{}); err == nil {
		t.Errorf("New accepted an ftp webhook URL")
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{}, Deps{Registerer: reg}); err != nil {
		t.Fatalf("New with no sinks: %v", err)
	}
	if _, err := New(Config{}, Deps{Registerer: reg}); err == nil {
		t.Errorf("a second Notifier on the same registry registered its metrics")
	}
}

func TestNoSinksAcceptsAndDiscards(t *testing.T) {
	f := start(t, Config{}, nil, nil)
	f.n.Notify([]scheduler.Notice{failure("r1")})
	f.stop()
	if got := testutil.ToFloat64(f.n.metrics.dropped); got != 0 {
		t.Errorf("dropped = %v with no sinks, want 0", got)
	}
}

// BenchmarkNotify measures what the leader loop pays per notice: job
// lookup, filtering, rendering and enqueueing on three sinks (no delivery;
// queues stay full, so the drop-oldest path is included).
func BenchmarkNotify(b *testing.B) {
	jobs := map[string]scheduler.Job{"nightly-backup": backupJob()}
	n, err := New(Config{
		WebhookURL: "http://127.0.0.1:9/hook", SlackURL: "http://127.0.0.1:9/slack",
		SMTPAddr: "127.0.0.1:25", SMTPFrom: "horae@example.org", QueueSize: 1024,
	}, Deps{Jobs: func(name string) (scheduler.Job, bool) { j, ok := jobs[name]; return j, ok }})
	if err != nil {
		b.Fatal(err)
	}
	notices := make([]scheduler.Notice, 4096)
	for i := range notices {
		notices[i] = failure(fmt.Sprintf("nightly-backup@%d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		no := notices[i%len(notices)]
		no.At = no.At.Add(time.Duration(i)) // a new event each time
		n.Notify([]scheduler.Notice{no})
	}
}
