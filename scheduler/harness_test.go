package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// memStore applies Persist batches as the real store would, so tests can
// fail over to a fresh engine from what was persisted.
type memStore struct {
	jobs    map[string]Job
	cursors map[string]Cursor
	runs    map[RunID]Run
}

func newMemStore() *memStore {
	return &memStore{jobs: map[string]Job{}, cursors: map[string]Cursor{}, runs: map[RunID]Run{}}
}

func (s *memStore) apply(recs []Record) {
	for _, rec := range recs {
		switch r := rec.(type) {
		case PutJob:
			s.jobs[r.Job.Name] = r.Job
		case DeleteJob:
			delete(s.jobs, r.Name)
			delete(s.cursors, r.Name)
			for id, run := range s.runs {
				if run.Job == r.Name {
					delete(s.runs, id)
				}
			}
		case PutCursor:
			s.cursors[r.Cursor.Job] = r.Cursor
		case PutRun:
			s.runs[r.Run.ID] = r.Run
		case DeleteRun:
			delete(s.runs, r.ID)
		default:
			panic(fmt.Sprintf("unknown record %T", rec))
		}
	}
}

func (s *memStore) state() State {
	var st State
	for _, j := range s.jobs {
		st.Jobs = append(st.Jobs, j)
	}
	for _, c := range s.cursors {
		st.Cursors = append(st.Cursors, cloneCursor(c))
	}
	for _, r := range s.runs {
		st.Runs = append(st.Runs, r)
	}
	sort.Slice(st.Jobs, func(i, j int) bool { return st.Jobs[i].Name < st.Jobs[j].Name })
	sort.Slice(st.Cursors, func(i, j int) bool { return st.Cursors[i].Job < st.Cursors[j].Job })
	sort.Slice(st.Runs, func(i, j int) bool { return st.Runs[i].ID < st.Runs[j].ID })
	return st
}

// harness drives an engine with a test clock and a memStore.
type harness struct {
	t     testing.TB
	cfg   Config
	e     *Engine
	now   time.Time
	store *memStore
	epoch int64
	last  Output
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func newHarness(t testing.TB) *harness {
	return &harness{t: t, e: New(Config{}), now: t0, store: newMemStore()}
}

func (h *harness) stepErr(ev Event) (Output, error) {
	h.t.Helper()
	out, err := h.e.Step(h.now, ev)
	if err == nil {
		h.store.apply(out.Persist)
		h.last = out
	}
	return out, err
}

func (h *harness) step(ev Event) Output {
	h.t.Helper()
	out, err := h.stepErr(ev)
	if err != nil {
		h.t.Fatalf("step %T: %v", ev, err)
	}
	return out
}

// ready elects, subscribes and reconciles.
func (h *harness) ready() {
	h.t.Helper()
	h.epoch++
	h.step(LeaderElected{Epoch: h.epoch, State: h.store.state()})
	h.step(Subscribed{})
	h.step(Reconciled{})
}

// failover replaces the engine by a fresh one loaded from the store.
func (h *harness) failover() {
	h.t.Helper()
	h.e = New(h.cfg)
	h.ready()
}

func (h *harness) advance(d time.Duration) Output {
	h.t.Helper()
	h.now = h.now.Add(d)
	return h.step(Tick{})
}

func (h *harness) put(j Job) {
	h.t.Helper()
	h.step(JobPut{Job: j})
}

// bigOffer is an offer that fits many small tasks.
func bigOffer(id, host string) Offer {
	return Offer{ID: id, AgentID: "agent-" + host, Hostname: host, CPUs: 16, Mem: 65536, Disk: 1 << 20,
		Ports: []PortRange{{Begin: 31000, End: 31099}}}
}

// launchAll offers one big offer and returns the launched task IDs.
func (h *harness) launchAll() []string {
	h.t.Helper()
	out := h.step(OffersArrived{Offers: []Offer{bigOffer("o-"+h.now.Format("150405.000"), "host1")}})
	return launchedIDs(out)
}

func launchedIDs(out Output) []string {
	var ids []string
	for _, l := range out.Launch {
		for _, t := range l.Tasks {
			ids = append(ids, t.TaskID)
		}
	}
	return ids
}

func (h *harness) update(task string, st TaskState, exit int) Output {
	h.t.Helper()
	ev := TaskUpdated{TaskID: task, State: st}
	if st.Terminal() {
		c := exit
		ev.Result = &TaskResult{ExitCode: &c, Reason: "exit"}
	}
	return h.step(ev)
}

// finish reports a task running then ended.
func (h *harness) finish(task string, exit int) Output {
	h.t.Helper()
	h.update(task, TaskRunning, 0)
	st := TaskFinished
	if exit != 0 {
		st = TaskFailed
	}
	return h.update(task, st, exit)
}

func (h *harness) runsOf(job string) []Run {
	var rs []Run
	for _, r := range h.store.runs {
		if r.Job == job {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].CreatedAt.Equal(rs[j].CreatedAt) {
			return rs[i].CreatedAt.Before(rs[j].CreatedAt)
		}
		return rs[i].ID < rs[j].ID
	})
	return rs
}

func (h *harness) run(id RunID) Run {
	h.t.Helper()
	r, ok := h.store.runs[id]
	if !ok {
		h.t.Fatalf("run %s not in store", id)
	}
	return r
}

func (h *harness) statesOf(job string) string {
	var s []string
	for _, r := range h.runsOf(job) {
		s = append(s, string(r.State))
	}
	return strings.Join(s, ",")
}

func sched(name, expr string) Job {
	return Job{Name: name, Command: "true", Schedule: expr}
}

func dep(name string, parents ...string) Job {
	return Job{Name: name, Command: "true", Parents: parents}
}

func asValidation(t testing.TB, err error) *ValidationError {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	return ve
}
