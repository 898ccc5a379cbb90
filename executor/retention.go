package executor

import (
	"os"
	"time"
)

// Defaults of the retention of finished tasks' output directories in a
// shared executor's sandbox (Config.RetainTasks, Config.RetainFor).
const (
	DefaultRetainTasks = 1000
	DefaultRetainFor   = 24 * time.Hour
)

// Labels of the ExecutorInfo by which the scheduler sets the retention of a
// shared executor, read from SUBSCRIBED like LabelIdleTimeout. Values: a
// decimal integer of at least 1 for LabelRetainTasks, a positive Go duration
// ("24h", "90m") for LabelRetainFor. An invalid value is logged and ignored.
const (
	LabelRetainTasks = "horae.executor.retain-tasks"
	LabelRetainFor   = "horae.executor.retain-for"
)

// retention decides when the output directory (task-<id>) of a finished
// task is removed from a shared executor's sandbox: the agent deletes a
// sandbox only after its executor ends, and a shared executor may run for
// months. A directory is kept while its task runs; once the task ended it
// is removed when it is older than ttl or when max newer finished
// directories are kept. It does no I/O and reads no clock: the executor
// loop passes the time in and removes what due returns.
type retention struct {
	max  int
	ttl  time.Duration
	dirs []keptDir // finished tasks' directories, oldest end first
}

type keptDir struct {
	path  string
	ended time.Time
}

// add records the directory of a task that ended at now. Tasks end in the
// order the loop learns of it, so dirs stays sorted by end.
func (r *retention) add(path string, now time.Time) {
	r.dirs = append(r.dirs, keptDir{path: path, ended: now})
}

// due removes from the record and returns the directories to delete at
// now, oldest first.
func (r *retention) due(now time.Time) []string {
	n := 0
	for n < len(r.dirs) && (len(r.dirs)-n > r.max || !now.Before(r.dirs[n].ended.Add(r.ttl))) {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i, d := range r.dirs[:n] {
		out[i] = d.path
	}
	// Copy down rather than reslice, so the backing array does not keep
	// growing at the front for the executor's lifetime.
	r.dirs = append(r.dirs[:0], r.dirs[n:]...)
	return out
}

// next is when the oldest kept directory expires; zero when none is kept.
func (r *retention) next() time.Time {
	if len(r.dirs) == 0 {
		return time.Time{}
	}
	return r.dirs[0].ended.Add(r.ttl)
}

// retain records a finished task's directory and removes what is due. Only
// a shared executor (one with an idle timeout) removes anything: a per-task
// executor exits once its task is reported, and the agent's sandbox garbage
// collection takes its one directory later, so removing it earlier would
// only make `horae job logs` fail sooner.
func (s *state) retain(dir string) {
	if s.cfg.IdleTimeout <= 0 {
		return
	}
	s.kept.add(dir, time.Now())
	s.sweep()
}

// sweep deletes the finished tasks' directories that are due. Removing a
// task's two or four files takes well under a millisecond, so it runs on
// the executor loop.
func (s *state) sweep() {
	for _, dir := range s.kept.due(time.Now()) {
		if err := os.RemoveAll(dir); err != nil {
			s.log.Warn("remove a finished task's output directory", "dir", dir, "err", err)
			continue
		}
		s.log.Debug("removed a finished task's output directory", "dir", dir)
	}
}
