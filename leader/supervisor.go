package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// Term is one leadership term won in an election.
type Term interface {
	Epoch() int64
	// Lost is closed as soon as leadership is in doubt or gone.
	Lost() <-chan struct{}
	Resign(ctx context.Context) error
}

// Framework is the Mesos connection of a term: Run subscribes and sends
// Mesos events until ctx ends; the Mesos methods carry out actions.
type Framework interface {
	Mesos
	Run(ctx context.Context, out chan<- scheduler.Event) error
}

// Resetter is a read model that can be replaced wholesale with the state a
// new term starts from.
type Resetter interface {
	Publisher
	Reset(state scheduler.State)
}

// SupervisorConfig wires a Supervisor.
type SupervisorConfig struct {
	// Elect blocks until this instance leads, then returns the term.
	Elect func(ctx context.Context) (Term, error)
	// Load reads the state the store holds.
	Load func(ctx context.Context) (scheduler.State, error)
	// NewEngine makes a fresh engine for each term.
	NewEngine func() Engine
	Store     Persister
	Framework Framework
	ReadModel Resetter // may be nil
	Notifier  Notifier // may be nil
	Metrics   *Metrics // may be nil
	Logger    *slog.Logger
	Now       func() time.Time
	// RetryDelay is the pause after a failed election or load; default 1 s.
	RetryDelay time.Duration
	// CommitLinger is Deps.CommitLinger for every term's loop.
	CommitLinger time.Duration
	// OnLeadership, when set, is told when a term starts leading and when
	// it ends (for the event stream). It must not block.
	OnLeadership func(epoch int64, leading bool)
}

// Supervisor campaigns for leadership and runs one Loop per term won, until
// its context ends. It is the Commander the API sends commands through.
type Supervisor struct {
	cfg     SupervisorConfig
	logger  *slog.Logger
	current atomic.Pointer[Loop]

	// mu guards leading: true from the moment a term is won until it ends,
	// so follower-side work (IfFollower) never overlaps a term.
	mu      sync.Mutex
	leading bool
}

// IfFollower runs f only while no term is starting or running, and keeps
// a term from starting until f returns. Followers use it to replace the
// read model without racing a term that resets it.
func (s *Supervisor) IfFollower(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leading {
		return false
	}
	f()
	return true
}

func (s *Supervisor) setLeading(on bool) {
	s.mu.Lock()
	s.leading = on
	s.mu.Unlock()
}

// NewSupervisor checks cfg and returns a Supervisor; start it with Run.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	switch {
	case cfg.Elect == nil:
		return nil, errors.New("leader: supervisor needs Elect")
	case cfg.Load == nil:
		return nil, errors.New("leader: supervisor needs Load")
	case cfg.NewEngine == nil:
		return nil, errors.New("leader: supervisor needs NewEngine")
	case cfg.Store == nil:
		return nil, errors.New("leader: supervisor needs Store")
	case cfg.Framework == nil:
		return nil, errors.New("leader: supervisor needs Framework")
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{cfg: cfg, logger: logger}, nil
}

// IsLeader reports whether a term's loop is running now.
func (s *Supervisor) IsLeader() bool { return s.current.Load() != nil }

// Do sends a command to the current term's engine; ErrNotLeader when none.
func (s *Supervisor) Do(ctx context.Context, ev scheduler.Event) (scheduler.Output, error) {
	l := s.current.Load()
	if l == nil {
		return scheduler.Output{}, ErrNotLeader
	}
	return l.Do(ctx, ev)
}

// Run campaigns and leads, term after term, until ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		term, err := s.cfg.Elect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.logger.Warn("election failed", "err", err)
			sleep(ctx, s.cfg.RetryDelay)
			continue
		}
		if err := s.lead(ctx, term); err != nil && ctx.Err() == nil {
			s.logger.Warn("leadership term ended", "epoch", term.Epoch(), "err", err)
			sleep(ctx, s.cfg.RetryDelay)
		}
	}
	return nil
}

// lead runs one term: load, start the engine, connect to Mesos, loop until
// the term is lost, ctx ends or a commit fails.
func (s *Supervisor) lead(ctx context.Context, term Term) (err error) {
	epoch := term.Epoch()
	logger := s.logger.With("epoch", epoch)
	s.setLeading(true)
	defer s.setLeading(false)
	termCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		if ctx.Err() != nil {
			// Shutting down: hand over at once instead of waiting for the
			// session to expire.
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			if rerr := term.Resign(rctx); rerr != nil {
				logger.Warn("resign leadership", "err", rerr)
			}
			rcancel()
		}
		s.cfg.Metrics.leading(false)
		if s.cfg.OnLeadership != nil {
			s.cfg.OnLeadership(epoch, false)
		}
		logger.Info("leadership term over")
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-term.Lost():
			logger.Warn("leadership lost")
			cancel()
		case <-termCtx.Done():
		}
	}()

	state, err := s.cfg.Load(termCtx)
	if err != nil {
		return fmt.Errorf("leader: load state: %w", err)
	}
	if s.cfg.ReadModel != nil {
		s.cfg.ReadModel.Reset(state)
	}
	events := make(chan scheduler.Event, 1024)
	loop := New(epoch, events, Deps{
		Engine:    s.cfg.NewEngine(),
		Store:     s.cfg.Store,
		Mesos:     s.cfg.Framework,
		Publisher: s.cfg.ReadModel,
		Notifier:  s.cfg.Notifier,
		Metrics:   s.cfg.Metrics,
		Logger:    s.logger,
		Now:       s.cfg.Now,

		CommitLinger: s.cfg.CommitLinger,
	})
	if err := loop.Start(termCtx, state); err != nil {
		return fmt.Errorf("leader: start term: %w", err)
	}
	logger.Info("leading", "jobs", len(state.Jobs), "runs", len(state.Runs))
	s.cfg.Metrics.leading(true)
	if s.cfg.OnLeadership != nil {
		s.cfg.OnLeadership(epoch, true)
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.cfg.Framework.Run(termCtx, events); err != nil && termCtx.Err() == nil {
			logger.Error("mesos framework stopped", "err", err)
			cancel()
		}
	}()
	s.current.Store(loop)
	defer s.current.Store(nil)
	return loop.Run(termCtx)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Fanout hands every committed batch and every reset to several read
// models, in order.
type Fanout []Resetter

// Apply implements Publisher.
func (f Fanout) Apply(records []scheduler.Record) {
	for _, r := range f {
		r.Apply(records)
	}
}

// Reset implements Resetter.
func (f Fanout) Reset(state scheduler.State) {
	for _, r := range f {
		r.Reset(state)
	}
}
