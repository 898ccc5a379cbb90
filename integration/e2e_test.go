package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type runJSON struct {
	ID       string `json:"id"`
	Job      string `json:"job"`
	Trigger  string `json:"trigger"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Attempt  int    `json:"attempt"`
	ExitCode *int   `json:"exitCode"`
	Tasks    []struct {
		TaskID string `json:"taskId"`
		State  string `json:"state"`
		Host   string `json:"host"`
		// LaunchedAt is when the engine placed the task on an offer.
		LaunchedAt string `json:"launchedAt"`
	} `json:"tasks"`
	ScheduledFor string `json:"scheduledFor"`
	StartedAt    string `json:"startedAt"`
}

type runsJSON struct {
	Runs []runJSON `json:"runs"`
}

func runsOf(t testing.TB, base, job string) []runJSON {
	t.Helper()
	var rs runsJSON
	code, body := call(t, http.MethodGet, base+"/api/v1/jobs/"+job+"/runs", nil, &rs)
	if code != http.StatusOK {
		t.Fatalf("GET runs of %s: %d %s", job, code, body)
	}
	return rs.Runs
}

func countStates(runs []runJSON) map[string]int {
	m := map[string]int{}
	for _, r := range runs {
		m[r.State]++
	}
	return m
}

// TestOneMachineEndToEnd runs jobs through the whole stack on one machine:
// the API, the engine, the embedded store, the built-in Mesos over HTTP and
// real executor processes.
func TestOneMachineEndToEnd(t *testing.T) {
	h := serveLocal(t)

	t.Run("scheduled job runs its repetitions and its output is readable", func(t *testing.T) {
		job := map[string]any{
			"name":     "hello",
			"command":  `echo "hello from $HORAE_JOB_NAME attempt $HORAE_ATTEMPT"`,
			"schedule": "R2//PT1S",
			"cpus":     0.1, "mem": 32, "disk": 16,
		}
		if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs", job, nil); code != http.StatusCreated {
			t.Fatalf("create job: %d %s", code, body)
		}
		waitFor(t, 45*time.Second, "two succeeded runs of hello", func() (bool, string) {
			runs := runsOf(t, h.URL, "hello")
			return countStates(runs)["succeeded"] == 2, fmt.Sprint(countStates(runs))
		})
		time.Sleep(2 * time.Second) // R2: no third run may appear
		runs := runsOf(t, h.URL, "hello")
		if len(runs) != 2 {
			t.Fatalf("R2 job has %d runs, want exactly 2: %+v", len(runs), runs)
		}
		// Runs are launched ahead of their slot (--launch-ahead) and the
		// executor starts each at its slot, never before.
		ahead := 0
		for _, r := range runs {
			sf, _ := time.Parse(time.RFC3339Nano, r.ScheduledFor)
			st, err := time.Parse(time.RFC3339Nano, r.StartedAt)
			if err != nil || st.Before(sf) {
				t.Errorf("run %s scheduled for %s started at %q, want at or after its slot", r.ID, r.ScheduledFor, r.StartedAt)
			}
			if la, err := time.Parse(time.RFC3339Nano, r.Tasks[0].LaunchedAt); err == nil && la.Before(sf) {
				ahead++
			}
		}
		if ahead == 0 {
			t.Errorf("no run was launched ahead of its slot: %+v", runs)
		}
		code, body := call(t, http.MethodGet, h.URL+"/api/v1/runs/"+url.PathEscape(runs[0].ID)+"/log?stream=stdout", nil, nil)
		if code != http.StatusOK || !strings.Contains(body, "hello from hello attempt 0") {
			t.Fatalf("run log: %d %q, want the command's output", code, body)
		}
	})

	t.Run("manual run of a failing job fails with its exit code", func(t *testing.T) {
		run := runToEnd(t, h.URL, map[string]any{
			"name": "fails", "command": "echo broken >&2; exit 3",
			"schedule": "R0//PT1H", "retries": 0, "cpus": 0.1, "mem": 32, "disk": 16,
		})
		if run.State != "failed" {
			t.Fatalf("run %s, want failed", run.State)
		}
		if run.ExitCode == nil || *run.ExitCode != 3 {
			t.Fatalf("failed run exit code %v, want 3", run.ExitCode)
		}
	})

	t.Run("chronos clients: a dependent job fires after its parent", func(t *testing.T) {
		parent := map[string]any{"name": "parent", "command": "true", "schedule": "R0/2030-01-01T00:00:00Z/PT1H", "owner": "ops@example.com"}
		child := map[string]any{"name": "child", "command": "echo child", "parents": []string{"parent"}, "owner": "ops@example.com"}
		if code, body := call(t, http.MethodPost, h.URL+"/v1/scheduler/iso8601", parent, nil); code != http.StatusNoContent {
			t.Fatalf("chronos create parent: %d %s", code, body)
		}
		if code, body := call(t, http.MethodPost, h.URL+"/v1/scheduler/dependency", child, nil); code != http.StatusNoContent {
			t.Fatalf("chronos create child: %d %s", code, body)
		}
		if code, body := call(t, http.MethodPut, h.URL+"/v1/scheduler/job/parent", nil, nil); code != http.StatusNoContent {
			t.Fatalf("chronos run parent: %d %s", code, body)
		}
		waitFor(t, 30*time.Second, "the child to succeed after its parent", func() (bool, string) {
			runs := runsOf(t, h.URL, "child")
			return countStates(runs)["succeeded"] == 1, fmt.Sprint(countStates(runs))
		})
		var csv string
		_, csv = call(t, http.MethodGet, h.URL+"/v1/scheduler/graph/csv", nil, nil)
		if !strings.Contains(csv, "link,parent,child") {
			t.Fatalf("graph/csv %q lacks the edge parent→child", csv)
		}
	})

	t.Run("prometheus metrics are lint-clean and documented", func(t *testing.T) {
		checkMetrics(t, h.URL)
	})
}

// TestRelativeDataDir runs a shell job with a relative --data-dir, as
// `make run` starts Horae (data in ./horae-data): the built-in Mesos must
// hand executors absolute sandbox paths, since an executor starts in its
// sandbox. With relative ones every task failed ("shell not found": its
// working directory did not exist from there).
func TestRelativeDataDir(t *testing.T) {
	dir := t.TempDir()
	h := serveLocalIn(t, dir, "horae-data")
	run := runToEnd(t, h.URL, map[string]any{"name": "rel", "command": "echo from $PWD", "schedule": "R0//PT1H", "retries": 0, "cpus": 0.1, "mem": 32, "disk": 16})
	if run.State != "succeeded" {
		t.Fatalf("run %s: %s", run.State, run.Reason)
	}
	code, body := call(t, http.MethodGet, h.URL+"/api/v1/runs/"+url.PathEscape(run.ID)+"/log?stream=stdout", nil, nil)
	if want := "from " + dir + "/horae-data/mesos/slaves/"; code != http.StatusOK || !strings.Contains(body, want) {
		t.Fatalf("run log: %d %q, want the output, run in the sandbox under %s", code, body, want)
	}
}

// runToEnd creates job, starts a run of it by hand and waits until the run
// has succeeded or failed.
func runToEnd(t *testing.T, base string, job map[string]any) runJSON {
	t.Helper()
	if code, body := call(t, http.MethodPost, base+"/api/v1/jobs", job, nil); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, body)
	}
	var run runJSON
	if code, body := call(t, http.MethodPost, base+"/api/v1/jobs/"+job["name"].(string)+"/runs", map[string]any{}, &run); code != http.StatusAccepted {
		t.Fatalf("run job: %d %s", code, body)
	}
	waitFor(t, 30*time.Second, "the run of "+job["name"].(string)+" to end", func() (bool, string) {
		var r runJSON
		call(t, http.MethodGet, base+"/api/v1/runs/"+url.PathEscape(run.ID), nil, &r)
		run = r
		return r.State == "succeeded" || r.State == "failed", r.State + " " + r.Reason
	})
	return run
}
