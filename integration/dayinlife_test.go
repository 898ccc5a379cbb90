// A day in the life of a Horae cluster (issue #9, item 1).
//
// TestDayInTheLife runs an operator's day with real processes only: a
// three-server ZooKeeper ensemble, one `horae localmesos` and three
// `horae serve --store zk://… --mesos-master …` instances. Jobs are created
// through the Chronos surface (/v1/scheduler/iso8601, /dependency), the
// native /api/v1/jobs and the `horae` CLI, many through a follower that
// forwards the write to the leader. Dependent jobs cover every trigger rule
// (all_success, all_done, none_failed, one_success, one_failed, all_failed),
// each with parents whose results make it fire and parents whose results
// make it record a skipped run (all_done: a parent that has not reported).
// A split job (3 instances) is joined by a dependent that must see all three
// instances' output; a split whose instance fails is killed whole and
// retried whole; a flaky job fails its first attempt and succeeds on the
// retry; runs are started by hand (Chronos PUT, native POST, `horae job
// run`) and by a signed webhook; running runs are killed (CLI, Chronos); a
// scheduled job is disabled (no runs, no owed slots) and enabled again; a
// parent with dependents is deleted (native API and CLI refuse with 409,
// Chronos detaches and disables the orphan, which still runs by hand); a
// live event stream followed through a follower must tell all of it. Then
// every process is stopped (the leader and localmesos with SIGKILL, the
// others with SIGTERM, the three ZooKeeper servers too) and started again,
// and the test checks that every job, run record, counter and Chronos view
// survived; that a webhook redelivery and a repeated triggerId return the
// runs they started before; that a dependency generation half done at the
// restart completes after it; that the scheduled job caught up the slots of
// the downtime (missedRunPolicy all) and goes on; and, from a ledger every
// task appends to, that no command ran twice. A failure message starting
// with "BUG:" is a check that found a defect in Horae when it was written.

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// ruleCase is one dependent job of the trigger-rule matrix: its rule, its
// parents and whether the parents' first results (ok* succeed, bad* fail)
// make it run (fires) or record a skipped run.
type ruleCase struct {
	rule    string
	parents []string
	fires   bool
}

func (c ruleCase) name() string {
	if c.fires {
		return c.rule + "-fires"
	}
	return c.rule + "-skips"
}

// ruleCases covers the six trigger rules of scheduler/job.go, each in its
// fire and its don't-fire case.
var ruleCases = []ruleCase{
	{"all_success", []string{"ok1", "ok2"}, true},
	{"all_success", []string{"ok1", "bad1"}, false},
	{"all_done", []string{"ok1", "bad1"}, true},
	{"none_failed", []string{"ok1", "ok2"}, true},
	{"none_failed", []string{"ok2", "bad2"}, false},
	{"one_success", []string{"ok1", "bad1"}, true},
	{"one_success", []string{"bad1", "bad2"}, false},
	{"one_failed", []string{"ok2", "bad2"}, true},
	{"one_failed", []string{"ok1", "ok2"}, false},
	{"all_failed", []string{"bad1", "bad2"}, true},
	{"all_failed", []string{"ok1", "bad1"}, false},
}

// allDoneWaits is all_done's don't-fire case: a parent that has not reported
// yet ("late" runs only after the restart) holds the child back.
const allDoneWaits = "all_done-waits"

func TestDayInTheLife(t *testing.T) {
	if testing.Short() {
		t.Skip("day in the life: not in -short")
	}
	began := time.Now()
	w := startWorld(t)
	dir := t.TempDir()
	ledger := filepath.Join(dir, "ledger")
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(ledger)
			t.Logf("--- ledger ---\n%s", tail(string(data), 8000))
		}
	})
	lead, follower := w.leaderURL(), w.followerURL()
	t.Logf("world up in %v: leader %s, follower %s", time.Since(began).Round(time.Millisecond), lead, follower)
	// The live event stream, through a follower (which proxies it to the
	// leader), from before the first job until the restart.
	evLog := followEvents(t, follower)
	var hookedRun, byHandRun string

	small := func(j map[string]any) map[string]any {
		j["cpus"], j["mem"], j["disk"] = 0.05, 16, 1
		return j
	}
	never := "R0/2030-01-01T00:00:00Z/PT1H" // a scheduled job that runs by hand only
	tickerStart := time.Now().UTC().Truncate(time.Second).Add(4 * time.Second)
	const tickEvery = 2 * time.Second
	const secret = "day-in-the-life-hook-secret"

	if !t.Run("create jobs through the Chronos API, the native API and the CLI, via leader and follower", func(t *testing.T) {
		// Parents of the trigger-rule matrix.
		send(t, http.MethodPost, lead+"/api/v1/jobs", small(map[string]any{
			"name": "ok1", "command": record(ledger, "ran"), "schedule": "R0//PT1H", "retries": 0}), http.StatusCreated, nil)
		send(t, http.MethodPost, follower+"/v1/scheduler/iso8601", small(map[string]any{
			"name": "ok2", "command": record(ledger, "ran"), "schedule": never, "retries": 0, "owner": "ops@example.com"}), http.StatusNoContent, nil)
		send(t, http.MethodPost, follower+"/api/v1/jobs", small(map[string]any{
			"name": "bad1", "command": record(ledger, "ran") + "; exit 3", "schedule": "R0//PT1H", "retries": 0}), http.StatusCreated, nil)
		bad2, _ := json.Marshal(small(map[string]any{
			"name": "bad2", "command": record(ledger, "ran") + "; exit 3", "schedule": "R0//PT1H", "retries": 0}))
		if r := cli(t, follower, string(bad2), "job", "add", "-f", "-"); r.code != 0 || !strings.Contains(r.stdout, "created job bad2") {
			t.Fatalf("horae job add bad2 through the follower: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		send(t, http.MethodPost, lead+"/v1/scheduler/iso8601", small(map[string]any{
			"name": "late", "command": record(ledger, "ran") + "; exit 4", "schedule": never, "retries": 0}), http.StatusNoContent, nil)

		// Dependents: odd ones through Chronos on the follower, even ones native on the leader.
		for i, c := range ruleCases {
			j := small(map[string]any{"name": c.name(), "command": record(ledger, "ran"), "parents": c.parents,
				"triggerRule": c.rule, "retries": 0})
			if i%2 == 0 {
				send(t, http.MethodPost, lead+"/api/v1/jobs", j, http.StatusCreated, nil)
			} else {
				send(t, http.MethodPost, follower+"/v1/scheduler/dependency", j, http.StatusNoContent, nil)
			}
		}
		send(t, http.MethodPost, follower+"/v1/scheduler/dependency", small(map[string]any{"name": allDoneWaits,
			"command": record(ledger, "ran"), "parents": []string{"ok2", "late"}, "triggerRule": "all_done", "retries": 0}),
			http.StatusNoContent, nil)

		// Split and join: instance i sleeps i seconds before it writes, so
		// the join sees all three lines only if it waited for the slowest.
		send(t, http.MethodPost, lead+"/api/v1/jobs", small(map[string]any{"name": "split", "instances": 3, "retries": 0,
			"command": `sleep "$HORAE_INSTANCE"; ` + record(ledger, "$HORAE_INSTANCES"), "schedule": "R0//PT1H"}), http.StatusCreated, nil)
		send(t, http.MethodPost, follower+"/v1/scheduler/dependency", small(map[string]any{"name": "join", "retries": 0,
			"command": record(ledger, fmt.Sprintf(`$(grep -c '^split ' %s)`, ledger)), "parents": []string{"split"}}), http.StatusNoContent, nil)
		// A split whose instance 1 fails its first attempt: the engine kills
		// the two others (fail fast) and the retry starts all three again.
		send(t, http.MethodPost, follower+"/api/v1/jobs", small(map[string]any{"name": "splitretry", "instances": 3,
			"retries": 1, "retryDelay": "PT0.5S", "schedule": "R0//PT1H",
			"command": `if [ "$HORAE_INSTANCE" = 1 ] && [ "$HORAE_ATTEMPT" = 0 ]; then exit 5; fi; sleep 2; ` + record(ledger, "done")}),
			http.StatusCreated, nil)

		// A flaky job: the first attempt fails and leaves a marker, the retry succeeds.
		marker := filepath.Join(dir, "flaky-marker")
		send(t, http.MethodPost, lead+"/v1/scheduler/iso8601", small(map[string]any{"name": "flaky", "schedule": never,
			"retries": 2, "retryDelay": "PT0.5S",
			"command": fmt.Sprintf(`if [ -e %[1]s ]; then %[2]s; else touch %[1]s; %[3]s; exit 7; fi`, marker,
				record(ledger, "ok"), record(ledger, "fail"))}), http.StatusNoContent, nil)

		// Started by hand, by webhook, killed.
		send(t, http.MethodPost, follower+"/api/v1/jobs", small(map[string]any{"name": "hooked", "schedule": "R0//PT1H",
			"command": `echo "greeting $GREETING"; ` + record(ledger, `"$GREETING"`), "retries": 0,
			"webhook": map[string]any{"enabled": true, "secret": secret}}), http.StatusCreated, nil)
		send(t, http.MethodPost, lead+"/api/v1/jobs", small(map[string]any{"name": "hookcopy", "schedule": "R0//PT1H",
			"command": record(ledger, "copy"), "retries": 0, "webhook": map[string]any{"enabled": true, "secret": secret}}), http.StatusCreated, nil)
		send(t, http.MethodPost, lead+"/api/v1/jobs", small(map[string]any{"name": "sleeper", "schedule": "R0//PT1H",
			"command": record(ledger, "start") + "; sleep 30; " + record(ledger, "end"), "retries": 2, "retryDelay": "PT0.5S"}),
			http.StatusCreated, nil)

		// A scheduled job, disabled and enabled later, running across the restart.
		send(t, http.MethodPost, follower+"/v1/scheduler/iso8601", small(map[string]any{"name": "ticker",
			"schedule": "R/" + tickerStart.Format(time.RFC3339) + "/PT2S", "missedRunPolicy": "all", "retries": 0,
			"command": record(ledger, "$HORAE_SCHEDULED_TIME")}), http.StatusNoContent, nil)

		// Delete with dependents.
		send(t, http.MethodPost, lead+"/api/v1/jobs", small(map[string]any{"name": "dparent", "command": "true", "schedule": "R0//PT1H"}), http.StatusCreated, nil)
		send(t, http.MethodPost, lead+"/api/v1/jobs", small(map[string]any{"name": "dkeep", "command": "true", "schedule": "R0//PT1H", "retries": 0}), http.StatusCreated, nil)
		send(t, http.MethodPost, follower+"/v1/scheduler/dependency", small(map[string]any{"name": "dorphan",
			"command": record(ledger, "ran"), "parents": []string{"dparent"}}), http.StatusNoContent, nil)
		send(t, http.MethodPost, follower+"/api/v1/jobs", small(map[string]any{"name": "dtwo",
			"command": record(ledger, "ran"), "parents": []string{"dparent", "dkeep"}, "retries": 0}), http.StatusCreated, nil)

		// Every instance's catalog shows every job (reads are local).
		want := 5 + len(ruleCases) + 1 + 3 + 1 + 3 + 1 + 4
		for addr, p := range w.c.instances {
			waitFor(t, 20*time.Second, "all jobs on "+addr, func() (bool, string) {
				jobs := rawJobs(t, p.URL)
				return len(jobs) == want, fmt.Sprintf("%d jobs, want %d", len(jobs), want)
			})
		}
		// Chronos GET shows Horae's own fields too.
		var j map[string]any
		send(t, http.MethodGet, follower+"/v1/scheduler/job/one_success-fires", nil, http.StatusOK, &j)
		if j["triggerRule"] != "one_success" || !slices.Equal(toStrings(j["parents"]), []string{"ok1", "bad1"}) {
			t.Errorf("Chronos GET of one_success-fires: triggerRule %v parents %v, want one_success [ok1 bad1]", j["triggerRule"], j["parents"])
		}
	}) {
		t.FailNow()
	}

	t.Run("trigger rules: each fires or records a skipped run from its parents' first results", func(t *testing.T) {
		// One manual run per parent, through every way there is.
		var run runJSON
		send(t, http.MethodPost, follower+"/api/v1/jobs/ok1/runs", map[string]any{}, http.StatusAccepted, &run)
		send(t, http.MethodPut, lead+"/v1/scheduler/job/ok2", nil, http.StatusNoContent, nil)
		send(t, http.MethodPut, follower+"/v1/scheduler/job/bad1", nil, http.StatusNoContent, nil)
		if r := cli(t, follower, "", "job", "run", "bad2", "--wait"); r.code != 3 {
			t.Errorf("horae job run bad2 --wait: exit %d, want the command's 3; stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		for job, state := range map[string]string{"ok1": "succeeded", "ok2": "succeeded", "bad1": "failed", "bad2": "failed"} {
			runs := waitRunsSettled(t, lead, job, 1, 30*time.Second)
			if runs[0].State != state || runs[0].Trigger != "manual" {
				t.Errorf("parent %s: run %s is %s (trigger %s), want %s by a manual run", job, runs[0].ID, runs[0].State, runs[0].Trigger, state)
			}
		}
		for _, c := range ruleCases {
			runs := waitRunsSettled(t, lead, c.name(), 1, 30*time.Second)
			checkRuleRun(t, c, runs[0], readLedger(t, ledger))
		}
		if runs := allRuns(t, lead, allDoneWaits); len(runs) != 0 {
			t.Errorf("%s (parents ok2, late): late has not run, yet it has runs %s", allDoneWaits, describeRuns(runs))
		}
		// The counters the engine keeps in the cursor, as clients see them.
		for _, c := range []struct {
			job                           string
			success, errors, sinceSuccess float64
		}{
			{"ok1", 1, 0, 0}, {"ok2", 1, 0, 0}, {"bad1", 0, 1, 1}, {"bad2", 0, 1, 1},
			{"all_success-fires", 1, 0, 0}, {"all_success-skips", 0, 0, 0},
		} {
			var j map[string]any
			send(t, http.MethodGet, lead+"/v1/scheduler/job/"+c.job, nil, http.StatusOK, &j)
			if j["successCount"] != c.success || j["errorCount"] != c.errors || j["errorsSinceLastSuccess"] != c.sinceSuccess {
				t.Errorf("%s counters: successCount %v errorCount %v errorsSinceLastSuccess %v, want %v %v %v",
					c.job, j["successCount"], j["errorCount"], j["errorsSinceLastSuccess"], c.success, c.errors, c.sinceSuccess)
			}
		}

		// A second result of ok2 opens a generation that is still incomplete
		// at the restart; it must survive it (see the cursor sub-test).
		send(t, http.MethodPut, follower+"/v1/scheduler/job/ok2", nil, http.StatusNoContent, nil)
		waitRunsSettled(t, lead, "ok2", 2, 30*time.Second)
		// A Chronos client edits a child in the middle of that generation
		// the way Chronos clients do: GET, change, POST back. Its progress
		// for unchanged parents must stay (Chronos #439).
		var child map[string]any
		send(t, http.MethodGet, follower+"/v1/scheduler/job/all_success-fires", nil, http.StatusOK, &child)
		child["description"] = "edited by a Chronos client"
		send(t, http.MethodPost, follower+"/v1/scheduler/dependency", child, http.StatusNoContent, nil)
		time.Sleep(time.Second) // children would have reacted by now
		for _, c := range ruleCases {
			if runs := allRuns(t, lead, c.name()); len(runs) != 1 {
				t.Errorf("%s: ok2's second result alone must not complete a generation, yet it has runs %s", c.name(), describeRuns(runs))
			}
		}
	})

	t.Run("split and join: the join runs once, after all 3 instances", func(t *testing.T) {
		if r := cli(t, lead, "", "job", "run", "split", "--wait", "--json"); r.code != 0 {
			t.Fatalf("horae job run split --wait: exit %d, stderr %q", r.code, r.stderr)
		}
		split := waitRunsSettled(t, lead, "split", 1, 30*time.Second)[0]
		if split.State != "succeeded" || len(split.Tasks) != 3 {
			t.Fatalf("split run %s: %s with %d tasks, want succeeded with 3", split.ID, split.State, len(split.Tasks))
		}
		checkSplitJoin(t, split.ID, waitRunsSettled(t, lead, "join", 1, 30*time.Second), readLedger(t, ledger), 3)
	})

	t.Run("split retry: one failed instance kills the others, the retry runs all three", func(t *testing.T) {
		send(t, http.MethodPost, lead+"/api/v1/jobs/splitretry/runs", map[string]any{}, http.StatusAccepted, nil)
		run := waitRunsSettled(t, lead, "splitretry", 1, 40*time.Second)[0]
		if run.State != "succeeded" || run.Attempt != 1 || len(run.Tasks) != 3 {
			t.Errorf("splitretry: %s with %d tasks, want succeeded at attempt 1 with 3 tasks", describeRuns([]runJSON{run}), len(run.Tasks))
		}
		var got []string
		for _, e := range entriesOf(readLedger(t, ledger), "splitretry") {
			got = append(got, fmt.Sprintf("attempt %d instance %d", e.attempt, e.instance))
		}
		slices.Sort(got)
		if want := []string{"attempt 1 instance 0", "attempt 1 instance 1", "attempt 1 instance 2"}; !slices.Equal(got, want) {
			t.Errorf("splitretry wrote %q, want %q: the first attempt's instances 0 and 2 must be killed before they write", got, want)
		}
	})

	t.Run("retry: the flaky job fails its first attempt and succeeds on the second", func(t *testing.T) {
		send(t, http.MethodPut, lead+"/v1/scheduler/job/flaky", nil, http.StatusNoContent, nil)
		run := waitRunsSettled(t, lead, "flaky", 1, 30*time.Second)[0]
		if run.State != "succeeded" || run.Attempt != 1 {
			t.Errorf("flaky run %s: %s at attempt %d, want succeeded at attempt 1 (the first retry)", run.ID, run.State, run.Attempt)
		}
		var got []string
		for _, e := range entriesOf(readLedger(t, ledger), "flaky") {
			if e.run != run.ID {
				t.Errorf("flaky: ledger line %q of another run than %s", e.line, run.ID)
			}
			got = append(got, fmt.Sprint(e.attempt, " ", strings.Join(e.extra, " ")))
		}
		if want := []string{"0 fail", "1 ok"}; !slices.Equal(got, want) {
			t.Errorf("flaky: the attempts wrote %q, want %q (HORAE_ATTEMPT as the run record counts: 0 first)", got, want)
		}
	})

	t.Run("webhook: a signed delivery through a follower starts one run with the body as env", func(t *testing.T) {
		body := `{"GREETING": "hello-from-the-hook"}`
		if code, _ := deliverHook(t, follower, "hooked", "sha256="+strings.Repeat("ab", 32), body, "day-delivery-1"); code != http.StatusUnauthorized {
			t.Errorf("webhook with a wrong signature: %d, want 401", code)
		}
		code, first := deliverHook(t, follower, "hooked", sign(secret, body), body, "day-delivery-1")
		if code != http.StatusAccepted {
			t.Fatalf("webhook: %d, want 202", code)
		}
		hookedRun = first.ID
		if code, again := deliverHook(t, follower, "hooked", sign(secret, body), body, "day-delivery-1"); code != http.StatusAccepted || again.ID != first.ID {
			t.Errorf("redelivery with the same Idempotency-Key: %d run %q, want 202 and the first run %q", code, again.ID, first.ID)
		}
		run := waitRunsSettled(t, lead, "hooked", 1, 30*time.Second)[0]
		if run.ID != first.ID || run.State != "succeeded" || run.Trigger != "webhook" {
			t.Errorf("hooked: run %s %s trigger %s, want the delivery's run %s succeeded by webhook", run.ID, run.State, run.Trigger, first.ID)
		}
		es := entriesOf(readLedger(t, ledger), "hooked")
		if len(es) != 1 || strings.Join(es[0].extra, " ") != "hello-from-the-hook" {
			t.Errorf("hooked: ledger %v, want one line with GREETING from the body", es)
		}
	})

	t.Run("webhook secret survives a get, edit, apply round trip (horae job get --json | horae job apply -f -)", func(t *testing.T) {
		// What Chronos-era tooling does for every edit: read the job, change
		// a field, write it back. The secret is write-only, so the job read
		// back has none.
		r := cli(t, follower, "", "job", "get", "hookcopy", "--json")
		var j map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &j); r.code != 0 || err != nil {
			t.Fatalf("horae job get hookcopy --json: exit %d, %v, stderr %q", r.code, err, r.stderr)
		}
		j["description"] = "edited during the day"
		data, _ := json.Marshal(j)
		if r := cli(t, follower, string(data), "job", "apply", "-f", "-"); r.code != 0 {
			t.Fatalf("horae job apply hookcopy: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		var after map[string]any
		send(t, http.MethodGet, lead+"/api/v1/jobs/hookcopy", nil, http.StatusOK, &after)
		if after["description"] != "edited during the day" {
			t.Fatalf("hookcopy after apply: description %v", after["description"])
		}
		body := `{"GREETING": "after-the-edit"}`
		if code, run := deliverHook(t, follower, "hookcopy", sign(secret, body), body, "copy-1"); code != http.StatusAccepted {
			t.Errorf("BUG: a signed delivery to hookcopy after `job get --json | job apply` answers %d (run %q), want 202: "+
				"replacing a job without \"secret\" (which GET never returns) silently drops the webhook secret; webhook now %v",
				code, run.ID, after["webhook"])
		}
	})

	t.Run("kill: runs killed through the CLI and through Chronos end killed without retry", func(t *testing.T) {
		r := cli(t, follower, "", "job", "run", "sleeper", "--json")
		var run runJSON
		if err := json.Unmarshal([]byte(r.stdout), &run); r.code != 0 || err != nil || run.ID == "" {
			t.Fatalf("horae job run sleeper --json: exit %d, stdout %q (%v), stderr %q", r.code, r.stdout, err, r.stderr)
		}
		waitStarted(t, ledger, run.ID)
		if r := cli(t, follower, "", "job", "kill", run.ID); r.code != 0 || !strings.Contains(r.stdout, "killing run "+run.ID) {
			t.Fatalf("horae job kill %s: exit %d, stdout %q, stderr %q", run.ID, r.code, r.stdout, r.stderr)
		}
		waitRunState(t, lead, run.ID, "killed", 30*time.Second)

		send(t, http.MethodPut, lead+"/v1/scheduler/job/sleeper", nil, http.StatusNoContent, nil)
		var second runJSON
		waitFor(t, 20*time.Second, "a second run of sleeper", func() (bool, string) {
			runs := allRuns(t, lead, "sleeper")
			for _, r := range runs {
				if r.ID != run.ID {
					second = r
					return true, ""
				}
			}
			return false, describeRuns(runs)
		})
		waitStarted(t, ledger, second.ID)
		send(t, http.MethodDelete, follower+"/v1/scheduler/task/kill/sleeper", nil, http.StatusNoContent, nil)
		waitRunState(t, lead, second.ID, "killed", 30*time.Second)
		time.Sleep(time.Second) // a retry (none is due) would be pending by now
		for _, r := range waitRunsSettled(t, lead, "sleeper", 2, 20*time.Second) {
			if r.State != "killed" || r.Attempt != 0 {
				t.Errorf("sleeper run %s: %s at attempt %d, want killed at attempt 0 (a kill is not retried)", r.ID, r.State, r.Attempt)
			}
		}
	})

	var off offWindow
	t.Run("disable and enable: no runs while disabled, runs again after", func(t *testing.T) {
		waitFor(t, 30*time.Second, "two runs of ticker", func() (bool, string) {
			n := countStates(allRuns(t, lead, "ticker"))
			return n["succeeded"] >= 2, fmt.Sprint(n)
		})
		off.disableSent = time.Now()
		if r := cli(t, lead, "", "job", "disable", "ticker"); r.code != 0 || !strings.Contains(r.stdout, "disabled job ticker") {
			t.Fatalf("horae job disable ticker: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		off.disableDone = time.Now()
		before := waitTickerQuiet(t, lead)
		time.Sleep(3 * tickEvery)
		if after := allRuns(t, lead, "ticker"); len(after) != len(before) {
			t.Errorf("ticker: %d runs when its last run ended, %d after %v disabled: %s", len(before), len(after), 3*tickEvery, describeRuns(after[:len(after)-len(before)]))
		}
		var j map[string]any
		send(t, http.MethodGet, follower+"/api/v1/jobs/ticker", nil, http.StatusOK, &j)
		if j["disabled"] != true {
			t.Errorf("ticker on the follower after disable: disabled=%v", j["disabled"])
		}
		off.enableSent = time.Now()
		send(t, http.MethodPost, follower+"/api/v1/jobs/ticker/enable", nil, http.StatusOK, nil)
		off.enableDone = time.Now()
		waitFor(t, 20*time.Second, "a ticker run after enable", func() (bool, string) {
			runs := allRuns(t, lead, "ticker")
			for _, r := range runs {
				if slot, _ := time.Parse(time.RFC3339Nano, r.ScheduledFor); slot.After(off.enableSent) && r.State == "succeeded" {
					return true, ""
				}
			}
			return false, fmt.Sprint(len(runs), " runs")
		})
	})

	t.Run("delete with dependents: native and CLI refuse, Chronos detaches and disables the orphan", func(t *testing.T) {
		body := send(t, http.MethodDelete, follower+"/api/v1/jobs/dparent", nil, http.StatusConflict, nil)
		if !strings.Contains(body, "dorphan") || !strings.Contains(body, "dtwo") {
			t.Errorf("native DELETE dparent: 409 %s, want the dependents dorphan and dtwo named", body)
		}
		if r := cli(t, lead, "", "job", "delete", "dparent"); r.code != 1 || !strings.Contains(r.stderr, "has dependents") || !strings.Contains(r.stderr, "dorphan") {
			t.Errorf("horae job delete dparent: exit %d, stderr %q, want 1 and the dependents named", r.code, r.stderr)
		}
		send(t, http.MethodGet, lead+"/api/v1/jobs/dparent", nil, http.StatusOK, nil)

		send(t, http.MethodDelete, follower+"/v1/scheduler/job/dparent", nil, http.StatusNoContent, nil)
		send(t, http.MethodGet, lead+"/api/v1/jobs/dparent", nil, http.StatusNotFound, nil)
		var orphan, two map[string]any
		send(t, http.MethodGet, lead+"/api/v1/jobs/dorphan", nil, http.StatusOK, &orphan)
		if orphan["disabled"] != true || len(toStrings(orphan["parents"])) != 0 {
			t.Errorf("dorphan after its only parent was deleted: disabled=%v parents=%v, want kept, disabled, without parents (docs/api.md)", orphan["disabled"], orphan["parents"])
		}
		send(t, http.MethodGet, lead+"/api/v1/jobs/dtwo", nil, http.StatusOK, &two)
		if two["disabled"] != false || !slices.Equal(toStrings(two["parents"]), []string{"dkeep"}) {
			t.Errorf("dtwo after one of its parents was deleted: disabled=%v parents=%v, want enabled with parents [dkeep]", two["disabled"], two["parents"])
		}
		send(t, http.MethodPost, lead+"/api/v1/jobs/dkeep/runs", map[string]any{}, http.StatusAccepted, nil)
		if run := waitRunsSettled(t, lead, "dtwo", 1, 30*time.Second)[0]; run.State != "succeeded" || run.Trigger != "dependency" {
			t.Errorf("dtwo after dkeep ran: %s", describeRuns([]runJSON{run}))
		}
		if runs := allRuns(t, lead, "dorphan"); len(runs) != 0 {
			t.Errorf("dorphan (disabled, no parents) has runs %s", describeRuns(runs))
		}
		// A disabled job still runs by hand (docs/api.md), and a repeated
		// request with the same triggerId is the same run.
		send(t, http.MethodPut, lead+"/v1/scheduler/job/dorphan", nil, http.StatusNoContent, nil)
		var first, again runJSON
		send(t, http.MethodPost, follower+"/api/v1/jobs/dorphan/runs", map[string]any{"triggerId": "by-hand-1"}, http.StatusAccepted, &first)
		byHandRun = first.ID
		send(t, http.MethodPost, follower+"/api/v1/jobs/dorphan/runs", map[string]any{"triggerId": "by-hand-1"}, http.StatusAccepted, &again)
		if first.ID == "" || again.ID != first.ID {
			t.Errorf("two manual runs of dorphan with triggerId by-hand-1: runs %q and %q, want the same run", first.ID, again.ID)
		}
		for _, r := range waitRunsSettled(t, lead, "dorphan", 2, 30*time.Second) {
			if r.State != "succeeded" || r.Trigger != "manual" {
				t.Errorf("dorphan (disabled) run by hand: %s, want succeeded manual runs", describeRuns([]runJSON{r}))
			}
		}
	})

	// Everything but ticker is quiet now: take the state to compare.
	jobsBefore := rawJobs(t, lead)
	runsBefore := map[string][]map[string]any{}
	for name := range jobsBefore {
		runsBefore[name] = rawRuns(t, lead, name)
	}
	for name, runs := range runsBefore {
		for _, r := range runs {
			if name != "ticker" && runActive(fmt.Sprint(r["state"])) {
				t.Fatalf("run %v of %s still %v before the restart", r["id"], name, r["state"])
			}
		}
	}
	summaryBefore, csvBefore := chronosViews(t, lead)

	t.Run("the event stream, followed through a follower, told the day", func(t *testing.T) {
		select {
		case <-evLog.done:
			t.Errorf("the event stream through follower %s ended before the restart", follower)
		default:
		}
		evs, err := evLog.snapshot()
		if err != nil {
			t.Error(err)
		}
		created, deleted, updated := map[string]bool{}, map[string]bool{}, map[string]int{}
		states := map[string][]string{}
		for _, e := range evs {
			switch e.Type {
			case "job.created":
				created[e.Job] = true
			case "job.deleted":
				deleted[e.Job] = true
			case "job.updated":
				updated[e.Job]++
			case "run.state":
				if e.Run != nil {
					states[e.Run.ID] = append(states[e.Run.ID], e.Run.State)
				}
			}
		}
		for name := range jobsBefore {
			if !created[name] {
				t.Errorf("no job.created event for %s", name)
			}
		}
		if !created["dparent"] || !deleted["dparent"] || len(deleted) != 1 {
			t.Errorf("job.deleted events for %v, want dparent only (created: %v)", deleted, created["dparent"])
		}
		if updated["ticker"] < 2 {
			t.Errorf("%d job.updated events for ticker, want at least 2 (disable, enable)", updated["ticker"])
		}
		flaky := allRuns(t, lead, "flaky")[0].ID
		checkStates := func(run, what string, ok func([]string) bool) {
			if st := states[run]; !ok(st) {
				t.Errorf("run.state events of %s (%s): %v", run, what, st)
			}
		}
		count := func(st []string, s string) int {
			return len(slices.DeleteFunc(slices.Clone(st), func(x string) bool { return x != s }))
		}
		// A run placed in the Step that creates it (on an offer held for it)
		// is first committed as launching, without a pending before it.
		firstOK := func(st []string) bool { return len(st) > 1 && (st[0] == "pending" || st[0] == "launching") }
		checkStates(flaky, "want the retry going back to pending, never failed, and succeeded last", func(st []string) bool {
			return firstOK(st) && count(st, "pending") >= 1 && count(st, "failed") == 0 && st[len(st)-1] == "succeeded"
		})
		checkStates(hookedRun, "want pending or launching first and succeeded last", func(st []string) bool {
			return firstOK(st) && st[len(st)-1] == "succeeded"
		})
		for _, c := range ruleCases {
			if c.fires {
				continue
			}
			checkStates(allRuns(t, lead, c.name())[0].ID, "a dependency skip: one event, skipped", func(st []string) bool {
				return slices.Equal(st, []string{"skipped"})
			})
		}
		t.Logf("%d events before the restart", len(evs))
	})

	t.Run("followers' catalogs hold the leader's runs", func(t *testing.T) {
		for addr, p := range w.c.instances {
			if p.URL == lead {
				continue
			}
			for name, want := range runsBefore {
				if name == "ticker" {
					continue
				}
				waitFor(t, 10*time.Second, fmt.Sprintf("the runs of %s on follower %s", name, addr), func() (bool, string) {
					got := rawRuns(t, p.URL, name)
					return js(got) == js(want), fmt.Sprintf("follower has %d runs, leader %d; follower %s", len(got), len(want), tail(js(got), 300))
				})
			}
		}
	})

	var restartDone time.Time
	t.Run("restart everything: ZooKeeper, localmesos and the three instances", func(t *testing.T) {
		stopped := time.Now()
		w.restartEverything(t)
		restartDone = time.Now()
		lead, follower = w.leaderURL(), w.followerURL()
		t.Logf("everything restarted in %v: leader %s, follower %s", restartDone.Sub(stopped).Round(time.Millisecond), lead, follower)
	})

	t.Run("after the restart: every job and run record is as it was", func(t *testing.T) {
		jobsAfter := rawJobs(t, lead)
		for name, before := range jobsBefore {
			after, ok := jobsAfter[name]
			if !ok {
				t.Errorf("job %s lost in the restart", name)
				continue
			}
			if name == "ticker" { // it ran on: its counters moved
				for _, k := range []string{"successCount", "errorCount", "errorsSinceLastSuccess", "lastSuccess", "lastError", "skippedCount"} {
					delete(before, k)
					delete(after, k)
				}
			}
			if d := diffFields(before, after); len(d) > 0 {
				t.Errorf("job %s changed in the restart: %s", name, strings.Join(d, "; "))
			}
		}
		for name := range jobsAfter {
			if _, ok := jobsBefore[name]; !ok {
				t.Errorf("job %s appeared in the restart", name)
			}
		}
		for name, before := range runsBefore {
			after := map[string]map[string]any{}
			for _, r := range rawRuns(t, lead, name) {
				after[fmt.Sprint(r["id"])] = r
			}
			for _, r := range before {
				id := fmt.Sprint(r["id"])
				if name == "ticker" && runActive(fmt.Sprint(r["state"])) {
					continue // was running when everything stopped
				}
				a, ok := after[id]
				if !ok {
					t.Errorf("run %s of %s lost in the restart", id, name)
					continue
				}
				if d := diffFields(r, a); len(d) > 0 {
					t.Errorf("run %s of %s changed in the restart: %s", id, name, strings.Join(d, "; "))
				}
			}
			if name != "ticker" && len(after) != len(before) {
				t.Errorf("%s: %d runs after the restart, %d before", name, len(after), len(before))
			}
		}
		summaryAfter, csvAfter := chronosViews(t, lead)
		if js(summaryAfter) != js(summaryBefore) {
			t.Errorf("Chronos jobs/summary changed in the restart:\nbefore %s\nafter  %s", js(summaryBefore), js(summaryAfter))
		}
		if csvAfter != csvBefore {
			t.Errorf("Chronos graph/csv changed in the restart:\nbefore %s\nafter  %s", csvBefore, csvAfter)
		}
		r := cli(t, follower, "", "graph", "--json")
		var g struct {
			Nodes []map[string]any    `json:"nodes"`
			Edges []map[string]string `json:"edges"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &g); r.code != 0 || err != nil {
			t.Fatalf("horae graph --json: exit %d, %v; stdout %q stderr %q", r.code, err, r.stdout, r.stderr)
		}
		edges := map[string]bool{}
		for _, e := range g.Edges {
			edges[e["parent"]+"->"+e["child"]] = true
		}
		for _, c := range ruleCases {
			for _, p := range c.parents {
				if !edges[p+"->"+c.name()] {
					t.Errorf("horae graph after the restart lacks the edge %s -> %s", p, c.name())
				}
			}
		}
		if len(g.Nodes) != len(jobsBefore) || !edges["dkeep->dtwo"] || edges["dparent->dtwo"] || edges["dparent->dorphan"] {
			t.Errorf("horae graph after the restart: %d nodes (want %d), edges %v; want dkeep->dtwo and nothing of the deleted dparent", len(g.Nodes), len(jobsBefore), g.Edges)
		}
		// Followers serve reads from their own catalogs: they must agree.
		for addr, p := range w.c.instances {
			waitFor(t, 20*time.Second, "the catalog of "+addr+" to hold every job", func() (bool, string) {
				jobs := rawJobs(t, p.URL)
				return len(jobs) == len(jobsBefore), fmt.Sprintf("%d jobs, want %d", len(jobs), len(jobsBefore))
			})
		}
	})

	t.Run("after the restart: a redelivered webhook and a repeated triggerId return the runs they started before", func(t *testing.T) {
		body := `{"GREETING": "hello-from-the-hook"}`
		// The first write after the restart may meet a leader still loading
		// its term (503); senders retry with the same Idempotency-Key.
		var code int
		var again runJSON
		waitFor(t, 30*time.Second, "the redelivery to be answered by a loaded leader", func() (bool, string) {
			code, again = deliverHook(t, follower, "hooked", sign(secret, body), body, "day-delivery-1")
			return code != http.StatusServiceUnavailable, fmt.Sprint(code)
		})
		t.Logf("first write accepted %v after the restart was complete", time.Since(restartDone).Round(time.Millisecond))
		if code != http.StatusAccepted || again.ID != hookedRun {
			t.Errorf("redelivery after the restart: %d run %q, want 202 and the run %q of the first delivery", code, again.ID, hookedRun)
		}
		again = runJSON{}
		send(t, http.MethodPost, follower+"/api/v1/jobs/dorphan/runs", map[string]any{"triggerId": "by-hand-1"}, http.StatusAccepted, &again)
		if again.ID != byHandRun {
			t.Errorf("manual run with triggerId by-hand-1 after the restart: run %q, want %q from before", again.ID, byHandRun)
		}
		time.Sleep(time.Second)
		for job, n := range map[string]int{"hooked": 1, "dorphan": 2} {
			if runs := allRuns(t, lead, job); len(runs) != n {
				t.Errorf("%s after the repeated requests: runs %s, want %d", job, describeRuns(runs), n)
			}
		}
	})

	t.Run("after the restart: a run's output is still readable, from the sandbox or the executor's reported tail (docs/api.md)", func(t *testing.T) {
		// The restarted agent no longer knows the old sandboxes (a real
		// Mesos agent garbage-collects them too): docs/api.md promises the
		// tail the executor reported when the sandbox cannot be read.
		var run struct {
			Tasks []struct {
				StdoutTail string `json:"stdoutTail"`
			} `json:"tasks"`
		}
		send(t, http.MethodGet, follower+"/api/v1/runs/"+url.PathEscape(hookedRun), nil, http.StatusOK, &run)
		if len(run.Tasks) != 1 || !strings.Contains(run.Tasks[0].StdoutTail, "greeting hello-from-the-hook") {
			t.Fatalf("run %s: tasks %+v, want one task whose stdoutTail holds the command's output", hookedRun, run.Tasks)
		}
		code, out := call(t, http.MethodGet, follower+"/api/v1/runs/"+url.PathEscape(hookedRun)+"/log?stream=stdout", nil, nil)
		if code != http.StatusOK || !strings.Contains(out, "greeting hello-from-the-hook") {
			t.Errorf("BUG: GET /api/v1/runs/%s/log after the restart: %d %q; want 200 with the output (the run record holds it in "+
				"stdoutTail, yet the API returns the agent's 404 instead of falling back to it)", hookedRun, code, tail(out, 300))
		}
	})

	t.Run("after the restart: dependency cursors kept their half-finished generations", func(t *testing.T) {
		// ok2 has a result (its second run) not consumed by its children yet;
		// ok1's next result completes the generation of [ok1 ok2] children
		// and opens one for [ok1 bad1] children, where one_success fires at once.
		send(t, http.MethodPost, follower+"/api/v1/jobs/ok1/runs", map[string]any{}, http.StatusAccepted, nil)
		waitRunsSettled(t, lead, "ok1", 2, 30*time.Second)
		newRun := map[string]string{ // child → state of its second run; absent: no second run
			"all_success-fires": "succeeded", "none_failed-fires": "succeeded",
			"one_failed-skips": "skipped", "one_success-fires": "succeeded",
		}
		for _, c := range ruleCases {
			want, ok := newRun[c.name()]
			n := 1
			if ok {
				n = 2
			}
			runs := waitRunsSettled(t, lead, c.name(), n, 30*time.Second)
			if ok && runs[0].State != want {
				t.Errorf("%s after ok1's second result: newest run %s, want %s (cursor kept ok2's pending result across the restart?)", c.name(), describeRuns(runs[:1]), want)
			}
		}
		// late's first result completes all_done-waits' generation.
		send(t, http.MethodPut, lead+"/v1/scheduler/job/late", nil, http.StatusNoContent, nil)
		if run := waitRunsSettled(t, lead, allDoneWaits, 1, 30*time.Second)[0]; run.State != "succeeded" || run.Trigger != "dependency" {
			t.Errorf("%s after late failed: %s, want one succeeded dependency run (all_done)", allDoneWaits, describeRuns([]runJSON{run}))
		}
		time.Sleep(time.Second) // a wrong extra run would show by now
		for _, c := range ruleCases {
			want := 1
			if _, ok := newRun[c.name()]; ok {
				want = 2
			}
			if runs := allRuns(t, lead, c.name()); len(runs) != want {
				t.Errorf("%s after ok1's and late's results: runs %s, want %d", c.name(), describeRuns(runs), want)
			}
		}
		// The split and join work after the restart too.
		if r := cli(t, follower, "", "job", "run", "split", "--wait"); r.code != 0 {
			t.Fatalf("horae job run split --wait after the restart: exit %d, stderr %q", r.code, r.stderr)
		}
		split := waitRunsSettled(t, lead, "split", 2, 30*time.Second)[0]
		checkSplitJoin(t, split.ID, waitRunsSettled(t, lead, "join", 2, 30*time.Second), readLedger(t, ledger), 6)
	})

	t.Run("after the restart: ticker caught up its slots, goes on, and skipped only the disabled ones", func(t *testing.T) {
		waitFor(t, 30*time.Second, "a ticker run scheduled after the restart", func() (bool, string) {
			for _, r := range allRuns(t, lead, "ticker") {
				if slot, _ := time.Parse(time.RFC3339Nano, r.ScheduledFor); slot.After(restartDone) && r.State == "succeeded" {
					return true, ""
				}
			}
			return false, "none yet"
		})
		send(t, http.MethodPost, lead+"/api/v1/jobs/ticker/disable", nil, http.StatusOK, nil)
		runs := waitTickerQuiet(t, lead)
		checkTicker(t, runs, entriesOf(readLedger(t, ledger), "ticker"), tickerStart, tickEvery, off)
	})

	t.Run("the ledger: no command ran twice, every succeeded run wrote once", func(t *testing.T) {
		es := readLedger(t, ledger)
		seen := map[string]int{}
		for _, e := range es {
			seen[e.line]++
		}
		for line, n := range seen {
			if n > 1 {
				t.Errorf("ledger line %q written %d times: a task ran twice", line, n)
			}
		}
		byRun := map[string][]entry{}
		for _, e := range es {
			byRun[e.run] = append(byRun[e.run], e)
		}
		for name := range jobsBefore {
			if name == "dkeep" || name == "ticker" { // dkeep writes none; checkTicker checks ticker's
				continue
			}
			for _, r := range allRuns(t, lead, name) {
				final := 0
				for _, e := range byRun[r.ID] {
					if e.attempt == r.Attempt {
						final++
					}
				}
				want := 0
				switch {
				case r.State == "succeeded" && (name == "split" || name == "splitretry"):
					want = 3
				case r.State == "succeeded", r.State == "killed" && name == "sleeper":
					want = 1 // sleeper: "start" only
				}
				if r.State == "failed" && slices.Contains([]string{"bad1", "bad2", "late"}, name) {
					want = 1 // they write, then exit 3 or 4
				}
				if final != want {
					t.Errorf("run %s of %s (%s, attempt %d) wrote %d ledger lines in its last attempt, want %d: %v", r.ID, name, r.State, r.Attempt, final, want, byRun[r.ID])
				}
			}
		}
	})
	t.Logf("day in the life took %v", time.Since(began).Round(time.Millisecond))
}

// checkRuleRun checks the one run a trigger-rule child has after its
// parents' first results.
func checkRuleRun(t *testing.T, c ruleCase, r runJSON, ledger []entry) {
	t.Helper()
	lines := 0
	for _, e := range entriesOf(ledger, c.name()) {
		if e.run == r.ID {
			lines++
		}
	}
	if c.fires {
		if r.State != "succeeded" || r.Trigger != "dependency" || lines != 1 {
			t.Errorf("%s (parents %v): run %s, %d ledger lines; want one succeeded dependency run that ran once",
				c.name(), c.parents, describeRuns([]runJSON{r}), lines)
		}
		return
	}
	if r.State != "skipped" || !strings.Contains(r.Reason, "triggerRule "+c.rule+" not met") || lines != 0 {
		t.Errorf("%s (parents %v): run %s, %d ledger lines; want one skipped run, reason \"triggerRule %s not met…\", that never ran",
			c.name(), c.parents, describeRuns([]runJSON{r}), lines, c.rule)
	}
}

// checkSplitJoin checks that the split run wrote one line per instance and
// that the newest join run ran once, after them: it counted want split lines.
func checkSplitJoin(t *testing.T, splitID string, joins []runJSON, ledger []entry, want int) {
	t.Helper()
	var instances []int
	for _, e := range entriesOf(ledger, "split") {
		if e.run == splitID {
			instances = append(instances, e.instance)
			if len(e.extra) != 1 || e.extra[0] != "3" {
				t.Errorf("split instance line %q: HORAE_INSTANCES %v, want 3", e.line, e.extra)
			}
		}
	}
	slices.Sort(instances)
	if !slices.Equal(instances, []int{0, 1, 2}) {
		t.Errorf("split run %s: instances %v wrote the ledger, want 0, 1, 2 once each", splitID, instances)
	}
	join := joins[0]
	if join.State != "succeeded" || join.Trigger != "dependency" {
		t.Fatalf("join: %s, want a succeeded dependency run", describeRuns(joins))
	}
	var counted []string
	for _, e := range entriesOf(ledger, "join") {
		if e.run == join.ID {
			counted = append(counted, strings.Join(e.extra, " "))
		}
	}
	if !slices.Equal(counted, []string{fmt.Sprint(want)}) {
		t.Errorf("join run %s saw %q split lines, want once %d (it ran before the slowest instance ended, or twice)", join.ID, counted, want)
	}
}

// waitStarted waits until run has written its "start" ledger line.
func waitStarted(t *testing.T, ledger, run string) {
	t.Helper()
	waitFor(t, 30*time.Second, "run "+run+" to start its command", func() (bool, string) {
		for _, e := range readLedger(t, ledger) {
			if e.run == run && slices.Contains(e.extra, "start") {
				return true, ""
			}
		}
		return false, "no start line"
	})
}

// waitTickerQuiet waits until ticker (just disabled) has no active run.
func waitTickerQuiet(t *testing.T, base string) []runJSON {
	t.Helper()
	var runs []runJSON
	waitFor(t, 60*time.Second, "ticker's runs to end", func() (bool, string) {
		runs = allRuns(t, base, "ticker")
		for _, r := range runs {
			if runActive(r.State) {
				return false, r.ID + " " + r.State
			}
		}
		return true, ""
	})
	return runs
}

// offWindow is when the scheduled job was disabled: requests sent and answered.
type offWindow struct{ disableSent, disableDone, enableSent, enableDone time.Time }

// checkTicker checks the scheduled job's slots from its first to its last
// run: at most one run per slot; none for a slot while it was disabled;
// every other slot (the downtime of the restart included, missedRunPolicy
// all) has a run that ran; and no run's command ran twice.
func checkTicker(t *testing.T, runs []runJSON, ledger []entry, start time.Time, every time.Duration, off offWindow) {
	t.Helper()
	bySlot := map[int64][]runJSON{}
	var first, last time.Time
	for _, r := range runs {
		slot, err := time.Parse(time.RFC3339Nano, r.ScheduledFor)
		if err != nil {
			t.Fatalf("ticker run %s: scheduledFor %q: %v", r.ID, r.ScheduledFor, err)
		}
		if (slot.Sub(start))%every != 0 || slot.Before(start) {
			t.Errorf("ticker run %s for %s: not a slot of the schedule (start %s, every %v)", r.ID, slot, start, every)
		}
		bySlot[slot.UnixNano()] = append(bySlot[slot.UnixNano()], r)
		if slot.After(last) {
			last = slot
		}
		if first.IsZero() || slot.Before(first) {
			first = slot
		}
	}
	states := countStates(runs)
	missing, disabledRuns := 0, 0
	// From the first run's slot: slots before the job was stored are not owed.
	for slot := first; !first.IsZero() && !slot.After(last); slot = slot.Add(every) {
		rs := bySlot[slot.UnixNano()]
		if len(rs) > 1 {
			t.Errorf("ticker slot %s has %d runs: %s", slot, len(rs), describeRuns(rs))
		}
		switch {
		case slot.After(off.disableDone.Add(scheduler.DefaultLaunchAhead)) && slot.Before(off.enableSent):
			if len(rs) > 0 {
				disabledRuns++
				t.Errorf("ticker slot %s (disabled from %s to %s) has runs %s", slot.Format(time.RFC3339), off.disableDone.Format(time.RFC3339Nano), off.enableSent.Format(time.RFC3339Nano), describeRuns(rs))
			}
		case !slot.Before(off.disableSent) && !slot.After(off.enableDone):
			// Around the disable or enable request: either way (a run
			// created ahead, up to --launch-ahead before its slot, runs
			// although the job was disabled after it was created).
		case len(rs) == 0 || rs[0].State == "skipped":
			missing++
			t.Errorf("ticker slot %s has no run that ran (missedRunPolicy all owes it): %s", slot.Format(time.RFC3339), describeRuns(rs))
		}
	}
	ran := map[string]int{}
	for _, e := range ledger {
		ran[e.run]++
	}
	for _, r := range runs {
		if r.State == "succeeded" && ran[r.ID] != 1 {
			t.Errorf("ticker run %s succeeded but its command wrote %d lines", r.ID, ran[r.ID])
		}
	}
	for _, r := range runs {
		if r.State != "succeeded" {
			t.Logf("ticker run %s: %s (%s)", r.ID, r.State, r.Reason)
		}
	}
	t.Logf("ticker: %d runs from %s to %s, states %v, %d slots missing, %d runs while disabled", len(runs), first.Format(time.RFC3339), last.Format(time.RFC3339), states, missing, disabledRuns)
	if states["succeeded"] < len(runs)*8/10 {
		t.Errorf("ticker: only %d of %d runs succeeded: %s", states["succeeded"], len(runs), describeRuns(runs))
	}
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// chronosViews returns what a Chronos dashboard shows: jobs/summary and
// graph/csv, both without the still-scheduled ticker.
func chronosViews(t *testing.T, base string) ([]map[string]any, string) {
	t.Helper()
	var summary struct {
		Jobs []map[string]any `json:"jobs"`
	}
	send(t, http.MethodGet, base+"/v1/scheduler/jobs/summary", nil, http.StatusOK, &summary)
	jobs := slices.DeleteFunc(summary.Jobs, func(j map[string]any) bool { return j["name"] == "ticker" })
	csv := send(t, http.MethodGet, base+"/v1/scheduler/graph/csv", nil, http.StatusOK, nil)
	lines := slices.DeleteFunc(strings.Split(csv, "\n"), func(l string) bool { return strings.Contains(l, ",ticker,") })
	return jobs, strings.Join(lines, "\n")
}
