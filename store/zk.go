package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/horae-scheduler/horae/scheduler"
)

// ZK is the ZooKeeper store. One *zk.Conn (one session) carries the
// election and every write, so leadership and writes belong to the same
// session; every leader write is a Multi that starts with a CheckVersion of
// the leader's own candidate znode (version 0, never changed), which fails
// once the session that created it is gone.
//
// Layout under the root (docs/zookeeper.md):
//
//	format                      {"version":1}
//	election/_c_<guid>-candidate-<seq>   ephemeral-sequential {id, apiURL}
//	leader                      {epoch, id, apiURL, candidate}
//	framework-id                Mesos framework ID (raw bytes)
//	jobs/<shard>/<job>          {"job":…,"cursor":…}; shard = 2 hex digits of fnv32a(name) mod 256
//	jobs/<shard>/<job>/<run>    run JSON (at most MaxRunsPerJob children)
//
// A job and its cursor share one znode so that Load reads a job with one
// request (plus a listing only when it has runs); the store keeps both
// encoded in its cache to rewrite the znode when either changes.
type ZK struct {
	log  *slog.Logger
	m    *metrics
	conn *zk.Conn
	root string
	acl  []zk.ACL
	// servers, timeout and auth open Load's extra read connections.
	servers []string
	timeout time.Duration
	auth    string
	calls   sync.WaitGroup // goroutines waiting on ZooKeeper requests

	// commitMu serializes Commit and Load and guards cache: job name →
	// what exists in ZooKeeper (filled by Load, kept by Commit, read from
	// ZooKeeper for jobs not in it).
	commitMu sync.Mutex
	cache    map[string]*jobEntry

	mu        sync.Mutex // guards what follows; never held across a request
	closed    bool
	candidate string // own candidate znode, "" when none
	term      *zkTerm
}

// jobEntry is what the store knows exists in ZooKeeper for one job, with
// znode versions for conditional writes.
type jobEntry struct {
	exists  bool
	version int32  // of the job znode
	job     []byte // encoded job, as stored
	cursor  []byte // encoded cursor, nil when none
	runs    map[scheduler.RunID]int32
}

func (e *jobEntry) clone() *jobEntry {
	c := *e
	c.runs = make(map[scheduler.RunID]int32, len(e.runs))
	for k, v := range e.runs {
		c.runs[k] = v
	}
	return &c
}

// leaderRecord is the data of <root>/leader.
type leaderRecord struct {
	Epoch     int64  `json:"epoch"`
	ID        string `json:"id"`
	APIURL    string `json:"apiURL"`
	Candidate string `json:"candidate"` // znode name of the leader's candidate
}

// multiBudget bounds the estimated size of one Multi request. The server
// refuses requests over jute.maxbuffer (default 1 MiB) by closing the
// connection; and it answers nothing else on the session (pings included)
// while it applies a Multi, so a huge one on a busy server can outlast the
// client's read timeout (2/3 of the session timeout). 384 KiB keeps both
// far away; the engine's batches are normally a few KiB.
const multiBudget = 384 << 10

// loadParallelism is how many ZooKeeper reads Load keeps in flight
// (go-zookeeper pipelines them on a connection).
const loadParallelism = 256

// loadConns is how many connections Load reads through when the store holds
// at least readersFrom jobs: the store's own and loadConns-1 short-lived
// read-only ones (synced first, so they see every committed write). The
// server serves sessions in parallel. Smaller stores (and followers
// refreshing often) read over the store's own connection only.
const (
	loadConns   = 4
	readersFrom = 2000
)

type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug("zookeeper client", "msg", fmt.Sprintf(format, args...))
}

func openZK(ctx context.Context, c Config, logger *slog.Logger, m *metrics) (*ZK, error) {
	servers, root, err := parseZKURL(c.URL)
	if err != nil {
		return nil, err
	}
	s := &ZK{log: logger.With("backend", "zookeeper"), m: m, root: root, acl: zk.WorldACL(zk.PermAll),
		servers: servers, timeout: c.sessionTimeout(), auth: c.ZKAuth, cache: map[string]*jobEntry{}}
	conn, _, err := zk.Connect(servers, c.sessionTimeout(),
		zk.WithEventCallback(s.onEvent), zk.WithLogger(zkLogger{logger}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("store: connect to zookeeper %v: %w", servers, err)
	}
	s.conn = conn
	if c.ZKAuth != "" {
		user, pass, _ := strings.Cut(c.ZKAuth, ":")
		s.acl = zk.DigestACL(zk.PermAll, user, pass)
		if err := do(ctx, s, func() error { return conn.AddAuth("digest", []byte(c.ZKAuth)) }); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: zookeeper digest auth as %q: %w", user, err)
		}
	}
	// The layout is created idempotently: retry when the connection
	// dropped under a request.
	for attempt := 1; ; attempt++ {
		err := s.initLayout(ctx)
		if err == nil {
			break
		}
		if attempt == 5 || !(errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)) {
			s.Close()
			return nil, err
		}
		s.log.Debug("retry layout creation", "err", err)
	}
	s.log.Info("store opened", "servers", strings.Join(servers, ","), "root", root, "session_timeout", c.sessionTimeout())
	return s, nil
}

func (s *ZK) p(parts ...string) string { return s.root + "/" + strings.Join(parts, "/") }

func (s *ZK) jobPath(name string) string { return s.p("jobs", shard(name), escape(name)) }
func (s *ZK) runPath(job string, id scheduler.RunID) string {
	return s.jobPath(job) + "/" + escape(string(id))
}

// initLayout creates the root, format marker, election dir and job shards
// that are missing, and refuses a newer data format.
func (s *ZK) initLayout(ctx context.Context) error {
	// Parents of the root, then the fixed nodes.
	var nodes []string
	for p := s.root; p != "/"; p = path.Dir(p) {
		nodes = append([]string{p}, nodes...)
	}
	nodes = append(nodes, s.p("election"), s.p("jobs"))
	for _, n := range nodes {
		if err := s.createIfMissing(ctx, n, nil); err != nil {
			return err
		}
	}
	f, _ := encode(format{Version: FormatVersion}, "format")
	if err := s.createIfMissing(ctx, s.p("format"), f); err != nil {
		return err
	}
	data, _, err := get(ctx, s, s.p("format"))
	if err != nil {
		return fmt.Errorf("store: read %s: %w", s.p("format"), err)
	}
	if err := checkFormat(data, s.p("format")); err != nil {
		return err
	}
	have, _, err := children(ctx, s, s.p("jobs"))
	if err != nil {
		return fmt.Errorf("store: list %s: %w", s.p("jobs"), err)
	}
	present := map[string]bool{}
	for _, h := range have {
		present[h] = true
	}
	var ops []any
	for i := 0; i < shardCount; i++ {
		name := fmt.Sprintf("%02x", i)
		if !present[name] {
			ops = append(ops, &zk.CreateRequest{Path: s.p("jobs", name), Acl: s.acl})
		}
	}
	if len(ops) > 0 {
		_, err := multi(ctx, s, ops)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("store: create job shards under %s: %w", s.p("jobs"), err)
		}
	}
	return nil
}

func (s *ZK) createIfMissing(ctx context.Context, p string, data []byte) error {
	err := do(ctx, s, func() error {
		_, err := s.conn.Create(p, data, 0, s.acl)
		return err
	})
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("store: create %s: %w", p, err)
	}
	return nil
}

// onEvent is the connection's event callback. It runs on go-zookeeper's
// goroutines and must not block: it only closes the current term's Lost
// channel.
func (s *ZK) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	if s.m != nil {
		s.m.zkEvents.WithLabelValues(strings.TrimPrefix(ev.State.String(), "State")).Inc()
		if ev.State == zk.StateHasSession {
			s.m.zkSession.Set(1)
		} else {
			s.m.zkSession.Set(0)
		}
	}
	switch ev.State {
	case zk.StateDisconnected, zk.StateExpired, zk.StateAuthFailed:
		s.mu.Lock()
		t := s.term
		s.mu.Unlock()
		if t != nil && t.lose() {
			s.log.Warn("leadership in doubt: term over", "epoch", t.Epoch(), "zk_state", ev.State.String())
		}
	}
}

// Campaign implements Store with the recipe of docs/zookeeper.md: a
// protected ephemeral-sequential candidate (reused while its session lives),
// lowest sequence leads, others watch only their predecessor.
func (s *ZK) Campaign(ctx context.Context, self Candidate) (Term, error) {
	data, err := encode(self, "candidate")
	if err != nil {
		return nil, err
	}
	// Connection trouble (ZooKeeper unreachable, a dropped connection) is
	// waited out: the candidate stays, a campaign only ends with ctx.
	wait := 50 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			s.withdraw()
			return nil, err
		}
		cand, err := s.ensureCandidate(ctx, data)
		if transient(err) {
			if werr := s.backoff(ctx, &wait); werr != nil {
				s.withdraw()
				return nil, werr
			}
			continue
		}
		if err != nil {
			s.withdraw()
			return nil, fmt.Errorf("store: campaign: %w", err)
		}
		// Register the term before checking, so a Disconnected from now on
		// is seen by it.
		t := &zkTerm{s: s, candidate: cand, lost: make(chan struct{})}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, fmt.Errorf("store: campaign: %w", errClosed)
		}
		old := s.term
		s.term = t
		s.mu.Unlock()
		if old != nil {
			old.lose()
		}
		if s.conn.State() != zk.StateHasSession {
			t.lose()
		}
		if retry, err := s.afterStep(ctx, s.waitLowest(ctx, cand), errCandidateGone, cand, &wait); err != nil {
			return nil, err
		} else if retry {
			continue
		}
		if t.isLost() {
			continue // in doubt while waiting: check again with a new term
		}
		epoch, err := s.claim(ctx, cand, self)
		if retry, err := s.afterStep(ctx, err, ErrFenced, cand, &wait); err != nil {
			return nil, err
		} else if retry {
			continue
		}
		s.mu.Lock()
		t.epoch = epoch
		s.mu.Unlock()
		s.watchCandidate(t)
		s.log.Info("leading", "epoch", epoch, "candidate", path.Base(cand))
		return t, nil
	}
}

var (
	errCandidateGone = errors.New("own candidate znode is gone")
	errClosed        = errors.New("store: closed")
)

// ensureCandidate returns the own candidate znode, creating one when there
// is none alive in the current session.
func (s *ZK) ensureCandidate(ctx context.Context, data []byte) (string, error) {
	s.mu.Lock()
	cand := s.candidate
	s.mu.Unlock()
	if cand != "" {
		ok, st, err := exists(ctx, s, cand)
		if err != nil {
			return "", fmt.Errorf("check candidate %s: %w", cand, err)
		}
		// Owned by this session (Curator's double-leader bug came from a
		// node of a closing session: compare the owner).
		if ok && st.EphemeralOwner == s.conn.SessionID() {
			return cand, nil
		}
		s.forgetCandidate(cand)
	}
	var created string
	err := do(ctx, s, func() error {
		var err error
		created, err = s.conn.CreateProtectedEphemeralSequential(s.p("election", "candidate-"), data, s.acl)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create candidate under %s: %w", s.p("election"), err)
	}
	s.mu.Lock()
	s.candidate = created
	s.mu.Unlock()
	s.log.Debug("candidate created", "candidate", path.Base(created))
	return created, nil
}

func (s *ZK) forgetCandidate(cand string) {
	s.mu.Lock()
	if s.candidate == cand {
		s.candidate = ""
	}
	s.mu.Unlock()
}

// withdraw deletes the own candidate after an abandoned campaign, so this
// instance is not elected with nobody acting on it.
func (s *ZK) withdraw() {
	s.mu.Lock()
	cand := s.candidate
	s.candidate = ""
	s.mu.Unlock()
	if cand == "" || s.isClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := do(ctx, s, func() error { return s.conn.Delete(cand, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		// Keep it: the next Campaign reuses it, Close ends it with the
		// session. Forgetting a live candidate would let it be elected
		// with nobody acting on it.
		s.mu.Lock()
		if s.candidate == "" {
			s.candidate = cand
		}
		s.mu.Unlock()
		s.log.Warn("withdraw candidate", "candidate", cand, "err", err)
	}
}

// backoff waits *wait (doubling it up to 2 s) or until ctx ends; it fails
// at once when the store is closed.
// afterStep decides what Campaign does after one of its steps returned
// err: start over when the candidate is gone (err is gone: the candidate is
// forgotten) or the error is transient (after a backoff); give up, taking
// the candidate back, on anything else. retry false with a nil error means
// the step succeeded.
func (s *ZK) afterStep(ctx context.Context, err, gone error, cand string, wait *time.Duration) (retry bool, fail error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, gone):
		s.forgetCandidate(cand)
		return true, nil
	case transient(err):
		if werr := s.backoff(ctx, wait); werr != nil {
			s.withdraw()
			return false, werr
		}
		return true, nil
	default:
		s.withdraw()
		return false, fmt.Errorf("store: campaign: %w", err)
	}
}

func (s *ZK) backoff(ctx context.Context, wait *time.Duration) error {
	if s.isClosed() {
		return errClosed
	}
	t := time.NewTimer(*wait)
	defer t.Stop()
	*wait = min(2**wait, 2*time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// seq is the sequence suffix of a candidate name (protected names start
// with a random guid, so names must not be compared whole).
func seq(name string) (int64, bool) {
	i := strings.LastIndex(name, "-")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 64)
	return n, err == nil
}

// sortedCandidates lists the election dir ordered by sequence number.
func (s *ZK) sortedCandidates(ctx context.Context) ([]string, error) {
	names, _, err := children(ctx, s, s.p("election"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.p("election"), err)
	}
	valid := names[:0]
	for _, n := range names {
		if _, ok := seq(n); ok {
			valid = append(valid, n)
		}
	}
	sort.Slice(valid, func(i, j int) bool {
		a, _ := seq(valid[i])
		b, _ := seq(valid[j])
		return a < b
	})
	return valid, nil
}

// waitLowest returns once cand is the lowest candidate, watching only its
// immediate predecessor.
func (s *ZK) waitLowest(ctx context.Context, cand string) error {
	me := path.Base(cand)
	for {
		names, err := s.sortedCandidates(ctx)
		if err != nil {
			return err
		}
		idx := -1
		for i, n := range names {
			if n == me {
				idx = i
			}
		}
		switch idx {
		case -1:
			return errCandidateGone
		case 0:
			return nil
		}
		pred := s.p("election", names[idx-1])
		var (
			ok bool
			ch <-chan zk.Event
		)
		err = do(ctx, s, func() error {
			var err error
			ok, _, ch, err = s.conn.ExistsW(pred)
			return err
		})
		if err != nil {
			return fmt.Errorf("watch predecessor %s: %w", pred, err)
		}
		if !ok {
			continue
		}
		s.log.Debug("waiting for predecessor", "predecessor", names[idx-1])
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// claim writes <root>/leader with the next epoch, fenced by the candidate.
func (s *ZK) claim(ctx context.Context, cand string, self Candidate) (int64, error) {
	lp := s.p("leader")
	data, st, err := get(ctx, s, lp)
	var prev leaderRecord
	switch {
	case errors.Is(err, zk.ErrNoNode):
		st = nil
	case err != nil:
		return 0, fmt.Errorf("read %s: %w", lp, err)
	default:
		if err := decode(data, &prev, lp); err != nil {
			return 0, err
		}
	}
	rec := leaderRecord{Epoch: prev.Epoch + 1, ID: self.ID, APIURL: self.APIURL, Candidate: path.Base(cand)}
	b, err := encode(rec, "leader")
	if err != nil {
		return 0, err
	}
	var op any = &zk.CreateRequest{Path: lp, Data: b, Acl: s.acl}
	if st != nil {
		op = &zk.SetDataRequest{Path: lp, Data: b, Version: st.Version}
	}
	if err := s.fencedMulti(ctx, cand, []any{op}, []string{"write " + lp}); err != nil {
		return 0, err
	}
	return rec.Epoch, nil
}

// watchCandidate ends t when its candidate znode goes (deleted, or the
// session expired).
func (s *ZK) watchCandidate(t *zkTerm) {
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		ok, _, ch, err := s.conn.ExistsW(t.candidate)
		if err != nil || !ok {
			if t.lose() {
				s.log.Warn("leadership lost: candidate gone", "epoch", t.Epoch(), "err", err)
			}
			return
		}
		select {
		case ev := <-ch:
			if t.lose() {
				s.log.Warn("leadership lost: candidate changed", "epoch", t.Epoch(), "event", ev.Type.String())
			}
		case <-t.lost:
		}
	}()
}

// Leader implements Store: the leader node counts only while its candidate
// is the lowest one alive.
func (s *ZK) Leader(ctx context.Context) (LeaderInfo, error) {
	names, err := s.sortedCandidates(ctx)
	if err != nil {
		return LeaderInfo{}, fmt.Errorf("store: leader: %w", err)
	}
	if len(names) == 0 {
		return LeaderInfo{}, fmt.Errorf("store: leader: no candidates: %w", ErrNoLeader)
	}
	lp := s.p("leader")
	data, _, err := get(ctx, s, lp)
	if errors.Is(err, zk.ErrNoNode) {
		return LeaderInfo{}, fmt.Errorf("store: leader: %w", ErrNoLeader)
	}
	if err != nil {
		return LeaderInfo{}, fmt.Errorf("store: leader: read %s: %w", lp, err)
	}
	var rec leaderRecord
	if err := decode(data, &rec, lp); err != nil {
		return LeaderInfo{}, err
	}
	if rec.Candidate != names[0] {
		return LeaderInfo{}, fmt.Errorf("store: leader: election in progress: %w", ErrNoLeader)
	}
	return LeaderInfo{ID: rec.ID, APIURL: rec.APIURL, Epoch: rec.Epoch}, nil
}

// currentCandidate returns the candidate of the term leading epoch, or
// ErrFenced.
func (s *ZK) currentCandidate(epoch int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term == nil || s.term.epoch == 0 || s.term.epoch != epoch {
		cur := int64(0)
		if s.term != nil {
			cur = s.term.epoch
		}
		return "", fmt.Errorf("store: epoch %d (current term %d): %w", epoch, cur, ErrFenced)
	}
	return s.term.candidate, nil
}

// FrameworkID implements Store.
func (s *ZK) FrameworkID(ctx context.Context) (string, error) {
	data, _, err := get(ctx, s, s.p("framework-id"))
	if errors.Is(err, zk.ErrNoNode) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: read %s: %w", s.p("framework-id"), err)
	}
	return string(data), nil
}

// SetFrameworkID implements Store.
func (s *ZK) SetFrameworkID(ctx context.Context, epoch int64, id string) error {
	cand, err := s.currentCandidate(epoch)
	if err != nil {
		return fmt.Errorf("store: set framework id: %w", err)
	}
	fp := s.p("framework-id")
	ok, _, err := exists(ctx, s, fp)
	if err != nil {
		return fmt.Errorf("store: set framework id: check %s: %w", fp, err)
	}
	var op any = &zk.CreateRequest{Path: fp, Data: []byte(id), Acl: s.acl}
	if ok {
		op = &zk.SetDataRequest{Path: fp, Data: []byte(id), Version: -1}
	}
	if err := s.fencedMulti(ctx, cand, []any{op}, []string{"write " + fp}); err != nil {
		return fmt.Errorf("store: set framework id: %w", err)
	}
	return nil
}

// fencedMulti runs ops in one Multi after a CheckVersion of cand. A failed
// check (candidate gone: the session that created it ended) or an expired
// session is ErrFenced; other failures name the op (what[i]) at fault.
func (s *ZK) fencedMulti(ctx context.Context, cand string, ops []any, what []string) error {
	all := append([]any{&zk.CheckVersionRequest{Path: cand, Version: 0}}, ops...)
	res, err := multi(ctx, s, all)
	if err == nil {
		return nil
	}
	if errors.Is(err, zk.ErrSessionExpired) {
		return fmt.Errorf("zookeeper session expired: %w: %w", ErrFenced, err)
	}
	if len(res) > 0 && res[0].Error != nil {
		return fmt.Errorf("candidate %s: %w: %w", path.Base(cand), ErrFenced, res[0].Error)
	}
	for i := 1; i < len(res) && i-1 < len(what); i++ {
		if e := res[i].Error; isOpError(e) {
			return fmt.Errorf("%s: %w", what[i-1], e)
		}
	}
	return err
}

func (s *ZK) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close implements Store: the session ends, so the candidate (and with it
// leadership) goes at once.
func (s *ZK) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	t := s.term
	s.mu.Unlock()
	if t != nil {
		t.lose()
	}
	s.conn.Close()
	s.calls.Wait()
	return nil
}

type zkTerm struct {
	s         *ZK
	candidate string
	epoch     int64 // set under s.mu once claimed
	lost      chan struct{}
	once      sync.Once
}

func (t *zkTerm) Epoch() int64 {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.epoch
}

func (t *zkTerm) Lost() <-chan struct{} { return t.lost }

func (t *zkTerm) isLost() bool {
	select {
	case <-t.lost:
		return true
	default:
		return false
	}
}

// lose closes Lost; it reports whether this call did.
func (t *zkTerm) lose() bool {
	did := false
	t.once.Do(func() { close(t.lost); did = true })
	return did
}

// Resign ends the term and deletes the candidate, handing leadership on.
func (t *zkTerm) Resign(ctx context.Context) error {
	t.lose()
	s := t.s
	s.mu.Lock()
	if s.term == t {
		s.term = nil
	}
	mine := s.candidate == t.candidate
	if mine {
		s.candidate = ""
	}
	s.mu.Unlock()
	if !mine {
		return nil
	}
	err := do(ctx, s, func() error { return s.conn.Delete(t.candidate, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("store: resign: delete candidate %s: %w", t.candidate, err)
	}
	s.log.Info("resigned", "epoch", t.Epoch())
	return nil
}

// do runs a ZooKeeper request and waits for it or for ctx. go-zookeeper
// takes no context; an abandoned request ends when it is answered or the
// connection closes, and Close waits for it.
func do(ctx context.Context, s *ZK, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func get(ctx context.Context, s *ZK, p string) (data []byte, st *zk.Stat, err error) {
	err = do(ctx, s, func() error {
		var err error
		data, st, err = s.conn.Get(p)
		return err
	})
	return data, st, err
}

func exists(ctx context.Context, s *ZK, p string) (ok bool, st *zk.Stat, err error) {
	err = do(ctx, s, func() error {
		var err error
		ok, st, err = s.conn.Exists(p)
		return err
	})
	return ok, st, err
}

func children(ctx context.Context, s *ZK, p string) (names []string, st *zk.Stat, err error) {
	err = do(ctx, s, func() error {
		var err error
		names, st, err = s.conn.Children(p)
		return err
	})
	return names, st, err
}

func multi(ctx context.Context, s *ZK, ops []any) (res []zk.MultiResponse, err error) {
	s.m.zkWrites.Inc()
	err = do(ctx, s, func() error {
		var err error
		res, err = s.conn.Multi(ops...)
		return err
	})
	return res, err
}

// isOpError reports whether e is the error of the op that failed a Multi
// (the others report ok or "runtime inconsistency").
func isOpError(e error) bool {
	for _, known := range []error{zk.ErrNoNode, zk.ErrBadVersion, zk.ErrNodeExists, zk.ErrNotEmpty,
		zk.ErrNoAuth, zk.ErrInvalidACL, zk.ErrNoChildrenForEphemerals, zk.ErrBadArguments} {
		if errors.Is(e, known) {
			return true
		}
	}
	return false
}
