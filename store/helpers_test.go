package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/internal/zktest"
	"github.com/horae-scheduler/horae/scheduler"
	"github.com/horae-scheduler/horae/store"
)

func logger(t testing.TB) *slog.Logger {
	if os.Getenv("STORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// backend opens stores of one kind; reopen gives the same state.
type backend struct {
	name string
	// config returns a fresh, empty store's config for one (sub)test.
	config func(t *testing.T) store.Config
}

func open(t *testing.T, cfg store.Config) store.Store {
	t.Helper()
	s, err := store.Open(ctxT(t), cfg, logger(t))
	if err != nil {
		t.Fatalf("open %s: %v", cfg.URL, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backends returns the bbolt backend and a ZooKeeper backend on srv, each
// subtest getting its own root.
func backends(srv *zktest.Server) []backend {
	return []backend{
		{name: "bbolt", config: func(t *testing.T) store.Config {
			return store.Config{DataDir: t.TempDir()}
		}},
		{name: "zookeeper", config: func(t *testing.T) store.Config {
			root := strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(t.Name())
			return store.Config{URL: fmt.Sprintf("zk://%s/t/%s", srv.Addr(), root), ZKSessionTimeout: 4 * time.Second}
		}},
	}
}

var t0 = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

func job(name string) scheduler.Job {
	return scheduler.Job{
		Name: name, Command: "echo " + name, Shell: true, CPUs: 0.1, Mem: 128, Disk: 256,
		Schedule: "R/2026-03-29T01:30:00Z/PT1M", ScheduleTimeZone: "Europe/Berlin",
		Env: []scheduler.EnvVar{{Name: "A", Value: "b"}}, Retries: 2, RetryDelay: time.Minute,
		Labels: map[string]string{"team": "x"}, CreatedAt: t0, UpdatedAt: t0,
	}
}

func cursor(name string, gen int64) scheduler.Cursor {
	return scheduler.Cursor{Job: name, LastSlot: t0.Add(time.Duration(gen) * time.Minute), Generation: gen,
		LastOutcome: scheduler.OutcomeSuccess, Consumed: map[string]int64{"p": gen},
		Stats: scheduler.Stats{SuccessCount: gen, LastSuccess: t0}}
}

func run(jobName, id string, state scheduler.RunState) scheduler.Run {
	exit := 0
	return scheduler.Run{ID: scheduler.RunID(id), Job: jobName, Trigger: scheduler.TriggerSchedule, State: state,
		ScheduledFor: t0, CreatedAt: t0, Attempt: 1, ExitCode: &exit,
		Tasks: []scheduler.Task{{ID: "horae." + id + ".0", Instance: 0, AgentID: "a1", State: scheduler.TaskRunning, LaunchedAt: t0}}}
}
