package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/scheduler"
)

// benchServer serves n jobs shaped like real ones (schedule, env, labels,
// fetch) over real HTTP on loopback.
func benchServer(b *testing.B, n int) string {
	cat := catalog.New()
	jobs := make([]scheduler.Job, n)
	for i := range jobs {
		jobs[i] = scheduler.Job{
			Name: fmt.Sprintf("team-%02d-job-%05d", i%50, i), Command: fmt.Sprintf("/usr/local/bin/etl --table t%d --date $DATE", i),
			Shell: true, Owner: "data@example.com", CPUs: 0.5, Mem: 512, Disk: 256, Retries: 2,
			Schedule: "R/2026-01-01T00:00:00Z/PT1H", ScheduleTimeZone: "Europe/Paris",
			Env:    []scheduler.EnvVar{{Name: "DATE", Value: "today"}},
			Labels: map[string]string{"team": fmt.Sprint(i % 50)},
			Fetch:  []scheduler.FetchURI{{URI: "https://artifacts.example.com/etl.tgz", Extract: true}},
		}
	}
	cat.Reset(scheduler.State{Jobs: jobs})
	ts, _ := start(b, api.Config{}, api.Deps{Catalog: cat, Commander: api.NewEngineCommander(cat)})
	return ts.URL
}

func get(b *testing.B, c *http.Client, url string) int {
	res, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("GET %s = %d", url, res.StatusCode)
	}
	return int(n)
}

// BenchmarkChronosJobs10k is GET /v1/scheduler/jobs with 10,000 jobs.
func BenchmarkChronosJobs10k(b *testing.B) {
	url := benchServer(b, 10000) + "/v1/scheduler/jobs"
	// 64 KiB reads, as clients that fetch large bodies use (curl: 100 KiB).
	c := &http.Client{Transport: &http.Transport{ReadBufferSize: 64 << 10}}
	var size int
	for b.Loop() {
		size = get(b, c, url)
	}
	b.ReportMetric(float64(size)/1e6, "MB/resp")
}

// BenchmarkChronosSearch50k is GET /v1/scheduler/jobs/search?name=... with
// 50,000 jobs (Chronos #873: unusable).
func BenchmarkChronosSearch50k(b *testing.B) {
	url := benchServer(b, 50000) + "/v1/scheduler/jobs/search?name=job-4999"
	c := &http.Client{}
	get(b, c, url) // builds the index once
	for b.Loop() {
		get(b, c, url)
	}
}

// BenchmarkGetJobParallel measures single-job reads per second
// (GET /api/v1/jobs/{name}, 10,000 jobs, parallel clients).
func BenchmarkGetJobParallel(b *testing.B) {
	base := benchServer(b, 10000)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c := &http.Client{Transport: tr}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			get(b, c, fmt.Sprintf("%s/api/v1/jobs/team-%02d-job-%05d", base, i%50, i%10000))
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkChronosJobs10kHandler is the server's share of the same request
// (handler into a discarding writer, no network, no client decoding).
func BenchmarkChronosJobs10kHandler(b *testing.B) {
	cat := catalog.New()
	jobs := make([]scheduler.Job, 10000)
	for i := range jobs {
		jobs[i] = scheduler.Job{Name: fmt.Sprintf("team-%02d-job-%05d", i%50, i), Command: "/usr/local/bin/etl", Shell: true,
			CPUs: 0.5, Mem: 512, Disk: 256, Retries: 2, Schedule: "R/2026-01-01T00:00:00Z/PT1H",
			Env: []scheduler.EnvVar{{Name: "DATE", Value: "today"}}, Labels: map[string]string{"team": fmt.Sprint(i % 50)},
			Fetch: []scheduler.FetchURI{{URI: "https://artifacts.example.com/etl.tgz", Extract: true}}}
	}
	cat.Reset(scheduler.State{Jobs: jobs})
	a, err := api.New(api.Config{}, api.Deps{Catalog: cat, Commander: api.NewEngineCommander(cat)})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/scheduler/jobs", nil)
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold" // every job encoded: the first list after startup
		}
		b.Run(name, func(b *testing.B) {
			h := a.Handler()
			for b.Loop() {
				if cold {
					b.StopTimer()
					fresh, err := api.New(api.Config{}, api.Deps{Catalog: cat, Commander: api.NewEngineCommander(cat)})
					if err != nil {
						b.Fatal(err)
					}
					h = fresh.Handler()
					b.StartTimer()
				}
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, req)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }
