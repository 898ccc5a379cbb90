package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/horae-scheduler/horae/events"
	"github.com/horae-scheduler/horae/scheduler"
)

const hookSecret = "s3cret-hook-key"

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// newHookServer has job "h" with an enabled webhook, "off" with a disabled
// one, "plain" without any, and "nosecret" enabled without a secret.
func newHookServer(t *testing.T, cfg Config) *hubServer {
	t.Helper()
	s := newHubServer(t, cfg, events.Options{})
	put := func(body string) {
		t.Helper()
		out, err := s.cmd.Do(t.Context(), scheduler.JobPut{Job: mustDecode(t, body), Mode: scheduler.CreateOnly})
		if err != nil || len(out.Persist) == 0 {
			t.Fatalf("put %s: %v", body, err)
		}
	}
	put(fmt.Sprintf(hookJob, "h", true, hookSecret))
	put(fmt.Sprintf(hookJob, "off", false, hookSecret))
	put(`{"name":"plain","command":"x","schedule":"R/2030-01-01T00:00:00Z/PT1H"}`)
	put(fmt.Sprintf(hookJob, "nosecret", true, ""))
	return s
}

func mustDecode(t *testing.T, body string) scheduler.Job {
	t.Helper()
	j, err := DecodeJob([]byte(body), true)
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return j
}

func decodeRun(t *testing.T, body string) Run {
	t.Helper()
	var r Run
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("run body %q: %v", body, err)
	}
	return r
}

func TestHookAuthentication(t *testing.T) {
	s := newHookServer(t, Config{})
	body := `{"A":"1"}`
	cases := []struct {
		name string
		hdr  []string
		code int
	}{
		{"signature", []string{SignatureHeader, sign(hookSecret, body)}, 202},
		{"signature of another body", []string{SignatureHeader, sign(hookSecret, body+" ")}, 401},
		{"signature with another secret", []string{SignatureHeader, sign("other", body)}, 401},
		{"signature without prefix", []string{SignatureHeader, strings.TrimPrefix(sign(hookSecret, body), "sha256=")}, 401},
		{"signature not hex", []string{SignatureHeader, "sha256=zz"}, 401},
		{"wrong signature beats right token", []string{SignatureHeader, sign("other", body), TokenHeader, hookSecret}, 401},
		{"bearer token", []string{"Authorization", "Bearer " + hookSecret}, 202},
		{"token header", []string{TokenHeader, hookSecret}, 202},
		{"wrong token", []string{TokenHeader, hookSecret + "x"}, 401},
		{"prefix of the token", []string{TokenHeader, hookSecret[:4]}, 401},
		{"basic auth", []string{"Authorization", "Basic " + hookSecret}, 401},
		{"nothing", nil, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.call(t, "POST", "/api/v1/hooks/h", body, "", tc.hdr...)
			if r.code != tc.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, tc.code)
			}
			if tc.code != 202 {
				return
			}
			run := decodeRun(t, r.body)
			if run.Job != "h" || run.Trigger != "webhook" || run.State != "pending" || run.Env["A"] != "1" {
				t.Fatalf("run %+v", run)
			}
			if loc := r.hdr.Get("Location"); loc != "/api/v1/runs/"+run.ID {
				t.Fatalf("Location %q", loc)
			}
			if _, ok := s.cat.Run(scheduler.RunID(run.ID)); !ok {
				t.Fatalf("run %s not in the catalog", run.ID)
			}
		})
	}
}

// TestHookNotFoundLeaksNothing: an unknown job, a disabled webhook, a job
// without one, one without a secret and a malformed name all answer the
// same 404, with or without valid-looking credentials.
func TestHookNotFoundLeaksNothing(t *testing.T) {
	s := newHookServer(t, Config{})
	var first string
	for _, name := range []string{"nope", "off", "plain", "nosecret", "bad%20name"} {
		for _, hdr := range [][]string{nil, {TokenHeader, hookSecret}, {SignatureHeader, sign(hookSecret, "{}")}} {
			r := s.call(t, "POST", "/api/v1/hooks/"+name, "{}", "", hdr...)
			shown := strings.ReplaceAll(name, "%20", " ")
			got := strings.Replace(r.body, `\"`+shown+`\"`, `\"NAME\"`, 1)
			if r.code != 404 {
				t.Fatalf("%s %v: %d %s, want 404", name, hdr, r.code, r.body)
			}
			if first == "" {
				first = got
			}
			if got != first || r.hdr.Get("WWW-Authenticate") != "" {
				t.Fatalf("%s %v: body %s differs from %s", name, hdr, got, first)
			}
		}
	}
	if s.eng.count() != 6 { // 4 puts + Subscribed + Reconciled: no run request reached the engine
		t.Fatalf("%d commands reached the engine", s.eng.count())
	}
}

func TestHookIdempotency(t *testing.T) {
	s := newHookServer(t, Config{})
	post := func(body, key string) Run {
		t.Helper()
		hdr := []string{TokenHeader, hookSecret}
		if key != "" {
			hdr = append(hdr, IdempotencyHeader, key)
		}
		r := s.call(t, "POST", "/api/v1/hooks/h", body, "", hdr...)
		if r.code != 202 {
			t.Fatalf("POST key %q: %d %s", key, r.code, r.body)
		}
		return decodeRun(t, r.body)
	}
	a := post(`{"V":"1"}`, "delivery-1")
	b := post(`{"V":"1"}`, "delivery-1") // the retried delivery
	c := post(`{"V":"2"}`, "delivery-2")
	if a.ID != b.ID || a.TriggerID != "delivery-1" {
		t.Fatalf("retried delivery: runs %s and %s (trigger id %q)", a.ID, b.ID, a.TriggerID)
	}
	if c.ID == a.ID {
		t.Fatal("another key gave the same run")
	}
	// Without a key, every delivery is a new run.
	d, e := post(`{}`, ""), post(`{}`, "")
	if d.ID == e.ID {
		t.Fatalf("two deliveries without a key: one run %s", d.ID)
	}
	runs, _, _ := s.cat.Runs("h", "", 100)
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4 (a=b, c, d, e)", len(runs))
	}
	if r := s.call(t, "POST", "/api/v1/hooks/h", "{}", "", TokenHeader, hookSecret, IdempotencyHeader, "bad key!"); r.code != 422 || !strings.Contains(r.body, "triggerId") {
		t.Fatalf("bad key: %d %s", r.code, r.body)
	}
}

// TestHookEnvReachesTheTask: the body's strings are in the task launch.
func TestHookEnvReachesTheTask(t *testing.T) {
	s := newHookServer(t, Config{})
	body := `{"REF":"refs/heads/main","_x9":"","LONG":"` + strings.Repeat("v", HookMaxValue) + `"}`
	r := s.call(t, "POST", "/api/v1/hooks/h", body, "", SignatureHeader, sign(hookSecret, body))
	if r.code != 202 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	out := s.cmd.do(t, scheduler.OffersArrived{Offers: []scheduler.Offer{{ID: "o", AgentID: "ag", Hostname: "h", CPUs: 16, Mem: 65536, Disk: 1 << 20}}})
	if len(out.Launch) != 1 || len(out.Launch[0].Tasks) != 1 {
		t.Fatalf("launch %+v", out.Launch)
	}
	env := out.Launch[0].Tasks[0].Env
	if env["REF"] != "refs/heads/main" || env["_x9"] != "" || len(env["LONG"]) != HookMaxValue || len(env) != 3 {
		t.Fatalf("task env %v", env)
	}
}

func TestHookBodies(t *testing.T) {
	s := newHookServer(t, Config{})
	many := map[string]string{}
	for i := range HookMaxKeys + 1 {
		many[fmt.Sprint("K", i)] = "v"
	}
	manyJSON, _ := json.Marshal(many)
	cases := []struct {
		name, body string
		code       int
		mention    string
	}{
		{"empty", ``, 202, ""},
		{"empty object", `{}`, 202, ""},
		{"number", `{"OK":"1","N":1}`, 422, "body.N"},
		{"object", `{"O":{"a":"b"}}`, 422, "body.O"},
		{"null", `{"Z":null}`, 422, "body.Z"},
		{"bad name", `{"1A":"x"}`, 422, "body.1A"},
		{"name with dash", `{"A-B":"x"}`, 422, "body.A-B"},
		{"name with equals", `{"A=B":"x"}`, 422, "body.A=B"},
		{"value too long", `{"L":"` + strings.Repeat("v", HookMaxValue+1) + `"}`, 422, "body.L"},
		{"NUL in value", `{"N":"a\u0000b"}`, 422, "body.N"},
		{"too many keys", string(manyJSON), 422, "at most 64"},
		{"array", `["a"]`, 400, "JSON object"},
		{"not JSON", `a=b`, 400, "JSON object"},
		{"JSON null", `null`, 400, "not null"},
		{"too large", `{"A":"` + strings.Repeat("v", HookMaxBody) + `"}`, 413, "larger than 65536"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.call(t, "POST", "/api/v1/hooks/h", tc.body, "", SignatureHeader, sign(hookSecret, tc.body))
			if r.code != tc.code || !strings.Contains(r.body, tc.mention) {
				t.Fatalf("%d %s, want %d mentioning %q", r.code, r.body, tc.code, tc.mention)
			}
		})
	}
}

// FuzzHookEnv: whatever the body, hookEnv either fails or returns only
// valid names with bounded string values that are exactly the body's.
func FuzzHookEnv(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"A":"1"}`, `{"A":1}`, `{"a b":"x"}`, `[1]`, `null`, `{"A":"\u0000"}`, `{"A":"x","A":"y"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := hookEnv(body)
		if err != nil {
			if env != nil {
				t.Fatal("env with an error")
			}
			return
		}
		if len(env) > HookMaxKeys {
			t.Fatalf("%d keys", len(env))
		}
		var back map[string]any
		if len(env) > 0 {
			if e := json.Unmarshal(body, &back); e != nil {
				t.Fatalf("accepted a body that is not an object: %v", e)
			}
		}
		for k, v := range env {
			if !envName.MatchString(k) || len(v) > HookMaxValue || strings.ContainsRune(v, 0) {
				t.Fatalf("accepted %q=%q", k, v)
			}
			if back[k] != v {
				t.Fatalf("%s: %q, body has %v", k, v, back[k])
			}
		}
	})
}

// TestHookWithUsers: the webhook ignores --auth-file users (the secret is
// the credential), and user credentials do not replace the secret.
func TestHookWithUsers(t *testing.T) {
	s := newHookServer(t, Config{Users: []User{{User: "admin", Token: "admintoken", Role: "admin"}, {User: "v", Token: "vt", Role: "viewer"}, {User: "op", Token: "opt", Role: "operator"}}})
	if r := s.call(t, "POST", "/api/v1/hooks/h", "{}", "", TokenHeader, hookSecret); r.code != 202 {
		t.Fatalf("secret with users: %d %s", r.code, r.body)
	}
	if r := s.call(t, "POST", "/api/v1/hooks/h", "{}", "Bearer admintoken"); r.code != 401 {
		t.Fatalf("admin token instead of the secret: %d %s", r.code, r.body)
	}
	if r := s.call(t, "GET", "/api/v1/jobs/h/hook", "", "Bearer vt"); r.code != 403 {
		t.Fatalf("hook info as viewer: %d %s", r.code, r.body)
	}
	if r := s.call(t, "GET", "/api/v1/jobs/h/hook", "", "Bearer opt"); r.code != 200 {
		t.Fatalf("hook info as operator: %d %s", r.code, r.body)
	}
}

func TestHookInfo(t *testing.T) {
	s := newHookServer(t, Config{})
	for _, tc := range []struct {
		job     string
		code    int
		enabled bool
	}{{"h", 200, true}, {"off", 200, false}, {"plain", 200, false}, {"nosecret", 200, false}, {"nope", 404, false}} {
		r := s.call(t, "GET", "/api/v1/jobs/"+tc.job+"/hook", "", "")
		if r.code != tc.code {
			t.Fatalf("%s: %d %s", tc.job, r.code, r.body)
		}
		if strings.Contains(r.body, hookSecret) {
			t.Fatalf("%s: secret in %s", tc.job, r.body)
		}
		if tc.code != 200 {
			continue
		}
		var info HookInfo
		if err := json.Unmarshal([]byte(r.body), &info); err != nil {
			t.Fatal(err)
		}
		if info.Enabled != tc.enabled || info.URL != s.URL+"/api/v1/hooks/"+tc.job || info.SignatureHeader != SignatureHeader || info.Method != "POST" {
			t.Fatalf("%s: %+v", tc.job, info)
		}
	}
	// The secret is never echoed by the API, nor in the event stream.
	for _, p := range []string{"/api/v1/jobs/h", "/api/v1/jobs", "/v1/scheduler/jobs", "/v1/scheduler/job/h"} {
		if r := s.call(t, "GET", p, "", ""); r.code != 200 || strings.Contains(r.body, hookSecret) {
			t.Fatalf("GET %s: %d, secret shown: %v", p, r.code, strings.Contains(r.body, hookSecret))
		}
	}
	c := openSSE(t, s.URL, "/api/v1/events")
	s.must(t, 200, "PUT", "/api/v1/jobs/h", fmt.Sprintf(hookJob, "h", true, hookSecret))
	if ev := c.next(t); ev.typ != "job.updated" || strings.Contains(ev.raw, hookSecret) || ev.data.Spec.Webhook == nil || !ev.data.Spec.Webhook.Enabled {
		t.Fatalf("event %s: %s", ev, ev.raw)
	}
}

// TestHookRoutesDocumented: every status the tests above get is in
// openapi.json.
func TestHookRoutesDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, method string
		codes        []string
	}{
		{"/api/v1/hooks/{job}", "post", []string{"202", "400", "401", "404", "413", "422"}},
		{"/api/v1/jobs/{name}/hook", "get", []string{"200", "401", "403", "404"}},
		{"/api/v1/events", "get", []string{"200", "400", "401", "403", "404"}},
	} {
		op, ok := doc.Paths[c.path][c.method]
		if !ok {
			t.Errorf("%s %s not in openapi.json", c.method, c.path)
			continue
		}
		for _, code := range c.codes {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s %s: status %s undocumented", c.method, c.path, code)
			}
		}
	}
	// The wire types' fields are the schemas' properties.
	for name, v := range map[string]any{"HookInfo": HookInfo{}, "StreamEvent": StreamEvent{Run: &Run{}, Spec: &Job{}, Leading: new(bool), Job: "j", Epoch: 1}} {
		b, _ := json.Marshal(v)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		props := doc.Components.Schemas[name].Properties
		if len(m) != len(props) {
			t.Errorf("schema %s has %d properties, the wire type %d: %s", name, len(props), len(m), b)
		}
		for k := range m {
			if _, ok := props[k]; !ok {
				t.Errorf("schema %s lacks %s", name, k)
			}
		}
	}
}

// TestReplaceKeepsWebhookSecret: GET never shows the secret, so a job read
// and sent back (native PUT or Chronos upsert) keeps it; a new secret
// rotates it, "secret":"" and a body without "webhook" remove it, and
// disabling without a secret keeps it for a later enable.
func TestReplaceKeepsWebhookSecret(t *testing.T) {
	const chronosSched = `"schedule":"R/2030-01-01T00:00:00Z/PT1H"`
	cases := []struct {
		name   string
		method string
		path   string
		bodies []string // sent in order; "GET" sends the job as GET shows it
		secret string   // the credential that must now work; "" = none works
	}{
		{"native get-put round trip", "PUT", "/api/v1/jobs/h", []string{"GET"}, hookSecret},
		{"chronos get-put round trip", "PUT", "/v1/scheduler/iso8601", []string{"GET"}, hookSecret},
		{"native rotate", "PUT", "/api/v1/jobs/h",
			[]string{`{"name":"h","command":"x",` + chronosSched + `,"webhook":{"enabled":true,"secret":"new-key"}}`}, "new-key"},
		{"chronos rotate", "POST", "/v1/scheduler/iso8601",
			[]string{`{"name":"h","command":"x",` + chronosSched + `,"webhook":{"enabled":true,"secret":"new-key"}}`}, "new-key"},
		{"native explicit empty secret clears", "PUT", "/api/v1/jobs/h",
			[]string{`{"name":"h","command":"x",` + chronosSched + `,"webhook":{"enabled":true,"secret":""}}`}, ""},
		{"native without webhook removes it", "PUT", "/api/v1/jobs/h",
			[]string{`{"name":"h","command":"x",` + chronosSched + `}`}, ""},
		{"chronos without webhook removes it", "PUT", "/v1/scheduler/iso8601",
			[]string{`{"name":"h","command":"x",` + chronosSched + `}`}, ""},
		{"disable then enable without secret keeps it", "PUT", "/api/v1/jobs/h", []string{
			`{"name":"h","command":"x",` + chronosSched + `,"webhook":{"enabled":false}}`,
			`{"name":"h","command":"x",` + chronosSched + `,"webhook":{"enabled":true}}`}, hookSecret},
		{"removed webhook re-added without secret has none", "PUT", "/api/v1/jobs/h", []string{
			`{"name":"h","command":"x",` + chronosSched + `}`,
			`{"name":"h","command":"x",` + chronosSched + `,"webhook":{"enabled":true}}`}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newHookServer(t, Config{})
			for _, body := range tc.bodies {
				if body == "GET" {
					body = s.must(t, 200, "GET", "/api/v1/jobs/h", "")
					if strings.Contains(body, hookSecret) {
						t.Fatalf("GET shows the secret: %s", body)
					}
					body = strings.Replace(body, `"description":""`, `"description":"edited"`, 1)
				}
				want := 200
				if strings.HasPrefix(tc.path, "/v1/") {
					want = 204
				}
				s.must(t, want, tc.method, tc.path, body)
			}
			v, ok := s.cat.Job("h")
			if !ok {
				t.Fatal("job h gone")
			}
			if got := ""; v.Job.Webhook != nil {
				got = v.Job.Webhook.Secret
				if got != tc.secret {
					t.Fatalf("stored secret %q, want %q", got, tc.secret)
				}
			} else if tc.secret != "" {
				t.Fatalf("stored job has no webhook, want secret %q", tc.secret)
			}
			for _, secret := range []string{hookSecret, "new-key"} {
				want := 401
				switch {
				case tc.secret == "":
					want = 404
				case secret == tc.secret:
					want = 202
				}
				body := `{"A":"1"}`
				if r := s.call(t, "POST", "/api/v1/hooks/h", body, "", SignatureHeader, sign(secret, body)); r.code != want {
					t.Fatalf("delivery signed with %q: %d %s, want %d", secret, r.code, r.body, want)
				}
			}
		})
	}
}
