package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/internal/zktest"
	"github.com/horae-scheduler/horae/scheduler"
	"github.com/horae-scheduler/horae/store"
)

// benchJobs is the job count of BenchmarkZKLoad (10,000 with -short).
const benchJobs = 100_000

// BenchmarkZKLoad measures a new leader's Load of benchJobs jobs, each with
// a cursor, from a real ZooKeeper (target: 100,000 in < 10 s).
func BenchmarkZKLoad(b *testing.B) {
	n := benchJobs
	if testing.Short() {
		n = 10_000
	}
	srv := zktest.Start(b)
	ctx := context.Background()
	cfg := store.Config{URL: "zk://" + srv.Addr() + "/bench", ZKSessionTimeout: 10 * time.Second}
	s, err := store.Open(ctx, cfg, logger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	term, err := s.Campaign(ctx, store.Candidate{ID: "writer"})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const perBatch = 200
	for i := 0; i < n; i += perBatch {
		var batch []scheduler.Record
		for j := i; j < i+perBatch && j < n; j++ {
			name := fmt.Sprintf("job-%06d", j)
			batch = append(batch, scheduler.PutJob{Job: job(name)}, scheduler.PutCursor{Cursor: cursor(name, 1)})
		}
		if err := s.Commit(ctx, term.Epoch(), batch); err != nil {
			b.Fatalf("write jobs %d..: %v (after %s)", i, err, time.Since(start))
		}
	}
	b.Logf("wrote %d jobs with cursors in %s", n, time.Since(start))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := store.Open(ctx, cfg, logger(b))
		if err != nil {
			b.Fatal(err)
		}
		st, err := r.Load(ctx)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Jobs) != n || len(st.Cursors) != n {
			b.Fatalf("loaded %d jobs, %d cursors; want %d", len(st.Jobs), len(st.Cursors), n)
		}
	}
	b.ReportMetric(float64(n), "jobs")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/load")
}

// BenchmarkZKRunLifecycle drives one run per op through the three commits
// the engine makes for it (intent + cursor, running, finished + cursor +
// pruning the oldest run) and reports ZooKeeper write requests per run
// (target: at most 3).
func BenchmarkZKRunLifecycle(b *testing.B) {
	srv := zktest.Start(b)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	s, err := store.Open(ctx, store.Config{URL: "zk://" + srv.Addr() + "/bench", Registerer: reg}, logger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLifecycle(b, s, func() float64 { return counter(b, reg, "horae_store_zk_write_requests_total") })
}

// BenchmarkBoltRunLifecycle is the same lifecycle on bbolt (one fsync'd
// transaction per commit).
func BenchmarkBoltRunLifecycle(b *testing.B) {
	s, err := store.Open(context.Background(), store.Config{DataDir: b.TempDir()}, logger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLifecycle(b, s, nil)
}

func benchLifecycle(b *testing.B, s store.Store, writes func() float64) {
	ctx := context.Background()
	term, err := s.Campaign(ctx, store.Candidate{ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Commit(ctx, term.Epoch(), []scheduler.Record{scheduler.PutJob{Job: job("j")}}); err != nil {
		b.Fatal(err)
	}
	const history = 10
	var before float64
	if writes != nil {
		before = writes()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("j@%d", i)
		r := run("j", id, scheduler.RunLaunching)
		commits := [][]scheduler.Record{
			{scheduler.PutRun{Run: r}, scheduler.PutCursor{Cursor: cursor("j", int64(i))}},
			{scheduler.PutRun{Run: run("j", id, scheduler.RunRunning)}},
			{scheduler.PutRun{Run: run("j", id, scheduler.RunSucceeded)}, scheduler.PutCursor{Cursor: cursor("j", int64(i+1))}},
		}
		if i >= history {
			commits[2] = append(commits[2], scheduler.DeleteRun{Job: "j", ID: scheduler.RunID(fmt.Sprintf("j@%d", i-history))})
		}
		for _, c := range commits {
			if err := s.Commit(ctx, term.Epoch(), c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if writes != nil {
		b.ReportMetric((writes()-before)/float64(b.N), "zkwrites/run")
	}
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkBoltCommitBatch measures bbolt throughput for 100-record batches.
func BenchmarkBoltCommitBatch(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{DataDir: b.TempDir()}, logger(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	term, err := s.Campaign(ctx, store.Candidate{ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Commit(ctx, term.Epoch(), []scheduler.Record{scheduler.PutJob{Job: job("j")}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]scheduler.Record, 0, 100)
		for k := 0; k < 100; k++ {
			batch = append(batch, scheduler.PutRun{Run: run("j", fmt.Sprintf("r%d", k), scheduler.RunRunning)})
		}
		if err := s.Commit(ctx, term.Epoch(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
}

func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	tb.Fatalf("no metric %s", name)
	return 0
}
