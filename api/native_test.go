package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/api/client"
	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/scheduler"
)

func start(t testing.TB, cfg api.Config, deps api.Deps) (*httptest.Server, *catalog.Catalog) {
	t.Helper()
	cat := catalog.New()
	if deps.Catalog == nil {
		deps.Catalog = cat
	}
	if deps.Commander == nil {
		deps.Commander = api.NewEngineCommander(cat)
	}
	a, err := api.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(ts.Close)
	return ts, cat
}

func status(err error) int {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

const sched = `"schedule":"R/2026-01-01T00:00:00Z/PT1H"`

func TestNativeJobsAndRuns(t *testing.T) {
	ts, _ := start(t, api.Config{}, api.Deps{})
	c := client.New(ts.URL, "", nil)
	ctx := context.Background()

	j, err := c.CreateJob(ctx, json.RawMessage(`{"name":"a","command":"echo a",`+sched+`,"retryDelay":"PT30S","labels":{"team":"x"},"webhook":{"enabled":true,"secret":"s3cr3t"}}`))
	if err != nil || j.Name != "a" || j.RetryDelay != "PT30S" || j.Retries != 2 || j.Webhook == nil || j.Webhook.Secret != "" {
		t.Fatalf("create = %+v, %v", j, err)
	}
	tests := []struct {
		name string
		call func() error
		want int
	}{
		{"create again", func() error {
			_, err := c.CreateJob(ctx, json.RawMessage(`{"name":"a","command":"x",`+sched+`}`))
			return err
		}, 409},
		{"unknown field", func() error {
			_, err := c.CreateJob(ctx, json.RawMessage(`{"name":"b","command":"x","cpu":1,`+sched+`}`))
			return err
		}, 400},
		{"wrong type", func() error {
			_, err := c.CreateJob(ctx, json.RawMessage(`{"name":"b","command":"x","cpus":"1"}`))
			return err
		}, 400},
		{"malformed", func() error {
			res, err := http.Post(ts.URL+"/api/v1/jobs", "application/json", strings.NewReader(`{"name":`))
			if err != nil {
				return err
			}
			res.Body.Close()
			return &client.Error{Status: res.StatusCode}
		}, 400},
		{"bad duration", func() error {
			_, err := c.CreateJob(ctx, json.RawMessage(`{"name":"b","command":"x","maxRuntime":"P1M"}`))
			return err
		}, 400},
		{"unknown parent", func() error {
			_, err := c.CreateJob(ctx, json.RawMessage(`{"name":"b","command":"x","parents":["nope"]}`))
			return err
		}, 422},
		{"replace absent", func() error {
			_, err := c.ReplaceJob(ctx, "zz", json.RawMessage(`{"name":"zz","command":"x"}`))
			return err
		}, 404},
		{"rename", func() error {
			_, err := c.ReplaceJob(ctx, "a", json.RawMessage(`{"name":"b","command":"x"}`))
			return err
		}, 400},
		{"get absent", func() error { _, err := c.GetJob(ctx, "zz"); return err }, 404},
		{"delete absent", func() error { return c.DeleteJob(ctx, "zz") }, 404},
		{"dotdot name", func() error { _, err := c.GetJob(ctx, ".."); return err }, 400},
		{"slash name", func() error { _, err := c.GetJob(ctx, "a/b"); return err }, 400},
		{"run absent", func() error { _, err := c.RunJob(ctx, "zz", api.RunRequest{}); return err }, 404},
		{"get run absent", func() error { _, err := c.GetRun(ctx, "nope"); return err }, 404},
		{"kill run absent", func() error { _, err := c.KillRun(ctx, "nope"); return err }, 404},
		{"bad limit", func() error { _, err := c.ListRuns(ctx, "a", 5000, ""); return err }, 400},
		{"bad cursor", func() error { _, err := c.ListRuns(ctx, "a", 5, "nope"); return err }, 400},
		{"bad preview", func() error { _, err := c.Preview(ctx, "FOO", "", time.Time{}, 3); return err }, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := status(tc.call()); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
	}
	if l, err := c.ListJobs(ctx, client.ListOptions{}); err != nil || len(l.Jobs) != 1 {
		t.Fatalf("refused requests changed the job list: %+v %v", l, err)
	}

	// Dependent job, conflict on delete, graph.
	if _, err := c.CreateJob(ctx, json.RawMessage(`{"name":"b","command":"x","parents":["a"],"triggerRule":"all_done"}`)); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteJob(ctx, "a")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 409 || len(ce.Details) != 1 || ce.Details[0].Message != "b" {
		t.Fatalf("delete with dependents = %v", err)
	}
	g, err := c.Graph(ctx)
	if err != nil || len(g.Nodes) != 2 || len(g.Edges) != 1 || g.Edges[0] != (catalog.Edge{Parent: "a", Child: "b"}) {
		t.Fatalf("graph = %+v %v", g, err)
	}
	if d, err := c.GraphDot(ctx); err != nil || !strings.Contains(d, "1 -> 2;") {
		t.Fatalf("dot = %q %v", d, err)
	}

	// Replace, disable/enable, list filters and pages.
	if j, err := c.ReplaceJob(ctx, "a", json.RawMessage(`{"name":"a","command":"echo A",`+sched+`}`)); err != nil || j.Command != "echo A" {
		t.Fatalf("replace = %+v %v", j, err)
	}
	if j, err := c.SetEnabled(ctx, "b", false); err != nil || !j.Disabled {
		t.Fatalf("disable = %+v %v", j, err)
	}
	if l, _ := c.ListJobs(ctx, client.ListOptions{State: "disabled"}); len(l.Jobs) != 1 || l.Jobs[0].Name != "b" {
		t.Fatalf("state filter = %+v", l)
	}
	if l, _ := c.ListJobs(ctx, client.ListOptions{Limit: 1}); len(l.Jobs) != 1 || l.Next != "a" {
		t.Fatalf("page 1 = %+v", l)
	}
	if l, _ := c.ListJobs(ctx, client.ListOptions{Limit: 1, Cursor: "a"}); len(l.Jobs) != 1 || l.Jobs[0].Name != "b" || l.Next != "" {
		t.Fatalf("page 2 = %+v", l)
	}
	if _, err := c.SetEnabled(ctx, "b", true); err != nil {
		t.Fatal(err)
	}

	// Runs: 202 with the run, newest first, cursor pages, kill.
	var ids []string
	for i := range 3 {
		r, err := c.RunJob(ctx, "a", api.RunRequest{Env: map[string]string{"K": fmt.Sprint(i)}, Arguments: []string{"-x"}})
		if err != nil || r.Job != "a" || r.State != "pending" || r.Env["K"] != fmt.Sprint(i) {
			t.Fatalf("run = %+v %v", r, err)
		}
		ids = append(ids, r.ID)
	}
	l, err := c.ListRuns(ctx, "a", 2, "")
	if err != nil || len(l.Runs) != 2 || l.Runs[0].ID != ids[2] || l.Runs[1].ID != ids[1] || l.Next != ids[1] {
		t.Fatalf("runs page 1 = %+v %v", l, err)
	}
	l, err = c.ListRuns(ctx, "a", 2, l.Next)
	if err != nil || len(l.Runs) != 1 || l.Runs[0].ID != ids[0] || l.Next != "" {
		t.Fatalf("runs page 2 = %+v %v", l, err)
	}
	if r, err := c.KillRun(ctx, ids[0]); err != nil || r.State != "killed" {
		t.Fatalf("kill = %+v %v", r, err)
	}
	if r, err := c.GetRun(ctx, ids[0]); err != nil || r.State != "killed" {
		t.Fatalf("get run = %+v %v", r, err)
	}
	p, err := c.Preview(ctx, "R/2026-01-01T00:00:00Z/PT1H", "Europe/Paris", time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), 3)
	if err != nil || len(p.Next) != 3 || !p.Next[0].Equal(time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)) || p.Timezone != "Europe/Paris" {
		t.Fatalf("preview = %+v %v", p, err)
	}
	if ld, err := c.Leader(ctx); err != nil || !ld.Self {
		t.Fatalf("leader = %+v %v", ld, err)
	}
	if err := c.DeleteJob(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetJob(ctx, "b"); !client.IsNotFound(err) {
		t.Fatalf("deleted job: %v", err)
	}
}

func TestBodyLimits(t *testing.T) {
	ts, cat := start(t, api.Config{}, api.Deps{})
	huge := `{"name":"big","command":"` + strings.Repeat("x", api.MaxBody) + `"}`
	for _, path := range []string{"/api/v1/jobs", "/v1/scheduler/iso8601"} {
		res, err := http.Post(ts.URL+path, "application/json", strings.NewReader(huge))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s with a huge body = %d", path, res.StatusCode)
		}
	}
	for _, body := range []string{`{`, `[]`, `"x"`, `{"name":"a"}{}`, `{"name":"a b","command":"x"}`, `{"name":"a/b","command":"x"}`, `{"name":"..","command":"x"}`, `{"name":["a"]}`} {
		res, err := http.Post(ts.URL+"/v1/scheduler/iso8601", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !bytes.Contains(b, []byte(`"status":"Bad Request"`)) || bytes.Contains(b, []byte("goroutine")) {
			t.Fatalf("body %s = %d %s", body, res.StatusCode, b)
		}
	}
	for _, path := range []string{"/v1/scheduler/job/..", "/v1/scheduler/job/a/b", "/api/v1/jobs/%2E%2E", "/v1/scheduler/job/a%2Fb"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 4 {
			t.Fatalf("GET %s = %d", path, res.StatusCode)
		}
	}
	if cat.Len() != 0 {
		t.Fatalf("refused requests stored %d jobs", cat.Len())
	}
}

// fakeAgent serves /files/read from a directory like a Mesos agent.
func fakeAgent(t *testing.T, root string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/read" {
			http.NotFound(w, r)
			return
		}
		var off, length int64
		fmt.Sscan(r.URL.Query().Get("offset"), &off)
		fmt.Sscan(r.URL.Query().Get("length"), &length)
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if off > int64(len(b)) {
			off = int64(len(b))
		}
		end := min(off+length, int64(len(b)))
		_ = json.NewEncoder(w).Encode(map[string]any{"data": string(b[off:end]), "offset": off})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestRunLogs(t *testing.T) {
	dir := t.TempDir()
	agent := fakeAgent(t, dir)
	cat := catalog.New()
	ts, _ := start(t, api.Config{LogPoll: 10 * time.Millisecond}, api.Deps{Catalog: cat, Commander: api.NewEngineCommander(cat)})
	stdout := filepath.Join(dir, "stdout")
	big := strings.Repeat("line of output\n", 10000) // > one 64 KiB chunk
	if err := os.WriteFile(stdout, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	run := scheduler.Run{ID: "r1", Job: "j", State: scheduler.RunRunning, Tasks: []scheduler.Task{{ID: "t1", State: scheduler.TaskRunning, AgentURL: agent.URL, Directory: dir}}}
	cat.Apply([]scheduler.Record{scheduler.PutJob{Job: scheduler.Job{Name: "j", Command: "x"}}, scheduler.PutRun{Run: run}})
	c := client.New(ts.URL, "", nil)
	var buf bytes.Buffer
	if err := c.Logs(context.Background(), "r1", "stdout", false, &buf); err != nil || buf.String() != big {
		t.Fatalf("logs: %d bytes, %v", buf.Len(), err)
	}
	if err := c.Logs(context.Background(), "r1", "stderr", false, &buf); status(err) != 404 {
		t.Fatalf("missing stderr: %v", err)
	}
	if err := c.Logs(context.Background(), "r1", "other", false, &buf); status(err) != 400 {
		t.Fatalf("bad stream: %v", err)
	}

	// Follow: output appended while the run is active is streamed; the
	// stream ends once the run is terminal and drained.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- c.Logs(context.Background(), "r1", "stdout", true, pw); pw.Close() }()
	got := make([]byte, len(big))
	if _, err := io.ReadFull(pr, got); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(stdout, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("more\n")
	f.Close()
	more := make([]byte, 5)
	if _, err := io.ReadFull(pr, more); err != nil || string(more) != "more\n" {
		t.Fatalf("followed %q, %v", more, err)
	}
	f, _ = os.OpenFile(stdout, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("last\n")
	f.Close()
	run.State = scheduler.RunSucceeded
	cat.Apply([]scheduler.Record{scheduler.PutRun{Run: run}})
	rest, _ := io.ReadAll(pr)
	if string(rest) != "last\n" {
		t.Fatalf("after the end: %q", rest)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Follow a run not placed yet: the stream waits for its sandbox.
	pending := scheduler.Run{ID: "r2", Job: "j", State: scheduler.RunPending, Tasks: []scheduler.Task{{ID: "t2", State: scheduler.TaskPending}}}
	cat.Apply([]scheduler.Record{scheduler.PutRun{Run: pending}})
	if err := c.Logs(context.Background(), "r2", "stdout", false, &buf); status(err) != 404 {
		t.Fatalf("unplaced run without follow: %v", err)
	}
	pr, pw = io.Pipe()
	go func() { done <- c.Logs(context.Background(), "r2", "stdout", true, pw); pw.Close() }()
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, "stdout"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	placed := pending
	placed.State = scheduler.RunRunning
	placed.Tasks = []scheduler.Task{{ID: "t2", State: scheduler.TaskRunning, AgentURL: agent.URL, Directory: dir2}}
	cat.Apply([]scheduler.Record{scheduler.PutRun{Run: placed}})
	hello := make([]byte, 6)
	if _, err := io.ReadFull(pr, hello); err != nil || string(hello) != "hello\n" {
		t.Fatalf("after placement: %q %v", hello, err)
	}
	placed.State = scheduler.RunFailed
	cat.Apply([]scheduler.Record{scheduler.PutRun{Run: placed}})
	if rest, _ := io.ReadAll(pr); len(rest) != 0 {
		t.Fatalf("unexpected %q", rest)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A finished run without a sandbox serves the tail the executor sent.
	tailed := scheduler.Run{ID: "r3", Job: "j", State: scheduler.RunFailed, Tasks: []scheduler.Task{{ID: "t3", State: scheduler.TaskFailed, StderrTail: "boom\n"}}}
	cat.Apply([]scheduler.Record{scheduler.PutRun{Run: tailed}})
	buf.Reset()
	if err := c.Logs(context.Background(), "r3", "stderr", false, &buf); err != nil || buf.String() != "boom\n" {
		t.Fatalf("tail: %q %v", buf.String(), err)
	}
}

// leaderStub says who leads.
type leaderStub struct {
	url  string
	self bool
}

func (l leaderStub) Leader(context.Context) (string, string, error) { return "leader-1", l.url, nil }
func (l leaderStub) IsLeader() bool                                 { return l.self }

type notLeader struct{}

func (notLeader) Do(context.Context, scheduler.Event) (scheduler.Output, error) {
	return scheduler.Output{}, fmt.Errorf("loop: %w", api.ErrNotLeader)
}

func TestFollowerForwardsWrites(t *testing.T) {
	users := []api.User{{User: "ops", Token: "tok-admin", Role: "admin"}, {User: "ro", Token: "tok-ro", Role: "viewer"}}
	leader, leaderCat := start(t, api.Config{Users: users}, api.Deps{Leadership: leaderStub{self: true}})
	follower, _ := start(t, api.Config{Users: users}, api.Deps{Commander: notLeader{}, Leadership: leaderStub{url: leader.URL}})
	c := client.New(follower.URL, "tok-admin", nil)
	if _, err := c.CreateJob(context.Background(), json.RawMessage(`{"name":"fwd","command":"x",`+sched+`}`)); err != nil {
		t.Fatalf("create through follower: %v", err)
	}
	if _, ok := leaderCat.Job("fwd"); !ok {
		t.Fatal("leader did not get the job")
	}
	// Chronos surface, Basic auth, forwarded too.
	req, _ := http.NewRequest("POST", follower.URL+"/v1/scheduler/iso8601", strings.NewReader(`{"name":"fwd2","command":"x"}`))
	req.SetBasicAuth("ops", "tok-admin")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 204 {
		t.Fatalf("chronos create through follower: %v %v", res, err)
	}
	res.Body.Close()
	// The follower checks auth before forwarding.
	ro := client.New(follower.URL, "tok-ro", nil)
	if _, err := ro.CreateJob(context.Background(), json.RawMessage(`{"name":"no","command":"x"}`)); status(err) != 403 {
		t.Fatalf("viewer create through follower: %v", err)
	}
	if _, ok := leaderCat.Job("no"); ok {
		t.Fatal("forbidden request reached the leader")
	}
	// The Commander saying ErrNotLeader (a lost race) also forwards.
	follower2, _ := start(t, api.Config{Users: users}, api.Deps{Commander: notLeader{}, Leadership: &flipping{url: leader.URL}})
	c2 := client.New(follower2.URL, "tok-admin", nil)
	if _, err := c2.RunJob(context.Background(), "fwd", api.RunRequest{}); err != nil {
		t.Fatalf("run through a deposed leader: %v", err)
	}
}

// flipping claims leadership, but its Commander disagrees.
type flipping struct{ url string }

func (f *flipping) Leader(context.Context) (string, string, error) { return "l", f.url, nil }
func (f *flipping) IsLeader() bool                                 { return true }

func TestAuthMatrix(t *testing.T) {
	users := []api.User{
		{User: "v", Token: "tv", Role: "viewer"},
		{User: "o", Token: "to", Password: "po", Role: "operator"},
		{User: "a", Token: "ta", Role: "admin"},
	}
	ts, _ := start(t, api.Config{Users: users}, api.Deps{})
	admin := client.New(ts.URL, "ta", nil)
	if _, err := admin.CreateJob(context.Background(), json.RawMessage(`{"name":"j","command":"x",`+sched+`}`)); err != nil {
		t.Fatal(err)
	}
	first, err := admin.RunJob(context.Background(), "j", api.RunRequest{})
	if err != nil {
		t.Fatal(err)
	}
	type ep struct {
		method, path, body string
		role               api.Role
	}
	eps := []ep{
		{"GET", "/ping", "", api.RoleNone},
		{"GET", "/health", "", api.RoleNone},
		{"GET", "/api/v1/openapi.json", "", api.RoleNone},
		{"GET", "/metrics", "", api.RoleViewer},
		{"GET", "/api/v1/jobs", "", api.RoleViewer},
		{"GET", "/api/v1/jobs/j", "", api.RoleViewer},
		{"GET", "/api/v1/jobs/j/runs", "", api.RoleViewer},
		{"GET", "/api/v1/runs/" + first.ID, "", api.RoleViewer},
		{"GET", "/api/v1/graph", "", api.RoleViewer},
		{"GET", "/api/v1/leader", "", api.RoleViewer},
		{"GET", "/v1/scheduler/jobs", "", api.RoleViewer},
		{"GET", "/v1/scheduler/jobs/search", "", api.RoleViewer},
		{"GET", "/v1/scheduler/job/stat/j", "", api.RoleViewer},
		{"GET", "/scheduler/graph/csv", "", api.RoleViewer},
		{"POST", "/api/v1/jobs/j/runs", "", api.RoleOperator},
		{"POST", "/api/v1/jobs/j/disable", "", api.RoleOperator},
		{"DELETE", "/api/v1/runs/NEW", "", api.RoleOperator},
		{"PUT", "/v1/scheduler/job/j", "", api.RoleOperator},
		{"DELETE", "/v1/scheduler/task/kill/j", "", api.RoleOperator},
		{"POST", "/api/v1/jobs", `{"name":"n1","command":"x",` + sched + `}`, api.RoleAdmin},
		{"PUT", "/api/v1/jobs/j", `{"name":"j","command":"y",` + sched + `}`, api.RoleAdmin},
		{"POST", "/v1/scheduler/iso8601", `{"name":"n2","command":"x"}`, api.RoleAdmin},
		{"PUT", "/scheduler/dependency", `{"name":"n3","command":"x","parents":["j"]}`, api.RoleAdmin},
	}
	creds := []struct {
		name string
		hdr  string
		role api.Role
		ok   bool
	}{
		{"none", "", api.RoleNone, false},
		{"bad token", "Bearer nope", api.RoleNone, false},
		{"viewer", "Bearer tv", api.RoleViewer, true},
		{"operator basic token", "Basic " + basic("o", "to"), api.RoleOperator, true},
		{"operator basic password", "Basic " + basic("o", "po"), api.RoleOperator, true},
		{"operator basic wrong user", "Basic " + basic("a", "po"), api.RoleNone, false},
		{"admin", "Bearer ta", api.RoleAdmin, true},
	}
	for _, cr := range creds {
		for _, e := range eps {
			t.Run(cr.name+" "+e.method+" "+e.path, func(t *testing.T) {
				var body io.Reader
				if e.body != "" {
					body = strings.NewReader(e.body)
				}
				path := e.path
				if strings.HasSuffix(path, "/NEW") {
					r, err := admin.RunJob(context.Background(), "j", api.RunRequest{})
					if err != nil {
						t.Fatal(err)
					}
					path = strings.TrimSuffix(path, "NEW") + r.ID
				}
				req, _ := http.NewRequest(e.method, ts.URL+path, body)
				if cr.hdr != "" {
					req.Header.Set("Authorization", cr.hdr)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				want := "ok"
				switch {
				case e.role == api.RoleNone:
				case !cr.ok:
					want = "401"
				case cr.role < e.role:
					want = "403"
				}
				got := "ok"
				if res.StatusCode == 401 || res.StatusCode == 403 {
					got = fmt.Sprint(res.StatusCode)
				}
				if got != want || (got == "ok" && res.StatusCode >= 400) {
					t.Fatalf("status %d (%s), want %s", res.StatusCode, b, want)
				}
				if res.StatusCode == 401 && res.Header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
				if bytes.Contains(b, []byte("tv")) && strings.Contains(string(b), `"tv"`) {
					t.Fatalf("token echoed: %s", b)
				}
			})
		}
	}
}

func basic(u, p string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(u, p)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  api.Config
		ok   bool
	}{
		{"loopback no auth", api.Config{Addr: "127.0.0.1:4400"}, true},
		{"localhost no auth", api.Config{Addr: "localhost:4400"}, true},
		{"wildcard no auth", api.Config{Addr: ":4400"}, false},
		{"public no auth", api.Config{Addr: "10.0.0.1:4400"}, false},
		{"public insecure", api.Config{Addr: "0.0.0.0:4400", Insecure: true}, true},
		{"public with users", api.Config{Addr: "0.0.0.0:4400", Users: []api.User{{User: "a", Token: "t", Role: "admin"}}}, true},
		{"bad role", api.Config{Users: []api.User{{User: "a", Token: "t", Role: "root"}}}, false},
		{"no secret", api.Config{Users: []api.User{{User: "a", Role: "admin"}}}, false},
		{"cert without key", api.Config{TLSCert: "c.pem"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestLoadUsers(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "auth.yaml")
	_ = os.WriteFile(yml, []byte("- user: alice\n  token: t1\n  role: admin\n- user: bob\n  password: pw\n  role: viewer\n"), 0o600)
	js := filepath.Join(dir, "auth.json")
	_ = os.WriteFile(js, []byte(`[{"user":"carol","token":"t3","role":"operator"}]`), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("- user: dave\n  token: t4\n  role: god\n"), 0o600)
	if u, err := api.LoadUsers(yml); err != nil || len(u) != 2 || u[1].Password != "pw" {
		t.Fatalf("yaml: %+v %v", u, err)
	}
	if u, err := api.LoadUsers(js); err != nil || len(u) != 1 || u[0].Role != "operator" {
		t.Fatalf("json: %+v %v", u, err)
	}
	if _, err := api.LoadUsers(bad); err == nil || strings.Contains(err.Error(), "t4") {
		t.Fatalf("bad role: %v", err)
	}
	if s := fmt.Sprint(api.User{User: "x", Token: "secret", Role: "admin"}); strings.Contains(s, "secret") {
		t.Fatalf("User prints its token: %s", s)
	}
}

func TestServeRefusesPublicWithoutAuth(t *testing.T) {
	cat := catalog.New()
	a, err := api.New(api.Config{}, api.Deps{Catalog: cat, Commander: api.NewEngineCommander(cat)})
	if err != nil {
		t.Fatal(err)
	}
	ln := &fakeListener{addr: "10.1.2.3:4400"}
	if err := a.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "without authentication") {
		t.Fatalf("Serve on a public address = %v", err)
	}
}

type fakeListener struct{ addr string }

func (l *fakeListener) Accept() (net.Conn, error) { return nil, errors.New("closed") }
func (l *fakeListener) Close() error              { return nil }
func (l *fakeListener) Addr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", l.addr)
	return a
}

func TestServeGracefulShutdown(t *testing.T) {
	cat := catalog.New()
	a, err := api.New(api.Config{}, api.Deps{Catalog: cat, Commander: api.NewEngineCommander(cat)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel = %v", err)
	}
}
