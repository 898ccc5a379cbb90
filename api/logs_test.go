package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/scheduler"
)

// TestRunLogFallsBackToTail: when the agent no longer has the sandbox file
// (restarted agent, garbage-collected sandbox, executor retention) or
// cannot be reached, an ended task's log is the tail the executor
// reported, marked truncated; other agent failures stay errors, and a task
// still running gets the agent's answer.
func TestRunLogFallsBackToTail(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stdout"), []byte("the whole output\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := fakeAgent(t, dir)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "disk on fire", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close() // nothing listens there any more

	cases := []struct {
		name      string
		agentURL  string
		directory string
		state     scheduler.TaskState
		query     string
		code      int
		body      string
		truncated bool
	}{
		{"sandbox readable", agent.URL, dir, scheduler.TaskFinished, "", 200, "the whole output\n", false},
		{"sandbox gone", agent.URL, filepath.Join(dir, "deleted"), scheduler.TaskFinished, "", 200, "tail out\n", true},
		{"sandbox gone, stderr", agent.URL, filepath.Join(dir, "deleted"), scheduler.TaskFailed, "?stream=stderr", 200, "tail err\n", true},
		{"sandbox gone, follow", agent.URL, filepath.Join(dir, "deleted"), scheduler.TaskFinished, "?follow=true", 200, "tail out\n", true},
		{"agent unreachable", goneURL, dir, scheduler.TaskFinished, "", 200, "tail out\n", true},
		{"no sandbox recorded", "", "", scheduler.TaskFailed, "", 200, "tail out\n", true},
		{"agent error is not masked", broken.URL, dir, scheduler.TaskFinished, "", 502, "", false},
		{"running task, file missing", agent.URL, filepath.Join(dir, "deleted"), scheduler.TaskRunning, "", 404, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, cat := start(t, api.Config{LogPoll: 10 * time.Millisecond}, api.Deps{})
			runState := scheduler.RunSucceeded
			if !tc.state.Terminal() {
				runState = scheduler.RunRunning
			}
			task := scheduler.Task{ID: "t1", State: tc.state, AgentURL: tc.agentURL, Directory: tc.directory}
			if tc.state.Terminal() {
				task.StdoutTail, task.StderrTail = "tail out\n", "tail err\n"
			}
			cat.Apply([]scheduler.Record{scheduler.PutJob{Job: scheduler.Job{Name: "j", Command: "x"}},
				scheduler.PutRun{Run: scheduler.Run{ID: "r1", Job: "j", State: runState, Tasks: []scheduler.Task{task}}}})
			res, err := http.Get(ts.URL + "/api/v1/runs/r1/log" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.code {
				t.Fatalf("status %d %q, want %d", res.StatusCode, b, tc.code)
			}
			if tc.code == 200 && string(b) != tc.body {
				t.Fatalf("body %q, want %q", b, tc.body)
			}
			if got := res.Header.Get("X-Horae-Log-Truncated") == "true"; got != tc.truncated {
				t.Fatalf("X-Horae-Log-Truncated %q, want truncated=%v", res.Header.Get("X-Horae-Log-Truncated"), tc.truncated)
			}
		})
	}
}
