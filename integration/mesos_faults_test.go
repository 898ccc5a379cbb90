package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMesosFaultDrills runs a job every second through a localmesos process
// and breaks Mesos under it in the ways a real cluster breaks: the event
// stream drops, the master goes silent, the agent is lost mid-run, an
// executor is killed. After each drill, every slot must have exactly one
// run record and no run's command may have executed twice.
func TestMesosFaultDrills(t *testing.T) {
	if testing.Short() {
		t.Skip("fault drills: not in -short")
	}
	lmAddr, faultAddr := freeAddr(t), freeAddr(t)
	startHorae(t, "localmesos", "localmesos", "--listen", lmAddr, "--heartbeat-interval", "300ms",
		"--fault-control", faultAddr, "--work-dir", t.TempDir())
	waitFor(t, 20*time.Second, "localmesos to serve", func() (bool, string) {
		code, body := call(t, http.MethodGet, "http://"+lmAddr+"/health", nil, nil)
		return code == http.StatusOK, fmt.Sprint(code, body)
	})
	h := serveLocal(t, "--mesos-master", "http://"+lmAddr)
	fault := func(path string) {
		t.Helper()
		if code, body := call(t, http.MethodPost, "http://"+faultAddr+"/faults/"+path, nil, nil); code != http.StatusNoContent {
			t.Fatalf("fault %s: %d %s", path, code, body)
		}
	}

	drills := []struct {
		name    string
		command string // what each run executes before writing the ledger
		retries int
		inject  func(t *testing.T)
	}{
		{name: "stream-drop", command: "true", inject: func(t *testing.T) { fault("drop-stream") }},
		{name: "master-silent", command: "true", inject: func(t *testing.T) {
			fault("silence?on=true")
			time.Sleep(3 * time.Second) // > 5 missed heartbeats of 300 ms: the watchdog re-subscribes
			fault("silence?on=false")
		}},
		{name: "agent-lost", command: "sleep 1", retries: 2, inject: func(t *testing.T) { fault("lose-agent") }},
		// The command runs 3 s and the executor is killed while it runs: its
		// whole process group dies with it, the run fails over to a retry.
		// With the shared executor (the default) the one executor runs every
		// task of the agent, so all runs in flight (about three here) fail
		// and are retried.
		// (An executor killed after its command ended but before reporting
		// makes the retry run the command again: at-least-once at that
		// boundary, see docs/reliability.md.)
		{name: "executor-killed", command: "sleep 3", retries: 2, inject: func(t *testing.T) {
			killOneExecutor(t, "executor-killed")
		}},
	}
	for _, d := range drills {
		t.Run(d.name, func(t *testing.T) {
			ledger := filepath.Join(t.TempDir(), "ledger")
			start := time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)
			job := map[string]any{
				"name": d.name,
				// The ledger line is written last, so a run killed mid-way
				// leaves no line and its retry writes one.
				"command":           fmt.Sprintf(`%s && echo "$HORAE_SCHEDULED_TIME $HORAE_ATTEMPT $HORAE_RUN_ID" >> %s`, d.command, ledger),
				"schedule":          "R/" + start.Format(time.RFC3339) + "/PT1S",
				"missedRunPolicy":   "all",
				"concurrencyPolicy": "allow",
				"retries":           d.retries,
				"retryDelay":        "PT0.2S",
				"cpus":              0.05, "mem": 16, "disk": 1,
			}
			if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs", job, nil); code != http.StatusCreated {
				t.Fatalf("create job: %d %s", code, body)
			}
			waitFor(t, 30*time.Second, "the first runs", func() (bool, string) {
				n := ledgerLines(t, ledger)
				return len(n) >= 2, fmt.Sprint(len(n), " lines")
			})
			// A new ledger line means a command has just ended and its
			// executor is about to report: faults landing in that window
			// make the retry run the command again (the at-least-once edge
			// of docs/reliability.md). Inject in the middle of the next run.
			time.Sleep(400 * time.Millisecond)
			injected := time.Now()
			before := len(ledgerLines(t, ledger))
			d.inject(t)
			waitFor(t, 45*time.Second, "runs to resume after the fault", func() (bool, string) {
				lines := ledgerLines(t, ledger)
				return len(lines) > before+2, fmt.Sprint(len(lines), " lines")
			})
			t.Logf("recovery (fault → runs resumed): %v", time.Since(injected).Round(10*time.Millisecond))
			if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs/"+d.name+"/disable", nil, nil); code/100 != 2 {
				t.Fatalf("disable: %d %s", code, body)
			}
			var runs []runJSON
			waitFor(t, 60*time.Second, "all runs to end", func() (bool, string) {
				runs = allRuns(t, h.URL, d.name)
				active := 0
				for _, r := range runs {
					if r.State == "pending" || r.State == "launching" || r.State == "running" {
						active++
					}
				}
				return active == 0, fmt.Sprint(active, " active of ", len(runs))
			})
			checkOncePerSlot(t, runs, ledgerLines(t, ledger))
		})
	}
}

// killOneExecutor SIGKILLs the executor process of a running task of job
// (found in /proc by its MESOS_EXECUTOR_ID environment variable: the task
// ID for a per-task executor, horae-executor-… for the shared one).
func killOneExecutor(t *testing.T, job string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err != nil {
				continue
			}
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if !strings.Contains(string(cmdline), "executor") {
				continue
			}
			for _, kv := range strings.Split(string(env), "\x00") {
				id, ok := strings.CutPrefix(kv, "MESOS_EXECUTOR_ID=")
				if ok && (strings.Contains(id, "."+job+".") || strings.HasPrefix(id, "horae-executor-")) {
					// Let the command start, so the kill lands mid-run.
					time.Sleep(700 * time.Millisecond)
					if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
						t.Logf("killed executor %d (%s)", pid, kv)
						return
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no running executor of %s found to kill", job)
}
