package catalog

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// Catalog is the read model. It is safe for concurrent use: one writer (the
// leader loop, or a follower's reload) and any number of readers.
type Catalog struct {
	mu    sync.RWMutex
	jobs  map[string]*entry
	names []string                   // sorted job names
	runs  map[scheduler.RunID]string // run ID → job name
	// gen counts changes to the set of names or to a command; the search
	// index is rebuilt lazily when it was built for an older gen.
	gen uint64
	// seq numbers job and cursor changes; an entry's version is the seq of
	// its last change, so readers can cache what they derive from a job.
	seq   uint64
	idxMu sync.Mutex
	idx   *searchIndex
}

// entry is everything known about one job. An entry's fields are replaced,
// never mutated in place, while readers may hold their values.
type entry struct {
	job       scheduler.Job
	hasJob    bool
	cursor    scheduler.Cursor
	runs      []scheduler.Run // newest first
	lowerName string
	lowerCmd  string
	version   uint64
}

// New returns an empty catalog.
func New() *Catalog {
	return &Catalog{
		jobs: map[string]*entry{},
		runs: map[scheduler.RunID]string{},
	}
}

// Reset replaces everything with state, as loaded from the store.
func (c *Catalog) Reset(state scheduler.State) {
	jobs := make(map[string]*entry, len(state.Jobs))
	runs := make(map[scheduler.RunID]string, len(state.Runs))
	names := make([]string, 0, len(state.Jobs))
	for _, j := range state.Jobs {
		e := &entry{}
		e.setJob(j)
		jobs[j.Name] = e
		names = append(names, j.Name)
	}
	sort.Strings(names)
	for _, cur := range state.Cursors {
		e := jobs[cur.Job]
		if e == nil {
			e = &entry{}
			jobs[cur.Job] = e
		}
		e.cursor = cur
	}
	for _, r := range state.Runs {
		e := jobs[r.Job]
		if e == nil {
			e = &entry{}
			jobs[r.Job] = e
		}
		e.runs = append(e.runs, r)
		runs[r.ID] = r.Job
	}
	for _, e := range jobs {
		sort.Slice(e.runs, func(i, k int) bool { return newer(e.runs[i], e.runs[k]) })
	}
	c.mu.Lock()
	for _, e := range jobs {
		c.seq++
		e.version = c.seq
	}
	c.jobs, c.runs, c.names = jobs, runs, names
	c.gen++
	c.mu.Unlock()
}

// Apply applies one durable batch of records, in order.
func (c *Catalog) Apply(records []scheduler.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rec := range records {
		switch r := rec.(type) {
		case scheduler.PutJob:
			e := c.jobs[r.Job.Name]
			if e == nil {
				e = &entry{}
				c.jobs[r.Job.Name] = e
			}
			if !e.hasJob {
				c.insertName(r.Job.Name)
				c.gen++
			} else if e.job.Command != r.Job.Command {
				c.gen++
			}
			e.setJob(r.Job)
			c.seq++
			e.version = c.seq
		case scheduler.DeleteJob:
			e := c.jobs[r.Name]
			if e == nil {
				continue
			}
			for _, run := range e.runs {
				delete(c.runs, run.ID)
			}
			if e.hasJob {
				c.removeName(r.Name)
				c.gen++
			}
			delete(c.jobs, r.Name)
		case scheduler.PutCursor:
			e := c.entry(r.Cursor.Job)
			e.cursor = r.Cursor
			c.seq++
			e.version = c.seq
		case scheduler.PutRun:
			e := c.entry(r.Run.Job)
			e.runs = putRun(e.runs, r.Run)
			c.runs[r.Run.ID] = r.Run.Job
		case scheduler.DeleteRun:
			e := c.jobs[r.Job]
			if e == nil {
				continue
			}
			e.runs = deleteRun(e.runs, r.ID)
			delete(c.runs, r.ID)
		}
	}
}

// entry returns the entry of name, creating a job-less one (a cursor or run
// that arrives before its job in a batch).
func (c *Catalog) entry(name string) *entry {
	e := c.jobs[name]
	if e == nil {
		e = &entry{}
		c.jobs[name] = e
	}
	return e
}

func (c *Catalog) insertName(name string) {
	i := sort.SearchStrings(c.names, name)
	if i < len(c.names) && c.names[i] == name {
		return
	}
	// A fresh slice, so that a reader still ranging over the old one (it
	// copied the header under the read lock) sees it whole.
	names := make([]string, len(c.names)+1)
	copy(names, c.names[:i])
	names[i] = name
	copy(names[i+1:], c.names[i:])
	c.names = names
}

func (c *Catalog) removeName(name string) {
	i := sort.SearchStrings(c.names, name)
	if i >= len(c.names) || c.names[i] != name {
		return
	}
	names := make([]string, 0, len(c.names)-1)
	names = append(names, c.names[:i]...)
	names = append(names, c.names[i+1:]...)
	c.names = names
}

func (e *entry) setJob(j scheduler.Job) {
	e.job = j
	e.hasJob = true
	e.lowerName = strings.ToLower(j.Name)
	e.lowerCmd = strings.ToLower(j.Command)
}

// newer orders runs newest first: by creation time, then by ID.
func newer(a, b scheduler.Run) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// putRun returns runs with r replacing the run of the same ID or inserted in
// order. It never writes into the old slice's array.
func putRun(runs []scheduler.Run, r scheduler.Run) []scheduler.Run {
	out := make([]scheduler.Run, 0, len(runs)+1)
	for _, old := range runs {
		if old.ID != r.ID {
			out = append(out, old)
		}
	}
	i := sort.Search(len(out), func(i int) bool { return newer(r, out[i]) })
	out = append(out, scheduler.Run{})
	copy(out[i+1:], out[i:])
	out[i] = r
	return out
}

func deleteRun(runs []scheduler.Run, id scheduler.RunID) []scheduler.Run {
	out := make([]scheduler.Run, 0, len(runs))
	for _, old := range runs {
		if old.ID != id {
			out = append(out, old)
		}
	}
	return out
}

// JobView is a job with what the catalog knows about it. Its values are
// shared with the catalog and must not be mutated.
type JobView struct {
	Job    scheduler.Job
	Cursor scheduler.Cursor
	// Queued counts runs waiting to launch (pending), Running those
	// launching or running.
	Queued  int
	Running int
	// LastRun is the newest run, if any.
	LastRun *scheduler.Run
	// Version changes whenever Job or Cursor changes (not on runs).
	Version uint64
}

// State is Chronos's job state: "N running", "queued" or "idle".
func (v JobView) State() string {
	switch {
	case v.Running > 0:
		return itoa(v.Running) + " running"
	case v.Queued > 0:
		return "queued"
	}
	return "idle"
}

// Status is Chronos's job status from the last success and error times:
// "fresh" (neither), "success" or "failure" (whichever is newer).
func (v JobView) Status() string {
	s := v.Cursor.Stats
	switch {
	case s.LastSuccess.IsZero() && s.LastError.IsZero():
		return "fresh"
	case s.LastError.After(s.LastSuccess):
		return "failure"
	}
	return "success"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func (e *entry) view() JobView {
	v := JobView{Job: e.job, Cursor: e.cursor, Version: e.version}
	if v.Cursor.Job == "" {
		v.Cursor.Job = e.job.Name
	}
	for i := range e.runs {
		switch e.runs[i].State {
		case scheduler.RunPending:
			v.Queued++
		case scheduler.RunLaunching, scheduler.RunRunning:
			v.Running++
		}
	}
	if len(e.runs) > 0 {
		r := e.runs[0]
		v.LastRun = &r
	}
	return v
}

// Len is the number of jobs.
func (c *Catalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.names)
}

// Job returns the job called name.
func (c *Catalog) Job(name string) (JobView, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.jobs[name]
	if e == nil || !e.hasJob {
		return JobView{}, false
	}
	return e.view(), true
}

// JobQuery filters and pages a job list. Zero values do not filter.
type JobQuery struct {
	// NameContains keeps jobs whose name contains it (case-insensitive).
	NameContains string
	// Labels keeps jobs carrying every one of these label values.
	Labels map[string]string
	// State keeps jobs in this state: "enabled", "disabled", "running",
	// "queued", "idle", or a Chronos status "success", "failure", "fresh".
	State string
	// After starts the page after this job name (a cursor).
	After string
	// Limit caps the page; 0 means no cap.
	Limit int
}

// ValidJobState reports whether s is a state JobQuery accepts.
func ValidJobState(s string) bool {
	switch s {
	case "", "enabled", "disabled", "running", "queued", "idle", "success", "failure", "fresh":
		return true
	}
	return false
}

func (q JobQuery) match(e *entry, v *JobView) bool {
	if q.NameContains != "" && !strings.Contains(e.lowerName, strings.ToLower(q.NameContains)) {
		return false
	}
	for k, want := range q.Labels {
		if got, ok := e.job.Labels[k]; !ok || got != want {
			return false
		}
	}
	switch q.State {
	case "":
	case "enabled":
		return !e.job.Disabled
	case "disabled":
		return e.job.Disabled
	case "running":
		return v.Running > 0
	case "queued":
		return v.Running == 0 && v.Queued > 0
	case "idle":
		return v.Running == 0 && v.Queued == 0
	default:
		return v.Status() == q.State
	}
	return true
}

// Jobs returns the jobs matching q sorted by name, and the cursor of the
// next page ("" when this page is the last).
func (c *Catalog) Jobs(q JobQuery) (jobs []JobView, next string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	start := 0
	if q.After != "" {
		start = sort.Search(len(c.names), func(i int) bool { return c.names[i] > q.After })
	}
	for _, name := range c.names[start:] {
		e := c.jobs[name]
		v := e.view()
		if !q.match(e, &v) {
			continue
		}
		if q.Limit > 0 && len(jobs) == q.Limit {
			return jobs, jobs[len(jobs)-1].Job.Name
		}
		jobs = append(jobs, v)
	}
	return jobs, ""
}

// AllJobs returns every job definition sorted by name. It is the cheap path
// of a full listing: no run counting.
func (c *Catalog) AllJobs() []JobView {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]JobView, len(c.names))
	for i, name := range c.names {
		e := c.jobs[name]
		out[i] = JobView{Job: e.job, Cursor: e.cursor, Version: e.version}
		if out[i].Cursor.Job == "" {
			out[i].Cursor.Job = name
		}
	}
	return out
}

// JobRef names a job at a version (JobView.Version).
type JobRef struct {
	Name    string
	Version uint64
}

// Refs returns every job's name and version, sorted by name: the cheap
// listing for readers that cache what they derive from each job.
func (c *Catalog) Refs() []JobRef {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]JobRef, len(c.names))
	for i, name := range c.names {
		out[i] = JobRef{Name: name, Version: c.jobs[name].version}
	}
	return out
}

// Summaries returns every job with its run counts, sorted by name.
func (c *Catalog) Summaries() []JobView {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]JobView, len(c.names))
	for i, name := range c.names {
		out[i] = c.jobs[name].view()
	}
	return out
}

// SearchQuery is Chronos's jobs/search: case-insensitive substrings of the
// name, the command, or either (any).
type SearchQuery struct {
	Name, Command, Any string
	Limit, Offset      int
}

// Search answers Chronos's jobs/search, with its semantics: a job passes
// when it matches every given name/command filter; a job that fails them is
// still added when any is given and its name or command contains any (so
// any alone matches everything). Jobs come sorted by name; Offset and Limit
// page the matches.
func (c *Catalog) Search(q SearchQuery) []JobView {
	name, cmd, anyS := strings.ToLower(q.Name), strings.ToLower(q.Command), strings.ToLower(q.Any)
	c.mu.RLock()
	defer c.mu.RUnlock()
	idx := c.index()
	var byName, byCmd, byAny []bool
	if name != "" {
		byName = idx.names.find(name)
	}
	if cmd != "" {
		byCmd = idx.cmds.find(cmd)
	}
	if anyS != "" {
		byAny = idx.names.find(anyS)
		for i, ok := range idx.cmds.find(anyS) {
			byAny[i] = byAny[i] || ok
		}
	}
	var out []JobView
	skipped := 0
	for i, e := range idx.entries {
		valid := (byName == nil || byName[i]) && (byCmd == nil || byCmd[i])
		if !valid && byAny != nil && byAny[i] {
			valid = true
		}
		if !valid {
			continue
		}
		if skipped < q.Offset {
			skipped++
			continue
		}
		if len(out) >= q.Limit {
			break
		}
		out = append(out, JobView{Job: e.job, Cursor: e.cursor})
	}
	return out
}

// searchIndex makes substring search over 50,000 jobs fast: the lower-case
// names (and commands) of all jobs, in name order, joined into one string
// with NUL separators, so that one strings.Index pass (vectorised) finds
// every job containing a pattern. Chronos scanned its jobs one by one and
// was unusable at this size (#873).
type searchIndex struct {
	gen     uint64
	entries []*entry
	names   haystack
	cmds    haystack
}

// haystack is the joined text and the start offset of each job's part.
type haystack struct {
	text   string
	starts []int
}

// index returns the search index, rebuilt if the names or commands changed
// since it was built. The caller holds c.mu for reading.
func (c *Catalog) index() *searchIndex {
	c.idxMu.Lock()
	defer c.idxMu.Unlock()
	if c.idx != nil && c.idx.gen == c.gen {
		return c.idx
	}
	idx := &searchIndex{gen: c.gen, entries: make([]*entry, len(c.names))}
	var nb, cb strings.Builder
	idx.names.starts = make([]int, len(c.names))
	idx.cmds.starts = make([]int, len(c.names))
	for i, n := range c.names {
		e := c.jobs[n]
		idx.entries[i] = e
		idx.names.starts[i] = nb.Len()
		nb.WriteString(strings.ReplaceAll(e.lowerName, "\x00", ""))
		nb.WriteByte(0)
		idx.cmds.starts[i] = cb.Len()
		cb.WriteString(strings.ReplaceAll(e.lowerCmd, "\x00", ""))
		cb.WriteByte(0)
	}
	idx.names.text, idx.cmds.text = nb.String(), cb.String()
	c.idx = idx
	return idx
}

// find marks the jobs whose part contains pat.
func (h haystack) find(pat string) []bool {
	hit := make([]bool, len(h.starts))
	if strings.IndexByte(pat, 0) >= 0 {
		return hit
	}
	from := 0
	for from < len(h.text) {
		k := strings.Index(h.text[from:], pat)
		if k < 0 {
			break
		}
		at := from + k
		// The job whose part holds offset at: the last start <= at.
		i := sort.SearchInts(h.starts, at+1) - 1
		hit[i] = true
		// Skip to the next job's part.
		if i+1 < len(h.starts) {
			from = h.starts[i+1]
		} else {
			break
		}
	}
	return hit
}

// Runs returns up to limit runs of job, newest first, starting after the run
// with ID after (a cursor; "" for the first page), and the cursor of the
// next page ("" when none). ok is false when the job is unknown or after is
// not one of its runs.
func (c *Catalog) Runs(job string, after scheduler.RunID, limit int) (runs []scheduler.Run, next scheduler.RunID, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.jobs[job]
	if e == nil || !e.hasJob {
		return nil, "", false
	}
	start := 0
	if after != "" {
		start = -1
		for i := range e.runs {
			if e.runs[i].ID == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, "", false
		}
	}
	end := len(e.runs)
	if limit > 0 && start+limit < end {
		end = start + limit
	}
	runs = append([]scheduler.Run(nil), e.runs[start:end]...)
	if end < len(e.runs) && len(runs) > 0 {
		next = runs[len(runs)-1].ID
	}
	return runs, next, true
}

// Run returns the run with id.
func (c *Catalog) Run(id scheduler.RunID) (scheduler.Run, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	job, ok := c.runs[id]
	if !ok {
		return scheduler.Run{}, false
	}
	for _, r := range c.jobs[job].runs {
		if r.ID == id {
			return r, true
		}
	}
	return scheduler.Run{}, false
}

// ActiveRuns returns every run not in a terminal state, sorted by job then
// newest first.
func (c *Catalog) ActiveRuns() []scheduler.Run {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []scheduler.Run
	for _, name := range c.names {
		for _, r := range c.jobs[name].runs {
			if !r.State.Terminal() {
				out = append(out, r)
			}
		}
	}
	return out
}

// Percentiles are run-duration statistics of a job, in seconds.
type Percentiles struct {
	Median, P75, P95, P98, P99, Mean float64
	Count                            int
}

// Durations returns the percentiles of the durations (start to finish) of
// the job's finished runs in history (succeeded or failed). ok is false for
// an unknown job; a job that never finished a run has all zeros.
func (c *Catalog) Durations(job string) (p Percentiles, history []scheduler.Run, ok bool) {
	c.mu.RLock()
	e := c.jobs[job]
	if e == nil || !e.hasJob {
		c.mu.RUnlock()
		return Percentiles{}, nil, false
	}
	runs := e.runs
	c.mu.RUnlock()
	return durations(runs), runs, true
}

// AllDurations returns the percentiles of every job, sorted by name.
func (c *Catalog) AllDurations() (names []string, ps []Percentiles) {
	c.mu.RLock()
	names = c.names
	runs := make([][]scheduler.Run, len(names))
	for i, n := range names {
		runs[i] = c.jobs[n].runs
	}
	c.mu.RUnlock()
	ps = make([]Percentiles, len(names))
	for i := range names {
		ps[i] = durations(runs[i])
	}
	return names, ps
}

// Duration is how long a finished run took, and whether it has one.
func Duration(r scheduler.Run) (time.Duration, bool) {
	if (r.State != scheduler.RunSucceeded && r.State != scheduler.RunFailed) || r.StartedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
		return 0, false
	}
	return r.FinishedAt.Sub(r.StartedAt), true
}

func durations(runs []scheduler.Run) Percentiles {
	var ds []float64
	for _, r := range runs {
		if d, ok := Duration(r); ok {
			ds = append(ds, d.Seconds())
		}
	}
	if len(ds) == 0 {
		return Percentiles{}
	}
	sort.Float64s(ds)
	sum := 0.0
	for _, d := range ds {
		sum += d
	}
	return Percentiles{
		Median: quantile(ds, 0.5),
		P75:    quantile(ds, 0.75),
		P95:    quantile(ds, 0.95),
		P98:    quantile(ds, 0.98),
		P99:    quantile(ds, 0.99),
		Mean:   sum / float64(len(ds)),
		Count:  len(ds),
	}
}

// quantile interpolates linearly between the closest ranks of sorted ds
// (the method Codahale's UniformSnapshot uses).
func quantile(ds []float64, q float64) float64 {
	pos := q * float64(len(ds)+1)
	switch {
	case pos < 1:
		return ds[0]
	case pos >= float64(len(ds)):
		return ds[len(ds)-1]
	}
	lo := ds[int(pos)-1]
	hi := ds[int(pos)]
	return lo + (pos-float64(int(pos)))*(hi-lo)
}

// Node is a job in the dependency graph.
type Node struct {
	Name string `json:"name"`
	// LastState is the Chronos status: success, failure or fresh.
	LastState string `json:"lastState"`
	// State is the Chronos state: idle, queued or "N running".
	State    string `json:"state"`
	Disabled bool   `json:"disabled"`
}

// Edge is a dependency: Child fires from Parent's results.
type Edge struct {
	Parent string `json:"parent"`
	Child  string `json:"child"`
}

// Graph is the dependency graph, nodes sorted by name, edges by child then
// parent. Parents that name no job are left out of Edges.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Graph returns the dependency graph.
func (c *Catalog) Graph() Graph {
	c.mu.RLock()
	defer c.mu.RUnlock()
	g := Graph{Nodes: make([]Node, 0, len(c.names)), Edges: []Edge{}}
	for _, name := range c.names {
		e := c.jobs[name]
		v := e.view()
		g.Nodes = append(g.Nodes, Node{Name: name, LastState: v.Status(), State: v.State(), Disabled: e.job.Disabled})
		parents := append([]string(nil), e.job.Parents...)
		sort.Strings(parents)
		for _, p := range parents {
			if pe := c.jobs[p]; pe != nil && pe.hasJob {
				g.Edges = append(g.Edges, Edge{Parent: p, Child: name})
			}
		}
	}
	return g
}
