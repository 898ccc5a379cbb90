package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/horae-scheduler/horae/scheduler"
)

// parallel calls f(w, i) for i in 0..n-1 from at most loadParallelism
// workers (w is the worker's number) and returns the first error; it stops
// handing out work once one failed or ctx ended. go-zookeeper pipelines the
// requests on a connection, so this turns n round trips into about
// n/loadParallelism.
func parallel(ctx context.Context, n int, f func(w, i int) error) error {
	var (
		next   atomic.Int64
		failed atomic.Bool
		once   sync.Once
		first  error
		wg     sync.WaitGroup
	)
	workers := min(n, loadParallelism)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = f(w, i)
				}
				if err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// readers opens n-1 extra connections for Load, authenticated like the
// store's and synced with the leader, and returns them after the store's
// own. close closes the extra ones.
func (s *ZK) readers(n int) (conns []*zk.Conn, close func(), err error) {
	conns = []*zk.Conn{s.conn}
	close = func() {
		for _, c := range conns[1:] {
			c.Close()
		}
	}
	for i := 1; i < n; i++ {
		c, _, err := zk.Connect(s.servers, s.timeout, zk.WithLogger(zkLogger{s.log}), zk.WithLogInfo(false))
		if err != nil {
			close()
			return nil, nil, fmt.Errorf("connect reader: %w", err)
		}
		conns = append(conns, c)
		if s.auth != "" {
			if err := c.AddAuth("digest", []byte(s.auth)); err != nil {
				close()
				return nil, nil, fmt.Errorf("authenticate reader: %w", err)
			}
		}
		if _, err := c.Sync(s.root); err != nil {
			close()
			return nil, nil, fmt.Errorf("sync reader: %w", err)
		}
	}
	return conns, close, nil
}

// Load implements Store: every read is issued concurrently over loadConns
// connections (shard listings; then job and state per job; then the run
// listing of jobs with runs; then the runs).
func (s *ZK) Load(ctx context.Context) (scheduler.State, error) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	start := time.Now()
	var (
		st    scheduler.State
		cache map[string]*jobEntry
	)
	err := do(ctx, s, func() error {
		// Reads are idempotent: retry while the connection is being
		// re-established (a server restart, a dropped connection).
		wait := 50 * time.Millisecond
		for {
			var err error
			st, cache, err = s.load(ctx)
			if err == nil || !transient(err) || s.isClosed() {
				return err
			}
			s.log.Debug("retry load", "err", err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
			wait = min(2*wait, time.Second)
		}
	})
	if err != nil {
		return scheduler.State{}, fmt.Errorf("store: load from %s: %w", s.root, err)
	}
	s.cache = cache
	s.m.loadSeconds.Set(time.Since(start).Seconds())
	s.log.Info("state loaded", "jobs", len(st.Jobs), "runs", len(st.Runs), "duration", time.Since(start))
	return st, nil
}

func (s *ZK) load(ctx context.Context) (scheduler.State, map[string]*jobEntry, error) {
	var st scheduler.State
	conns := []*zk.Conn{s.conn}
	conn := func(w int) *zk.Conn { return conns[w%len(conns)] }
	shards := make([][]string, shardCount)
	err := parallel(ctx, shardCount, func(w, i int) error {
		p := s.p("jobs", fmt.Sprintf("%02x", i))
		names, _, err := conn(w).Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", p, err)
		}
		shards[i] = names
		return nil
	})
	if err != nil {
		return st, nil, err
	}
	var names []string
	for _, sh := range shards {
		for _, esc := range sh {
			name, err := unescape(esc)
			if err != nil {
				return st, nil, err
			}
			names = append(names, name)
		}
	}
	if len(names) >= readersFrom {
		var closeReaders func()
		var err error
		conns, closeReaders, err = s.readers(loadConns)
		if err != nil {
			return st, nil, err
		}
		defer closeReaders()
	}
	type jobLoad struct {
		stat    *zk.Stat
		entry   *jobEntry
		job     scheduler.Job
		cursor  *scheduler.Cursor
		runs    []string
		runData [][]byte
		runStat []*zk.Stat
	}
	loads := make([]jobLoad, len(names))
	err = parallel(ctx, len(names), func(w, i int) error {
		l := &loads[i]
		p := s.jobPath(names[i])
		data, stat, err := conn(w).Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil // deleted meanwhile: only possible without a leader
		}
		if err != nil {
			return fmt.Errorf("read job %q: %w", names[i], err)
		}
		// Decoding here spreads it over the workers.
		l.entry, l.job, l.cursor, err = decodeJobNode(data, p)
		if err != nil {
			return err
		}
		if l.job.Name != names[i] {
			return fmt.Errorf("%s holds job %q: name mismatch", p, l.job.Name)
		}
		l.entry.version = stat.Version
		l.stat = stat
		return nil
	})
	if err != nil {
		return st, nil, err
	}
	var withRuns []int
	for ji := range loads {
		if l := &loads[ji]; l.stat != nil && l.stat.NumChildren > 0 {
			withRuns = append(withRuns, ji)
		}
	}
	err = parallel(ctx, len(withRuns), func(w, i int) error {
		ji := withRuns[i]
		runs, _, err := conn(w).Children(s.jobPath(names[ji]))
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("list runs of job %q: %w", names[ji], err)
		}
		l := &loads[ji]
		l.runs, l.runData, l.runStat = runs, make([][]byte, len(runs)), make([]*zk.Stat, len(runs))
		return nil
	})
	if err != nil {
		return st, nil, err
	}
	type runRef struct{ job, run int }
	var refs []runRef
	for _, ji := range withRuns {
		for ri := range loads[ji].runs {
			refs = append(refs, runRef{ji, ri})
		}
	}
	err = parallel(ctx, len(refs), func(w, i int) error {
		r := refs[i]
		l := &loads[r.job]
		p := s.jobPath(names[r.job]) + "/" + l.runs[r.run]
		data, stat, err := conn(w).Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		l.runData[r.run], l.runStat[r.run] = data, stat
		return nil
	})
	if err != nil {
		return st, nil, err
	}
	cache := make(map[string]*jobEntry, len(names))
	if len(names) > 0 {
		st.Jobs = make([]scheduler.Job, 0, len(names))
	}
	for ji, name := range names {
		l := &loads[ji]
		if l.stat == nil {
			continue
		}
		e := l.entry
		st.Jobs = append(st.Jobs, l.job)
		if l.cursor != nil {
			st.Cursors = append(st.Cursors, *l.cursor)
		}
		for ri, data := range l.runData {
			if l.runStat[ri] == nil {
				continue
			}
			var r scheduler.Run
			if err := decode(data, &r, s.jobPath(name)+"/"+l.runs[ri]); err != nil {
				return st, nil, err
			}
			st.Runs = append(st.Runs, r)
			e.runs[r.ID] = l.runStat[ri].Version
		}
		cache[name] = e
	}
	sortState(&st)
	return st, cache, nil
}

// jobNode is the data of a job znode.
type jobNode struct {
	Job    json.RawMessage `json:"job"`
	Cursor json.RawMessage `json:"cursor,omitempty"`
}

// encodeJobNode builds a job znode's data from the encoded job and cursor
// and enforces MaxRecordSize on the whole.
func encodeJobNode(name string, job, cursor []byte) ([]byte, error) {
	b, err := json.Marshal(jobNode{Job: job, Cursor: cursor})
	if err != nil {
		return nil, fmt.Errorf("store: encode job %s: %w", name, err)
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("store: job %s with its cursor encodes to %d bytes, over the %d-byte limit: %w", name, len(b), MaxRecordSize, ErrTooLarge)
	}
	return b, nil
}

// decodeJobNode parses a job znode into a cache entry and the values.
func decodeJobNode(data []byte, where string) (*jobEntry, scheduler.Job, *scheduler.Cursor, error) {
	var (
		n   jobNode
		job scheduler.Job
	)
	if err := decode(data, &n, where); err != nil {
		return nil, job, nil, err
	}
	if err := decode(n.Job, &job, where); err != nil {
		return nil, job, nil, err
	}
	e := &jobEntry{exists: true, job: n.Job, runs: map[scheduler.RunID]int32{}}
	if len(n.Cursor) == 0 {
		return e, job, nil, nil
	}
	var c scheduler.Cursor
	if err := decode(n.Cursor, &c, where+" cursor"); err != nil {
		return nil, job, nil, err
	}
	e.cursor = n.Cursor
	return e, job, &c, nil
}

// hydrate reads into the cache what exists in ZooKeeper for the named jobs
// the cache does not know (Commit without Load, or after a failed commit).
func (s *ZK) hydrate(ctx context.Context, names []string) error {
	var missing []string
	for _, n := range names {
		if _, ok := s.cache[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	entries := make([]*jobEntry, len(missing))
	err := do(ctx, s, func() error {
		return parallel(ctx, len(missing), func(_, i int) error {
			name := missing[i]
			entries[i] = &jobEntry{runs: map[scheduler.RunID]int32{}}
			data, st, err := s.conn.Get(s.jobPath(name))
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read job %q: %w", name, err)
			}
			e, _, _, err := decodeJobNode(data, s.jobPath(name))
			if err != nil {
				return err
			}
			e.version = st.Version
			entries[i] = e
			runs, _, err := s.conn.Children(s.jobPath(name))
			if err != nil {
				return fmt.Errorf("list runs of job %q: %w", name, err)
			}
			for _, esc := range runs {
				id, err := unescape(esc)
				if err != nil {
					return err
				}
				ok, st, err := s.conn.Exists(s.jobPath(name) + "/" + esc)
				if err != nil {
					return fmt.Errorf("check run %q of job %q: %w", id, name, err)
				}
				if ok {
					e.runs[scheduler.RunID(id)] = st.Version
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for i, n := range missing {
		s.cache[n] = entries[i]
	}
	return nil
}

// Commit implements Store: the records become one fenced Multi (split into
// several fenced Multis only when the batch would exceed jute.maxbuffer).
func (s *ZK) Commit(ctx context.Context, epoch int64, records []scheduler.Record) error {
	start := time.Now()
	if err := s.commit(ctx, epoch, records); err != nil {
		s.m.commitFailures.Inc()
		return err
	}
	s.m.commits.Inc()
	s.m.records.Add(float64(len(records)))
	s.m.commitSeconds.Observe(time.Since(start).Seconds())
	return nil
}

type plannedOp struct {
	op   any
	what string
	size int
}

func (s *ZK) commit(ctx context.Context, epoch int64, records []scheduler.Record) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	cand, err := s.currentCandidate(epoch)
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if len(records) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range records {
		n := recordJob(r)
		if n == "" {
			return fmt.Errorf("store: commit: %s: empty job name", describe(r))
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if err := s.hydrate(ctx, names); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	work := map[string]*jobEntry{}
	entry := func(name string) *jobEntry {
		if e, ok := work[name]; ok {
			return e
		}
		e := s.cache[name].clone()
		work[name] = e
		return e
	}
	var ops []plannedOp
	for _, r := range records {
		planned, err := s.plan(r, entry)
		if err != nil {
			return fmt.Errorf("store: commit: %s: %w", describe(r), err)
		}
		ops = append(ops, planned...)
	}
	chunks := splitOps(ops, multiBudget)
	for i, chunk := range chunks {
		raw := make([]any, len(chunk))
		what := make([]string, len(chunk))
		for j, o := range chunk {
			raw[j], what[j] = o.op, o.what
		}
		if err := s.fencedMulti(ctx, cand, raw, what); err != nil {
			// What exists is no longer certain for these jobs: read it
			// again next time.
			for name := range work {
				delete(s.cache, name)
			}
			if len(chunks) > 1 {
				return fmt.Errorf("store: commit: part %d of %d (parts before it are applied): %w", i+1, len(chunks), err)
			}
			return fmt.Errorf("store: commit: %w", err)
		}
	}
	for name, e := range work {
		s.cache[name] = e
	}
	return nil
}

func recordJob(r scheduler.Record) string {
	switch r := r.(type) {
	case scheduler.PutJob:
		return r.Job.Name
	case scheduler.DeleteJob:
		return r.Name
	case scheduler.PutCursor:
		return r.Cursor.Job
	case scheduler.PutRun:
		return r.Run.Job
	case scheduler.DeleteRun:
		return r.Job
	}
	return ""
}

// opOverhead approximates a Multi op's header, version and ACL bytes.
const opOverhead = 64

// plan turns one record into ZooKeeper ops against the entries it updates.
func (s *ZK) plan(r scheduler.Record, entry func(string) *jobEntry) ([]plannedOp, error) {
	var out []plannedOp
	add := func(op any, p string, data []byte, what string) {
		out = append(out, plannedOp{op: op, what: what + " " + p, size: len(p) + len(data) + opOverhead})
	}
	create := func(p string, data []byte) {
		add(&zk.CreateRequest{Path: p, Data: data, Acl: s.acl}, p, data, "create")
	}
	set := func(p string, data []byte, v int32) {
		add(&zk.SetDataRequest{Path: p, Data: data, Version: v}, p, data, "set")
	}
	del := func(p string, v int32) {
		add(&zk.DeleteRequest{Path: p, Version: v}, p, nil, "delete")
	}
	switch r := r.(type) {
	case scheduler.PutJob:
		name := r.Job.Name
		if err := checkName("job", name); err != nil {
			return nil, err
		}
		jb, err := encode(r.Job, "job "+name)
		if err != nil {
			return nil, err
		}
		e := entry(name)
		data, err := encodeJobNode(name, jb, e.cursor)
		if err != nil {
			return nil, err
		}
		if e.exists {
			set(s.jobPath(name), data, e.version)
			e.version++
			e.job = jb
			return out, nil
		}
		create(s.jobPath(name), data)
		*e = jobEntry{exists: true, job: jb, runs: map[scheduler.RunID]int32{}}
	case scheduler.DeleteJob:
		e := entry(r.Name)
		if !e.exists {
			return nil, nil
		}
		ids := make([]string, 0, len(e.runs))
		for id := range e.runs {
			ids = append(ids, string(id))
		}
		sort.Strings(ids)
		for _, id := range ids {
			del(s.runPath(r.Name, scheduler.RunID(id)), e.runs[scheduler.RunID(id)])
		}
		del(s.jobPath(r.Name), e.version)
		*e = jobEntry{runs: map[scheduler.RunID]int32{}}
	case scheduler.PutCursor:
		job := r.Cursor.Job
		e := entry(job)
		if !e.exists {
			return nil, &scheduler.NotFoundError{Kind: "job", Name: job}
		}
		cb, err := encode(r.Cursor, "cursor of job "+job)
		if err != nil {
			return nil, err
		}
		data, err := encodeJobNode(job, e.job, cb)
		if err != nil {
			return nil, err
		}
		set(s.jobPath(job), data, e.version)
		e.version++
		e.cursor = cb
	case scheduler.PutRun:
		job, id := r.Run.Job, r.Run.ID
		if err := checkName("run", string(id)); err != nil {
			return nil, err
		}
		e := entry(job)
		if !e.exists {
			return nil, &scheduler.NotFoundError{Kind: "job", Name: job}
		}
		data, err := encode(r.Run, fmt.Sprintf("run %s of job %s", id, job))
		if err != nil {
			return nil, err
		}
		if v, ok := e.runs[id]; ok {
			set(s.runPath(job, id), data, v)
			e.runs[id] = v + 1
			return out, nil
		}
		if len(e.runs) >= MaxRunsPerJob {
			return nil, fmt.Errorf("job %q holds %d runs: %w", job, MaxRunsPerJob, ErrTooManyRuns)
		}
		create(s.runPath(job, id), data)
		e.runs[id] = 0
	case scheduler.DeleteRun:
		e := entry(r.Job)
		if v, ok := e.runs[r.ID]; ok {
			del(s.runPath(r.Job, r.ID), v)
			delete(e.runs, r.ID)
		}
	default:
		return nil, fmt.Errorf("unknown record type %T", r)
	}
	return out, nil
}

// splitOps cuts ops into consecutive chunks of at most budget estimated
// bytes (a single op larger than budget gets a chunk of its own).
func splitOps(ops []plannedOp, budget int) [][]plannedOp {
	var chunks [][]plannedOp
	var cur []plannedOp
	size := 0
	for _, o := range ops {
		if len(cur) > 0 && size+o.size > budget {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, o)
		size += o.size
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// transient reports whether err is a connection problem a retry can cure.
func transient(err error) bool {
	return errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrConnectionClosed)
}
