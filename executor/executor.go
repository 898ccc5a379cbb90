package executor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	mesosexec "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/calls"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpexec"

	"github.com/horae-scheduler/horae/taskspec"
)

// Defaults of Config.
const (
	DefaultOutputLimit = 64 << 20
	DefaultKillGrace   = 3 * time.Second
	DefaultHTTPTimeout = 10 * time.Second
)

// Config is the executor's configuration: what the agent says in the
// environment (Mesos, from mesos-go's config.FromEnv) plus Horae's options.
type Config struct {
	// Mesos is the agent's executor environment (MESOS_*).
	Mesos config.Config
	// OutputLimit caps each of a task's stdout and stderr files, in bytes;
	// one rotation (stdout.1) is kept, so a stream uses at most twice this.
	// A spec's OutputLimitBytes overrides it. 0 = DefaultOutputLimit.
	OutputLimit int64
	// TailBytes is how much of the end of each stream the terminal status
	// carries. 0 = taskspec.TailBytes.
	TailBytes int
	// KillGrace is the SIGTERM→SIGKILL grace when neither the kill policy
	// nor the spec gives one. 0 = DefaultKillGrace.
	KillGrace time.Duration
	// HTTPTimeout bounds each call to the agent. 0 = DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// Guard starts a helper process that kills the tasks' process groups
	// if the executor dies without doing it (see docs/executor.md). The
	// horae executor command turns it on.
	Guard bool
	// Subreaper makes the executor the child subreaper of its process
	// tree, so that a task's processes that left its process group
	// (setsid daemons) are re-parented to the executor, which kills them
	// once no task is running. It affects the whole process: only for
	// the executor's own process (the horae executor command turns it on).
	Subreaper bool
	// IdleTimeout keeps the executor up this long after its last task ended
	// and every update was acknowledged, so that a shared executor (one per
	// framework and agent, named by many tasks) takes the next LAUNCH
	// instead of exiting between tasks. 0 = exit at once (per-task mode).
	// The ExecutorInfo's label LabelIdleTimeout, when present, overrides
	// it: that is how the scheduler asks for a shared executor. A LAUNCH
	// that the agent sends while the executor is exiting is failed by the
	// agent (executor terminated), as Mesos does.
	IdleTimeout time.Duration
	// RetainTasks and RetainFor bound the finished tasks' output
	// directories (task-<id>) a shared executor keeps in its sandbox, so
	// that `horae job logs` and the agent's /files/read still find a run's
	// output after it ended while a long-lived executor does not fill the
	// disk: a finished task's directory is removed once it is older than
	// RetainFor or once RetainTasks newer ones are kept. A running task's
	// directory is never removed; a per-task executor (IdleTimeout 0)
	// removes nothing. The ExecutorInfo's labels LabelRetainTasks and
	// LabelRetainFor override them. 0 = DefaultRetainTasks,
	// DefaultRetainFor.
	RetainTasks int
	RetainFor   time.Duration
}

func (c Config) withDefaults() Config {
	if c.OutputLimit == 0 {
		c.OutputLimit = DefaultOutputLimit
	}
	if c.TailBytes == 0 {
		c.TailBytes = taskspec.TailBytes
	}
	if c.KillGrace == 0 {
		c.KillGrace = DefaultKillGrace
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.RetainTasks == 0 {
		c.RetainTasks = DefaultRetainTasks
	}
	if c.RetainFor == 0 {
		c.RetainFor = DefaultRetainFor
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Mesos.FrameworkID == "":
		return errors.New("executor config: MESOS_FRAMEWORK_ID is empty")
	case c.Mesos.ExecutorID == "":
		return errors.New("executor config: MESOS_EXECUTOR_ID is empty")
	case c.Mesos.AgentEndpoint == "":
		return errors.New("executor config: MESOS_AGENT_ENDPOINT is empty")
	case c.Mesos.Sandbox == "":
		return errors.New("executor config: MESOS_SANDBOX is empty")
	case c.OutputLimit < 0:
		return fmt.Errorf("executor config: output limit %d: must not be negative", c.OutputLimit)
	case c.TailBytes < 0:
		return fmt.Errorf("executor config: tail bytes %d: must not be negative", c.TailBytes)
	case c.IdleTimeout < 0:
		return fmt.Errorf("executor config: idle timeout %v: must not be negative", c.IdleTimeout)
	case c.RetainTasks < 0:
		return fmt.Errorf("executor config: retain tasks %d: must not be negative", c.RetainTasks)
	case c.RetainFor < 0:
		return fmt.Errorf("executor config: retain for %v: must not be negative", c.RetainFor)
	case c.KillGrace < 0:
		return fmt.Errorf("executor config: kill grace %v: must not be negative", c.KillGrace)
	case c.Mesos.Checkpoint && c.Mesos.SubscriptionBackoffMax <= 0:
		return fmt.Errorf("executor config: MESOS_SUBSCRIPTION_BACKOFF_MAX %v: must be positive with checkpointing", c.Mesos.SubscriptionBackoffMax)
	}
	return nil
}

// LabelIdleTimeout is the ExecutorInfo label (a Go duration) by which the
// scheduler sets a shared executor's idle timeout; package framework sets
// it under the same literal.
const LabelIdleTimeout = "horae.executor.idle-timeout"

// ErrAgentLost is returned by Run when the agent connection was lost and
// could not be re-established (no checkpointing, or the recovery timeout
// passed). The tasks were killed.
var ErrAgentLost = errors.New("executor: agent connection lost")

// task is one task this executor was given.
type task struct {
	info     mesos.TaskInfo
	runner   *runner // nil when it never started
	grace    time.Duration
	terminal bool   // its terminal update was produced
	dir      string // its output directory as the executor writes it; "" if none
	held     *held  // set while the task waits for its spec's StartAt
}

// held is a task launched ahead of its start time (taskspec StartAt):
// everything needed to start it when its timer fires.
type held struct {
	ps         procSpec
	maxRuntime time.Duration
	hostDir    string
	until      time.Time
	timer      *time.Timer
}

// maxStartHold bounds how long a task is held for its StartAt: the
// scheduler launches at most about a second ahead, so a longer wait means
// clocks disagree, and the task then starts at this bound rather than as
// late as the skew says.
const maxStartHold = 10 * time.Second

// pending is an update not yet acknowledged by the agent.
type pending struct {
	update mesosexec.Call_Update
	sent   bool // the agent has it (sent, or handed over at SUBSCRIBE)
	queued bool // in the outbox, not yet answered
}

// streamEvent is one decoded event or the end of a subscription.
type streamEvent struct {
	sub int
	ev  *mesosexec.Event
	err error
}

// state is the executor; its fields are owned by the Run goroutine.
type state struct {
	cfg        Config
	log        *slog.Logger
	subscriber calls.Sender
	sender     calls.Sender
	guard      *guard

	execInfo  mesos.ExecutorInfo
	agentHost string

	tasks        map[string]*task
	order        []string // task ids in launch order
	unackedTasks map[string]bool
	unacked      []*pending
	out          *outbox // sends unacked updates off the event loop
	inFlight     int     // updates in the outbox
	sendHalted   bool    // a send failed: wait for the rest, then resend in order
	exiting      bool    // sends are made inline (no loop left to answer them)
	seenTask     bool
	kept         retention // finished tasks' output directories

	shutdown      bool
	shutdownUntil time.Time

	done   chan string   // task id of a runner that finished
	starts chan string   // task id of a held task whose start time came
	quit   chan struct{} // closed when Run returns
}

// Run runs the executor until its tasks are done and acknowledged, the
// agent shuts it down, the agent is lost for good, or ctx ends (then it
// kills its tasks, reports them, and returns ctx's error).
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	endpoint := url.URL{Scheme: "http", Host: cfg.Mesos.AgentEndpoint, Path: "/api/v1/executor"}
	cli := httpcli.New(
		httpcli.Endpoint(endpoint.String()),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(httpcli.Timeout(cfg.HTTPTimeout))),
	)
	opts := mesosexec.CallOptions{calls.Framework(cfg.Mesos.FrameworkID), calls.Executor(cfg.Mesos.ExecutorID)}
	s := &state{
		cfg:          cfg,
		log:          logger.With("executor", cfg.Mesos.ExecutorID),
		subscriber:   calls.SenderWith(httpexec.NewSender(cli.Send, httpcli.Close(true)), opts...),
		sender:       calls.SenderWith(httpexec.NewSender(cli.Send), opts...),
		tasks:        map[string]*task{},
		unackedTasks: map[string]bool{},
		done:         make(chan string),
		starts:       make(chan string),
		quit:         make(chan struct{}),
		agentHost:    hostname(),
		kept:         retention{max: cfg.RetainTasks, ttl: cfg.RetainFor},
	}
	s.execInfo.ExecutorID = mesos.ExecutorID{Value: cfg.Mesos.ExecutorID}
	s.out = newOutbox(s.sendUpdate)
	if cfg.Subreaper {
		if err := becomeSubreaper(); err != nil {
			return fmt.Errorf("executor: %w", err)
		}
	}
	if cfg.Guard {
		g, err := startGuard(s.log)
		if err != nil {
			return err
		}
		s.guard = g
		defer func() {
			gctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.guard.stop(gctx)
		}()
	}
	defer close(s.quit)
	s.log.Info("executor starting", "agent", cfg.Mesos.AgentEndpoint, "checkpoint", cfg.Mesos.Checkpoint)
	return s.run(ctx)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

func (s *state) run(ctx context.Context) error {
	octx, stopOutbox := context.WithCancel(ctx)
	defer stopOutbox()
	go s.out.run(octx)
	var (
		events   = make(chan streamEvent)
		sub      = 0 // id of the current subscription; 0 = none
		subs     = 0 // subscriptions made
		cancel   context.CancelFunc
		readers  = make(chan struct{}, 1) // a reader goroutine ended
		running  = 0                      // reader goroutines alive
		lostAt   = time.Now()             // disconnected since
		backoff  = time.Duration(0)
		retry    <-chan time.Time
		resend   = time.NewTicker(time.Second)
		deadline <-chan time.Time
		idle     *time.Timer // armed while idle in a shared executor
		idleC    <-chan time.Time
		expire   *time.Timer // armed for the oldest kept output directory
		expireC  <-chan time.Time
		expireAt time.Time
	)
	defer resend.Stop()
	defer func() {
		if idle != nil {
			idle.Stop()
		}
		if expire != nil {
			expire.Stop()
		}
	}()
	endSub := func() {
		if cancel != nil {
			cancel()
			cancel = nil
		}
		sub = 0
	}
	defer func() {
		endSub()
		for ; running > 0; running-- {
			// Readers hand over their last event or give up on the cancel.
			<-readers
		}
	}()
	connect := func() {
		backoff = 0
		retry = nil
		sctx, scancel := context.WithCancel(ctx)
		call := calls.Subscribe(s.unackedTaskInfos(), s.unackedUpdates())
		resp, err := s.subscriber.Send(sctx, calls.NonStreaming(call))
		if err != nil {
			if resp != nil {
				_ = resp.Close()
			}
			scancel()
			s.log.Warn("subscribe to agent failed", "err", err)
			return
		}
		for _, p := range s.unacked {
			p.sent = true // the agent has them from SUBSCRIBE
		}
		subs++
		sub = subs
		cancel = scancel
		running++
		go readEvents(sctx, sub, resp, events, readers)
	}
	lost := func() error {
		if !s.cfg.Mesos.Checkpoint {
			return fmt.Errorf("%w: framework checkpointing is off, so the executor does not wait for the agent to recover", ErrAgentLost)
		}
		if time.Since(lostAt) > s.cfg.Mesos.RecoveryTimeout {
			return fmt.Errorf("%w: not re-subscribed within the recovery timeout %v", ErrAgentLost, s.cfg.Mesos.RecoveryTimeout)
		}
		return nil
	}
	scheduleRetry := func() {
		most := s.cfg.Mesos.SubscriptionBackoffMax
		if most <= 0 {
			most = 2 * time.Second
		}
		switch {
		case backoff == 0:
			backoff = most / 8
		case backoff < most:
			backoff = min(2*backoff, most)
		}
		backoff = max(backoff, 10*time.Millisecond)
		retry = time.After(backoff)
	}

	connect()
	if sub == 0 {
		// The very first subscription failing means no agent to talk to.
		if err := lost(); err != nil {
			return err
		}
		scheduleRetry()
	}
	for {
		if s.finished() {
			if s.shutdown || s.cfg.IdleTimeout <= 0 {
				s.log.Info("all tasks done and acknowledged; exiting")
				return nil
			}
			if idleC == nil {
				s.log.Debug("idle; waiting for tasks", "timeout", s.cfg.IdleTimeout)
				idle = time.NewTimer(s.cfg.IdleTimeout)
				idleC = idle.C
			}
		} else if idleC != nil {
			idle.Stop()
			idle, idleC = nil, nil
		}
		if next := s.kept.next(); !next.Equal(expireAt) {
			if expire != nil {
				expire.Stop()
				expire, expireC = nil, nil
			}
			expireAt = next
			if !next.IsZero() {
				expire = time.NewTimer(time.Until(next))
				expireC = expire.C
			}
		}
		select {
		case <-ctx.Done():
			s.log.Info("executor stopping", "err", ctx.Err())
			endSub()
			s.killAll(endShutdown, s.cfg.KillGrace)
			s.awaitTasks(s.cfg.KillGrace + 2*copyDrainTimeout)
			return ctx.Err()

		case <-readers:
			running--

		case se := <-events:
			if se.sub != sub {
				continue // from a subscription already ended
			}
			if se.err != nil {
				if s.shutdown {
					endSub()
					continue
				}
				s.log.Warn("agent connection lost", "err", se.err)
				endSub()
				lostAt = time.Now()
				if err := lost(); err != nil {
					s.killAll(endShutdown, 0)
					s.awaitTasks(2 * copyDrainTimeout)
					return err
				}
				scheduleRetry()
				continue
			}
			if again := s.handle(ctx, se.ev); again {
				// ERROR from the agent: drop this subscription, subscribe anew.
				endSub()
				lostAt = time.Now()
				scheduleRetry()
			}
			if s.shutdown && deadline == nil {
				deadline = time.After(time.Until(s.shutdownUntil))
			}

		case id := <-s.done:
			s.finish(ctx, id)

		case id := <-s.starts:
			s.startHeld(ctx, id)

		case <-retry:
			retry = nil
			connect()
			if sub == 0 {
				if err := lost(); err != nil {
					s.killAll(endShutdown, 0)
					s.awaitTasks(2 * copyDrainTimeout)
					return err
				}
				scheduleRetry()
			}

		case r := <-s.out.results:
			s.delivered(r)

		case <-resend.C:
			if sub != 0 {
				s.flush(ctx)
			}

		case <-expireC:
			expire, expireC, expireAt = nil, nil, time.Time{}
			s.sweep()

		case <-idleC:
			s.log.Info("idle timeout over with no task; exiting", "timeout", s.cfg.IdleTimeout)
			return nil

		case <-deadline:
			s.log.Warn("shutdown grace period over; exiting", "unacknowledged", len(s.unacked))
			s.exiting = true
			s.flushAtExit()
			return nil
		}
	}
}

// readEvents decodes events of one subscription until it fails.
func readEvents(ctx context.Context, sub int, resp mesos.Response, out chan<- streamEvent, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	defer resp.Close()
	for {
		var ev mesosexec.Event
		err := resp.Decode(&ev)
		if err != nil {
			err = fmt.Errorf("read agent events: %w", err)
		}
		select {
		case out <- streamEvent{sub: sub, ev: &ev, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// finished: the executor has nothing left to do.
func (s *state) finished() bool {
	if !s.seenTask && !s.shutdown {
		return false
	}
	for _, t := range s.tasks {
		if !t.terminal {
			return false
		}
	}
	return len(s.unacked) == 0
}

// handle acts on one event; it returns true when the subscription must be
// replaced (ERROR).
func (s *state) handle(ctx context.Context, ev *mesosexec.Event) bool {
	switch ev.GetType() {
	case mesosexec.Event_SUBSCRIBED:
		sub := ev.GetSubscribed()
		s.execInfo = sub.ExecutorInfo
		s.applyLabels(sub.ExecutorInfo.GetLabels().GetLabels())
		if h := sub.AgentInfo.GetHostname(); h != "" {
			s.agentHost = h
		}
		s.log.Info("subscribed", "agent", sub.AgentInfo.GetID().GetValue(), "framework", sub.FrameworkInfo.GetName())
		s.flush(ctx)
	case mesosexec.Event_LAUNCH:
		s.launch(ctx, ev.GetLaunch().Task)
	case mesosexec.Event_LAUNCH_GROUP:
		for _, ti := range ev.GetLaunchGroup().TaskGroup.Tasks {
			s.reject(ctx, ti, "task groups (LAUNCH_GROUP) are not supported by the Horae executor; launch each task with LAUNCH",
				mesos.REASON_TASK_GROUP_INVALID.Enum())
		}
	case mesosexec.Event_KILL:
		k := ev.GetKill()
		s.kill(ctx, k.TaskID.Value, k.GetKillPolicy())
	case mesosexec.Event_ACKNOWLEDGED:
		a := ev.GetAcknowledged()
		s.acknowledged(a.TaskID.Value, a.UUID)
	case mesosexec.Event_MESSAGE:
		s.log.Info("message from the scheduler ignored", "bytes", len(ev.GetMessage().Data))
	case mesosexec.Event_SHUTDOWN:
		s.startShutdown(ctx)
	case mesosexec.Event_ERROR:
		s.log.Warn("error event from the agent; subscribing again", "err", ev.GetError().Message)
		return true
	case mesosexec.Event_HEARTBEAT:
		s.log.Debug("heartbeat")
	default:
		s.log.Warn("unknown event type ignored", "type", ev.GetType().String())
	}
	return false
}

// applyLabels takes the settings the scheduler passes as ExecutorInfo
// labels (LabelIdleTimeout, LabelRetainTasks, LabelRetainFor); an invalid
// value is logged and the configured one kept.
func (s *state) applyLabels(labels []mesos.Label) {
	for _, l := range labels {
		v := l.GetValue()
		ok := true
		switch l.Key {
		case LabelIdleTimeout:
			d, err := time.ParseDuration(v)
			if ok = err == nil && d >= 0; ok {
				s.cfg.IdleTimeout = d
			}
		case LabelRetainFor:
			d, err := time.ParseDuration(v)
			if ok = err == nil && d > 0; ok {
				s.cfg.RetainFor = d
			}
		case LabelRetainTasks:
			n, err := strconv.Atoi(v)
			if ok = err == nil && n > 0; ok {
				s.cfg.RetainTasks = n
			}
		}
		if !ok {
			s.log.Warn("executor label ignored", "label", l.Key, "value", v)
		}
	}
	s.kept.max, s.kept.ttl = s.cfg.RetainTasks, s.cfg.RetainFor
}

// outputDirs returns where a task's output goes: the path the executor
// writes (inside the sandbox as the executor sees it) and the same
// directory as the agent sees it (MESOS_DIRECTORY), for Result.Directory.
func (s *state) outputDirs(taskID string) (string, string) {
	name := "task-" + sanitize(taskID)
	host := s.cfg.Mesos.Directory
	if host == "" {
		host = s.cfg.Mesos.Sandbox
	}
	return filepath.Join(s.cfg.Mesos.Sandbox, name), filepath.Join(host, name)
}

// runningData is TASK_RUNNING's data: a Result holding only the task's
// directory as the agent sees it, so that the scheduler can read the
// output of a running task through /files/read (the terminal Result
// carries it too, but a followed log needs it from the start).
func runningData(hostDir string) []byte {
	b, err := taskspec.Result{Directory: hostDir}.Marshal()
	if err != nil {
		panic(fmt.Sprintf("executor: encode running result: %v", err)) // a struct of strings and numbers
	}
	return b
}

// sanitize keeps a task id usable as one file name.
func sanitize(id string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == 0 || r == '\\':
			return '_'
		}
		return r
	}, id)
}

func durationInfo(d *mesos.DurationInfo) time.Duration {
	if d == nil || d.Nanoseconds < 0 {
		return 0
	}
	return time.Duration(d.Nanoseconds)
}

func (s *state) launch(ctx context.Context, ti mesos.TaskInfo) {
	id := ti.TaskID.Value
	if _, dup := s.tasks[id]; dup {
		s.log.Warn("duplicate launch ignored", "task", id)
		return
	}
	s.seenTask = true
	if s.shutdown {
		s.reject(ctx, ti, "executor is shutting down", nil)
		return
	}
	spec, err := taskspec.ParseSpec(ti.Data)
	if err != nil {
		s.reject(ctx, ti, "invalid task spec in TaskInfo.data: "+err.Error(), mesos.REASON_TASK_INVALID.Enum())
		return
	}
	outDir, hostDir := s.outputDirs(id)
	t := &task{info: ti, grace: s.cfg.KillGrace, dir: outDir}
	switch {
	case durationInfo(ti.GetKillPolicy().GetGracePeriod()) > 0:
		t.grace = durationInfo(ti.GetKillPolicy().GetGracePeriod())
	case spec.KillGraceMillis > 0:
		t.grace = time.Duration(spec.KillGraceMillis) * time.Millisecond
	}
	maxRuntime := time.Duration(spec.MaxRuntimeMillis) * time.Millisecond
	if m := durationInfo(ti.GetMaxCompletionTime()); m > 0 && (maxRuntime == 0 || m < maxRuntime) {
		maxRuntime = m
	}
	limit := s.cfg.OutputLimit
	if spec.OutputLimitBytes > 0 {
		limit = spec.OutputLimitBytes
	}
	env, err := taskEnv(os.Environ(), spec, id, s.agentHost)
	if err != nil {
		s.reject(ctx, ti, "invalid task spec in TaskInfo.data: "+err.Error(), mesos.REASON_TASK_INVALID.Enum())
		return
	}
	startAt, err := spec.StartTime()
	if err != nil {
		s.reject(ctx, ti, "invalid task spec in TaskInfo.data: "+err.Error(), mesos.REASON_TASK_INVALID.Enum())
		return
	}
	cred, u, err := credential(spec.User)
	if err != nil {
		s.reject(ctx, ti, err.Error(), nil)
		return
	}
	if u != nil {
		env = append(env, "HOME="+u.HomeDir, "USER="+u.Username, "LOGNAME="+u.Username)
	}
	s.add(t)
	// TASK_STARTING is produced now but sent after the fork, so that the
	// round trip to the agent does not delay the command.
	s.queue(ti.TaskID, mesos.TASK_STARTING, nil, "", nil)
	ps := procSpec{
		TaskID:      id,
		Spec:        spec,
		OutputDir:   outDir,
		WorkDir:     s.cfg.Mesos.Sandbox,
		Env:         env,
		OutputLimit: limit,
		TailBytes:   s.cfg.TailBytes,
		Cred:        cred,
	}
	if wait := min(time.Until(startAt), maxStartHold); wait > 0 {
		// Launched ahead of its start time: TASK_STARTING goes now, while
		// there is time, and the command starts when the timer fires.
		t.held = &held{ps: ps, maxRuntime: maxRuntime, hostDir: hostDir, until: startAt,
			timer: time.AfterFunc(wait, func() {
				select {
				case s.starts <- id:
				case <-s.quit:
				}
			})}
		s.log.Debug("task held until its start time", "task", id, "startAt", startAt, "wait", wait)
		s.flush(ctx)
		return
	}
	s.start(ctx, t, ps, maxRuntime, hostDir)
}

// startHeld starts a held task whose start time came, unless it was
// killed meanwhile.
func (s *state) startHeld(ctx context.Context, id string) {
	t, ok := s.tasks[id]
	if !ok || t.held == nil || t.terminal {
		return
	}
	h := t.held
	t.held = nil
	s.start(ctx, t, h.ps, h.maxRuntime, h.hostDir)
}

// start forks the task's command and reports it running.
func (s *state) start(ctx context.Context, t *task, ps procSpec, maxRuntime time.Duration, hostDir string) {
	ti, id, spec := t.info, ps.TaskID, ps.Spec
	r, err := startRunner(ps, maxRuntime, t.grace, hostDir)
	if err != nil {
		s.log.Info("task failed to start", "task", id, "err", err)
		s.terminal(ctx, t, startFailed(err.Error(), hostDir))
		return
	}
	t.runner = r
	s.guard.add(r.p.pgid)
	s.log.Info("task started", "task", id, "job", spec.Job, "run", spec.Run, "pid", r.p.pgid)
	// Stamped with the moment the command was exec'd, not with now: the
	// scheduler reports it as the run's start.
	s.queueAt(r.p.running, ti.TaskID, mesos.TASK_RUNNING, nil, "", runningData(hostDir))
	s.flush(ctx)
	go func() {
		<-r.done
		select {
		case s.done <- id:
		case <-s.quit:
		}
	}()
}

// endHeld ends a held task without starting it (killed or shut down
// before its start time). The update is queued; the caller flushes.
func (s *state) endHeld(t *task, why string) {
	h := t.held
	t.held = nil
	h.timer.Stop()
	t.terminal = true
	s.queueTerminal(t, final{
		State:   mesos.TASK_KILLED,
		Message: fmt.Sprintf("%s before its start time %s; the command never started", killedBecause(why), h.until.UTC().Format(time.RFC3339Nano)),
		Result:  taskspec.Result{Version: taskspec.Version, Reason: why},
	})
}

func (s *state) add(t *task) {
	id := t.info.TaskID.Value
	s.tasks[id] = t
	s.order = append(s.order, id)
	s.unackedTasks[id] = true
}

// reject fails a task that is not run at all.
func (s *state) reject(ctx context.Context, ti mesos.TaskInfo, msg string, reason *mesos.TaskStatus_Reason) {
	s.seenTask = true
	id := ti.TaskID.Value
	if _, dup := s.tasks[id]; dup {
		s.log.Warn("duplicate launch ignored", "task", id)
		return
	}
	s.log.Warn("task rejected", "task", id, "err", msg)
	t := &task{info: ti}
	s.add(t)
	f := startFailed(msg, "")
	f.Reason = reason
	s.terminal(ctx, t, f)
}

func (s *state) kill(ctx context.Context, id string, policy *mesos.KillPolicy) {
	t, ok := s.tasks[id]
	if !ok {
		s.log.Warn("kill for unknown task ignored", "task", id)
		return
	}
	if t.held != nil {
		s.endHeld(t, endKilled)
		s.flush(ctx)
		return
	}
	if t.terminal || t.runner == nil {
		return
	}
	grace := t.grace
	if g := durationInfo(policy.GetGracePeriod()); policy.GetGracePeriod() != nil {
		grace = g
	}
	if s.shutdown {
		grace = min(grace, time.Until(s.shutdownUntil))
	}
	s.log.Info("killing task", "task", id, "grace", grace)
	t.runner.kill(grace, endKilled)
}

// startShutdown kills every task within the agent's shutdown grace period
// minus a margin left for reporting, then lets Run exit.
func (s *state) startShutdown(ctx context.Context) {
	if s.shutdown {
		return
	}
	period := s.cfg.Mesos.ExecutorShutdownGracePeriod
	if period <= 0 {
		period = 5 * time.Second
	}
	margin := min(period/4, 2*time.Second)
	s.shutdown = true
	s.shutdownUntil = time.Now().Add(period - margin)
	killBy := period - 2*margin
	s.log.Info("shutdown requested by the agent", "grace", killBy)
	s.killAll(endShutdown, killBy)
	s.flush(ctx)
}

// killAll kills every running task and ends every held one; the updates
// of held tasks are queued, for the caller to flush.
func (s *state) killAll(why string, maxGrace time.Duration) {
	for _, id := range s.order {
		t := s.tasks[id]
		if t.held != nil {
			s.endHeld(t, why)
			continue
		}
		if t.runner != nil && !t.terminal {
			t.runner.kill(max(0, min(t.grace, maxGrace)), why)
		}
	}
}

// awaitTasks waits (bounded) for the runners to end after killAll, so
// that Run does not return while processes it started still live.
func (s *state) awaitTasks(limit time.Duration) {
	s.exiting = true
	// Updates still in the outbox (its goroutine may be gone with ctx) go
	// out now: an update of a task that ended just before the exit must not
	// be lost, or the agent reports the task failed and it runs again.
	s.flushAtExit()
	defer s.flushAtExit()
	deadline := time.After(limit + time.Second)
	for {
		open := 0
		for _, t := range s.tasks {
			if t.runner != nil && !t.terminal {
				open++
			}
		}
		if open == 0 {
			return
		}
		select {
		case id := <-s.done:
			t := s.tasks[id]
			t.terminal = true
			s.guard.remove(t.runner.p.pgid)
			s.reapOrphans()
			// Best effort: the agent may still take the update.
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTPTimeout)
			f := t.runner.final
			s.sendTerminal(ctx, t, f)
			cancel()
		case <-deadline:
			s.log.Warn("tasks still running at exit", "count", open)
			return
		}
	}
}

// finish reports a task whose runner ended.
func (s *state) finish(ctx context.Context, id string) {
	t := s.tasks[id]
	s.guard.remove(t.runner.p.pgid)
	s.reapOrphans()
	s.terminal(ctx, t, t.runner.final)
}

// reapOrphans ends processes re-parented to the executor as subreaper,
// when no task runs (so none of them can belong to a running task).
func (s *state) reapOrphans() {
	if !s.cfg.Subreaper {
		return
	}
	keep := map[int]bool{}
	if s.guard != nil {
		keep[s.guard.cmd.Process.Pid] = true
	}
	for _, t := range s.tasks {
		if t.runner != nil && !t.terminal {
			select {
			case <-t.runner.done:
			default:
				return // a task still runs
			}
		}
	}
	n, err := killOrphans(keep)
	if n > 0 || err != nil {
		s.log.Info("killed processes that left their task's process group", "count", n, "err", err)
	}
}

func (s *state) terminal(ctx context.Context, t *task, f final) {
	t.terminal = true
	if t.dir != "" {
		// Before the update goes out, so that whoever sees a task end also
		// sees the directories that its end made due gone.
		s.retain(t.dir)
	}
	s.sendTerminal(ctx, t, f)
}

func (s *state) sendTerminal(ctx context.Context, t *task, f final) {
	s.queueTerminal(t, f)
	s.flush(ctx)
}

// queueTerminal produces t's terminal update without sending it yet.
func (s *state) queueTerminal(t *task, f final) {
	data, err := f.Result.Marshal()
	if err != nil {
		s.log.Error("encode task result", "task", t.info.TaskID.Value, "err", err)
		data = nil
	}
	s.log.Info("task ended", "task", t.info.TaskID.Value, "state", f.State.String(), "message", f.Message)
	s.queue(t.info.TaskID, f.State, f.Reason, f.Message, data)
}

// queue produces an update and keeps it until acknowledged, without
// sending it yet.
func (s *state) queue(id mesos.TaskID, st mesos.TaskState, reason *mesos.TaskStatus_Reason, msg string, data []byte) {
	s.queueAt(time.Now(), id, st, reason, msg, data)
}

// queueAt is queue with the update's timestamp given.
func (s *state) queueAt(at time.Time, id mesos.TaskID, st mesos.TaskState, reason *mesos.TaskStatus_Reason, msg string, data []byte) {
	uuid := make([]byte, 16)
	_, _ = rand.Read(uuid)
	uuid[6] = (uuid[6] & 0x0f) | 0x40 // version 4
	uuid[8] = (uuid[8] & 0x3f) | 0x80 // RFC 4122 variant
	now := float64(at.UnixMicro()) / 1e6
	execID := s.execInfo.ExecutorID
	status := mesos.TaskStatus{
		TaskID:     id,
		State:      st.Enum(),
		Source:     mesos.SOURCE_EXECUTOR.Enum(),
		Reason:     reason,
		ExecutorID: &execID,
		UUID:       uuid,
		Timestamp:  &now,
		Data:       data,
	}
	if msg != "" {
		status.Message = &msg
	}
	s.unacked = append(s.unacked, &pending{update: mesosexec.Call_Update{Status: status}})
}

// flush hands the updates not yet sent to the outbox, in order. After a
// failed send it waits until every queued update has come back, then
// resumes the outbox and queues the unsent ones again, so that a task's
// updates never overtake each other; the resend ticker and the next
// SUBSCRIBE call it again. While exiting it sends inline instead.
func (s *state) flush(ctx context.Context) {
	if s.exiting {
		s.flushInline(ctx)
		return
	}
	if s.sendHalted {
		if s.inFlight > 0 {
			return
		}
		s.sendHalted = false
		s.out.resume()
	}
	var batch []*pending
	for _, p := range s.unacked {
		if !p.sent && !p.queued {
			p.queued = true
			batch = append(batch, p)
		}
	}
	s.inFlight += len(batch)
	s.out.push(batch...)
}

// delivered takes the outbox's answer for one update.
func (s *state) delivered(r sendResult) {
	s.inFlight--
	r.p.queued = false
	switch {
	case r.err == nil:
		r.p.sent = true
	case errors.Is(r.err, errHalted):
		// Behind a failed send: queued again, in order, by a later flush.
	default:
		s.sendHalted = true
		s.log.Warn("send status update failed; will retry", "task", r.p.update.Status.TaskID.Value,
			"state", r.p.update.Status.GetState().String(), "err", r.err)
	}
}

// flushAtExit sends, best effort, what was not sent yet, with a context of
// its own (the executor's may already be cancelled).
func (s *state) flushAtExit() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.HTTPTimeout)
	defer cancel()
	s.flushInline(ctx)
}

// flushInline sends the unsent updates one after another, stopping at the
// first failure; used when the event loop is ending.
func (s *state) flushInline(ctx context.Context) {
	for _, p := range s.unacked {
		if p.sent {
			continue
		}
		if err := s.sendUpdate(ctx, p); err != nil {
			s.log.Warn("send status update failed at exit", "task", p.update.Status.TaskID.Value,
				"state", p.update.Status.GetState().String(), "err", err)
			return
		}
		p.sent = true
	}
}

// sendUpdate sends one update to the agent (UPDATE call, 202 expected).
func (s *state) sendUpdate(ctx context.Context, p *pending) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.HTTPTimeout)
	defer cancel()
	return calls.SendNoData(cctx, s.sender, calls.NonStreaming(calls.Update(p.update.Status)))
}

func (s *state) acknowledged(taskID string, uuid []byte) {
	delete(s.unackedTasks, taskID)
	for i, p := range s.unacked {
		if p.update.Status.TaskID.Value == taskID && string(p.update.Status.UUID) == string(uuid) {
			s.unacked = append(s.unacked[:i], s.unacked[i+1:]...)
			s.forget(taskID)
			return
		}
	}
	s.log.Debug("acknowledgement of an unknown update", "task", taskID)
}

// forget drops a task whose terminal update was acknowledged and which has
// no update left to send, so that a long-lived (shared) executor's memory
// stays bounded by its running tasks. The agent never launches a task ID
// again once it has the task's acknowledged terminal update.
func (s *state) forget(taskID string) {
	t, ok := s.tasks[taskID]
	if !ok || !t.terminal {
		return
	}
	if t.runner != nil {
		select {
		case <-t.runner.done:
		default:
			return
		}
	}
	for _, p := range s.unacked {
		if p.update.Status.TaskID.Value == taskID {
			return
		}
	}
	delete(s.tasks, taskID)
	delete(s.unackedTasks, taskID)
	for i, id := range s.order {
		if id == taskID {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

func (s *state) unackedTaskInfos() []mesos.TaskInfo {
	var out []mesos.TaskInfo
	for _, id := range s.order {
		if s.unackedTasks[id] {
			out = append(out, s.tasks[id].info)
		}
	}
	return out
}

func (s *state) unackedUpdates() []mesosexec.Call_Update {
	out := make([]mesosexec.Call_Update, 0, len(s.unacked))
	for _, p := range s.unacked {
		out = append(out, p.update)
	}
	return out
}
