package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/api/client"
	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/scheduler"
)

// checkSchema validates v (decoded JSON) against a small subset of OpenAPI
// 3 schemas: $ref, type, required, properties, items, enum,
// additionalProperties. Properties not declared in properties are errors
// unless additionalProperties allows them, so an undocumented field fails.
func checkSchema(doc map[string]any, schema map[string]any, v any, at string) []string {
	if r, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(r, "#/components/schemas/")
		s, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !ok {
			return []string{at + ": unresolved " + r}
		}
		return checkSchema(doc, s, v, at)
	}
	var errs []string
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if reflect.DeepEqual(e, v) {
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s: %v not in %v", at, v, enum))
		}
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T is not an object", at, v))
		}
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asSlice(schema["required"]) {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required %s missing", at, r))
			}
		}
		for k, val := range m {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, checkSchema(doc, ps, val, at+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case map[string]any:
				errs = append(errs, checkSchema(doc, ap, val, at+"."+k)...)
			default:
				errs = append(errs, fmt.Sprintf("%s: undocumented property %s", at, k))
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T is not an array", at, v))
		}
		items, _ := schema["items"].(map[string]any)
		for i, it := range a {
			errs = append(errs, checkSchema(doc, items, it, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T is not a string", at, v))
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			errs = append(errs, fmt.Sprintf("%s: %v is not an integer", at, v))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T is not a number", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T is not a boolean", at, v))
		}
	}
	return errs
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestOpenAPIMatchesResponses drives every native endpoint and validates
// each JSON response against the schema the embedded document declares for
// that path, method and status.
func TestOpenAPIMatchesResponses(t *testing.T) {
	ts, cat := start(t, api.Config{}, api.Deps{})
	res, err := http.Get(ts.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	res.Body.Close()
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	c := client.New(ts.URL, "", nil)
	ctx := context.Background()
	if _, err := c.CreateJob(ctx, json.RawMessage(`{"name":"p","command":"x",`+sched+`,"labels":{"a":"b"},"container":{"type":"DOCKER","image":"i"},"constraints":[["host","LIKE","a.*"]]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateJob(ctx, json.RawMessage(`{"name":"c","command":"x","parents":["p"]}`)); err != nil {
		t.Fatal(err)
	}
	run, err := c.RunJob(ctx, "p", api.RunRequest{Env: map[string]string{"A": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	code := 3
	done := scheduler.Run{ID: "p-done", Job: "p", Trigger: scheduler.TriggerSchedule, State: scheduler.RunFailed, ExitCode: &code,
		CreatedAt: time.Unix(1, 0), ScheduledFor: time.Unix(1, 0), StartedAt: time.Unix(2, 0), FinishedAt: time.Unix(5, 0),
		Tasks: []scheduler.Task{{ID: "t", State: scheduler.TaskFailed, ExitCode: &code, AgentID: "ag", Host: "h", StartedAt: time.Unix(2, 0), FinishedAt: time.Unix(5, 0), StderrTail: "boom"}}}
	cat.Apply([]scheduler.Record{scheduler.PutRun{Run: done}})

	cases := []struct {
		method, path, tmpl, body string
		code                     int
	}{
		{"GET", "/api/v1/jobs", "/api/v1/jobs", "", 200},
		{"GET", "/api/v1/jobs?limit=1", "/api/v1/jobs", "", 200},
		{"GET", "/api/v1/jobs?limit=0", "/api/v1/jobs", "", 400},
		{"POST", "/api/v1/jobs", "/api/v1/jobs", `{"name":"n","command":"x",` + sched + `}`, 201},
		{"POST", "/api/v1/jobs", "/api/v1/jobs", `{"name":"n","command":"x",` + sched + `}`, 409},
		{"POST", "/api/v1/jobs", "/api/v1/jobs", `{"name":"m","command":"x","parents":["zz"]}`, 422},
		{"POST", "/api/v1/jobs", "/api/v1/jobs", `{"name":"m","bogus":1}`, 400},
		{"GET", "/api/v1/jobs/p", "/api/v1/jobs/{name}", "", 200},
		{"GET", "/api/v1/jobs/zz", "/api/v1/jobs/{name}", "", 404},
		{"PUT", "/api/v1/jobs/n", "/api/v1/jobs/{name}", `{"name":"n","command":"y",` + sched + `}`, 200},
		{"DELETE", "/api/v1/jobs/p", "/api/v1/jobs/{name}", "", 409},
		{"DELETE", "/api/v1/jobs/n", "/api/v1/jobs/{name}", "", 204},
		{"POST", "/api/v1/jobs/c/disable", "/api/v1/jobs/{name}/disable", "", 200},
		{"POST", "/api/v1/jobs/c/enable", "/api/v1/jobs/{name}/enable", "", 200},
		{"GET", "/api/v1/jobs/p/runs", "/api/v1/jobs/{name}/runs", "", 200},
		{"POST", "/api/v1/jobs/p/runs", "/api/v1/jobs/{name}/runs", `{"arguments":["a"]}`, 202},
		{"GET", "/api/v1/runs/p-done", "/api/v1/runs/{id}", "", 200},
		{"GET", "/api/v1/runs/" + run.ID, "/api/v1/runs/{id}", "", 200},
		{"GET", "/api/v1/runs/zz", "/api/v1/runs/{id}", "", 404},
		{"DELETE", "/api/v1/runs/" + run.ID, "/api/v1/runs/{id}", "", 202},
		{"GET", "/api/v1/schedule/preview?schedule=R/2026-01-01T00:00:00Z/PT1H&count=2", "/api/v1/schedule/preview", "", 200},
		{"GET", "/api/v1/graph", "/api/v1/graph", "", 200},
		{"GET", "/api/v1/leader", "/api/v1/leader", "", 200},
		// The Chronos surface.
		{"POST", "/v1/scheduler/iso8601", "/v1/scheduler/iso8601", `{"name":"q","command":"x","cpus":"0.5","whatever":1}`, 204},
		{"POST", "/v1/scheduler/iso8601", "/v1/scheduler/iso8601", `{"name":"q q","command":"x"}`, 400},
		{"PUT", "/v1/scheduler/dependency", "/v1/scheduler/dependency", `{"name":"d","command":"x","parents":["q"]}`, 204},
		{"GET", "/v1/scheduler/jobs", "/v1/scheduler/jobs", "", 200},
		{"GET", "/v1/scheduler/jobs/search?name=q", "/v1/scheduler/jobs/search", "", 200},
		{"GET", "/v1/scheduler/jobs/summary", "/v1/scheduler/jobs/summary", "", 200},
		{"GET", "/v1/scheduler/job/p", "/v1/scheduler/job/{name}", "", 200},
		{"GET", "/v1/scheduler/job/zz", "/v1/scheduler/job/{name}", "", 400},
		{"PUT", "/v1/scheduler/job/q", "/v1/scheduler/job/{name}", "", 204},
		{"GET", "/v1/scheduler/job/stat/p", "/v1/scheduler/job/stat/{name}", "", 200},
		{"GET", "/v1/scheduler/stats/median", "/v1/scheduler/stats/{pct}", "", 200},
		{"DELETE", "/v1/scheduler/task/kill/q", "/v1/scheduler/task/kill/{name}", "", 204},
		{"GET", "/v1/scheduler/leader", "/v1/scheduler/leader", "", 200},
		{"DELETE", "/v1/scheduler/job/d", "/v1/scheduler/job/{name}", "", 204},
		{"GET", "/metrics", "/metrics", "", 200},
	}
	paths := doc["paths"].(map[string]any)
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s %d", tc.method, tc.path, tc.code), func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, body)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.code {
				t.Fatalf("status %d (%s), want %d", res.StatusCode, b, tc.code)
			}
			op, ok := paths[tc.tmpl].(map[string]any)[strings.ToLower(tc.method)].(map[string]any)
			if !ok {
				t.Fatalf("no operation %s %s in openapi.json", tc.method, tc.tmpl)
			}
			rd, ok := op["responses"].(map[string]any)[fmt.Sprint(tc.code)].(map[string]any)
			if !ok {
				t.Fatalf("status %d of %s %s undocumented", tc.code, tc.method, tc.tmpl)
			}
			content, _ := rd["content"].(map[string]any)
			if len(b) == 0 {
				if content != nil {
					t.Fatal("documented body, got none")
				}
				return
			}
			schema := content["application/json"].(map[string]any)["schema"].(map[string]any)
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("body not JSON: %s", b)
			}
			if errs := checkSchema(doc, schema, v, "body"); len(errs) > 0 {
				t.Fatalf("schema violations:\n%s\nbody: %s", strings.Join(errs, "\n"), b)
			}
		})
	}
}

// TestSchemaCheckerFails makes sure the checker can fail.
func TestSchemaCheckerFails(t *testing.T) {
	doc := map[string]any{"components": map[string]any{"schemas": map[string]any{}}}
	schema := map[string]any{"type": "object", "required": []any{"a"}, "properties": map[string]any{"a": map[string]any{"type": "integer"}}}
	for _, v := range []any{map[string]any{}, map[string]any{"a": "x"}, map[string]any{"a": 1.0, "b": 1.0}, []any{}} {
		if len(checkSchema(doc, schema, v, "v")) == 0 {
			t.Fatalf("%v passed", v)
		}
	}
}

func TestMetricsNegotiation(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "horae_test_queue_depth", Help: "test"})
	g.Set(7)
	reg.MustRegister(g)
	cat := catalog.New()
	ts, _ := start(t, api.Config{}, api.Deps{Catalog: cat, Commander: api.NewEngineCommander(cat), Registerer: reg, Gatherer: reg})
	if _, err := http.Get(ts.URL + "/ping"); err != nil {
		t.Fatal(err)
	}
	get := func(accept string) (string, string) {
		req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.Header.Get("Content-Type"), string(b)
	}
	// What Prometheus sends.
	ct, body := get("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	if !strings.Contains(body, "horae_test_queue_depth 7") || !strings.Contains(body, `horae_api_requests_total{code="200",route="GET /ping"} 1`) {
		t.Fatalf("prometheus exposition (%s):\n%s", ct, body)
	}
	for _, accept := range []string{"", "application/json"} {
		ct, body := get(accept)
		var m map[string]map[string]any
		if err := json.Unmarshal([]byte(body), &struct{ Gauges *map[string]map[string]any }{&m}); err != nil || !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("accept %q: %s %v", accept, ct, err)
		}
		if m["horae_test_queue_depth"]["value"] != 7.0 {
			t.Fatalf("accept %q: gauges %v", accept, m)
		}
		for _, k := range []string{`"version"`, `"counters"`, `"histograms"`, `"meters"`, `"timers"`} {
			if !strings.Contains(body, k) {
				t.Fatalf("accept %q: no %s in %s", accept, k, body)
			}
		}
	}
}
