package catalog

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

var t0 = time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)

func job(name, cmd string, parents ...string) scheduler.Job {
	j := scheduler.Job{Name: name, Command: cmd, Parents: parents}
	if len(parents) == 0 {
		j.Schedule = "R/2026-01-01T00:00:00Z/PT1H"
	}
	return j
}

func run(jobName, id string, created time.Time, st scheduler.RunState, dur time.Duration) scheduler.Run {
	r := scheduler.Run{ID: scheduler.RunID(id), Job: jobName, State: st, CreatedAt: created}
	if st.Terminal() {
		r.StartedAt = created
		r.FinishedAt = created.Add(dur)
	}
	return r
}

func names(vs []JobView) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Job.Name)
	}
	return out
}

func TestApplyAndQueries(t *testing.T) {
	c := New()
	c.Reset(scheduler.State{
		Jobs:    []scheduler.Job{job("b", "echo b"), job("a", "echo A")},
		Cursors: []scheduler.Cursor{{Job: "a", Stats: scheduler.Stats{SuccessCount: 3, LastSuccess: t0}}},
	})
	c.Apply([]scheduler.Record{
		scheduler.PutJob{Job: job("c", "sleep 1", "a", "b", "ghost")},
		scheduler.PutRun{Run: run("a", "a-1", t0, scheduler.RunSucceeded, 10*time.Second)},
		scheduler.PutRun{Run: run("a", "a-2", t0.Add(time.Hour), scheduler.RunFailed, 20*time.Second)},
		scheduler.PutRun{Run: run("a", "a-3", t0.Add(2*time.Hour), scheduler.RunRunning, 0)},
		scheduler.PutRun{Run: run("b", "b-1", t0, scheduler.RunPending, 0)},
		scheduler.PutCursor{Cursor: scheduler.Cursor{Job: "b", Stats: scheduler.Stats{LastSuccess: t0, LastError: t0.Add(time.Minute)}}},
	})
	if got := names(c.AllJobs()); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("AllJobs = %v", got)
	}
	a, ok := c.Job("a")
	if !ok || a.State() != "1 running" || a.Status() != "success" || a.Cursor.Stats.SuccessCount != 3 {
		t.Fatalf("job a: ok=%v state=%q status=%q stats=%+v", ok, a.State(), a.Status(), a.Cursor.Stats)
	}
	b, _ := c.Job("b")
	if b.State() != "queued" || b.Status() != "failure" {
		t.Fatalf("job b: state=%q status=%q", b.State(), b.Status())
	}
	cj, _ := c.Job("c")
	if cj.State() != "idle" || cj.Status() != "fresh" || cj.Cursor.Job != "c" {
		t.Fatalf("job c: state=%q status=%q cursor=%q", cj.State(), cj.Status(), cj.Cursor.Job)
	}

	runs, next, ok := c.Runs("a", "", 2)
	if !ok || len(runs) != 2 || runs[0].ID != "a-3" || runs[1].ID != "a-2" || next != "a-2" {
		t.Fatalf("Runs page 1 = %v next=%q ok=%v", runs, next, ok)
	}
	runs, next, ok = c.Runs("a", next, 2)
	if !ok || len(runs) != 1 || runs[0].ID != "a-1" || next != "" {
		t.Fatalf("Runs page 2 = %v next=%q", runs, next)
	}
	if _, _, ok := c.Runs("a", "nope", 2); ok {
		t.Fatal("Runs with an unknown cursor: ok")
	}
	if _, _, ok := c.Runs("ghost", "", 2); ok {
		t.Fatal("Runs of an unknown job: ok")
	}
	if r, ok := c.Run("a-2"); !ok || r.State != scheduler.RunFailed {
		t.Fatalf("Run(a-2) = %+v, %v", r, ok)
	}
	if got := len(c.ActiveRuns()); got != 2 {
		t.Fatalf("ActiveRuns = %d, want 2", got)
	}

	p, _, ok := c.Durations("a")
	if !ok || p.Count != 2 || p.Mean != 15 || p.Median != 15 {
		t.Fatalf("Durations(a) = %+v", p)
	}
	g := c.Graph()
	wantEdges := []Edge{{Parent: "a", Child: "c"}, {Parent: "b", Child: "c"}}
	if !reflect.DeepEqual(g.Edges, wantEdges) || len(g.Nodes) != 3 || g.Nodes[1].LastState != "failure" {
		t.Fatalf("Graph = %+v", g)
	}

	// A run update replaces the run; deleting a job drops its runs.
	upd := run("a", "a-3", t0.Add(2*time.Hour), scheduler.RunSucceeded, 30*time.Second)
	c.Apply([]scheduler.Record{scheduler.PutRun{Run: upd}, scheduler.DeleteRun{Job: "a", ID: "a-1"}})
	if runs, _, _ := c.Runs("a", "", 0); len(runs) != 2 || runs[0].State != scheduler.RunSucceeded {
		t.Fatalf("after update: %+v", runs)
	}
	c.Apply([]scheduler.Record{scheduler.DeleteJob{Name: "a"}})
	if _, ok := c.Job("a"); ok {
		t.Fatal("deleted job still there")
	}
	if _, ok := c.Run("a-2"); ok {
		t.Fatal("run of a deleted job still there")
	}
	if got := names(c.AllJobs()); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Fatalf("AllJobs after delete = %v", got)
	}
}

func TestSearchChronosSemantics(t *testing.T) {
	c := New()
	c.Reset(scheduler.State{Jobs: []scheduler.Job{
		job("backup-db", "pg_dump main"), job("Report", "python report.py"), job("clean", "rm -rf /tmp/x"),
	}})
	tests := []struct {
		name string
		q    SearchQuery
		want []string
	}{
		{"no filter matches all", SearchQuery{Limit: 10}, []string{"Report", "backup-db", "clean"}},
		{"name case-insensitive", SearchQuery{Name: "REP", Limit: 10}, []string{"Report"}},
		{"command", SearchQuery{Command: "PG_", Limit: 10}, []string{"backup-db"}},
		{"name and command both", SearchQuery{Name: "backup", Command: "python", Limit: 10}, []string{}},
		{"any adds failures", SearchQuery{Name: "backup", Any: "tmp", Limit: 10}, []string{"backup-db", "clean"}},
		{"any alone matches all", SearchQuery{Any: "zzz", Limit: 10}, []string{"Report", "backup-db", "clean"}},
		{"limit", SearchQuery{Limit: 2}, []string{"Report", "backup-db"}},
		{"offset", SearchQuery{Limit: 10, Offset: 2}, []string{"clean"}},
		{"limit zero", SearchQuery{Limit: 0}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(c.Search(tc.q)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Search(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestJobsFilterAndPages(t *testing.T) {
	c := New()
	var jobs []scheduler.Job
	for i := range 5 {
		j := job(fmt.Sprintf("job-%d", i), "true")
		j.Labels = map[string]string{"team": []string{"x", "y"}[i%2]}
		j.Disabled = i == 4
		jobs = append(jobs, j)
	}
	c.Reset(scheduler.State{Jobs: jobs})
	tests := []struct {
		name     string
		q        JobQuery
		want     []string
		wantNext string
	}{
		{"all", JobQuery{}, []string{"job-0", "job-1", "job-2", "job-3", "job-4"}, ""},
		{"page", JobQuery{Limit: 2}, []string{"job-0", "job-1"}, "job-1"},
		{"after", JobQuery{After: "job-1", Limit: 2}, []string{"job-2", "job-3"}, "job-3"},
		{"last page", JobQuery{After: "job-3", Limit: 2}, []string{"job-4"}, ""},
		{"label", JobQuery{Labels: map[string]string{"team": "y"}}, []string{"job-1", "job-3"}, ""},
		{"disabled", JobQuery{State: "disabled"}, []string{"job-4"}, ""},
		{"substring", JobQuery{NameContains: "B-2"}, []string{"job-2"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next := c.Jobs(tc.q)
			if !reflect.DeepEqual(names(got), tc.want) || next != tc.wantNext {
				t.Fatalf("Jobs(%+v) = %v next %q, want %v next %q", tc.q, names(got), next, tc.want, tc.wantNext)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	var runs []scheduler.Run
	for i := 1; i <= 100; i++ {
		runs = append(runs, run("j", fmt.Sprint(i), t0, scheduler.RunSucceeded, time.Duration(i)*time.Second))
	}
	runs = append(runs, run("j", "killed", t0, scheduler.RunKilled, time.Hour))
	p := durations(runs)
	if p.Count != 100 || p.Mean != 50.5 || p.Median != 50.5 || p.P99 != 99.99 || p.P75 != 75.75 {
		t.Fatalf("durations = %+v", p)
	}
}

// TestConcurrentReaders runs readers against a writer; -race checks it.
func TestConcurrentReaders(t *testing.T) {
	c := New()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, v := range c.Summaries() {
					_ = v.State()
				}
				c.Search(SearchQuery{Name: "1", Limit: 10})
				c.Graph()
				c.Runs("j-1", "", 10)
			}
		}()
	}
	for i := range 500 {
		name := fmt.Sprintf("j-%d", i%50)
		c.Apply([]scheduler.Record{
			scheduler.PutJob{Job: job(name, "true")},
			scheduler.PutRun{Run: run(name, fmt.Sprint(i), t0.Add(time.Duration(i)), scheduler.RunRunning, 0)},
		})
		if i%7 == 0 {
			c.Apply([]scheduler.Record{scheduler.DeleteJob{Name: name}})
		}
	}
	close(stop)
	wg.Wait()
}

func BenchmarkSearch50k(b *testing.B) {
	c := New()
	jobs := make([]scheduler.Job, 50000)
	for i := range jobs {
		jobs[i] = job(fmt.Sprintf("team-%d-job-%05d", i%100, i), fmt.Sprintf("/usr/bin/task --id %d", i))
	}
	c.Reset(scheduler.State{Jobs: jobs})
	b.ResetTimer()
	for b.Loop() {
		if got := c.Search(SearchQuery{Name: "job-4999", Limit: 10}); len(got) == 0 {
			b.Fatal("no match")
		}
	}
}
