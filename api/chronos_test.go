package api

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// The job chronos-python's itests create (itests/steps/chronos_steps.py).
const pyJob = `{"async": false, "command": "echo 1", "epsilon": "PT15M", "name": "myjob",
 "owner": "me@example.com", "disabled": false, "schedule": "R0/2014-01-01T00:00:00Z/PT60M"}`

// TestChronosPythonItests follows chronos-python's behave itests against
// the v1 API: create, list, names with spaces refused, the exact empty
// stat shape, stats rows, graph/csv line count, /metrics JSON, search.
func TestChronosPythonItests(t *testing.T) {
	s := newServer(t, Config{}, nil)
	s.must(t, 204, "POST", "/v1/scheduler/iso8601", pyJob)

	var jobs []map[string]any
	if err := json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/jobs", "")), &jobs); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0]["name"] != "myjob" || jobs[0]["command"] != "echo 1" || jobs[0]["owner"] != "me@example.com" ||
		jobs[0]["disabled"] != false || jobs[0]["schedule"] != "R0/2014-01-01T00:00:00Z/PT60M" || jobs[0]["retries"] != 2.0 ||
		jobs[0]["startingDeadline"] != "PT15M" || jobs[0]["shell"] != true {
		t.Fatalf("jobs = %v", jobs)
	}

	// 3.x refuses names with spaces, with Chronos's 400 envelope, and
	// nothing reaches the engine.
	before := s.eng.count()
	r := s.call(t, "POST", "/v1/scheduler/iso8601", `{"name":"my job","command":"true","schedule":"R/2014-01-01T00:00:00Z/PT1H"}`, "")
	var em map[string]string
	if r.code != 400 || json.Unmarshal([]byte(r.body), &em) != nil || em["status"] != "Bad Request" || !strings.Contains(em["message"], "my job") {
		t.Fatalf("name with space: %d %s", r.code, r.body)
	}
	if s.eng.count() != before {
		t.Fatal("a refused job reached the engine")
	}

	stat := s.must(t, 200, "GET", "/v1/scheduler/job/stat/myjob", "")
	var got, want any
	_ = json.Unmarshal([]byte(stat), &got)
	_ = json.Unmarshal([]byte(`{"histogram":{"75thPercentile":0.0,"95thPercentile":0.0,"98thPercentile":0.0,"99thPercentile":0.0,"median":0.0,"mean":0.0,"count":0},"taskStatHistory":[]}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("empty stat = %s", stat)
	}
	for _, pct := range []string{"99thPercentile", "98thPercentile", "95thPercentile", "75thPercentile", "median", "mean"} {
		var rows []map[string]any
		_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/stats/"+pct, "")), &rows)
		if !reflect.DeepEqual(rows, []map[string]any{{"jobNameLabel": "myjob", "time": 0.0}}) {
			t.Fatalf("stats/%s = %v", pct, rows)
		}
	}
	csv := s.must(t, 200, "GET", "/v1/scheduler/graph/csv", "")
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 1 || lines[0] != "node,myjob,fresh,idle" {
		t.Fatalf("graph/csv = %q", csv)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.must(t, 200, "GET", "/metrics", "")), &m); err != nil || m["version"] == nil || m["gauges"] == nil {
		t.Fatalf("/metrics JSON = %v (%v)", m, err)
	}
	for _, q := range []string{"name=myj", "command=echo"} {
		var found []map[string]any
		_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/jobs/search?"+q, "")), &found)
		if len(found) != 1 || found[0]["name"] != "myjob" {
			t.Fatalf("search %s = %v", q, found)
		}
	}
	var none []any
	_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/jobs/search?name=nomatch", "")), &none)
	if none == nil || len(none) != 0 {
		t.Fatalf("search with no match should be []: %v", none)
	}
}

// TestChronosEndpoints covers every row of chronos.md §2 on both prefixes,
// as go-chronos, chronos-python (2.x) and the other clients call them.
func TestChronosEndpoints(t *testing.T) {
	for _, prefix := range []string{"/v1/scheduler", "/scheduler"} {
		t.Run(prefix, func(t *testing.T) {
			s := newServer(t, Config{}, nil)
			// go-chronos sends omitempty structs; "cpus" as a string is coerced.
			s.must(t, 204, "POST", prefix+"/iso8601", `{"name":"parent","command":"echo p","schedule":"R/2026-01-01T00:00:00Z/PT1H","cpus":"0.5","concurrent":true,"unknownField":1}`)
			s.must(t, 204, "POST", prefix+"/dependency", `{"name":"child","command":"echo c","parents":["parent"],"schedule":"ignored"}`)
			// 2.x clients update with PUT.
			s.must(t, 204, "PUT", prefix+"/iso8601", `{"name":"parent","command":"echo p2","schedule":"R/2026-01-01T00:00:00Z/PT2H","cpus":0.5,"concurrent":true}`)

			var j Job
			_ = json.Unmarshal([]byte(s.must(t, 200, "GET", prefix+"/job/parent", "")), &j)
			if j.Command != "echo p2" || j.CPUs != 0.5 || !j.Concurrent || j.ConcurrencyPolicy != "allow" || j.Schedule == nil || *j.Schedule != "R/2026-01-01T00:00:00Z/PT2H" {
				t.Fatalf("job parent = %+v", j)
			}
			j = Job{}
			_ = json.Unmarshal([]byte(s.must(t, 200, "GET", prefix+"/job/child", "")), &j)
			if !reflect.DeepEqual(j.Parents, []string{"parent"}) || j.Schedule != nil {
				t.Fatalf("job child = %+v", j)
			}

			var sum struct{ Jobs []Summary }
			_ = json.Unmarshal([]byte(s.must(t, 200, "GET", prefix+"/jobs/summary", "")), &sum)
			if len(sum.Jobs) != 2 || sum.Jobs[0].Name != "child" || sum.Jobs[0].Schedule != "" || sum.Jobs[0].State != "idle" || sum.Jobs[0].Status != "fresh" {
				t.Fatalf("summary = %+v", sum)
			}

			s.must(t, 204, "PUT", prefix+"/job/parent?arguments=-v;--x", "")
			if rr, ok := s.eng.last().(scheduler.RunRequested); !ok || !reflect.DeepEqual(rr.Arguments, []string{"-v--x"}) || rr.Trigger != scheduler.TriggerManual {
				t.Fatalf("run command = %#v", s.eng.last())
			}
			sum.Jobs = nil
			_ = json.Unmarshal([]byte(s.must(t, 200, "GET", prefix+"/jobs/summary", "")), &sum)
			if sum.Jobs[1].State != "queued" {
				t.Fatalf("state after a manual run = %q", sum.Jobs[1].State)
			}

			r := s.call(t, "PUT", prefix+"/job/success/parent", "", "")
			if r.code != 200 || r.body != "marked job parent as successful: true" || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/plain") {
				t.Fatalf("job/success = %d %q %s", r.code, r.body, r.hdr.Get("Content-Type"))
			}
			s.must(t, 204, "DELETE", prefix+"/task/kill/parent", "")
			if _, ok := s.eng.last().(scheduler.JobKillRequested); !ok {
				t.Fatalf("kill command = %#v", s.eng.last())
			}
			dot := s.must(t, 200, "GET", prefix+"/graph/dot", "")
			if !strings.Contains(dot, `[label="parent"]`) || !strings.Contains(dot, "2 -> 1;") {
				t.Fatalf("graph/dot = %s", dot)
			}
			csv := s.must(t, 200, "GET", prefix+"/graph/csv", "")
			// Marking the parent successful released the child (queued);
			// the parent's manual run was killed.
			if csv != "node,child,fresh,queued\nnode,parent,success,idle\nlink,parent,child\n" {
				t.Fatalf("graph/csv = %q", csv)
			}
			var ldr map[string]string
			_ = json.Unmarshal([]byte(s.must(t, 200, "GET", prefix+"/leader", "")), &ldr)
			if ldr["leader"] == "" {
				t.Fatalf("leader = %v", ldr)
			}
			s.must(t, 400, "POST", prefix+"/job/parent/task/ct:1:0:parent/progress", `{"numAdditionalElementsProcessed":1}`)
			s.must(t, 400, "GET", prefix+"/stats/70thPercentile", "")

			// Deleting a parent detaches the child (Chronos rewires).
			s.must(t, 204, "DELETE", prefix+"/job/parent", "")
			if d, ok := s.eng.last().(scheduler.JobDeleted); !ok || !d.Detach {
				t.Fatalf("delete command = %#v", s.eng.last())
			}
			// Unknown jobs are 400 on this surface (never 404).
			for _, c := range [][2]string{{"GET", "/job/parent"}, {"PUT", "/job/parent"}, {"DELETE", "/job/parent"},
				{"DELETE", "/task/kill/parent"}, {"PUT", "/job/success/parent"}, {"GET", "/job/stat/parent"}} {
				r := s.call(t, c[0], prefix+c[1], "", "")
				if r.code != 400 || !strings.Contains(r.body, `"status":"Bad Request"`) {
					t.Fatalf("%s %s on unknown job = %d %s", c[0], c[1], r.code, r.body)
				}
			}
		})
	}
}

// TestChronosFieldOrder checks the serializer order Chronos clients see.
func TestChronosFieldOrder(t *testing.T) {
	s := newServer(t, Config{}, nil)
	s.must(t, 204, "POST", "/v1/scheduler/iso8601", `{"name":"a","command":"true","schedule":"R/2026-01-01T00:00:00Z/PT1H","uris":["http://x/y.tgz"],"constraints":[["rack","EQUALS","r1"]],"container":{"type":"DOCKER","image":"busybox"}}`)
	body := s.must(t, 200, "GET", "/v1/scheduler/jobs", "")
	order := []string{"name", "command", "shell", "executor", "executorFlags", "taskInfoData", "retries", "owner", "ownerName",
		"description", "successCount", "errorCount", "lastSuccess", "lastError", "cpus", "disk", "mem", "disabled", "softError",
		"dataProcessingJobType", "errorsSinceLastSuccess", "fetch", "uris", "environmentVariables", "arguments", "highPriority",
		"runAsUser", "concurrent", "maxCompletionTime", "container", "constraints", "schedule", "scheduleTimeZone"}
	last := -1
	for _, k := range order {
		i := strings.Index(body, `"`+k+`":`)
		if i <= last {
			t.Fatalf("field %s at %d, not after the previous field (%d): %s", k, i, last, body)
		}
		last = i
	}
	// fetch mirrored from uris in the list only.
	if !strings.Contains(body, `"fetch":[{"uri":"http://x/y.tgz","executable":false,"cache":false,"extract":true}]`) {
		t.Fatalf("fetch not mirrored: %s", body)
	}
	if one := s.must(t, 200, "GET", "/v1/scheduler/job/a", ""); !strings.Contains(one, `"fetch":[]`) {
		t.Fatalf("single GET mirrored fetch: %s", one)
	}
	if !strings.Contains(body, `"constraints":[["rack","EQUALS","r1"]]`) {
		t.Fatalf("constraints: %s", body)
	}
}

func TestChronosSearchDefaults(t *testing.T) {
	s := newServer(t, Config{}, nil)
	for i := range 15 {
		s.must(t, 204, "POST", "/v1/scheduler/iso8601", `{"name":"job-`+string(rune('a'+i))+`","command":"true"}`)
	}
	count := func(q string) int {
		var out []Job
		_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/jobs/search"+q, "")), &out)
		return len(out)
	}
	if n := count(""); n != 10 {
		t.Fatalf("default limit: %d jobs, want 10", n)
	}
	if n := count("?offset=10"); n != 5 {
		t.Fatalf("offset 10: %d jobs, want 5", n)
	}
	if n := count("?limit=100&any=zzz"); n != 15 {
		t.Fatalf("any alone: %d jobs, want 15", n)
	}
	s.must(t, 400, "GET", "/v1/scheduler/jobs/search?limit=-1", "")
	// No schedule: Chronos runs the job once, now.
	var j Job
	_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/job/job-a", "")), &j)
	if j.Schedule == nil || *j.Schedule != "R1/"+testNow.Format(time.RFC3339)+"/PT24H" {
		t.Fatalf("default schedule = %v", j.Schedule)
	}
}

func TestPingHealthCORS(t *testing.T) {
	s := newServer(t, Config{}, nil)
	r := s.call(t, "GET", "/ping", "", "")
	if r.code != 200 || r.body != "pong" || r.hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("/ping = %d %q %v", r.code, r.body, r.hdr)
	}
	s.must(t, 200, "GET", "/health", "")
	if r := s.call(t, "OPTIONS", "/v1/scheduler/jobs", "", ""); r.code != 204 || r.hdr.Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("preflight = %d %v", r.code, r.hdr)
	}
}

// TestRefusedChangesNothing: unknown parents, cycles, bad schedules and
// names are refused with a clear 4xx on both surfaces, and the catalog is
// unchanged (Chronos stored jobs with unknown parents, #815).
func TestRefusedChangesNothing(t *testing.T) {
	s := newServer(t, Config{}, nil)
	s.must(t, 204, "POST", "/v1/scheduler/iso8601", `{"name":"a","command":"x","schedule":"R/2026-01-01T00:00:00Z/PT1H"}`)
	s.must(t, 204, "POST", "/v1/scheduler/dependency", `{"name":"b","command":"x","parents":["a"]}`)
	snapshot := func() string {
		return s.must(t, 200, "GET", "/v1/scheduler/jobs", "")
	}
	before := snapshot()
	cases := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/v1/scheduler/dependency", `{"name":"c","command":"x","parents":["ghost"]}`, 400, "ghost"},
		{"POST", "/v1/scheduler/dependency", `{"name":"a","command":"x","parents":["b"]}`, 400, "cycle"},
		{"POST", "/v1/scheduler/dependency", `{"name":"c","command":"x","parents":[]}`, 400, "parents"},
		{"POST", "/v1/scheduler/iso8601", `{"name":"c","command":"x","schedule":"FOO"}`, 400, "schedule"},
		{"POST", "/v1/scheduler/iso8601", `{"name":"c","command":"x","parents":["a"]}`, 400, "dependency"},
		{"POST", "/api/v1/jobs", `{"name":"c","command":"x","parents":["ghost"]}`, 422, "ghost"},
		{"PUT", "/api/v1/jobs/a", `{"name":"a","command":"x","parents":["b"]}`, 422, "cycle"},
		{"POST", "/api/v1/jobs", `{"name":"c","command":"x","schedule":"R/2026-01-01T00:00:00Z/PT1H","scheduleTimeZone":"Mars/Base"}`, 422, "Mars/Base"},
		{"POST", "/api/v1/jobs", `{"name":"c/d","command":"x"}`, 400, "name"},
		{"DELETE", "/api/v1/jobs/a", ``, 409, "b"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			r := s.call(t, tc.method, tc.path, tc.body, "")
			if r.code != tc.code || !strings.Contains(strings.ToLower(r.body), strings.ToLower(tc.want)) {
				t.Fatalf("= %d %s, want %d mentioning %q", r.code, r.body, tc.code, tc.want)
			}
			if after := snapshot(); after != before {
				t.Fatalf("refused request changed the jobs:\n%s\n%s", before, after)
			}
		})
	}
}

func TestRunIdempotencyKey(t *testing.T) {
	s := newServer(t, Config{}, nil)
	s.must(t, 201, "POST", "/api/v1/jobs", `{"name":"a","command":"x","schedule":"R/2026-01-01T00:00:00Z/PT1H"}`)
	var r1, r2, r3 Run
	_ = json.Unmarshal([]byte(s.call(t, "POST", "/api/v1/jobs/a/runs", "", "", "Idempotency-Key", "k1").body), &r1)
	_ = json.Unmarshal([]byte(s.call(t, "POST", "/api/v1/jobs/a/runs", "", "", "Idempotency-Key", "k1").body), &r2)
	_ = json.Unmarshal([]byte(s.must(t, 202, "POST", "/api/v1/jobs/a/runs", `{"triggerId":"k2"}`)), &r3)
	if r1.ID == "" || r1.ID != r2.ID || r3.ID == r1.ID {
		t.Fatalf("runs %q %q %q", r1.ID, r2.ID, r3.ID)
	}
	var l RunList
	_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/api/v1/jobs/a/runs", "")), &l)
	if len(l.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(l.Runs))
	}
}

func TestExecutorBinary(t *testing.T) {
	bin := t.TempDir() + "/horae"
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, Config{ExecutorBinary: bin, Users: []User{{User: "a", Token: "t", Role: "admin"}}}, nil)
	r := s.call(t, "GET", "/executor/horae", "", "")
	if r.code != 200 || r.body != "#!binary" {
		t.Fatalf("executor = %d %q", r.code, r.body)
	}
	if r := s.call(t, "GET", "/v1/scheduler/jobs", "", ""); r.code != 401 || r.hdr.Get("WWW-Authenticate") != `Basic realm="horae"` {
		t.Fatalf("chronos without credentials = %d %v", r.code, r.hdr)
	}
}

// TestChronosClientBodies sends the bodies of the Chronos docs and of Go and
// Java clients: strings for numbers and booleans, 2.x fields, a Docker
// container with networkInfos the API does not use.
func TestChronosClientBodies(t *testing.T) {
	s := newServer(t, Config{}, nil)
	bodies := []struct{ path, body string }{
		{"/v1/scheduler/iso8601", `{"schedule":"R10/2012-10-01T05:52:00Z/PT2S","name":"SAMPLE_JOB1","epsilon":"PT30M","command":"echo 'FOO' >> /tmp/JOB1_OUT","owner":"bob@airbnb.com","async":false}`},
		{"/v1/scheduler/iso8601", `{"schedule":"R/2014-09-25T17:22:00Z/PT2M","name":"dockerjob","container":{"type":"DOCKER","image":"libmesos/ubuntu","network":"BRIDGE","networkInfos":[{"name":"n"}],"volumes":[{"containerPath":"/var/log/","hostPath":"/logs/","mode":"RW"}]},"cpus":"0.5","mem":"512","uris":[],"command":"while sleep 10; do date =u %T; done"}`},
		{"/v1/scheduler/dependency", `{"parents":["SAMPLE_JOB1"],"epsilon":"PT30M","cpus":"0.1","shell":"true","command":"echo dep","name":"dep-job","mem":"32"}`},
	}
	for _, b := range bodies {
		s.must(t, 204, "POST", b.path, b.body)
	}
	var docker Job
	_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/job/dockerjob", "")), &docker)
	if docker.Container == nil || docker.Container.Image != "libmesos/ubuntu" || len(docker.Container.Volumes) != 1 || docker.CPUs != 0.5 || docker.Mem != 512 {
		t.Fatalf("docker job = %+v", docker)
	}
	var dep Job
	_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/job/dep-job", "")), &dep)
	if !dep.Shell || dep.StartingDeadline != "PT30M" || dep.Mem != 32 || dep.CPUs != 0.1 {
		t.Fatalf("dependent job = %+v", dep)
	}
	// go-chronos / Terraform: update = delete + create; read = GET jobs + filter.
	s.must(t, 204, "DELETE", "/v1/scheduler/job/dep-job", "")
	s.must(t, 204, "POST", "/v1/scheduler/dependency", `{"parents":["SAMPLE_JOB1"],"command":"echo dep2","name":"dep-job"}`)
	var all []Job
	_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/jobs", "")), &all)
	if len(all) != 3 || all[1].Name != "dep-job" || all[1].Command != "echo dep2" {
		t.Fatalf("jobs after delete+create = %+v", all)
	}
}

// TestJobsListCache: the cached list follows every change (replace, counter
// change, delete), also with concurrent readers (-race).
func TestJobsListCache(t *testing.T) {
	s := newServer(t, Config{}, nil)
	list := func() map[string]Job {
		var jobs []Job
		_ = json.Unmarshal([]byte(s.must(t, 200, "GET", "/v1/scheduler/jobs", "")), &jobs)
		out := map[string]Job{}
		for _, j := range jobs {
			out[j.Name] = j
		}
		return out
	}
	for i := range 1200 { // more than one encoding worker's share
		s.api.deps.Catalog.(interface{ Apply([]scheduler.Record) }).Apply([]scheduler.Record{scheduler.PutJob{Job: scheduler.Job{
			Name: fmt.Sprintf("j%04d", i), Command: "v1", Schedule: "R/2026-01-01T00:00:00Z/PT1H"}}})
	}
	if got := list(); len(got) != 1200 || got["j0042"].Command != "v1" {
		t.Fatalf("first list: %d jobs", len(got))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5 {
			r := s.call(t, "GET", "/v1/scheduler/jobs", "", "")
			var jobs []Job
			if err := json.Unmarshal([]byte(r.body), &jobs); r.code != 200 || err != nil || len(jobs) < 1199 {
				t.Errorf("concurrent list: %d, %d jobs, %v", r.code, len(jobs), err)
			}
		}
	}()
	s.must(t, 204, "POST", "/v1/scheduler/iso8601", `{"name":"j0042","command":"v2","schedule":"R/2026-01-01T00:00:00Z/PT1H"}`)
	s.api.deps.Catalog.(interface{ Apply([]scheduler.Record) }).Apply([]scheduler.Record{scheduler.DeleteJob{Name: "j0007"},
		scheduler.PutCursor{Cursor: scheduler.Cursor{Job: "j0100", Stats: scheduler.Stats{SuccessCount: 9}}}})
	<-done
	got := list()
	if len(got) != 1199 || got["j0042"].Command != "v2" || got["j0100"].SuccessCount != 9 {
		t.Fatalf("after changes: %d jobs, j0042 %q, j0100 successCount %d", len(got), got["j0042"].Command, got["j0100"].SuccessCount)
	}
	if _, ok := got["j0007"]; ok {
		t.Fatal("deleted job still listed")
	}
}
