package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/scheduler"
)

var testNow = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

// fakeEngine is the Commander test double until the engine lands: it
// applies commands to the real catalog as records, as the leader loop
// would, with the engine's command errors for the cases the API maps
// (unknown job or parent, cycle, existing job, dependents). It records
// every command it accepted or refused.
type fakeEngine struct {
	mu     sync.Mutex
	cat    *catalog.Catalog
	events []scheduler.Event
	seq    int
	notLdr bool
}

var _ Commander = (*fakeEngine)(nil)

func (f *fakeEngine) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

func (f *fakeEngine) last() scheduler.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		return nil
	}
	return f.events[len(f.events)-1]
}

func (f *fakeEngine) Do(_ context.Context, ev scheduler.Event) (scheduler.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notLdr {
		return scheduler.Output{}, fmt.Errorf("leader loop: %w", ErrNotLeader)
	}
	f.events = append(f.events, ev)
	var out scheduler.Output
	switch ev := ev.(type) {
	case scheduler.JobPut:
		old, exists := f.cat.Job(ev.Job.Name)
		if ev.Mode == scheduler.CreateOnly && exists {
			return out, fmt.Errorf("put job %s: %w", ev.Job.Name, scheduler.ErrExists)
		}
		if ev.Mode == scheduler.ReplaceOnly && !exists {
			return out, &scheduler.NotFoundError{Kind: "job", Name: ev.Job.Name}
		}
		for _, p := range ev.Job.Parents {
			if p == ev.Job.Name || f.reaches(p, ev.Job.Name) {
				return out, scheduler.Invalid("parents", "%s would make a cycle", p)
			}
			if _, ok := f.cat.Job(p); !ok {
				return out, scheduler.Invalid("parents", "unknown job %q", p)
			}
		}
		j := ev.Job
		j.CreatedAt, j.UpdatedAt = testNow, testNow
		if exists {
			j.CreatedAt = old.Job.CreatedAt
		}
		out.Persist = []scheduler.Record{scheduler.PutJob{Job: j}}
		if !exists {
			out.Persist = append(out.Persist, scheduler.PutCursor{Cursor: scheduler.Cursor{Job: j.Name}})
		}
	case scheduler.JobDeleted:
		if _, ok := f.cat.Job(ev.Name); !ok {
			return out, &scheduler.NotFoundError{Kind: "job", Name: ev.Name}
		}
		var deps []string
		for _, v := range f.cat.AllJobs() {
			if slices.Contains(v.Job.Parents, ev.Name) {
				deps = append(deps, v.Job.Name)
			}
		}
		if len(deps) > 0 && !ev.Detach {
			return out, &scheduler.ConflictError{Job: ev.Name, Dependents: deps}
		}
		out.Persist = []scheduler.Record{scheduler.DeleteJob{Name: ev.Name}}
	case scheduler.JobEnabled:
		v, ok := f.cat.Job(ev.Name)
		if !ok {
			return out, &scheduler.NotFoundError{Kind: "job", Name: ev.Name}
		}
		j := v.Job
		j.Disabled = !ev.Enabled
		out.Persist = []scheduler.Record{scheduler.PutJob{Job: j}}
	case scheduler.RunRequested:
		if _, ok := f.cat.Job(ev.Job); !ok {
			return out, &scheduler.NotFoundError{Kind: "job", Name: ev.Job}
		}
		f.seq++
		r := scheduler.Run{ID: scheduler.RunID(fmt.Sprintf("%s-manual-%d", ev.Job, f.seq)), Job: ev.Job,
			Trigger: ev.Trigger, TriggerID: ev.TriggerID, State: scheduler.RunPending, ScheduledFor: testNow,
			CreatedAt: testNow.Add(time.Duration(f.seq) * time.Second), Env: ev.Env, Arguments: ev.Arguments,
			Tasks: []scheduler.Task{{ID: fmt.Sprintf("task-%d", f.seq), State: scheduler.TaskPending}}}
		out.Persist = []scheduler.Record{scheduler.PutRun{Run: r}}
		out.Run = &r
	case scheduler.RunKillRequested:
		r, ok := f.cat.Run(ev.Run)
		if !ok {
			return out, &scheduler.NotFoundError{Kind: "run", Name: string(ev.Run)}
		}
		r.State = scheduler.RunKilled
		out.Persist = []scheduler.Record{scheduler.PutRun{Run: r}}
		out.Run = &r
	case scheduler.JobKillRequested, scheduler.JobMarkedSuccess:
		name := ""
		if k, ok := ev.(scheduler.JobKillRequested); ok {
			name = k.Job
		} else {
			name = ev.(scheduler.JobMarkedSuccess).Job
		}
		if _, ok := f.cat.Job(name); !ok {
			return out, &scheduler.NotFoundError{Kind: "job", Name: name}
		}
	}
	f.cat.Apply(out.Persist)
	return out, nil
}

// reaches reports whether from is an ancestor-or-self path to to via
// parents (to's descendants include from).
func (f *fakeEngine) reaches(from, to string) bool {
	v, ok := f.cat.Job(from)
	if !ok {
		return false
	}
	for _, p := range v.Job.Parents {
		if p == to || f.reaches(p, to) {
			return true
		}
	}
	return false
}

type server struct {
	*httptest.Server
	cat *catalog.Catalog
	eng *fakeEngine
	api *API
	reg *prometheus.Registry
}

func newServer(t testing.TB, cfg Config, mod func(*Deps)) *server {
	t.Helper()
	cat := catalog.New()
	eng := &fakeEngine{cat: cat}
	reg := prometheus.NewRegistry()
	deps := Deps{Catalog: cat, Commander: eng, Registerer: reg, Gatherer: reg, Now: func() time.Time { return testNow },
		Preview: func(expr, tz string, from time.Time, count int) ([]time.Time, error) {
			if expr != "R/2026-03-29T00:00:00Z/PT1H" {
				return nil, fmt.Errorf("unparsable")
			}
			var out []time.Time
			for i := range count {
				out = append(out, time.Date(2026, 3, 29, i+2, 0, 0, 0, time.UTC))
			}
			return out, nil
		}}
	if mod != nil {
		mod(&deps)
	}
	a, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(ts.Close)
	return &server{Server: ts, cat: cat, eng: eng, api: a, reg: reg}
}

type resp struct {
	code int
	hdr  http.Header
	body string
}

// call makes one request; auth is "" or a full Authorization header value.
func (s *server) call(t testing.TB, method, path, body, auth string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, hdr: res.Header, body: string(b)}
}

func (s *server) must(t testing.TB, want int, method, path, body string) string {
	t.Helper()
	r := s.call(t, method, path, body, "")
	if r.code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, r.code, r.body, want)
	}
	return r.body
}
