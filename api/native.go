package api

import (
	_ "embed"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/schedule"
	"github.com/horae-scheduler/horae/scheduler"
)

//go:embed openapi.json
var openapiDoc []byte

// Native list limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// JobList is GET /api/v1/jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
	// Next is the cursor of the next page; "" on the last page.
	Next string `json:"next,omitempty"`
}

// Run is a run on the wire (scheduler.Run with unset times left out).
type Run struct {
	ID           string            `json:"id"`
	Job          string            `json:"job"`
	Trigger      string            `json:"trigger"`
	TriggerID    string            `json:"triggerId,omitempty"`
	State        string            `json:"state"`
	Reason       string            `json:"reason,omitempty"`
	ScheduledFor time.Time         `json:"scheduledFor"`
	CreatedAt    time.Time         `json:"createdAt"`
	NotBefore    time.Time         `json:"notBefore,omitzero"`
	StartedAt    time.Time         `json:"startedAt,omitzero"`
	FinishedAt   time.Time         `json:"finishedAt,omitzero"`
	Attempt      int               `json:"attempt"`
	ExitCode     *int              `json:"exitCode,omitempty"`
	Tasks        []Task            `json:"tasks"`
	Env          map[string]string `json:"env,omitempty"`
	Arguments    []string          `json:"arguments,omitempty"`
}

// Task is one task of a run on the wire.
type Task struct {
	ID         string    `json:"taskId"`
	Instance   int       `json:"instance"`
	AgentID    string    `json:"agentId,omitempty"`
	Host       string    `json:"host,omitempty"`
	State      string    `json:"state"`
	ExitCode   *int      `json:"exitCode,omitempty"`
	Message    string    `json:"message,omitempty"`
	LaunchedAt time.Time `json:"launchedAt,omitzero"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	StdoutTail string    `json:"stdoutTail,omitempty"`
	StderrTail string    `json:"stderrTail,omitempty"`
}

// RunFromScheduler renders a run.
func RunFromScheduler(r scheduler.Run) Run {
	w := Run{
		ID: string(r.ID), Job: r.Job, Trigger: string(r.Trigger), TriggerID: r.TriggerID, State: string(r.State),
		Reason: r.Reason, ScheduledFor: r.ScheduledFor, CreatedAt: r.CreatedAt, NotBefore: r.NotBefore,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Attempt: r.Attempt, ExitCode: r.ExitCode,
		Tasks: make([]Task, len(r.Tasks)), Env: r.Env, Arguments: r.Arguments,
	}
	for i, t := range r.Tasks {
		w.Tasks[i] = Task{ID: t.ID, Instance: t.Instance, AgentID: t.AgentID, Host: t.Host, State: string(t.State),
			ExitCode: t.ExitCode, Message: t.Message, LaunchedAt: t.LaunchedAt, StartedAt: t.StartedAt,
			FinishedAt: t.FinishedAt, StdoutTail: t.StdoutTail, StderrTail: t.StderrTail}
	}
	return w
}

// RunList is GET /api/v1/jobs/{name}/runs.
type RunList struct {
	Runs []Run  `json:"runs"`
	Next string `json:"next,omitempty"`
}

// RunRequest is the optional body of POST /api/v1/jobs/{name}/runs.
type RunRequest struct {
	Env       map[string]string `json:"env,omitempty"`
	Arguments []string          `json:"arguments,omitempty"`
	// TriggerID makes the request idempotent (also the Idempotency-Key header).
	TriggerID string `json:"triggerId,omitempty"`
}

// Preview is GET /api/v1/schedule/preview, the JSON of
// `horae schedule next --json`: {"expression", "timezone", "next"}.
type Preview = schedule.Upcoming

// Graph is GET /api/v1/graph.
type Graph = catalog.Graph

func (a *API) nativeRoutes() {
	n := func(pattern string, role Role, write bool, fn handlerFunc) {
		a.handle(route{pattern: pattern, role: role, surface: native, write: write}, fn)
	}
	n("GET /api/v1/openapi.json", RoleNone, false, func(w http.ResponseWriter, _ *http.Request, _ []byte) error {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapiDoc)
		return nil
	})
	n("GET /api/v1/jobs", RoleViewer, false, a.listJobs)
	n("POST /api/v1/jobs", RoleAdmin, true, a.createJob)
	n("GET /api/v1/jobs/{name}", RoleViewer, false, a.getJob)
	n("PUT /api/v1/jobs/{name}", RoleAdmin, true, a.replaceJob)
	n("DELETE /api/v1/jobs/{name}", RoleAdmin, true, a.deleteJob)
	n("POST /api/v1/jobs/{name}/enable", RoleOperator, true, a.enableJob(true))
	n("POST /api/v1/jobs/{name}/disable", RoleOperator, true, a.enableJob(false))
	n("GET /api/v1/jobs/{name}/runs", RoleViewer, false, a.listRuns)
	n("POST /api/v1/jobs/{name}/runs", RoleOperator, true, a.createRun)
	n("GET /api/v1/runs/{id}", RoleViewer, false, a.getRun)
	n("DELETE /api/v1/runs/{id}", RoleOperator, true, a.killRun)
	n("GET /api/v1/runs/{id}/log", RoleViewer, false, a.runLog)
	n("GET /api/v1/schedule/preview", RoleViewer, false, a.preview)
	n("GET /api/v1/graph", RoleViewer, false, a.graph)
	n("GET /api/v1/leader", RoleViewer, false, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		l, err := a.leader(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, l)
		return nil
	})
	a.hookRoutes() // events and webhooks: hooks.go
	n("/api/", RoleNone, false, func(_ http.ResponseWriter, r *http.Request, _ []byte) error {
		return &statusError{code: http.StatusNotFound, msg: fmt.Sprintf("no such endpoint: %s %s (a job name may not contain '/')", r.Method, r.URL.Path)}
	})
}

func limitParam(r *http.Request) (int, error) {
	limit, err := intParam(r, "limit", DefaultLimit)
	if err != nil {
		return 0, err
	}
	if limit == 0 || limit > MaxLimit {
		return 0, &BodyError{Problem: fmt.Sprintf("query parameter limit=%d: must be 1..%d", limit, MaxLimit),
			Details: []Detail{{Field: "limit", Message: fmt.Sprintf("must be 1..%d", MaxLimit)}}}
	}
	return limit, nil
}

func (a *API) listJobs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	jq := catalog.JobQuery{NameContains: q.Get("name"), State: q.Get("state"), After: q.Get("cursor"), Limit: limit}
	if !catalog.ValidJobState(jq.State) {
		return &BodyError{Problem: fmt.Sprintf("query parameter state=%q: unknown state", jq.State),
			Details: []Detail{{Field: "state", Message: "must be enabled, disabled, running, queued, idle, success, failure or fresh"}}}
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return &BodyError{Problem: fmt.Sprintf("query parameter label=%q: must be key=value", l),
				Details: []Detail{{Field: "label", Message: "must be key=value"}}}
		}
		if jq.Labels == nil {
			jq.Labels = map[string]string{}
		}
		jq.Labels[k] = v
	}
	views, next := a.deps.Catalog.Jobs(jq)
	out := JobList{Jobs: make([]Job, len(views)), Next: next}
	for i, v := range views {
		out.Jobs[i] = JobFromScheduler(v.Job, v.Cursor.Stats, false)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putJob sends a JobPut and answers with the job as stored.
func (a *API) putJob(w http.ResponseWriter, r *http.Request, j scheduler.Job, mode scheduler.PutMode, code int) error {
	out, err := a.do(r, scheduler.JobPut{Job: j, Mode: mode})
	if err != nil {
		return err
	}
	stored, st := j, scheduler.Stats{}
	for _, rec := range out.Persist {
		if pj, ok := rec.(scheduler.PutJob); ok && pj.Job.Name == j.Name {
			stored = pj.Job
		}
		if pc, ok := rec.(scheduler.PutCursor); ok && pc.Cursor.Job == j.Name {
			st = pc.Cursor.Stats
		}
	}
	if mode != scheduler.CreateOnly {
		if v, ok := a.deps.Catalog.Job(j.Name); ok {
			st = v.Cursor.Stats
		}
	}
	w.Header().Set("Location", "/api/v1/jobs/"+j.Name)
	writeJSON(w, code, JobFromScheduler(stored, st, false))
	return nil
}

func (a *API) createJob(w http.ResponseWriter, r *http.Request, body []byte) error {
	j, err := DecodeJob(body, true)
	if err != nil {
		return err
	}
	return a.putJob(w, r, j, scheduler.CreateOnly, http.StatusCreated)
}

func (a *API) replaceJob(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	j, keepSecret, err := decodeJob(body, true)
	if err != nil {
		return err
	}
	if j.Name != name {
		return &BodyError{Problem: fmt.Sprintf("body name %q differs from path name %q (jobs cannot be renamed)", j.Name, name),
			Details: []Detail{{Field: "name", Message: "must equal the name in the path"}}}
	}
	if keepSecret {
		a.keepWebhookSecret(&j)
	}
	return a.putJob(w, r, j, scheduler.ReplaceOnly, http.StatusOK)
}

// keepWebhookSecret gives a replacement whose webhook has no secret the
// stored job's secret. GET never shows the secret, so a job read, edited
// and sent back must not lose it (write-only fields keep their value when
// a PUT leaves them out); "secret":"" clears it, a new value rotates it,
// and a body without "webhook" removes the webhook.
func (a *API) keepWebhookSecret(j *scheduler.Job) {
	if j.Webhook == nil {
		return
	}
	if v, ok := a.deps.Catalog.Job(j.Name); ok && v.Job.Webhook != nil {
		j.Webhook.Secret = v.Job.Webhook.Secret
	}
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request, _ []byte) error {
	v, err := a.jobView(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, JobFromScheduler(v.Job, v.Cursor.Stats, false))
	return nil
}

func (a *API) deleteJob(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	if _, err := a.do(r, scheduler.JobDeleted{Name: name}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) enableJob(enabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		name, err := pathName(r)
		if err != nil {
			return err
		}
		out, err := a.do(r, scheduler.JobEnabled{Name: name, Enabled: enabled})
		if err != nil {
			return err
		}
		var job *scheduler.Job
		for _, rec := range out.Persist {
			if pj, ok := rec.(scheduler.PutJob); ok && pj.Job.Name == name {
				job = &pj.Job
			}
		}
		if job == nil {
			if v, ok := a.deps.Catalog.Job(name); ok {
				job = &v.Job
			}
		}
		if job == nil {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		st := scheduler.Stats{}
		if v, ok := a.deps.Catalog.Job(name); ok {
			st = v.Cursor.Stats
		}
		writeJSON(w, http.StatusOK, JobFromScheduler(*job, st, false))
		return nil
	}
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	cursor := scheduler.RunID(r.URL.Query().Get("cursor"))
	runs, next, ok := a.deps.Catalog.Runs(name, cursor, limit)
	if !ok {
		if _, exists := a.deps.Catalog.Job(name); exists {
			return &BodyError{Problem: fmt.Sprintf("cursor %q is not a run of job %q (it may have been pruned)", cursor, name),
				Details: []Detail{{Field: "cursor", Message: "unknown run"}}}
		}
		return notFound("job", name)
	}
	out := RunList{Runs: make([]Run, len(runs)), Next: string(next)}
	for i, run := range runs {
		out.Runs[i] = RunFromScheduler(run)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createRun(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	var req RunRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" && req.TriggerID == "" {
		req.TriggerID = k
	}
	out, err := a.do(r, scheduler.RunRequested{Job: name, Trigger: scheduler.TriggerManual, TriggerID: req.TriggerID,
		Env: req.Env, Arguments: req.Arguments})
	if err != nil {
		return err
	}
	if out.Run == nil {
		return fmt.Errorf("run of job %s: the engine returned no run", name)
	}
	w.Header().Set("Location", "/api/v1/runs/"+string(out.Run.ID))
	writeJSON(w, http.StatusAccepted, RunFromScheduler(*out.Run))
	return nil
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request, _ []byte) error {
	id := scheduler.RunID(r.PathValue("id"))
	run, ok := a.deps.Catalog.Run(id)
	if !ok {
		return notFound("run", string(id))
	}
	writeJSON(w, http.StatusOK, RunFromScheduler(run))
	return nil
}

func (a *API) killRun(w http.ResponseWriter, r *http.Request, _ []byte) error {
	id := scheduler.RunID(r.PathValue("id"))
	if _, ok := a.deps.Catalog.Run(id); !ok {
		return notFound("run", string(id))
	}
	out, err := a.do(r, scheduler.RunKillRequested{Run: id})
	if err != nil {
		return err
	}
	run := out.Run
	if run == nil {
		if cur, ok := a.deps.Catalog.Run(id); ok {
			run = &cur
		}
	}
	if run == nil {
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	writeJSON(w, http.StatusAccepted, RunFromScheduler(*run))
	return nil
}

func (a *API) preview(w http.ResponseWriter, r *http.Request, _ []byte) error {
	q := r.URL.Query()
	expr, tz := q.Get("schedule"), q.Get("tz")
	if expr == "" {
		return &BodyError{Problem: "query parameter schedule is required", Details: []Detail{{Field: "schedule", Message: "required"}}}
	}
	from := a.now().UTC()
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return &BodyError{Problem: fmt.Sprintf("query parameter from=%q: must be RFC 3339", s),
				Details: []Detail{{Field: "from", Message: "must be RFC 3339, e.g. 2026-03-29T00:00:00Z"}}}
		}
		from = t
	}
	count, err := intParam(r, "count", schedule.DefaultPreview)
	if err != nil {
		return err
	}
	if count < 1 || count > schedule.MaxPreview {
		return &BodyError{Problem: fmt.Sprintf("query parameter count=%d: must be 1..%d", count, schedule.MaxPreview),
			Details: []Detail{{Field: "count", Message: fmt.Sprintf("must be 1..%d", schedule.MaxPreview)}}}
	}
	up, err := schedule.Preview(expr, tz, from, count)
	if err != nil {
		return &BodyError{Problem: err.Error(), Details: []Detail{{Field: "schedule", Message: err.Error()}}}
	}
	writeJSON(w, http.StatusOK, up)
	return nil
}

func (a *API) graph(w http.ResponseWriter, r *http.Request, _ []byte) error {
	g := a.deps.Catalog.Graph()
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, g)
	case "dot":
		writeText(w, http.StatusOK, dot(g))
	default:
		return &BodyError{Problem: fmt.Sprintf("query parameter format=%q: use json or dot", f),
			Details: []Detail{{Field: "format", Message: "must be json or dot"}}}
	}
	return nil
}
