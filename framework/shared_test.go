package framework

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// TestSharedExecutorInfo: every shared-mode task carries a byte-identical
// ExecutorInfo (Mesos refuses a task naming a running executor with a
// different one); its ID changes with anything in it; tasks whose job
// fetches URIs, and every task in per-task mode, get their own executor.
func TestSharedExecutorInfo(t *testing.T) {
	cfg := testConfig()
	a, b := testLaunch(), testLaunch()
	a.Job.URIs, a.Job.Fetch, b.Job.URIs, b.Job.Fetch = nil, nil, nil, nil
	b.TaskID, b.Job.Name, b.Job.CPUs = "other-task", "other", 1
	infoA, err := sharedExecutorInfo(cfg, "M-0000", true)
	if err != nil {
		t.Fatal(err)
	}
	infoB, _ := sharedExecutorInfo(cfg, "M-0000", true)
	tiA, err := buildTaskInfo(cfg, "M-0000", "M-S0", a, nil, nil, &infoA)
	if err != nil {
		t.Fatal(err)
	}
	tiB, _ := buildTaskInfo(cfg, "M-0000", "M-S0", b, nil, nil, &infoB)
	rawA, _ := tiA.Executor.Marshal()
	rawB, _ := tiB.Executor.Marshal()
	if !bytes.Equal(rawA, rawB) {
		t.Fatalf("executor infos differ between tasks:\n%v\n%v", tiA.Executor, tiB.Executor)
	}
	id := tiA.Executor.ExecutorID.Value
	if !strings.HasPrefix(id, "horae-executor-") || id == a.TaskID {
		t.Errorf("shared executor id %q", id)
	}
	if len(tiA.Executor.Command.URIs) != 1 {
		t.Errorf("shared executor: uris %v, want only the executor's own URI", tiA.Executor.Command.URIs)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want map[string]string
	}{
		{"defaults", cfg, map[string]string{LabelExecutorIdleTimeout: "1m0s",
			LabelExecutorRetainTasks: "1000", LabelExecutorRetainFor: "24h0m0s"}},
		{"configured", func() Config {
			c := cfg
			c.ExecutorIdleTimeout, c.ExecutorRetainTasks, c.ExecutorRetainFor = 5*time.Second, 20, 90*time.Minute
			return c
		}(), map[string]string{LabelExecutorIdleTimeout: "5s",
			LabelExecutorRetainTasks: "20", LabelExecutorRetainFor: "1h30m0s"}},
	} {
		info, err := sharedExecutorInfo(tc.cfg, "M-0000", true)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, l := range info.GetLabels().GetLabels() {
			got[l.Key] = l.GetValue()
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("%s: shared executor labels %v, want %v", tc.name, got, tc.want)
		}
	}
	for name, change := range map[string]func(*Config){
		"version":  func(c *Config) { c.Version = "1.2.3" },
		"uri":      func(c *Config) { c.ExecutorURI += "?v=2" },
		"idle":     func(c *Config) { c.ExecutorIdleTimeout = 5 },
		"retain n": func(c *Config) { c.ExecutorRetainTasks = 7 },
		"retain t": func(c *Config) { c.ExecutorRetainFor = time.Hour },
		"overhead": func(c *Config) { c.ExecutorMem = 64 },
		"command":  func(c *Config) { c.ExecutorCommand = "./horae executor --guard=false" },
	} {
		c := cfg
		change(&c)
		other, err := sharedExecutorInfo(c, "M-0000", true)
		if err != nil {
			t.Fatal(err)
		}
		if other.ExecutorID.Value == id {
			t.Errorf("%s changed but the shared executor id stayed %q", name, id)
		}
	}
	if v, _ := sharedExecutorInfo(Config{Version: "v1/../x"}.withDefaults(), "", false); !strings.HasPrefix(v.ExecutorID.Value, "horae-executor-v1_.._x-") {
		t.Errorf("version not sanitized: %q", v.ExecutorID.Value)
	}
	cases := []struct {
		name  string
		mode  string
		fetch bool
		want  bool
	}{
		{"shared", ExecutorShared, false, true},
		{"shared job with uris", ExecutorShared, true, false},
		{"per-task", ExecutorPerTask, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.ExecutorMode = tc.mode
			l := testLaunch()
			if !tc.fetch {
				l.Job.URIs, l.Job.Fetch = nil, nil
			}
			if got := sharesExecutor(c, l); got != tc.want {
				t.Errorf("sharesExecutor = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCarveCountsSharedExecutorOnce: without the executor's share, carve
// takes only the task's resources.
func TestCarveCountsSharedExecutorOnce(t *testing.T) {
	pool := newResourcePool(wireOffer().Resources, []string{"*"})
	l := testLaunch()
	l.Ports = nil
	_, exec, err := pool.carve(testConfig(), l, true)
	if err != nil || len(exec) == 0 {
		t.Fatalf("first carve: exec %v err %v", exec, err)
	}
	_, exec, err = pool.carve(testConfig(), l, false)
	if err != nil || len(exec) != 0 {
		t.Fatalf("second carve: exec %v err %v", exec, err)
	}
	for _, r := range pool.res {
		if r.Name == "cpus" && r.Scalar.Value != round3(2-2*0.3-DefaultExecutorCPUs) {
			t.Errorf("cpus left %g, want %g", r.Scalar.Value, round3(2-2*0.3-DefaultExecutorCPUs))
		}
	}
}

// TestExecutorModesOnLocalMesos runs three tasks, two in one offer and one
// in a later offer, in each mode against localmesos: in shared mode all
// three run in one executor run (one sandbox, so the executor stayed up
// between the offers and Mesos took the ExecutorInfo as compatible), in
// per-task mode each in its own. The master refuses no call.
func TestExecutorModesOnLocalMesos(t *testing.T) {
	for _, mode := range []string{ExecutorShared, ExecutorPerTask} {
		t.Run(mode, func(t *testing.T) {
			m := startMesos(t)
			px := proxyTo(t, m.URL())
			cfg := testFrameworkConfig(t, px.URL(), &idStore{})
			cfg.ExecutorMode = mode
			h := startFramework(t, cfg)
			h.subscribed()
			if err := h.f.SetOfferInterest(context.Background(), scheduler.OffersWanted); err != nil {
				t.Fatal(err)
			}
			o := h.offer()
			one, two := taskLaunch("t-1", shellJob("one", "true")), taskLaunch("t-2", shellJob("two", "exit 4"))
			if err := h.f.Launch(context.Background(), []scheduler.Launch{{OfferID: o.ID, AgentID: o.AgentID, Tasks: []scheduler.TaskLaunch{one, two}}}); err != nil {
				t.Fatal(err)
			}
			dirs := []string{h.update("t-1", scheduler.TaskFinished).Result.Directory, h.update("t-2", scheduler.TaskFailed).Result.Directory}
			o = h.offer()
			three := taskLaunch("t-3", shellJob("three", "true"))
			if err := h.f.Launch(context.Background(), []scheduler.Launch{{OfferID: o.ID, AgentID: o.AgentID, Tasks: []scheduler.TaskLaunch{three}}}); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, h.update("t-3", scheduler.TaskFinished).Result.Directory)
			runs := map[string]bool{}
			for _, d := range dirs {
				// <sandbox>/task-<id>: the sandbox is one executor run.
				runs[filepath.Dir(d)] = true
			}
			want := map[string]int{ExecutorShared: 1, ExecutorPerTask: 3}[mode]
			if len(runs) != want {
				t.Errorf("tasks ran in %d executor sandboxes %v, want %d", len(runs), dirs, want)
			}
			for _, d := range dirs {
				if inShared := strings.Contains(d, "/executors/horae-executor-"); inShared != (mode == ExecutorShared) {
					t.Errorf("task directory %s in mode %s", d, mode)
				}
			}
			if r := px.rejected(); len(r) > 0 {
				t.Errorf("master rejected calls: %+v", r)
			}
		})
	}
}
