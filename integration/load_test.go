package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoad measures sustained throughput on one machine: jobs whose runs
// come due at a given total rate (HORAE_LOAD_RATE runs/s, default 100) for
// HORAE_LOAD_SECONDS (default 60), each running `true`, side by side with a
// bare loop that fork/execs `true` at the same rate. It reports the p50/p99
// scheduled-to-started lateness of both, missed and skipped slots. It
// waits for the last runs to end at most HORAE_LOAD_DRAIN_SECONDS (default
// 120) after the last slot. It is a measurement, not a check: it runs only
// with HORAE_LOAD=1 (make bench-load, make bench).
//
// Besides the test log it prints two lines in Go benchmark format on
// stdout, which `make bench` (internal/benchreport) turns into the
// throughput table of docs/benchmarks.md:
//
//	BenchmarkLoad/rate=<r>/bare 1 <ms> p50-ms <ms> p99-ms <ms> max-ms <n> due-runs <n> started-runs <s> seconds
//	BenchmarkLoad/rate=<r>/horae 1 <ms> p50-ms ... <ms> placed-p99-ms <ms> launch-p99-ms ... <n> succeeded-runs <n> failed-runs <n> skipped-runs <n> unfinished-runs <MiB> peak-rss-MiB <s> seconds
func TestLoad(t *testing.T) {
	if os.Getenv("HORAE_LOAD") != "1" {
		t.Skip("load measurement: set HORAE_LOAD=1")
	}
	rate := envInt(t, "HORAE_LOAD_RATE", 100)
	seconds := envInt(t, "HORAE_LOAD_SECONDS", 60)
	drain := time.Duration(envInt(t, "HORAE_LOAD_DRAIN_SECONDS", 120)) * time.Second
	// HORAE_LOAD_POLICY=all (default): every slot runs however late
	// (allow, missed-run policy all), so lateness shows the backlog;
	// =latest: the jobs' defaults (forbid, latest), so an overload shows as
	// slots recorded skipped, the way a production fleet would shed it.
	concurrency, missed := "allow", "all"
	switch p := os.Getenv("HORAE_LOAD_POLICY"); p {
	case "", "all":
	case "latest":
		concurrency, missed = "forbid", "latest"
	default:
		t.Fatalf("HORAE_LOAD_POLICY=%q: want all or latest", p)
	}

	bare := bareLoop(rate, time.Duration(seconds)*time.Second)
	t.Logf("bare fork/exec loop at %d/s for %ds: started %d of %d, lateness p50 %v p99 %v max %v",
		rate, seconds, bare.started, bare.due, bare.p(0.50), bare.p(0.99), bare.p(1))
	fmt.Printf("BenchmarkLoad/rate=%d/bare 1 %.1f p50-ms %.1f p99-ms %.1f max-ms %d due-runs %d started-runs %d seconds\n",
		rate, ms(bare.p(0.50)), ms(bare.p(0.99)), ms(bare.p(1)), bare.due, bare.started, seconds)

	h := serveLocal(t, "--log-level", "warn")
	warmUp(t, h.URL)
	// rate jobs of one run per second each, staggered across the second so
	// the load is spread as a real fleet's would be.
	start := time.Now().UTC().Truncate(time.Second).Add(5 * time.Second)
	for i := range rate {
		offset := time.Duration(i) * time.Second / time.Duration(rate)
		job := map[string]any{
			"name":              fmt.Sprintf("load-%04d", i),
			"command":           "true",
			"shell":             false, // exec'd directly, as the bare loop does
			"schedule":          fmt.Sprintf("R%d/%s/PT1S", seconds, start.Add(offset).Format("2006-01-02T15:04:05.000Z")),
			"concurrencyPolicy": concurrency,
			"missedRunPolicy":   missed,
			"retries":           0,
			"cpus":              0.001, "mem": 1, "disk": 0.001,
		}
		if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs", job, nil); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", job["name"], code, body)
		}
	}
	// No polling while the load runs: reading every job's runs competes for
	// the same two cores as the scheduler and would be measured as its
	// lateness.
	end := start.Add(time.Duration(seconds) * time.Second)
	time.Sleep(time.Until(end))
	deadline := end.Add(drain)
	var lat, placed, launchPath []time.Duration
	var states map[string]int
	for {
		lat, placed, launchPath, states = nil, nil, nil, map[string]int{}
		active := 0
		for i := range rate {
			for _, r := range allRuns(t, h.URL, fmt.Sprintf("load-%04d", i)) {
				states[r.State]++
				switch r.State {
				case "pending", "launching", "running":
					active++
				}
				if r.StartedAt != "" {
					sf, _ := time.Parse(time.RFC3339Nano, r.ScheduledFor)
					st, _ := time.Parse(time.RFC3339Nano, r.StartedAt)
					lat = append(lat, st.Sub(sf))
					if len(r.Tasks) > 0 {
						if la, err := time.Parse(time.RFC3339Nano, r.Tasks[0].LaunchedAt); err == nil {
							placed = append(placed, la.Sub(sf))
							launchPath = append(launchPath, st.Sub(la))
						}
					}
				}
			}
		}
		if active == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	q := func(p float64) time.Duration { return quantile(lat, p) }
	// Where the lateness goes: scheduled → placed on an offer (the engine's
	// decision, so the loop's wake-up and the offer at hand) and placed →
	// started (the commit, the ACCEPT, the agent and the executor's fork).
	t.Logf("  scheduled→placed p50 %v p99 %v; placed→started p50 %v p99 %v",
		quantile(placed, 0.5), quantile(placed, 0.99), quantile(launchPath, 0.5), quantile(launchPath, 0.99))
	// VmHWM: the peak resident memory of `horae serve` over the whole run
	// (issue #5: memory bounded under overload).
	peak := statusKiB(t, h.cmd.Process.Pid, "VmHWM:")
	t.Logf("horae at %d/s for %ds: runs %v (due %d), scheduled→started p50 %v p99 %v max %v, peak RSS %d KiB",
		rate, seconds, states, rate*seconds, q(0.50), q(0.99), q(1), peak)
	unfinished := 0
	for st, n := range states {
		switch st {
		case "succeeded", "failed", "skipped":
		default:
			unfinished += n
		}
	}
	// fmt, not t.Log: t.Log lines are indented and prefixed in `go test -v`.
	fmt.Printf("BenchmarkLoad/rate=%d/horae 1 %.1f p50-ms %.1f p99-ms %.1f max-ms %.2f placed-p50-ms %.1f placed-p99-ms %.1f launch-p50-ms %.1f launch-p99-ms %d due-runs %d succeeded-runs %d failed-runs %d skipped-runs %d unfinished-runs %.1f peak-rss-MiB %d seconds\n",
		rate, ms(q(0.50)), ms(q(0.99)), ms(q(1)), ms(quantile(placed, 0.5)), ms(quantile(placed, 0.99)), ms(quantile(launchPath, 0.5)), ms(quantile(launchPath, 0.99)),
		rate*seconds, states["succeeded"], states["failed"], states["skipped"], unfinished, float64(peak)/1024, seconds)
}

// quantile sorts ds and returns its p-quantile (0 for none).
func quantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[int(p*float64(len(ds)-1))]
}

// ms is d in milliseconds, fractions kept.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// statusKiB reads one "<key> <n> kB" line of /proc/<pid>/status.
func statusKiB(t testing.TB, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("status of pid %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/status %s %q: %v", pid, key, v, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, key)
	return 0
}

type bareResult struct {
	due, started int
	lat          []time.Duration
}

func (b bareResult) p(q float64) time.Duration {
	if len(b.lat) == 0 {
		return 0
	}
	return b.lat[int(q*float64(len(b.lat)-1))]
}

// bareLoop fork/execs `true` at rate per second for d, each start due at
// its own slot, and records how late each started.
func bareLoop(rate int, d time.Duration) bareResult {
	var (
		mu  sync.Mutex
		res bareResult
		wg  sync.WaitGroup
	)
	interval := time.Second / time.Duration(rate)
	begin := time.Now()
	for slot := begin; slot.Before(begin.Add(d)); slot = slot.Add(interval) {
		res.due++
		time.Sleep(time.Until(slot))
		wg.Add(1)
		go func(due time.Time) {
			defer wg.Done()
			cmd := exec.Command("true")
			if err := cmd.Start(); err != nil {
				return
			}
			late := time.Since(due)
			_ = cmd.Wait()
			mu.Lock()
			res.started++
			res.lat = append(res.lat, late)
			mu.Unlock()
		}(slot)
	}
	wg.Wait()
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	return res
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// TestThousandDueAtOnce: 1,000 jobs due in the same second must all run to
// the end (issue #5). It reports how long until the last one finished, also
// as a Go benchmark line on stdout for `make bench`:
//
//	BenchmarkThousandDueAtOnce 1 <s> last-ended-s <n> due-runs <n> succeeded-runs
//
// A measurement: runs only with HORAE_LOAD=1 (make bench-load, make bench).
func TestThousandDueAtOnce(t *testing.T) {
	if os.Getenv("HORAE_LOAD") != "1" {
		t.Skip("load measurement: set HORAE_LOAD=1")
	}
	const n = 1000
	h := serveLocal(t, "--log-level", "warn")
	warmUp(t, h.URL)
	due := time.Now().UTC().Truncate(time.Second).Add(40 * time.Second)
	for i := range n {
		job := map[string]any{
			"name": fmt.Sprintf("burst-%04d", i), "command": "true",
			"schedule": "R1/" + due.Format(time.RFC3339) + "/PT1H",
			"retries":  0, "cpus": 0.001, "mem": 1, "disk": 0.001,
		}
		if code, body := call(t, http.MethodPost, h.URL+"/api/v1/jobs", job, nil); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", job["name"], code, body)
		}
	}
	if time.Now().After(due) {
		t.Fatalf("creating %d jobs took past the due time %s", n, due)
	}
	var states map[string]int
	waitFor(t, 5*time.Minute, "all 1,000 runs to end", func() (bool, string) {
		states = map[string]int{}
		for i := range n {
			for _, r := range runsOf(t, h.URL, fmt.Sprintf("burst-%04d", i)) {
				states[r.State]++
			}
		}
		return states["succeeded"]+states["failed"]+states["killed"] == n, fmt.Sprint(states)
	})
	took := time.Since(due)
	t.Logf("1,000 runs due at %s: %v; the last ended %v after the due second", due.Format(time.TimeOnly), states, took.Round(100*time.Millisecond))
	fmt.Printf("BenchmarkThousandDueAtOnce 1 %.2f last-ended-s %d due-runs %d succeeded-runs\n", took.Seconds(), n, states["succeeded"])
	if states["succeeded"] != n {
		t.Fatalf("runs %v, want %d succeeded", states, n)
	}
}

// warmUp runs one task to its end before the measurement, so that the
// shared executor is up on the agent: the target is the lateness of a
// sustained rate, not the first launch on a cold agent, which also fetches
// and starts the executor (the executor benchmarks measure that).
func warmUp(t *testing.T, base string) {
	t.Helper()
	job := map[string]any{"name": "warm-up", "command": "true", "shell": false, "schedule": "R0//PT1H",
		"retries": 0, "cpus": 0.001, "mem": 1, "disk": 0.001}
	if code, body := call(t, http.MethodPost, base+"/api/v1/jobs", job, nil); code != http.StatusCreated {
		t.Fatalf("create warm-up job: %d %s", code, body)
	}
	if code, body := call(t, http.MethodPost, base+"/api/v1/jobs/warm-up/runs", map[string]any{}, nil); code != http.StatusAccepted {
		t.Fatalf("run warm-up job: %d %s", code, body)
	}
	waitFor(t, 60*time.Second, "the warm-up run to succeed", func() (bool, string) {
		rs := runsOf(t, base, "warm-up")
		return len(rs) == 1 && rs[0].State == "succeeded", fmt.Sprintf("%+v", rs)
	})
}
