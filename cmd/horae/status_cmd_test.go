package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/api/client"
)

// TestStatusCommand checks `horae status` against a real server with a
// succeeded, a failed, a disabled and a running job.
func TestStatusCommand(t *testing.T) {
	clearClientEnv(t)
	srv := startServer(t)
	s := "--server=" + srv.URL

	r := mustOK(t, cli(t, "", "status", s))
	if !regexp.MustCompile(`^Server:  ` + regexp.QuoteMeta(srv.URL) + `\nLeader:  \S+ \(` + regexp.QuoteMeta(srv.URL) + `\), this server\nJobs:    0: .*\nActive runs: none\n$`).MatchString(r.stdout) {
		t.Errorf("status of an empty server:\n%s", r.stdout)
	}

	mustOK(t, cli(t, `[
	  {"name": "ok", "command": "true", "schedule": "R0//PT1H", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0},
	  {"name": "bad", "command": "exit 2", "schedule": "R0//PT1H", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0},
	  {"name": "off", "command": "true", "schedule": "R0//PT1H", "disabled": true},
	  {"name": "busy", "command": "sleep 60", "schedule": "R0//PT1H", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0}
	]`, "job", "add", "-f", "-", s))
	mustOK(t, cli(t, "", "job", "run", "ok", "--wait", s))
	if r := cli(t, "", "job", "run", "bad", "--wait", s); r.code != 2 {
		t.Fatalf("run bad --wait: exit code %d (%v), want 2", r.code, r.err)
	}
	var busy struct{ ID string }
	runJSON(t, &busy, "job", "run", "busy", s)
	c := client.New(srv.URL, "", nil)
	waitUntil(t, 30*time.Second, "busy to run", func() (bool, string) {
		run, err := c.GetRun(t.Context(), busy.ID)
		return err == nil && run.State == "running", run.State
	})

	r = mustOK(t, cli(t, "", "status", s))
	for _, want := range []string{
		`(?m)^Jobs:    4: 3 enabled, 1 disabled; 1 running, 0 queued, 3 idle; last runs 1 success, 1 failure, 2 never run$`,
		`(?m)^Active runs: 1$`,
		`(?m)^RUN\s+JOB\s+STATE\s+ATTEMPT\s+STARTED\s+FOR$`,
		`(?m)^` + regexp.QuoteMeta(busy.ID) + `\s+busy\s+running\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\S+$`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("status lacks %s:\n%s", want, r.stdout)
		}
	}

	var rep statusReport
	r = mustOK(t, cli(t, "", "status", "--json", s))
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	want := statusJobs{Total: 4, Enabled: 3, Disabled: 1, Running: 1, Idle: 3, Success: 1, Failure: 1, Fresh: 2}
	if rep.Jobs != want || rep.Leader == nil || !rep.Leader.Self || len(rep.ActiveRuns) != 1 || rep.ActiveRuns[0].ID != busy.ID {
		t.Errorf("status --json = %+v, want jobs %+v, this server leading and run %s active", rep, want, busy.ID)
	}
	mustOK(t, cli(t, "", "job", "kill", busy.ID, s))
}
