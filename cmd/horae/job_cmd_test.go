package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/api/client"
)

// clearClientEnv keeps the developer's HORAE_* settings out of the tests.
func clearClientEnv(t *testing.T) {
	for _, k := range []string{"HORAE_SERVER", "HORAE_TOKEN", "HORAE_CONFIG"} {
		t.Setenv(k, "")
	}
}

// writeFile writes a file in a test directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustOK fails the test unless the CLI succeeded.
func mustOK(t *testing.T, r cliResult, args ...string) cliResult {
	t.Helper()
	if r.err != nil {
		t.Fatalf("horae %s: %v\nstdout: %s", strings.Join(args, " "), r.err, r.stdout)
	}
	return r
}

// runJSON runs a CLI command with --json and decodes its stdout.
func runJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	r := mustOK(t, cli(t, "", append(args, "--json")...), args...)
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		t.Fatalf("horae %s --json: stdout is not the expected JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

const jobsYAML = `# the child comes first: apply must send the parent first
- name: report
  command: echo "report for $WHO"
  parents: [extract]
  cpus: 0.1
  mem: 32
  disk: 16
  retries: 0
- name: extract
  command: echo extracted
  schedule: R0/2030-01-01T00:00:00Z/PT1H
  description: first version
  cpus: 0.1
  mem: 32
  disk: 16
  retries: 0
`

// TestJobCommands drives every `horae job` command against a real server
// running real executor processes.
func TestJobCommands(t *testing.T) {
	clearClientEnv(t)
	srv := startServer(t)
	s := "--server=" + srv.URL
	file := writeFile(t, "jobs.yaml", jobsYAML)

	t.Run("add creates the jobs of a YAML list, parents first", func(t *testing.T) {
		r := mustOK(t, cli(t, "", "job", "add", "-f", file, s))
		if r.stdout != "created job extract\ncreated job report\n" {
			t.Errorf("stdout = %q", r.stdout)
		}
	})

	t.Run("hook-url shows the webhook of a job that enables it, and refuses one that does not", func(t *testing.T) {
		hooked := writeFile(t, "hooked.json", `{"name": "hooked", "command": "true", "schedule": "R0//PT1H", "webhook": {"enabled": true, "secret": "k"}}`)
		mustOK(t, cli(t, "", "job", "add", "-f", hooked, s))
		r := mustOK(t, cli(t, "", "job", "hook-url", "hooked", s))
		if !strings.Contains(r.stdout, "POST "+srv.URL+"/api/v1/hooks/hooked") || !strings.Contains(r.stdout, "X-Horae-Signature") {
			t.Errorf("hook-url output %q lacks the URL or the signature header", r.stdout)
		}
		if strings.Contains(r.stdout, "\"k\"") {
			t.Errorf("hook-url output %q shows the secret", r.stdout)
		}
		if r := cli(t, "", "job", "hook-url", "extract", s); r.code != 1 || !strings.Contains(r.err.Error(), "not enabled") {
			t.Errorf("hook-url of a job without webhook: code %d, err %v", r.code, r.err)
		}
		mustOK(t, cli(t, "", "job", "delete", "hooked", s))
	})

	t.Run("add refuses existing jobs, one line each", func(t *testing.T) {
		r := cli(t, "", "job", "add", "-f", file, s)
		if r.code != 1 {
			t.Fatalf("exit code %d, want 1; err %v", r.code, r.err)
		}
		lines := strings.Split(r.err.Error(), "\n")
		if len(lines) != 2 {
			t.Fatalf("error has %d lines, want one per job: %q", len(lines), r.err)
		}
		for i, name := range []string{"extract", "report"} {
			if !strings.HasPrefix(lines[i], "job add "+name+" ("+file) || !strings.Contains(lines[i], "409 Conflict") {
				t.Errorf("line %d = %q, want job add %s (%s ...) ... 409 Conflict", i, lines[i], name, file)
			}
		}
	})

	t.Run("apply from stdin replaces and creates", func(t *testing.T) {
		in := `{"jobs": [
		  {"name": "extract", "command": "echo extracted", "schedule": "R0/2030-01-01T00:00:00Z/PT1H", "description": "second version", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0},
		  {"name": "fails", "command": "echo broken >&2; exit 3", "schedule": "R0//PT1H", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0}
		]}`
		r := mustOK(t, cli(t, in, "job", "apply", "-f", "-", s))
		if r.stdout != "replaced job extract\ncreated job fails\n" {
			t.Errorf("stdout = %q", r.stdout)
		}
		var j api.Job
		runJSON(t, &j, "job", "get", "extract", s)
		if j.Description != "second version" {
			t.Errorf("description after apply = %q, want second version", j.Description)
		}
	})

	t.Run("list", func(t *testing.T) {
		r := mustOK(t, cli(t, "", "job", "list", s))
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !regexp.MustCompile(`^NAME\s+ENABLED\s+SCHEDULE / PARENTS`).MatchString(lines[0]) {
			t.Fatalf("list = %q, want a header and 3 jobs", r.stdout)
		}
		if !regexp.MustCompile(`^report\s+yes\s+after extract \(all_success\)\s+0\s+0\s+-\s+-$`).MatchString(lines[3]) {
			t.Errorf("report line = %q", lines[3])
		}
		var l api.JobList
		runJSON(t, &l, "job", "list", "--name", "ext", s)
		if len(l.Jobs) != 1 || l.Jobs[0].Name != "extract" {
			t.Errorf("list --name ext --json = %+v", l.Jobs)
		}
	})

	t.Run("get", func(t *testing.T) {
		r := mustOK(t, cli(t, "", "job", "get", "report", s))
		for _, want := range []string{"Name:", "report", "Parents:", "extract", "Command:", `echo "report for $WHO"`, "Retries:"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("get output lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("errors name the problem", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			want []string // lines of the error
		}{
			{"unknown job", []string{"job", "get", "nosuch"}, []string{`job get nosuch: job "nosuch" not found (404 Not Found)`}},
			{"missing file", []string{"job", "add", "-f", "/nonexistent/jobs.yaml"}, []string{"job add: read /nonexistent/jobs.yaml: open /nonexistent/jobs.yaml: no such file or directory"}},
			{"file is not YAML", []string{"job", "apply", "-f", writeFile(t, "bad.json", `{"name": "x",`)}, nil},
			{"invalid fields, one line each", []string{"job", "add", "-f", writeFile(t, "invalid.yaml", "name: bad\ncommand: true\nretries: many\n")},
				[]string{"job add bad (" + os.TempDir(), "  command: must be a string", "  retries: "}},
			{"invalid schedule", []string{"job", "add", "-f", writeFile(t, "schedule.yaml", "name: bad\ncommand: echo\nschedule: R/2026-02-30T00:00:00Z/P1D\n")},
				[]string{"job add bad (", "  schedule: "}},
			{"unknown parent", []string{"job", "add", "-f", writeFile(t, "orphan.yaml", "name: orphan\ncommand: true\nparents: [ghost]\n")},
				[]string{"job add orphan ("}},
			{"run of unknown job", []string{"job", "run", "nosuch"}, []string{`job run nosuch: job "nosuch" not found (404 Not Found)`}},
			{"bad --env", []string{"job", "run", "report", "--env", "NOVALUE"}, []string{`job run: --env "NOVALUE": want NAME=value`}},
			{"bad --stream", []string{"job", "logs", "x", "--stream", "both"}, []string{`job logs: --stream "both": want stdout or stderr`}},
			{"delete a parent", []string{"job", "delete", "extract"}, []string{`job delete extract: job "extract" has dependents (409 Conflict)`, "  dependents: report"}},
			{"no server", []string{"job", "list", "--server", "http://127.0.0.1:1"}, []string{"job list: no Horae server at http://127.0.0.1:1 (is `horae serve` running? set --server or HORAE_SERVER)"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				args := tc.args
				if !strings.Contains(strings.Join(args, " "), "--server") {
					args = append(args, s)
				}
				r := cli(t, "", args...)
				if r.err == nil || r.code != 1 {
					t.Fatalf("err %v, exit code %d; want an error and exit code 1 (stdout %q)", r.err, r.code, r.stdout)
				}
				if r.stdout != "" {
					t.Errorf("stdout = %q, want nothing", r.stdout)
				}
				lines := strings.Split(r.err.Error(), "\n")
				if tc.want == nil {
					if len(lines) != 1 || !strings.Contains(lines[0], "not YAML or JSON") {
						t.Errorf("error = %q, want one line saying the file is not YAML or JSON", r.err)
					}
					return
				}
				if len(lines) < len(tc.want) {
					t.Fatalf("error = %q, want %d+ lines", r.err, len(tc.want))
				}
				for i, w := range tc.want {
					if !strings.HasPrefix(lines[i], w) {
						t.Errorf("error line %d = %q, want it to start with %q", i, lines[i], w)
					}
				}
			})
		}
		var l api.JobList
		runJSON(t, &l, "job", "list", s)
		if len(l.Jobs) != 3 {
			t.Errorf("refused commands changed the jobs: %d jobs, want 3", len(l.Jobs))
		}
	})

	t.Run("run --wait exits with the command's exit code", func(t *testing.T) {
		r := cli(t, "", "job", "run", "fails", "--wait", s)
		if r.code != 3 {
			t.Fatalf("exit code %d (err %v), want 3; stdout:\n%s", r.code, r.err, r.stdout)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d run \S+ of job fails started \(trigger manual\)$`),
			regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d task \S+ failed on \S+, exit code 3`),
			regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d run \S+ failed with exit code 3 after \S+: instance 0 failed with exit code 3`),
		} {
			if !want.MatchString(r.stdout) {
				t.Errorf("progress lacks %s:\n%s", want, r.stdout)
			}
		}
	})

	var okRun api.Run
	t.Run("run --wait with --env succeeds; runs and logs show it", func(t *testing.T) {
		r := cli(t, "", "job", "run", "report", "--env", "WHO=the cli", "--wait", "--json", s)
		if r.code != 0 {
			t.Fatalf("exit code %d (err %v); stdout %s; stderr %s", r.code, r.err, r.stdout, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &okRun); err != nil {
			t.Fatalf("run --wait --json stdout is not a run: %v\n%s", err, r.stdout)
		}
		if okRun.State != "succeeded" || okRun.Env["WHO"] != "the cli" {
			t.Errorf("run = %+v, want succeeded with env WHO", okRun)
		}
		if !strings.Contains(r.stderr, "run succeeded") && !strings.Contains(r.stderr, " succeeded") {
			t.Errorf("progress on stderr lacks the end: %q", r.stderr)
		}
		logs := mustOK(t, cli(t, "", "job", "logs", okRun.ID, s))
		if !strings.Contains(logs.stdout, "report for the cli") {
			t.Errorf("logs = %q, want the command's output", logs.stdout)
		}
		runs := mustOK(t, cli(t, "", "job", "runs", "report", s))
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(okRun.ID) + `\s+succeeded\s+manual\s+1\s+0\s+`).MatchString(runs.stdout) {
			t.Errorf("runs table lacks the run %s:\n%s", okRun.ID, runs.stdout)
		}
		var rl api.RunList
		runJSON(t, &rl, "job", "runs", "report", "--limit", "1", s)
		if len(rl.Runs) != 1 || rl.Runs[0].ID != okRun.ID {
			t.Errorf("runs --limit 1 --json = %+v", rl.Runs)
		}
	})

	t.Run("logs --stream stderr", func(t *testing.T) {
		var rl api.RunList
		runJSON(t, &rl, "job", "runs", "fails", s)
		if len(rl.Runs) == 0 {
			t.Fatal("no run of fails")
		}
		r := mustOK(t, cli(t, "", "job", "logs", rl.Runs[0].ID, "--stream", "stderr", s))
		if !strings.Contains(r.stdout, "broken") {
			t.Errorf("stderr log = %q, want broken", r.stdout)
		}
	})

	t.Run("logs -f follows a running run to its end", func(t *testing.T) {
		mustOK(t, cli(t, "", "job", "apply", "-f", writeFile(t, "slow.json",
			`{"name": "slow", "command": "echo begin; sleep 1; echo end", "schedule": "R0//PT1H", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0}`), s))
		var run api.Run
		runJSON(t, &run, "job", "run", "slow", s)
		r := mustOK(t, cli(t, "", "job", "logs", run.ID, "-f", s))
		if r.stdout != "begin\nend\n" {
			t.Errorf("logs -f = %q, want begin and end", r.stdout)
		}
	})

	t.Run("kill", func(t *testing.T) {
		mustOK(t, cli(t, "", "job", "apply", "-f", writeFile(t, "sleepy.yaml",
			"name: sleepy\ncommand: sleep 60\nschedule: R0//PT1H\ncpus: 0.1\nmem: 32\ndisk: 16\nretries: 0\n"), s))
		r := mustOK(t, cli(t, "", "job", "run", "sleepy", s))
		m := regexp.MustCompile(`^started run (\S+) of job sleepy \(\w+\)\n$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("run stdout = %q", r.stdout)
		}
		id := m[1]
		c := client.New(srv.URL, "", nil)
		waitUntil(t, 30*time.Second, "sleepy to run", func() (bool, string) {
			run, err := c.GetRun(t.Context(), id)
			return err == nil && run.State == "running", run.State
		})
		k := mustOK(t, cli(t, "", "job", "kill", id, s))
		if !strings.HasPrefix(k.stdout, "killing run "+id+" of job sleepy") {
			t.Errorf("kill stdout = %q", k.stdout)
		}
		waitUntil(t, 30*time.Second, "sleepy to be killed", func() (bool, string) {
			run, err := c.GetRun(t.Context(), id)
			return err == nil && run.State == "killed", run.State
		})
		if r := cli(t, "", "job", "kill", "nosuch-run", s); r.err == nil || !strings.Contains(r.err.Error(), `run "nosuch-run" not found (404 Not Found)`) {
			t.Errorf("kill of an unknown run: %v", r.err)
		}
	})

	t.Run("disable and enable", func(t *testing.T) {
		r := mustOK(t, cli(t, "", "job", "disable", "report", s))
		if r.stdout != "disabled job report\n" {
			t.Errorf("stdout = %q", r.stdout)
		}
		var j api.Job
		runJSON(t, &j, "job", "get", "report", s)
		if !j.Disabled {
			t.Error("report not disabled")
		}
		runJSON(t, &j, "job", "enable", "report", s)
		if j.Disabled || j.Name != "report" {
			t.Errorf("enable --json = %+v", j)
		}
	})

	t.Run("delete", func(t *testing.T) {
		r := mustOK(t, cli(t, "", "job", "delete", "report", s))
		if r.stdout != "deleted job report\n" {
			t.Errorf("stdout = %q", r.stdout)
		}
		if r := cli(t, "", "job", "get", "report", s); r.err == nil || !strings.Contains(r.err.Error(), "404") {
			t.Errorf("get after delete: %v", r.err)
		}
	})

	t.Run("HORAE_SERVER chooses the server", func(t *testing.T) {
		t.Setenv("HORAE_SERVER", srv.URL)
		r := mustOK(t, cli(t, "", "job", "get", "extract"))
		if !strings.Contains(r.stdout, "extract") {
			t.Errorf("stdout = %q", r.stdout)
		}
	})
}

// TestJobRunWaitProcess checks the real process exit status of
// `horae job run --wait` (main, not just the error value).
func TestJobRunWaitProcess(t *testing.T) {
	clearClientEnv(t)
	srv := startServer(t)
	mustOK(t, cli(t, `{"name": "exit7", "command": "exit 7", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 1, "retryDelay": "PT0.2S", "schedule": "R0//PT1H"}`,
		"job", "add", "-f", "-", "--server", srv.URL))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), self, "job", "run", "exit7", "--wait", "--server", srv.URL)
	cmd.Env = append(os.Environ(), "HORAE_TEST_RUN_MAIN="+"1")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("exit: %v, want exit status 7; stdout:\n%s", err, out)
	}
	if len(ee.Stderr) != 0 {
		t.Errorf("stderr = %q, want nothing (the progress says it all)", ee.Stderr)
	}
	if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d attempt 2$`).Match(out) {
		t.Errorf("progress does not show the retry:\n%s", out)
	}
}

func TestParseJobs(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		names []string // in the order they are sent
		err   string
	}{
		{"one JSON object", `{"name": "a", "command": "true"}`, []string{"a"}, ""},
		{"JSON list", `[{"name": "a"}, {"name": "b"}]`, []string{"a", "b"}, ""},
		{"job list --json shape", `{"jobs": [{"name": "a"}, {"name": "b"}], "next": ""}`, []string{"a", "b"}, ""},
		{"YAML documents", "name: a\n---\nname: b\n---\n", []string{"a", "b"}, ""},
		{"children after parents", "- {name: c, parents: [b]}\n- {name: b, parents: [a]}\n- {name: a}\n", []string{"a", "b", "c"}, ""},
		{"parents outside the file keep the order", "- {name: b, parents: [x]}\n- {name: a}\n", []string{"b", "a"}, ""},
		{"a cycle keeps the file's order", "- {name: a, parents: [b]}\n- {name: b, parents: [a]}\n", []string{"b", "a"}, ""},
		{"empty", "", nil, "f.yaml: no job in the file"},
		{"only comments", "# nothing\n", nil, "f.yaml: no job in the file"},
		{"a string", `"just text"`, nil, "f.yaml: want a job object or a list of jobs, found a string"},
		{"list of numbers", `[1]`, nil, "f.yaml: want a job object, found a int"},
		{"no name", `{"command": "true"}`, nil, `f.yaml: job has no name (a string field "name" is required)`},
		{"name not a string", `[{"name": "a"}, {"name": 7}]`, nil, `f.yaml, job 2: job has no name (a string field "name" is required)`},
		{"duplicate", "- {name: a}\n- {name: a}\n", nil, `f.yaml, job 2: job "a" is also defined at f.yaml, job 1`},
		{"broken JSON", `{"name": "a",`, nil, "f.yaml: not YAML or JSON: "},
		{"non-string key", "name: a\nlabels: {1: x}\n", nil, `f.yaml: job "a": labels: key 1 is not a string`},
		{"NaN", "name: a\ncpus: .nan\n", nil, `f.yaml: job "a": cpus: NaN is not a JSON number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := parseJobs([]byte(tc.in), "f.yaml")
			if tc.names == nil {
				if err == nil {
					t.Fatalf("no error, want %q", tc.err)
				}
				if !strings.HasPrefix(err.Error(), tc.err) {
					t.Errorf("error = %q, want prefix %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, d.name)
				var m map[string]any
				if err := json.Unmarshal(d.body, &m); err != nil || m["name"] != d.name {
					t.Errorf("body of %s = %s (%v)", d.name, d.body, err)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.names, ",") {
				t.Errorf("order = %v, want %v", got, tc.names)
			}
		})
	}
}

// FuzzParseJobs checks that any input is parsed or refused with an error,
// and that what is accepted is JSON objects named as reported, unique, and
// all of them: the parents-first order is a permutation.
func FuzzParseJobs(f *testing.F) {
	for _, s := range []string{
		jobsYAML,
		`{"name": "a", "command": "true", "cpus": 0.5, "labels": {"team": "x"}}`,
		`{"jobs": [{"name": "a"}, {"name": "b", "parents": ["a"]}]}`,
		"name: a\n---\nname: b\nparents: [a, a, c]\n",
		"- {name: a, parents: [b]}\n- {name: b, parents: [a]}\n",
		"name: a\ncpus: .inf\n", "name: a\nwhen: 2026-01-01T00:00:00Z\n", "name: [a]\n", "&x a: *x\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := parseJobs(data, "f")
		if err != nil {
			if len(docs) != 0 {
				t.Fatalf("error %v with %d jobs", err, len(docs))
			}
			return
		}
		if len(docs) == 0 {
			t.Fatal("no jobs and no error")
		}
		seen := map[string]bool{}
		for _, d := range docs {
			var m map[string]any
			if err := json.Unmarshal(d.body, &m); err != nil {
				t.Fatalf("body %q is not a JSON object: %v", d.body, err)
			}
			if m["name"] != d.name || d.name == "" || seen[d.name] {
				t.Fatalf("job %q: body name %v, seen %v", d.name, m["name"], seen[d.name])
			}
			seen[d.name] = true
		}
	})
}

func TestFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"validation problems once, one a line",
			&client.Error{Status: 422, Message: "invalid job: schedule: bad; retries: must be >= 0",
				Details: []api.Detail{{Field: "schedule", Message: "bad"}, {Field: "retries", Message: "must be >= 0"}}},
			"job add x: invalid job (422 Unprocessable Entity)\n  schedule: bad\n  retries: must be >= 0"},
		{"details not in the message are listed",
			&client.Error{Status: 409, Message: `job "a" has dependents`,
				Details: []api.Detail{{Field: "dependents", Message: "b"}, {Field: "dependents", Message: "c"}}},
			"job add x: job \"a\" has dependents (409 Conflict)\n  dependents: b\n  dependents: c"},
		{"no details", &client.Error{Status: 404, Message: `job "x" not found`}, `job add x: job "x" not found (404 Not Found)`},
		{"unauthorized", &client.Error{Status: 401, Message: "missing bearer token"},
			"job add x: missing bearer token (401 Unauthorized)\n  hint: pass a token with --token or HORAE_TOKEN"},
		{"transport", errors.New("horae: GET /api/v1/jobs: EOF"), "job add x: GET /api/v1/jobs: EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := failure("job add x", "http://h", tc.err).Error(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestRunExitCode(t *testing.T) {
	code := func(n int) *int { return &n }
	tests := []struct {
		run  api.Run
		want int
	}{
		{api.Run{State: "succeeded", ExitCode: code(0)}, 0},
		{api.Run{State: "succeeded"}, 0},
		{api.Run{State: "failed", ExitCode: code(3)}, 3},
		{api.Run{State: "failed", ExitCode: code(0)}, 1},
		{api.Run{State: "failed", ExitCode: code(-1)}, 1},
		{api.Run{State: "failed", ExitCode: code(300)}, 1},
		{api.Run{State: "killed"}, 1},
		{api.Run{State: "skipped"}, 1},
	}
	for _, tc := range tests {
		if got := runExitCode(tc.run); got != tc.want {
			t.Errorf("runExitCode(%s, %v) = %d, want %d", tc.run.State, tc.run.ExitCode, got, tc.want)
		}
	}
}

// TestClientAuth checks that --token, HORAE_TOKEN and the config file reach
// a server with an auth file, with the precedence flags > env > file.
func TestClientAuth(t *testing.T) {
	clearClientEnv(t)
	auth := writeFile(t, "auth.yaml", `
- {user: viewer, token: `+leaderToken+`, role: viewer}
- {user: admin, token: admin-token, role: admin}
`)
	srv := startServer(t, "--auth-file", auth)
	s := "--server=" + srv.URL
	job := `{"name": "a", "command": "true", "schedule": "R0//PT1H"}`

	r := cli(t, "", "job", "list", s)
	if r.err == nil || !strings.Contains(r.err.Error(), "(401 Unauthorized)\n  hint: pass a token with --token or HORAE_TOKEN") {
		t.Errorf("list without a token: %v", r.err)
	}
	mustOK(t, cli(t, "", "job", "list", s, "--token", leaderToken))
	r = cli(t, job, "job", "add", "-f", "-", s, "--token", leaderToken)
	if r.err == nil || !strings.Contains(r.err.Error(), "(403 Forbidden)") {
		t.Errorf("add as a viewer: %v", r.err)
	}

	t.Setenv("HORAE_TOKEN", "admin-token")
	mustOK(t, cli(t, job, "job", "add", "-f", "-", s))
	t.Setenv("HORAE_TOKEN", "")

	cfg := writeFile(t, "horae.yaml", "server: "+srv.URL+"\ntoken: admin-token\n")
	mustOK(t, cli(t, "", "job", "delete", "a", "--config", cfg))
	t.Setenv("HORAE_TOKEN", leaderToken) // env beats the file
	if r := cli(t, job, "job", "add", "-f", "-", "--config", cfg); r.err == nil || !strings.Contains(r.err.Error(), "403") {
		t.Errorf("HORAE_TOKEN should beat the config file: %v", r.err)
	}
	mustOK(t, cli(t, job, "job", "add", "-f", "-", "--config", cfg, "--token", "admin-token")) // flag beats env
}

// cuttingProxy is a reverse proxy in front of a real server that records
// every request and drops the TCP connection of the first response whose
// path contains each of cutOnce right after passing on its first piece of
// data (an event, for the event stream), as a broken network or a
// restarted proxy would.
type cuttingProxy struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []string // "GET /path?query Last-Event-ID"
	armed map[string]bool
	// noEvents answers /api/v1/events 404, as a server without an event
	// stream does.
	noEvents bool
}

func newCuttingProxy(t *testing.T, target string, cutOnce ...string) *cuttingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{armed: map[string]bool{}}
	for _, c := range cutOnce {
		p.armed[c] = true
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		for part, armed := range p.armed {
			if armed && strings.Contains(resp.Request.URL.Path, part) && resp.StatusCode == http.StatusOK {
				p.armed[part] = false
				resp.Body = &cutBody{ReadCloser: resp.Body, data: []byte(cutAfter(part))}
			}
		}
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Last-Event-ID"))
		noEvents := p.noEvents
		p.mu.Unlock()
		if noEvents && r.URL.Path == "/api/v1/events" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"the event stream is not enabled on this server (no events hub)"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// cutAfter is what a cut response passes on before the cut: for the event
// stream, its first event (an id line); for a log, any output.
func cutAfter(part string) string {
	if strings.HasSuffix(part, "/events") {
		return "\nid: "
	}
	return ""
}

// requests lists the recorded requests that start with prefix.
func (p *cuttingProxy) requests(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.seen {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// cutBody fails the read after the first one holding data (any, when data
// is empty), or that read itself when it also ended the body; the reverse
// proxy then aborts the response.
type cutBody struct {
	io.ReadCloser
	data []byte
	cut  bool
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.cut {
		return 0, errors.New("cut by the test proxy")
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 && bytes.Contains(append([]byte("\n"), p[:n]...), b.data) {
		b.cut = true
		if err != nil {
			// The last data came with the end: cut before the end.
			return n, errors.New("cut by the test proxy")
		}
	}
	return n, err
}

// TestFollowThroughCutConnections: `job run --wait` and `job logs -f`
// against a real server through a proxy that drops their first event
// stream and log stream mid-way. run --wait resumes the events with
// Last-Event-ID (and so never needs to read the run), ending with the
// command's exit code; logs -f reads the log again and prints each byte
// once.
func TestFollowThroughCutConnections(t *testing.T) {
	clearClientEnv(t)
	srv := startServer(t)
	mustOK(t, cli(t, `[{"name": "twostep", "command": "echo begin; sleep 1; echo end; exit 4", "schedule": "R0//PT1H", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0},
	  {"name": "slow", "command": "echo begin; sleep 3; echo end", "schedule": "R0//PT1H", "cpus": 0.1, "mem": 32, "disk": 16, "retries": 0}]`,
		"job", "add", "-f", "-", "--server", srv.URL))

	t.Run("run --wait", func(t *testing.T) {
		p := newCuttingProxy(t, srv.URL, "/api/v1/events")
		r := cli(t, "", "job", "run", "twostep", "--wait", "--server", p.URL)
		if r.code != 4 {
			t.Fatalf("exit code %d (err %v), want 4; stdout:\n%s", r.code, r.err, r.stdout)
		}
		if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d run \S+ failed with exit code 4 after `).MatchString(r.stdout) {
			t.Errorf("progress lacks the end:\n%s", r.stdout)
		}
		subs := p.requests("GET /api/v1/events?job=twostep")
		if len(subs) < 2 || !strings.HasSuffix(subs[0], " ") || strings.HasSuffix(subs[1], " ") {
			t.Errorf("event stream requests %q: want a first one without Last-Event-ID and a resumed one with it", subs)
		}
		if polls := p.requests("GET /api/v1/runs/"); len(polls) != 0 {
			t.Errorf("run --wait read the run (%q) although the resumed stream lost nothing", polls)
		}
	})

	t.Run("logs -f", func(t *testing.T) {
		p := newCuttingProxy(t, srv.URL, "/log")
		var run api.Run
		runJSON(t, &run, "job", "run", "slow", "--server", srv.URL)
		c := client.New(srv.URL, "", nil)
		waitUntil(t, 30*time.Second, "slow to run", func() (bool, string) {
			cur, err := c.GetRun(t.Context(), run.ID)
			return err == nil && cur.State == "running", cur.State
		})
		r := mustOK(t, cli(t, "", "job", "logs", run.ID, "-f", "--server", p.URL))
		if r.stdout != "begin\nend\n" {
			t.Errorf("logs -f = %q, want begin and end once each", r.stdout)
		}
		// The server knows a task's sandbox only from its terminal update,
		// so the followed log delivers its output when the run ends and the
		// cut comes after it; the CLI reads the log again and prints only
		// what it had not.
		if logs := p.requests("GET /api/v1/runs/" + run.ID + "/log?"); len(logs) < 2 || !strings.Contains(logs[0], "follow=true") {
			t.Errorf("log requests %q: want a follow, cut, then another read", logs)
		}
	})

	t.Run("a server without an event stream is polled", func(t *testing.T) {
		p := newCuttingProxy(t, srv.URL)
		p.noEvents = true
		r := cli(t, "", "job", "run", "twostep", "--wait", "--server", p.URL)
		if r.code != 4 || !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d run \S+ failed with exit code 4 after `).MatchString(r.stdout) {
			t.Fatalf("exit code %d (err %v), want 4 and the end; stdout:\n%s", r.code, r.err, r.stdout)
		}
		if polls := p.requests("GET /api/v1/runs/"); len(polls) == 0 {
			t.Error("run --wait without events did not read the run")
		}
		var run api.Run
		runJSON(t, &run, "job", "run", "slow", "--server", srv.URL)
		if r := mustOK(t, cli(t, "", "job", "logs", run.ID, "-f", "--server", p.URL)); r.stdout != "begin\nend\n" {
			t.Errorf("logs -f without events = %q, want begin and end", r.stdout)
		}
	})
}

func TestSkipWriter(t *testing.T) {
	tests := []struct {
		name   string
		skip   int64
		writes []string
		want   string
	}{
		{"nothing to skip", 0, []string{"ab", "c"}, "abc"},
		{"skip within the first write", 1, []string{"abc", "de"}, "bcde"},
		{"skip whole writes", 5, []string{"abc", "de", "fg"}, "fg"},
		{"skip across writes", 4, []string{"abc", "def"}, "ef"},
		{"skip all", 9, []string{"abc"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			cw := &countingWriter{w: &b}
			sw := &skipWriter{skip: tc.skip, w: cw}
			for _, w := range tc.writes {
				if n, err := sw.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if b.String() != tc.want || cw.n != int64(len(tc.want)) {
				t.Errorf("wrote %q (counted %d), want %q", b.String(), cw.n, tc.want)
			}
		})
	}
}
