package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os/exec"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/internal/zktest"
)

// world is everything a day in the life runs on: a three-server ZooKeeper
// ensemble, one localmesos process and three horae serve instances sharing
// both. Unlike startClusterOn it keeps the localmesos process and its
// arguments, so that the whole world can be stopped and started again on
// the same addresses and data.
type world struct {
	t      *testing.T
	ens    *zktest.Ensemble
	lmArgs []string
	lmURL  string
	lm     *proc
	c      *cluster
}

func startWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, ens: zktest.StartEnsemble(t, 3)}
	lmAddr := freeAddr(t)
	w.lmArgs = []string{"localmesos", "--listen", lmAddr, "--heartbeat-interval", "500ms", "--work-dir", t.TempDir()}
	w.lmURL = "http://" + lmAddr
	w.startLocalMesos()
	w.c = &cluster{t: t, zk: strings.Join(w.ens.Addrs(), ","), mesos: w.lmURL,
		instances: map[string]*proc{}, args: map[string][]string{}}
	for range 3 {
		addr := freeAddr(t)
		w.c.args[addr] = []string{"serve", "--listen", addr, "--store", "zk://" + w.c.zk + "/horae",
			"--zk-session-timeout", "2s", "--mesos-master", w.c.mesos, "--data-dir", t.TempDir(), "--log-level", "debug"}
		w.c.start(addr)
	}
	w.c.leader(30 * time.Second)
	return w
}

func (w *world) startLocalMesos() {
	w.t.Helper()
	w.lm = startHorae(w.t, "localmesos", w.lmArgs...)
	waitFor(w.t, 20*time.Second, "localmesos to serve", func() (bool, string) {
		code, body := call(w.t, http.MethodGet, w.lmURL+"/health", nil, nil)
		return code == http.StatusOK, fmt.Sprint(code, body)
	})
}

// leaderURL is the base URL of the instance the cluster agrees leads.
func (w *world) leaderURL() string {
	w.t.Helper()
	return w.c.instances[w.c.leader(30*time.Second)].URL
}

// followerURL is the base URL of a live instance that does not lead.
func (w *world) followerURL() string {
	w.t.Helper()
	lead := w.c.leader(30 * time.Second)
	addrs := slices.Sorted(maps.Keys(w.c.instances))
	for _, a := range addrs {
		if a != lead && w.c.alive(a) {
			return w.c.instances[a].URL
		}
	}
	w.t.Fatalf("no live follower among %v (leader %s)", addrs, lead)
	return ""
}

// restartEverything stops every process of the world and starts them again
// on the same addresses and data: the leader is SIGKILLed (no orderly
// hand-over), the followers get SIGTERM, localmesos is SIGKILLed with the
// executors of its process group, and the three ZooKeeper servers get
// SIGTERM.
func (w *world) restartEverything(t *testing.T) {
	t.Helper()
	step := time.Now()
	took := func(what string) {
		t.Logf("restart: %s took %v", what, time.Since(step).Round(time.Millisecond))
		step = time.Now()
	}
	lead := w.c.leader(30 * time.Second)
	w.c.instances[lead].stop(syscall.SIGKILL, time.Second)
	for _, addr := range slices.Sorted(maps.Keys(w.c.instances)) {
		w.c.instances[addr].stop(syscall.SIGTERM, 15*time.Second)
	}
	w.lm.stop(syscall.SIGKILL, time.Second)
	took("stopping the instances and localmesos")
	for i := range w.ens.Len() {
		w.ens.Server(i).Stop()
	}
	took("stopping ZooKeeper")
	// A lone ZooKeeper server of an ensemble does not serve until it has a
	// quorum, and Restart waits until it serves: start the three together.
	var wg sync.WaitGroup
	for i := range w.ens.Len() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.ens.Server(i).Restart()
		}()
	}
	wg.Wait()
	for i := range w.ens.Len() {
		if st := w.ens.Server(i).State(); st != "leader" && st != "follower" {
			t.Fatalf("ZooKeeper server %s after the restart: state %q, want leader or follower", w.ens.Server(i).Addr(), st)
		}
	}
	took("starting ZooKeeper")
	w.startLocalMesos()
	for _, addr := range slices.Sorted(maps.Keys(w.c.instances)) {
		w.c.start(addr)
	}
	w.c.leader(60 * time.Second)
	took("starting localmesos and the instances until they agree on a leader")
}

// send does one request and retries it while the answer is 503 (no leader
// yet, or a leader still loading its term) or the connection fails, within
// 30 s. It fails the test unless the final status is want.
func send(t testing.TB, method, u string, body any, want int, out any) string {
	t.Helper()
	var code int
	var resp string
	waitFor(t, 30*time.Second, fmt.Sprintf("%s %s to be answered", method, u), func() (bool, string) {
		code, resp = call(t, method, u, body, out)
		return code != 0 && code != http.StatusServiceUnavailable, fmt.Sprint(code, " ", resp)
	})
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, u, code, resp, want)
	}
	return resp
}

// cliResult is what one run of the horae CLI printed and how it exited.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs `horae <args...> --server server` with standard input stdin,
// bounded to 60 s.
func cli(t testing.TB, server, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, horaeBin, append(args, "--server", server)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, strings.NewReader(stdin)
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("horae %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("horae %s: still running after 60 s; stderr: %s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// rawRuns pages through a job's runs, keeping every field as the API sent it.
func rawRuns(t testing.TB, base, job string) []map[string]any {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for {
		var page struct {
			Runs []map[string]any `json:"runs"`
			Next string           `json:"next"`
		}
		u := base + "/api/v1/jobs/" + url.PathEscape(job) + "/runs?limit=1000"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		send(t, http.MethodGet, u, nil, http.StatusOK, &page)
		all = append(all, page.Runs...)
		if page.Next == "" || len(page.Runs) == 0 {
			return all
		}
		cursor = page.Next
	}
}

// rawJobs is every job, by name, as GET /api/v1/jobs sends it.
func rawJobs(t testing.TB, base string) map[string]map[string]any {
	t.Helper()
	jobs := map[string]map[string]any{}
	cursor := ""
	for {
		var page struct {
			Jobs []map[string]any `json:"jobs"`
			Next string           `json:"next"`
		}
		u := base + "/api/v1/jobs?limit=1000"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		send(t, http.MethodGet, u, nil, http.StatusOK, &page)
		for _, j := range page.Jobs {
			jobs[fmt.Sprint(j["name"])] = j
		}
		if page.Next == "" || len(page.Jobs) == 0 {
			return jobs
		}
		cursor = page.Next
	}
}

// diffFields names the top-level fields in which a and b differ.
func diffFields(a, b map[string]any) []string {
	var d []string
	for k := range a {
		if !reflect.DeepEqual(a[k], b[k]) {
			d = append(d, fmt.Sprintf("%s: %v → %v", k, js(a[k]), js(b[k])))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: absent → %v", k, js(b[k])))
		}
	}
	sort.Strings(d)
	return d
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// runActive reports whether a run state is not final.
func runActive(state string) bool {
	return state == "pending" || state == "launching" || state == "running"
}

// waitRunsSettled waits until job has exactly n runs and none is active,
// and returns them (newest first).
func waitRunsSettled(t testing.TB, base, job string, n int, within time.Duration) []runJSON {
	t.Helper()
	var runs []runJSON
	waitFor(t, within, fmt.Sprintf("%d finished run(s) of %s", n, job), func() (bool, string) {
		runs = allRuns(t, base, job)
		active := 0
		for _, r := range runs {
			if runActive(r.State) {
				active++
			}
		}
		return len(runs) == n && active == 0, fmt.Sprintf("%d runs, %d active: %s", len(runs), active, describeRuns(runs))
	})
	return runs
}

// waitRunState polls one run until it is in state (or any final state when
// state is "final") and returns it.
func waitRunState(t testing.TB, base, id, state string, within time.Duration) runJSON {
	t.Helper()
	var r runJSON
	waitFor(t, within, fmt.Sprintf("run %s to be %s", id, state), func() (bool, string) {
		r = runJSON{}
		code, body := call(t, http.MethodGet, base+"/api/v1/runs/"+url.PathEscape(id), nil, &r)
		if code != http.StatusOK {
			return false, fmt.Sprint(code, body)
		}
		return r.State == state || (state == "final" && !runActive(r.State)), r.State + " " + r.Reason
	})
	return r
}

func describeRuns(runs []runJSON) string {
	var b strings.Builder
	for i, r := range runs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s/%s attempt %d", r.ID, r.Trigger, r.State, r.Attempt)
		if r.Reason != "" {
			fmt.Fprintf(&b, " (%s)", r.Reason)
		}
	}
	return b.String()
}

// entry is one line of the scenario's ledger, written by a task:
// job, run ID, attempt, instance, then what the command adds.
type entry struct {
	line     string
	job, run string
	attempt  int
	instance int
	extra    []string
}

// record is the shell command that appends an entry to ledger, with extra
// words (shell-expanded) at the end.
func record(ledger, extra string) string {
	return fmt.Sprintf(`echo "$HORAE_JOB_NAME $HORAE_RUN_ID $HORAE_ATTEMPT ${HORAE_INSTANCE:-0} %s" >> %s`, extra, ledger)
}

func readLedger(t testing.TB, path string) []entry {
	t.Helper()
	var es []entry
	for _, l := range ledgerLines(t, path) {
		f := strings.Fields(l)
		if len(f) < 4 {
			t.Fatalf("ledger %s: line %q has fewer than 4 fields", path, l)
		}
		a, err1 := strconv.Atoi(f[2])
		i, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("ledger %s: line %q: attempt or instance not a number", path, l)
		}
		es = append(es, entry{line: l, job: f[0], run: f[1], attempt: a, instance: i, extra: f[4:]})
	}
	return es
}

// entriesOf keeps the entries of one job.
func entriesOf(es []entry, job string) []entry {
	var out []entry
	for _, e := range es {
		if e.job == job {
			out = append(out, e)
		}
	}
	return out
}

// event is what the scenario keeps of one server-sent event.
type event struct {
	Type string `json:"type"`
	Job  string `json:"job"`
	Run  *struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		Trigger string `json:"trigger"`
		Attempt int    `json:"attempt"`
	} `json:"run"`
}

// eventLog follows GET /api/v1/events of one server until stopped or the
// stream ends, keeping every event.
type eventLog struct {
	mu     sync.Mutex
	events []event
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

func followEvents(t *testing.T, base string) *eventLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var resp *http.Response
	// A follower answers 503 while the leader it proxies to is still
	// loading its term: retry, as a client does.
	waitFor(t, 30*time.Second, "the event stream of "+base, func() (bool, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/events", nil)
		if err != nil {
			t.Fatalf("events request: %v", err)
		}
		req.Header.Set("Accept", "text/event-stream")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		if r.StatusCode != http.StatusOK {
			r.Body.Close()
			if r.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET %s/api/v1/events: %d", base, r.StatusCode)
			}
			return false, fmt.Sprint(r.StatusCode)
		}
		resp = r
		return true, ""
	})
	l := &eventLog{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev event
			err := json.Unmarshal([]byte(data), &ev)
			l.mu.Lock()
			if err != nil && l.err == nil {
				l.err = fmt.Errorf("event %q: %w", data, err)
			}
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(l.stop)
	return l
}

// stop ends the stream and waits for the reader.
func (l *eventLog) stop() {
	l.cancel()
	<-l.done
}

// snapshot returns the events so far and the first decoding error.
func (l *eventLog) snapshot() ([]event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events), l.err
}

// sign is the X-Horae-Signature of body under secret.
func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// deliverHook POSTs body to /api/v1/hooks/{job} of base with the given
// signature and Idempotency-Key, and returns the status and the run.
func deliverHook(t testing.TB, base, job, signature, body, key string) (int, runJSON) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/hooks/"+job, strings.NewReader(body))
	if err != nil {
		t.Fatalf("webhook request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Horae-Signature", signature)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("webhook delivery to %s: %v", job, err)
	}
	defer resp.Body.Close()
	var r runJSON
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r
}
