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
// executor is killed, status updates come twice or late (and so out of
// order). Each drill disrupts its job HORAE_DRILL_REPEAT times (1 by
// default) on the same processes; then every slot must have exactly one
// run record and no run's command may have executed twice.
func TestMesosFaultDrills(t *testing.T) {
	if testing.Short() {
		t.Skip("fault drills: not in -short")
	}
	reps := drillRepeat(t)
	lmAddr, faultAddr := freeAddr(t), freeAddr(t)
	startHorae(t, "localmesos", "localmesos", "--listen", lmAddr, "--heartbeat-interval", "300ms",
		"--fault-control", faultAddr, "--work-dir", t.TempDir())
	waitFor(t, 20*time.Second, "localmesos to serve", func() (bool, string) {
		code, body := call(t, http.MethodGet, "http://"+lmAddr+"/health", nil, nil)
		return code == http.StatusOK, fmt.Sprint(code, body)
	})
	h := serveLocal(t, append([]string{"--mesos-master", "http://" + lmAddr}, drillHistory()...)...)
	fault := func(t *testing.T, path string) {
		t.Helper()
		if code, body := call(t, http.MethodPost, "http://"+faultAddr+"/faults/"+path, nil, nil); code != http.StatusNoContent {
			t.Fatalf("fault %s: %d %s", path, code, body)
		}
	}
	// window turns a switch on for 3 s (several runs' updates pass through
	// it), then off.
	window := func(t *testing.T, on, off string) time.Time {
		t0 := time.Now()
		fault(t, on)
		time.Sleep(3 * time.Second)
		fault(t, off)
		return t0
	}

	drills := []struct {
		name    string
		command string // what each run executes before writing the ledger
		retries int
		// inject breaks Mesos and returns when the recovery clock starts.
		inject func(t *testing.T) time.Time
	}{
		{name: "stream-drop", command: "true", inject: func(t *testing.T) time.Time {
			t0 := time.Now()
			fault(t, "drop-stream")
			return t0
		}},
		// > 5 missed heartbeats of 300 ms: the watchdog re-subscribes.
		{name: "master-silent", command: "true", inject: func(t *testing.T) time.Time {
			return window(t, "silence?on=true", "silence?on=false")
		}},
		{name: "agent-lost", command: "sleep 1", retries: 2, inject: func(t *testing.T) time.Time {
			t0 := time.Now()
			fault(t, "lose-agent")
			return t0
		}},
		// The command runs 3 s and the executor is killed while it runs: its
		// whole process group dies with it, the run fails over to a retry.
		// With the shared executor (the default) the one executor runs every
		// task of the agent, so all runs in flight (about three here) fail
		// and are retried.
		// (An executor killed after its command ended but before reporting
		// makes the retry run the command again: at-least-once at that
		// boundary, see docs/reliability.md.)
		{name: "executor-killed", command: "sleep 3", retries: 2, inject: func(t *testing.T) time.Time {
			killOneExecutor(t, "executor-killed")
			return time.Now()
		}},
		// Every first attempt fails, so each run's TASK_FAILED comes twice
		// while the switch is on: one failure must make one retry, not two
		// (two retries of one run would write its ledger line twice).
		{name: "duplicate-updates", command: `[ "$HORAE_ATTEMPT" -gt 0 ]`, retries: 2, inject: func(t *testing.T) time.Time {
			return window(t, "duplicate-updates?on=true", "duplicate-updates?on=false")
		}},
		// Updates sent while the switch is on arrive 1.5 s late; the ones
		// sent right after it is off overtake them: the task that started
		// (TASK_RUNNING) in the last second of the window (runs start every
		// second and last one) reports its end before its start arrives. The runs fail on their first attempt,
		// so late failures must still retry once, and early ones too.
		{name: "delayed-updates", command: `sleep 1 && [ "$HORAE_ATTEMPT" -gt 0 ]`, retries: 2, inject: func(t *testing.T) time.Time {
			return window(t, "delay-updates?d=1500ms", "delay-updates?d=0")
		}},
	}
	for _, d := range drills {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			ledger, started := filepath.Join(dir, "ledger"), filepath.Join(dir, "started")
			start := time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)
			job := map[string]any{
				"name": d.name,
				// The ledger line is written last, so a run killed mid-way
				// leaves no line and its retry writes one. The started line,
				// written first with the wall clock, times the recovery
				// (recoveredAfter: runs start on time again).
				"command": fmt.Sprintf(`echo "$HORAE_SCHEDULED_TIME $HORAE_ATTEMPT $HORAE_RUN_ID $(date +%%s%%N)" >> %s; %s && echo "$HORAE_SCHEDULED_TIME $HORAE_ATTEMPT $HORAE_RUN_ID" >> %s`,
					started, d.command, ledger),
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
			stats := drillStats{name: "mesos-" + d.name}
			for i := range reps {
				// A new ledger line means a command has just ended and its
				// executor is about to report: faults landing in that
				// window make the retry run the command again (the
				// at-least-once edge of docs/reliability.md). Inject in the
				// middle of the next run.
				time.Sleep(400 * time.Millisecond)
				before := len(ledgerLines(t, ledger))
				t0 := d.inject(t)
				var recovery time.Duration
				waitFor(t, 60*time.Second, fmt.Sprintf("drill %d: runs on time again after the fault", i+1), func() (bool, string) {
					var ok bool
					recovery, ok = recoveredAfter(ledgerLines(t, started), start, t0, time.Now(), drillPeriod)
					return ok, fmt.Sprintf("no %d runs on time in a row since %s", onTimeRuns, t0.Format(time.RFC3339Nano))
				})
				stats.recoveries = append(stats.recoveries, recovery)
				// Runs flow again (three more completed) before the next
				// repetition or the checks.
				waitFor(t, 45*time.Second, fmt.Sprintf("drill %d: runs to flow after the fault", i+1), func() (bool, string) {
					lines := ledgerLines(t, ledger)
					return len(lines) > before+2, fmt.Sprint(len(lines), " lines")
				})
			}
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
			once := checkOncePerSlot(t, runs, ledgerLines(t, ledger))
			stats.lost, stats.dups = once.lost, once.dups
			stats.report(t)
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
