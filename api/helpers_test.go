package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/scheduler"
)

var testNow = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

// engineCommander is the Commander of the tests: the real scheduler.Engine
// stepped under a mutex, its Persist applied to the real catalog, as the
// leader loop does. It records every command it was given.
type engineCommander struct {
	mu     sync.Mutex
	eng    *scheduler.Engine
	cat    *catalog.Catalog
	now    func() time.Time
	events []scheduler.Event
}

var _ Commander = (*engineCommander)(nil)

func newEngineCommander(cat *catalog.Catalog, now func() time.Time) *engineCommander {
	if now == nil {
		now = func() time.Time { return testNow }
	}
	e := scheduler.New(scheduler.Config{})
	out, err := e.Step(now(), scheduler.LeaderElected{Epoch: 1})
	if err != nil {
		panic(err)
	}
	cat.Apply(out.Persist)
	return &engineCommander{eng: e, cat: cat, now: now}
}

func (f *engineCommander) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

func (f *engineCommander) last() scheduler.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		return nil
	}
	return f.events[len(f.events)-1]
}

func (f *engineCommander) Do(_ context.Context, ev scheduler.Event) (scheduler.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	out, err := f.eng.Step(f.now(), ev)
	if err != nil {
		return out, err
	}
	f.cat.Apply(out.Persist)
	return out, nil
}

type server struct {
	*httptest.Server
	cat *catalog.Catalog
	eng *engineCommander
	api *API
	reg *prometheus.Registry
}

func newServer(t testing.TB, cfg Config, mod func(*Deps)) *server {
	t.Helper()
	cat := catalog.New()
	eng := newEngineCommander(cat, nil)
	reg := prometheus.NewRegistry()
	deps := Deps{Catalog: cat, Commander: eng, Registerer: reg, Gatherer: reg, Now: func() time.Time { return testNow }}
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
