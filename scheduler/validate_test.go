package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNormalizeDefaults(t *testing.T) {
	j := Job{Name: "a", Command: "true", Schedule: "R/2026-03-01T00:00:00Z/PT1M"}
	j.Normalize()
	want := Job{Name: "a", Command: "true", Schedule: j.Schedule, CPUs: 0.1, Mem: 128, Disk: 256, Instances: 1,
		TriggerRule: AllSuccess, ConcurrencyPolicy: Forbid, MissedRunPolicy: MissedLatest,
		RetryDelay: time.Minute, RetryDelayMax: 30 * time.Minute}
	if j.CPUs != want.CPUs || j.Mem != want.Mem || j.Disk != want.Disk || j.Instances != 1 ||
		j.TriggerRule != want.TriggerRule || j.ConcurrencyPolicy != want.ConcurrencyPolicy ||
		j.MissedRunPolicy != want.MissedRunPolicy || j.RetryDelay != want.RetryDelay || j.RetryDelayMax != want.RetryDelayMax {
		t.Errorf("Normalize = %+v", j)
	}
	if j.Retries != 0 {
		t.Errorf("Normalize defaulted retries to %d; the API owns that default", j.Retries)
	}
	k := Job{CPUs: 2, Mem: 10, Disk: 1, Instances: 3, TriggerRule: OneFailed}
	k.Normalize()
	if k.CPUs != 2 || k.Mem != 10 || k.Disk != 1 || k.Instances != 3 || k.TriggerRule != OneFailed {
		t.Errorf("Normalize overwrote set fields: %+v", k)
	}
}

// TestJobValidation covers the write-time checks. Chronos accepted a
// dependent job with unknown parents and then hid it (#815), found cycles
// only inside its main loop and crashed (§6), and silently dropped unknown
// constraint operators (§3).
func TestJobValidation(t *testing.T) {
	const s = "R/2026-03-01T00:00:00Z/PT1M"
	cases := []struct {
		name  string
		job   Job
		field string
		msg   string
	}{
		{"bad name space", Job{Name: "a b", Command: "x", Schedule: s}, "name", "must match"},
		{"bad name empty", Job{Name: "", Command: "x", Schedule: s}, "name", "must match"},
		{"name too long", Job{Name: strings.Repeat("a", 201), Command: "x", Schedule: s}, "name", "must match"},
		{"no command", Job{Name: "a", Schedule: s}, "command", "empty"},
		{"both schedule and parents", Job{Name: "a", Command: "x", Schedule: s, Parents: []string{"root"}}, "schedule", "exactly one"},
		{"neither", Job{Name: "a", Command: "x"}, "schedule", "exactly one"},
		{"unknown parent #815", Job{Name: "a", Command: "x", Parents: []string{"nope", "root"}}, "parents", "unknown jobs: nope"},
		{"self parent", Job{Name: "a", Command: "x", Parents: []string{"a"}}, "parents", "cycle: a -> a"},
		{"bad schedule", Job{Name: "a", Command: "x", Schedule: "FOO"}, "schedule", ""},
		{"negative cpus", Job{Name: "a", Command: "x", Schedule: s, CPUs: -1}, "cpus", "negative"},
		{"negative mem", Job{Name: "a", Command: "x", Schedule: s, Mem: -1}, "mem", "negative"},
		{"negative disk", Job{Name: "a", Command: "x", Schedule: s, Disk: -5}, "disk", "negative"},
		{"negative gpus", Job{Name: "a", Command: "x", Schedule: s, GPUs: -1}, "gpus", "negative"},
		{"negative instances", Job{Name: "a", Command: "x", Schedule: s, Instances: -2}, "instances", "at least 1"},
		{"negative retries", Job{Name: "a", Command: "x", Schedule: s, Retries: -1}, "retries", "negative"},
		{"negative maxRuntime", Job{Name: "a", Command: "x", Schedule: s, MaxRuntime: -time.Second}, "maxRuntime", "negative"},
		{"unknown trigger rule", Job{Name: "a", Command: "x", Parents: []string{"root"}, TriggerRule: "some"}, "triggerRule", "unknown rule"},
		{"unknown concurrency", Job{Name: "a", Command: "x", Schedule: s, ConcurrencyPolicy: "maybe"}, "concurrencyPolicy", "unknown"},
		{"unknown missed policy", Job{Name: "a", Command: "x", Schedule: s, MissedRunPolicy: "most"}, "missedRunPolicy", "unknown"},
		{"unknown constraint operator", Job{Name: "a", Command: "x", Schedule: s, Constraints: []Constraint{{Attribute: "rack", Operator: "GROUP_BY"}}}, "constraints[0].operator", "unknown operator"},
		{"bad LIKE regexp", Job{Name: "a", Command: "x", Schedule: s, Constraints: []Constraint{{Attribute: "rack", Operator: "LIKE", Value: "("}}}, "constraints[0].value", "regular expression"},
		{"unknown notify", Job{Name: "a", Command: "x", Schedule: s, Notify: []NotifyOn{"always"}}, "notify[0]", "unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.put(sched("root", s))
			_, err := h.stepErr(JobPut{Job: c.job})
			ve := asValidation(t, err)
			found := false
			for _, p := range ve.Problems {
				if p.Field == c.field && strings.Contains(p.Message, c.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want problem on %q containing %q, got %v", c.field, c.msg, ve.Problems)
			}
			if _, ok := h.e.jobs[c.job.Name]; ok {
				t.Errorf("rejected job %q was stored", c.job.Name)
			}
		})
	}
}

func TestCycleNamed(t *testing.T) {
	h := newHarness(t)
	h.put(sched("a", "R/2026-03-01T00:00:00Z/PT1M"))
	h.put(dep("b", "a"))
	h.put(dep("c", "b"))
	// Turning a into a child of c closes a -> b -> c -> a.
	_, err := h.stepErr(JobPut{Job: dep("a", "c")})
	ve := asValidation(t, err)
	if len(ve.Problems) != 1 || ve.Problems[0].Field != "parents" || ve.Problems[0].Message != "cycle: a -> b -> c -> a" {
		t.Errorf("got %v, want parents: cycle: a -> b -> c -> a", ve.Problems)
	}
}

func TestPutModes(t *testing.T) {
	h := newHarness(t)
	j := sched("a", "R/2026-03-01T00:00:00Z/PT1M")
	if _, err := h.stepErr(JobPut{Job: j, Mode: ReplaceOnly}); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReplaceOnly on absent job: %v, want ErrNotFound", err)
	}
	h.step(JobPut{Job: j, Mode: CreateOnly})
	if _, err := h.stepErr(JobPut{Job: j, Mode: CreateOnly}); !errors.Is(err, ErrExists) {
		t.Errorf("CreateOnly on existing job: %v, want ErrExists", err)
	}
	created := h.store.jobs["a"].CreatedAt
	h.now = h.now.Add(time.Hour)
	j.Description = "changed"
	h.step(JobPut{Job: j, Mode: ReplaceOnly})
	got := h.store.jobs["a"]
	if !got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(h.now) || got.Description != "changed" {
		t.Errorf("replace: created %v updated %v desc %q", got.CreatedAt, got.UpdatedAt, got.Description)
	}
}

func TestRejectedCommandLeavesOutputEmpty(t *testing.T) {
	h := newHarness(t)
	out, err := h.stepErr(JobPut{Job: Job{Name: "bad name"}})
	if err == nil || len(out.Persist) != 0 || !out.WakeAt.IsZero() {
		t.Errorf("rejected command: err %v, output %+v", err, out)
	}
	for _, ev := range []Event{JobDeleted{Name: "x"}, JobEnabled{Name: "x"}, RunRequested{Job: "x"},
		RunKillRequested{Run: "x.m-1"}, JobKillRequested{Job: "x"}, JobMarkedSuccess{Job: "x"}} {
		if _, err := h.stepErr(ev); !errors.Is(err, ErrNotFound) {
			t.Errorf("%T on unknown name: %v, want ErrNotFound", ev, err)
		}
	}
}
