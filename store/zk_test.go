package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/internal/zktest"
	"github.com/horae-scheduler/horae/scheduler"
	"github.com/horae-scheduler/horae/store"
)

type campaignResult struct {
	term store.Term
	err  error
}

func campaign(ctx context.Context, s store.Store, id string) <-chan campaignResult {
	ch := make(chan campaignResult, 1)
	go func() {
		term, err := s.Campaign(ctx, store.Candidate{ID: id, APIURL: "http://" + id})
		ch <- campaignResult{term, err}
	}()
	return ch
}

func waitTerm(t *testing.T, ch <-chan campaignResult, who string) store.Term {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s campaign: %v", who, r.err)
		}
		return r.term
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not become leader within 30s", who)
	}
	return nil
}

func waitLeader(t *testing.T, s store.Store, id string) store.LeaderInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		li, err := s.Leader(context.Background())
		if err == nil && li.ID == id {
			return li
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader is not %s after 30s: %+v, %v", id, li, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestElectionThreeCandidates: three instances (own sessions) against a
// 3-server ensemble; one leads, the others wait on their predecessor; the
// death of a waiting predecessor hands over nothing, the death of the leader
// hands over to the next with a higher epoch, and deposed or waiting
// instances cannot commit.
func TestElectionThreeCandidates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server ensemble")
	}
	if raceEnabled {
		skipUpstreamRace(t) // a leader's death makes the others reconnect
	}
	ens := zktest.StartEnsemble(t, 3)
	url := "zk://" + strings.Join(ens.Addrs(), ",") + "/election-test"
	ctx := ctxT(t)
	var stores [3]store.Store
	for i := range stores {
		stores[i] = open(t, store.Config{URL: url, ZKSessionTimeout: 4 * time.Second})
	}
	a := waitTerm(t, campaign(ctx, stores[0], "a"), "a")
	waitLeader(t, stores[0], "a")
	bCh := campaign(ctx, stores[1], "b")
	// b must have its candidate before c, so c's predecessor is b.
	waitCandidates(t, ens.Addrs(), "/election-test/election", 2)
	cCh := campaign(ctx, stores[2], "c")
	waitCandidates(t, ens.Addrs(), "/election-test/election", 3)

	for i, s := range stores {
		li := waitLeader(t, s, "a")
		if li.Epoch != a.Epoch() {
			t.Fatalf("store %d sees epoch %d, want %d", i, li.Epoch, a.Epoch())
		}
	}
	if err := stores[0].Commit(ctx, a.Epoch(), []R{scheduler.PutJob{Job: job("j")}}); err != nil {
		t.Fatalf("leader commit: %v", err)
	}
	if err := stores[2].Commit(ctx, a.Epoch(), []R{scheduler.PutJob{Job: job("j")}}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("follower commit with the leader's epoch: err = %v, want ErrFenced", err)
	}

	// b (c's predecessor) dies: c now waits on a and must not lead.
	stores[1].Close()
	if r := <-bCh; r.err == nil {
		t.Fatal("closed store's campaign returned a term")
	}
	waitCandidates(t, ens.Addrs(), "/election-test/election", 2)
	if li := waitLeader(t, stores[2], "a"); li.Epoch != a.Epoch() {
		t.Fatalf("epoch changed to %d while a leads", li.Epoch)
	}
	select {
	case r := <-cCh:
		t.Fatalf("c leads while a does: %+v", r)
	default:
	}

	// The leader dies: c takes over with the next epoch and a's writes
	// are fenced.
	stores[0].Close()
	if !closed(a.Lost()) {
		t.Fatal("a's term not lost after Close")
	}
	c := waitTerm(t, cCh, "c")
	if c.Epoch() != a.Epoch()+1 {
		t.Fatalf("c epoch %d, want %d", c.Epoch(), a.Epoch()+1)
	}
	waitLeader(t, stores[2], "c")
	if err := stores[2].Commit(ctx, c.Epoch(), []R{scheduler.PutCursor{Cursor: cursor("j", 1)}}); err != nil {
		t.Fatalf("new leader commit: %v", err)
	}
	st, err := stores[2].Load(ctx)
	if err != nil || len(st.Jobs) != 1 || len(st.Cursors) != 1 {
		t.Fatalf("new leader load = %+v, %v; want the old leader's job and its cursor", st, err)
	}

	// A ZooKeeper server going away does not end the term's session.
	ens.Server(0).Stop()
	if err := stores[2].Commit(ctx, c.Epoch(), []R{scheduler.PutCursor{Cursor: cursor("j", 2)}}); err != nil {
		t.Fatalf("commit with one ZooKeeper server down: %v", err)
	}
}

func waitCandidates(t *testing.T, addrs []string, dir string, n int) {
	t.Helper()
	c, _, err := zk.Connect(addrs, 2*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		kids, _, err := c.Children(dir)
		if err == nil && len(kids) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %v (%v), want %d candidates", dir, kids, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// testExpiredLeaderIsFenced: a leader cut off from ZooKeeper (blackholed
// TCP path, longer than the session timeout) loses its term as soon as it is
// disconnected; another instance takes over; when the old leader's path
// comes back, its commit fails with ErrFenced at ZooKeeper (its candidate is
// gone), and it can campaign again behind the new leader.
func testExpiredLeaderIsFenced(t *testing.T, srv *zktest.Server) {
	proxy := zktest.NewProxy(t, srv.Addr())
	ctx := ctxT(t)
	cfg := func(addr string) store.Config {
		return store.Config{URL: "zk://" + addr + "/fence", ZKSessionTimeout: 4 * time.Second}
	}
	old := open(t, cfg(proxy.Addr()))
	next := open(t, cfg(srv.Addr()))
	a := waitTerm(t, campaign(ctx, old, "old"), "old")
	if err := old.Commit(ctx, a.Epoch(), []R{scheduler.PutJob{Job: job("j")}}); err != nil {
		t.Fatal(err)
	}
	bCh := campaign(ctx, next, "next")

	proxy.Blackhole()
	select {
	case <-a.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("term not lost after the connection went silent")
	}
	b := waitTerm(t, bCh, "next")
	if b.Epoch() <= a.Epoch() {
		t.Fatalf("new epoch %d not above %d", b.Epoch(), a.Epoch())
	}
	if err := next.Commit(ctx, b.Epoch(), []R{scheduler.PutCursor{Cursor: cursor("j", 1)}}); err != nil {
		t.Fatal(err)
	}
	proxy.Restore()
	// Resumed: the old instance reaches ZooKeeper again (with a new
	// session) and sees the new leader.
	li := waitLeader(t, old, "next")
	if li.Epoch != b.Epoch() {
		t.Fatalf("old instance sees epoch %d, want %d", li.Epoch, b.Epoch())
	}
	err := old.Commit(ctx, a.Epoch(), []R{scheduler.PutCursor{Cursor: cursor("j", 99)}})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("deposed leader commit: err = %v, want ErrFenced", err)
	}
	// Fenced by ZooKeeper itself: the check of its candidate failed.
	if !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrSessionExpired) {
		t.Fatalf("deposed leader commit: err = %v, want the candidate check to fail at ZooKeeper", err)
	}
	t.Logf("deposed leader commit: %v", err)
	if err := old.SetFrameworkID(ctx, a.Epoch(), "stale"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("deposed leader framework id: err = %v, want ErrFenced", err)
	}
	st, err := next.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Cursors) != 1 || st.Cursors[0].Generation != 1 {
		t.Fatalf("cursors = %+v, want only the new leader's write", st.Cursors)
	}
	// The old instance campaigns again and waits behind the new leader.
	cctx, cancel := context.WithCancel(ctx)
	againCh := campaign(cctx, old, "old")
	waitCandidates(t, []string{srv.Addr()}, "/fence/election", 2)
	cancel()
	if r := <-againCh; r.err == nil {
		t.Fatal("campaign behind a live leader returned a term")
	}
	// A cancelled campaign withdraws its candidate.
	waitCandidates(t, []string{srv.Addr()}, "/fence/election", 1)
}

// testDigestAuth: with zk-auth every created znode carries a digest ACL:
// a client without the credentials cannot read them, nor can a store with
// other credentials open.
func testDigestAuth(t *testing.T, srv *zktest.Server) {
	ctx := ctxT(t)
	url := "zk://" + srv.Addr() + "/secure"
	s := open(t, store.Config{URL: url, ZKAuth: "horae:s3cret"})
	term, err := s.Campaign(ctx, store.Candidate{ID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, term.Epoch(), []R{scheduler.PutJob{Job: job("a")}}); err != nil {
		t.Fatal(err)
	}
	c, _, err := zk.Connect([]string{srv.Addr()}, 2*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []string{"/secure/format", "/secure/leader", "/secure/jobs"} {
		if _, _, err := c.Get(p); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("unauthenticated get %s: err = %v, want ErrNoAuth", p, err)
		}
	}
	if _, err := store.Open(ctx, store.Config{URL: url, ZKAuth: "horae:wrong"}, logger(t)); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("open with wrong credentials: err = %v, want ErrNoAuth", err)
	}
	s2 := open(t, store.Config{URL: url, ZKAuth: "horae:s3cret"})
	st, err := s2.Load(ctx)
	if err != nil || len(st.Jobs) != 1 {
		t.Fatalf("load with the right credentials = %+v, %v", st, err)
	}
}

// testZooKeeperRestart: the server restarts under an open store; the session
// survives (the server restores it), writes go on and nothing is lost.
func testZooKeeperRestart(t *testing.T, srv *zktest.Server) {
	ctx := ctxT(t)
	cfg := store.Config{URL: "zk://" + srv.Addr() + "/restart", ZKSessionTimeout: 4 * time.Second}
	s := open(t, cfg)
	term, err := s.Campaign(ctx, store.Candidate{ID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []R{scheduler.PutJob{Job: job("a")}, scheduler.PutRun{Run: run("a", "a@1", scheduler.RunRunning)}}
	if err := s.Commit(ctx, term.Epoch(), want); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Restart()
	st, err := s.Load(ctx)
	if err != nil || len(st.Jobs) != 1 || len(st.Runs) != 1 {
		t.Fatalf("load after server restart = %+v, %v", st, err)
	}
	s.Close()
	s = open(t, cfg)
	t2, err := s.Campaign(ctx, store.Candidate{ID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	if t2.Epoch() <= term.Epoch() {
		t.Fatalf("epoch after restart %d, not above %d", t2.Epoch(), term.Epoch())
	}
	st, err = s.Load(ctx)
	if err != nil || len(st.Jobs) != 1 || len(st.Runs) != 1 {
		t.Fatalf("load after store restart = %+v, %v", st, err)
	}
}

// testLargeBatchIsSplit: a batch over jute.maxbuffer goes in several fenced
// Multis and arrives whole; a normal batch is one write request.
func testLargeBatchIsSplit(t *testing.T, srv *zktest.Server) {
	ctx := ctxT(t)
	reg := prometheus.NewRegistry()
	s := open(t, store.Config{URL: "zk://" + srv.Addr() + "/split", Registerer: reg})
	term, err := s.Campaign(ctx, store.Candidate{ID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	writes := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "horae_store_zk_write_requests_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no horae_store_zk_write_requests_total")
		return 0
	}
	var batch []R
	for i := 0; i < 12; i++ {
		j := job(fmt.Sprintf("big-%02d", i))
		j.Command = strings.Repeat("y", 200<<10)
		batch = append(batch, scheduler.PutJob{Job: j})
	}
	before := writes()
	if err := s.Commit(ctx, term.Epoch(), batch); err != nil {
		t.Fatal(err)
	}
	if n := writes() - before; n < 3 {
		t.Fatalf("2.4 MiB batch took %v write requests, want it split in at least 3", n)
	}
	st, err := s.Load(ctx)
	if err != nil || len(st.Jobs) != 12 {
		t.Fatalf("load = %d jobs, %v; want 12", len(st.Jobs), err)
	}
	before = writes()
	small := []R{scheduler.PutRun{Run: run("big-00", "r1", scheduler.RunLaunching)}, scheduler.PutCursor{Cursor: cursor("big-00", 1)}}
	if err := s.Commit(ctx, term.Epoch(), small); err != nil {
		t.Fatal(err)
	}
	if n := writes() - before; n != 1 {
		t.Fatalf("small batch took %v write requests, want 1", n)
	}
}

// testLoadManyJobs: a store with enough jobs that Load reads through extra
// connections (authenticated and synced like the store's own) loads every
// job, cursor and run.
func testLoadManyJobs(t *testing.T, srv *zktest.Server) {
	ctx := ctxT(t)
	cfg := store.Config{URL: "zk://" + srv.Addr() + "/many", ZKAuth: "horae:many", ZKSessionTimeout: 4 * time.Second}
	s := open(t, cfg)
	term, err := s.Campaign(ctx, store.Candidate{ID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2100
	for i := 0; i < n; i += 300 {
		var batch []R
		for j := i; j < i+300 && j < n; j++ {
			name := fmt.Sprintf("job-%05d", j)
			batch = append(batch, scheduler.PutJob{Job: job(name)}, scheduler.PutCursor{Cursor: cursor(name, int64(j))})
			if j%100 == 0 {
				batch = append(batch, scheduler.PutRun{Run: run(name, name+"@1", scheduler.RunRunning)})
			}
		}
		if err := s.Commit(ctx, term.Epoch(), batch); err != nil {
			t.Fatal(err)
		}
	}
	other := open(t, cfg)
	st, err := other.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Jobs) != n || len(st.Cursors) != n || len(st.Runs) != n/100 {
		t.Fatalf("loaded %d jobs, %d cursors, %d runs; want %d, %d, %d", len(st.Jobs), len(st.Cursors), len(st.Runs), n, n, n/100)
	}
	if st.Cursors[1234].Generation != 1234 || st.Jobs[1234].Name != "job-01234" {
		t.Fatalf("job 1234 loaded as %q with generation %d", st.Jobs[1234].Name, st.Cursors[1234].Generation)
	}
}

// testDisconnectEndsTerm: a Disconnected ends the term at once (leadership
// is in doubt), whether or not the session survives; campaigning again gives
// a new term with a higher epoch, and the old epoch is fenced.
func testDisconnectEndsTerm(t *testing.T, srv *zktest.Server) {
	ctx := ctxT(t)
	proxy := zktest.NewProxy(t, srv.Addr())
	s := open(t, store.Config{URL: "zk://" + proxy.Addr() + "/disconnect", ZKSessionTimeout: 4 * time.Second})
	self := store.Candidate{ID: "i1"}
	t1, err := s.Campaign(ctx, self)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, t1.Epoch(), []R{scheduler.PutJob{Job: job("a")}}); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	select {
	case <-t1.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("term not lost after the connection went silent")
	}
	proxy.Restore()
	t2, err := s.Campaign(ctx, self)
	if err != nil {
		t.Fatal(err)
	}
	if t2.Epoch() <= t1.Epoch() {
		t.Fatalf("term after a disconnect has epoch %d, not above %d", t2.Epoch(), t1.Epoch())
	}
	if err := s.Commit(ctx, t1.Epoch(), []R{scheduler.PutCursor{Cursor: cursor("a", 1)}}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("commit with the ended term's epoch: err = %v, want ErrFenced", err)
	}
	if err := s.Commit(ctx, t2.Epoch(), []R{scheduler.PutCursor{Cursor: cursor("a", 2)}}); err != nil {
		t.Fatalf("commit in the new term: %v", err)
	}
	st, err := s.Load(ctx)
	if err != nil || len(st.Cursors) != 1 || st.Cursors[0].Generation != 2 {
		t.Fatalf("load = %+v, %v; want the new term's cursor only", st.Cursors, err)
	}
}
