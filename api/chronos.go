package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/scheduler"
)

// routes registers every endpoint of both surfaces.
func (a *API) routes() {
	open := func(p string, fn handlerFunc) { a.handle(route{pattern: p, role: RoleNone}, fn) }
	open("GET /ping", func(w http.ResponseWriter, _ *http.Request, _ []byte) error {
		writeText(w, http.StatusOK, "pong")
		return nil
	})
	open("GET /health", func(w http.ResponseWriter, _ *http.Request, _ []byte) error {
		leader := a.deps.Leadership == nil || a.deps.Leadership.IsLeader()
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "leader": leader})
		return nil
	})
	a.handle(route{pattern: "GET /metrics", role: RoleViewer}, a.metricsHandler)
	if a.cfg.ExecutorBinary != "" {
		open("GET /executor/horae", func(w http.ResponseWriter, r *http.Request, _ []byte) error {
			f, err := os.Open(a.cfg.ExecutorBinary)
			if err != nil {
				return fmt.Errorf("open executor binary: %w", err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("stat executor binary: %w", err)
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "horae", st.ModTime(), f)
			return nil
		})
	}
	for _, p := range []string{"/v1/scheduler", "/scheduler"} {
		c := func(method, path string, role Role, write bool, fn handlerFunc) {
			pat := p + path
			if method != "" {
				pat = method + " " + pat
			}
			a.handle(route{pattern: pat, role: role, surface: chronos, write: write}, fn)
		}
		c("POST", "/iso8601", RoleAdmin, true, a.chronosPut(false))
		c("PUT", "/iso8601", RoleAdmin, true, a.chronosPut(false))
		c("POST", "/dependency", RoleAdmin, true, a.chronosPut(true))
		c("PUT", "/dependency", RoleAdmin, true, a.chronosPut(true))
		c("GET", "/jobs", RoleViewer, false, a.chronosJobs)
		c("GET", "/jobs/search", RoleViewer, false, a.chronosSearch)
		c("GET", "/jobs/summary", RoleViewer, false, a.chronosSummary)
		c("GET", "/job/{name}", RoleViewer, false, a.chronosGetJob)
		c("PUT", "/job/{name}", RoleOperator, true, a.chronosRunJob)
		c("DELETE", "/job/{name}", RoleAdmin, true, a.chronosDeleteJob)
		c("PUT", "/job/success/{name}", RoleOperator, true, a.chronosMarkSuccess)
		c("GET", "/job/stat/{name}", RoleViewer, false, a.chronosJobStat)
		c("GET", "/stats/{pct}", RoleViewer, false, a.chronosStats)
		c("GET", "/graph/dot", RoleViewer, false, a.chronosGraphDot)
		c("GET", "/graph/csv", RoleViewer, false, a.chronosGraphCSV)
		c("DELETE", "/task/kill/{name}", RoleOperator, true, a.chronosKill)
		c("POST", "/job/{name}/task/{task}/progress", RoleOperator, false, func(http.ResponseWriter, *http.Request, []byte) error {
			return badRequest("progress counters (dataProcessingJobType) are not supported by Horae")
		})
		c("GET", "/leader", RoleViewer, false, a.chronosLeader)
		// Anything else under the prefix, e.g. a job name with a '/'.
		c("", "/", RoleNone, false, func(_ http.ResponseWriter, r *http.Request, _ []byte) error {
			return badRequest("no such endpoint: %s %s (a job name may not contain '/')", r.Method, r.URL.Path)
		})
	}
	a.nativeRoutes()
	open("/", func(_ http.ResponseWriter, r *http.Request, _ []byte) error {
		return &statusError{code: http.StatusNotFound, msg: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)}
	})
}

// chronosPut is POST/PUT iso8601 and dependency: create or replace.
func (a *API) chronosPut(dependent bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) error {
		j, keepSecret, err := decodeJob(body, false)
		if err != nil {
			return err
		}
		if keepSecret {
			a.keepWebhookSecret(&j)
		}
		if dependent {
			if len(j.Parents) == 0 {
				return badRequest("a dependent job needs a non-empty parents list")
			}
			j.Schedule, j.ScheduleTimeZone = "", ""
		} else {
			if len(j.Parents) > 0 {
				return badRequest("job %q has parents: create dependent jobs with POST /v1/scheduler/dependency", j.Name)
			}
			if j.Schedule == "" {
				// Chronos: no schedule means run once, now.
				j.Schedule = "R1/" + a.now().UTC().Format(time.RFC3339) + "/PT24H"
			}
		}
		if _, err := a.do(r, scheduler.JobPut{Job: j, Mode: scheduler.Upsert}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// chronosJobs lists every job. Each job's JSON is cached by catalog
// version, so a list of 10,000 unchanged jobs is a concatenation.
func (a *API) chronosJobs(w http.ResponseWriter, _ *http.Request, _ []byte) error {
	refs := a.deps.Catalog.Refs()
	entries := make([]cachedJob, len(refs))
	var misses []int
	a.listMu.Lock()
	for i, ref := range refs {
		c, ok := a.listCache[ref.Name]
		if !ok || c.version != ref.Version || ref.Version == 0 {
			misses = append(misses, i)
			continue
		}
		entries[i] = c
	}
	if err := a.encodeJobs(refs, entries, misses); err != nil {
		a.listMu.Unlock()
		return err
	}
	parts := make([][]byte, 0, len(refs))
	size := 3 // "[", "]", "\n"
	for _, c := range entries {
		if c.json != nil { // nil: deleted meanwhile
			parts = append(parts, c.json)
			size += len(c.json) + 1
		}
	}
	// Rebuild the cache only when something changed, dropping deleted jobs.
	if len(misses) > 0 || len(a.listCache) != len(parts) {
		next := make(map[string]cachedJob, len(parts))
		for i, c := range entries {
			if c.json != nil {
				next[refs[i].Name] = c
			}
		}
		a.listCache = next
	}
	a.listMu.Unlock()
	if len(parts) > 0 {
		size--
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	_ = bw.WriteByte('[')
	for i, p := range parts {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, _ = bw.Write(p)
	}
	_, _ = bw.WriteString("]\n")
	_ = bw.Flush()
	return nil
}

// encodeJobs encodes the jobs at the miss indices into entries, spread
// over the CPUs (the first list after startup encodes every job); the
// workers end before it returns.
func (a *API) encodeJobs(refs []catalog.JobRef, entries []cachedJob, misses []int) error {
	workers := min(runtime.GOMAXPROCS(0), len(misses)/512+1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := wk; k < len(misses); k += workers {
				i := misses[k]
				v, ok := a.deps.Catalog.Job(refs[i].Name)
				if !ok {
					continue
				}
				b, err := json.Marshal(JobFromScheduler(v.Job, v.Cursor.Stats, true))
				if err != nil {
					errs[wk] = fmt.Errorf("encode job %s: %w", v.Job.Name, err)
					return
				}
				entries[i] = cachedJob{version: v.Version, json: b}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cachedJob is a job's list JSON at a catalog version.
type cachedJob struct {
	version uint64
	json    []byte
}

// intParam reads a non-negative integer query parameter.
func intParam(r *http.Request, key string, def int) (int, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, &BodyError{Problem: fmt.Sprintf("query parameter %s=%q: must be a non-negative integer", key, s),
			Details: []Detail{{Field: key, Message: "must be a non-negative integer"}}}
	}
	return n, nil
}

func (a *API) chronosSearch(w http.ResponseWriter, r *http.Request, _ []byte) error {
	limit, err := intParam(r, "limit", 10)
	if err != nil {
		return err
	}
	offset, err := intParam(r, "offset", 0)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	views := a.deps.Catalog.Search(catalog.SearchQuery{
		Name: q.Get("name"), Command: q.Get("command"), Any: q.Get("any"), Limit: limit, Offset: offset,
	})
	out := make([]Job, len(views))
	for i, v := range views {
		out[i] = JobFromScheduler(v.Job, v.Cursor.Stats, false)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Summary is one row of jobs/summary.
type Summary struct {
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	State    string   `json:"state"`
	Schedule string   `json:"schedule"`
	Parents  []string `json:"parents"`
	Disabled bool     `json:"disabled"`
}

func (a *API) chronosSummary(w http.ResponseWriter, _ *http.Request, _ []byte) error {
	views := a.deps.Catalog.Summaries()
	out := make([]Summary, len(views))
	for i, v := range views {
		out[i] = Summary{Name: v.Job.Name, Status: v.Status(), State: v.State(), Schedule: v.Job.Schedule,
			Parents: append([]string{}, v.Job.Parents...), Disabled: v.Job.Disabled}
		if len(v.Job.Parents) > 0 {
			out[i].Schedule = ""
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
	return nil
}

func (a *API) jobView(r *http.Request) (catalog.JobView, error) {
	name, err := pathName(r)
	if err != nil {
		return catalog.JobView{}, err
	}
	v, ok := a.deps.Catalog.Job(name)
	if !ok {
		return v, notFound("job", name)
	}
	return v, nil
}

func (a *API) chronosGetJob(w http.ResponseWriter, r *http.Request, _ []byte) error {
	v, err := a.jobView(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, JobFromScheduler(v.Job, v.Cursor.Stats, false))
	return nil
}

// chronosRunJob is PUT job/<name>: a manual run, with optional
// ?arguments= (';' stripped as Chronos did, split on white space).
func (a *API) chronosRunJob(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	var args []string
	if s := rawQueryValue(r.URL.RawQuery, "arguments"); s != "" {
		args = strings.Fields(strings.ReplaceAll(s, ";", ""))
	}
	if _, err := a.do(r, scheduler.RunRequested{Job: name, Trigger: scheduler.TriggerManual, Arguments: args}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rawQueryValue reads key from a raw query split on '&' only: Go's
// url.ParseQuery drops pairs holding ';', which Chronos arguments may.
func rawQueryValue(raw, key string) string {
	for _, kv := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k != key {
			continue
		}
		if u, err := url.QueryUnescape(v); err == nil {
			return u
		}
		return v
	}
	return ""
}

// chronosDeleteJob detaches children (Chronos rewires rather than refuses).
func (a *API) chronosDeleteJob(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	if _, err := a.do(r, scheduler.JobDeleted{Name: name, Detach: true}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) chronosMarkSuccess(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	if _, err := a.do(r, scheduler.JobMarkedSuccess{Job: name}); err != nil {
		return err
	}
	writeText(w, http.StatusOK, fmt.Sprintf("marked job %s as successful: true", name))
	return nil
}

func (a *API) chronosKill(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	if _, err := a.do(r, scheduler.JobKillRequested{Job: name}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Histogram is job/stat's histogram, in seconds.
type Histogram struct {
	P75    float64 `json:"75thPercentile"`
	P95    float64 `json:"95thPercentile"`
	P98    float64 `json:"98thPercentile"`
	P99    float64 `json:"99thPercentile"`
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	Count  int     `json:"count"`
}

// TaskStat is one row of job/stat's taskStatHistory.
type TaskStat struct {
	TaskID    string   `json:"taskId"`
	JobName   string   `json:"jobName"`
	SlaveID   string   `json:"slaveId"`
	StartTime string   `json:"startTime"`
	EndTime   string   `json:"endTime"`
	Duration  *float64 `json:"duration,omitempty"`
	Status    string   `json:"status"`
}

// JobStat is the job/stat response.
type JobStat struct {
	Histogram       Histogram  `json:"histogram"`
	TaskStatHistory []TaskStat `json:"taskStatHistory"`
}

func statTime(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return t.UTC().Format("01/02/06 15:04:05")
}

func (a *API) chronosJobStat(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	p, runs, ok := a.deps.Catalog.Durations(name)
	if !ok {
		return notFound("job", name)
	}
	out := JobStat{
		Histogram:       Histogram{P75: p.P75, P95: p.P95, P98: p.P98, P99: p.P99, Median: p.Median, Mean: p.Mean, Count: p.Count},
		TaskStatHistory: []TaskStat{},
	}
	for _, run := range runs {
		for _, t := range run.Tasks {
			ts := TaskStat{TaskID: t.ID, JobName: name, SlaveID: t.AgentID, StartTime: statTime(t.StartedAt),
				EndTime: statTime(t.FinishedAt), Status: string(t.State)}
			if !t.StartedAt.IsZero() && !t.FinishedAt.IsZero() {
				d := t.FinishedAt.Sub(t.StartedAt).Seconds()
				ts.Duration = &d
			}
			out.TaskStatHistory = append(out.TaskStatHistory, ts)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// StatRow is one row of stats/<percentile>.
type StatRow struct {
	JobNameLabel string  `json:"jobNameLabel"`
	Time         float64 `json:"time"`
}

func (a *API) chronosStats(w http.ResponseWriter, r *http.Request, _ []byte) error {
	pct := r.PathValue("pct")
	pick := map[string]func(catalog.Percentiles) float64{
		"99thPercentile": func(p catalog.Percentiles) float64 { return p.P99 },
		"98thPercentile": func(p catalog.Percentiles) float64 { return p.P98 },
		"95thPercentile": func(p catalog.Percentiles) float64 { return p.P95 },
		"75thPercentile": func(p catalog.Percentiles) float64 { return p.P75 },
		"median":         func(p catalog.Percentiles) float64 { return p.Median },
		"mean":           func(p catalog.Percentiles) float64 { return p.Mean },
	}[pct]
	if pick == nil {
		return badRequest("unknown percentile %q: use 99thPercentile, 98thPercentile, 95thPercentile, 75thPercentile, median or mean", pct)
	}
	names, ps := a.deps.Catalog.AllDurations()
	out := make([]StatRow, len(names))
	for i, n := range names {
		out[i] = StatRow{JobNameLabel: n, Time: pick(ps[i])}
	}
	sort.SliceStable(out, func(i, k int) bool { return out[i].Time > out[k].Time })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// dot renders the graph in Graphviz DOT, with integer vertex ids and the
// names as labels (as Chronos's graph/dot).
func dot(g catalog.Graph) string {
	var b strings.Builder
	b.WriteString("digraph G {\n")
	ids := map[string]int{}
	for i, n := range g.Nodes {
		ids[n.Name] = i + 1
		fmt.Fprintf(&b, "  %d [label=%s];\n", i+1, strconv.Quote(n.Name))
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %d -> %d;\n", ids[e.Parent], ids[e.Child])
	}
	b.WriteString("}\n")
	return b.String()
}

func (a *API) chronosGraphDot(w http.ResponseWriter, _ *http.Request, _ []byte) error {
	writeText(w, http.StatusOK, dot(a.deps.Catalog.Graph()))
	return nil
}

func (a *API) chronosGraphCSV(w http.ResponseWriter, _ *http.Request, _ []byte) error {
	g := a.deps.Catalog.Graph()
	var b strings.Builder
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "node,%s,%s,%s\n", n.Name, n.LastState, n.State)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "link,%s,%s\n", e.Parent, e.Child)
	}
	writeText(w, http.StatusOK, b.String())
	return nil
}

// Leader is the leader response; Chronos clients read "leader" (host:port).
type Leader struct {
	Leader string `json:"leader"`
	URL    string `json:"url,omitempty"`
	Self   bool   `json:"self"`
}

func (a *API) leader(r *http.Request) (Leader, error) {
	if a.deps.Leadership == nil {
		u := "http://" + r.Host
		return Leader{Leader: r.Host, URL: u, Self: true}, nil
	}
	id, u, err := a.deps.Leadership.Leader(r.Context())
	if err != nil {
		return Leader{}, fmt.Errorf("%w: %v", errNoLeader, err)
	}
	l := Leader{Leader: id, URL: u, Self: a.deps.Leadership.IsLeader()}
	if pu, perr := parseHostPort(u); perr == nil {
		l.Leader = pu
	}
	return l, nil
}

func parseHostPort(u string) (string, error) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", fmt.Errorf("no scheme in %q", u)
	}
	return strings.TrimSuffix(u[i+3:], "/"), nil
}

func (a *API) chronosLeader(w http.ResponseWriter, r *http.Request, _ []byte) error {
	l, err := a.leader(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"leader": l.Leader})
	return nil
}

// decodeStrict decodes a small native body strictly into v.
func decodeStrict(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &BodyError{Problem: jsonProblem(err)}
	}
	if dec.More() {
		return &BodyError{Problem: "trailing data after the JSON object"}
	}
	return nil
}
