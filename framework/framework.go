package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/callrules"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/controller"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/eventrules"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	mscheduler "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/scheduler"
)

// ErrNotSubscribed is returned by calls made while the framework holds no
// subscription (before SUBSCRIBED, or after a call or the stream failed).
// The engine learns of it through Disconnected/Subscribed and reconciles.
var ErrNotSubscribed = errors.New("framework: not subscribed to a mesos master")

// msgRemoved is the ERROR Mesos sends to a framework ID it has removed.
const msgRemoved = "Framework has been removed"

// Framework is Horae's Mesos scheduler: Run keeps it subscribed and turns
// events into engine events; the other methods carry out engine actions.
// Run must be running for the actions to succeed; they are safe to call
// from any goroutine.
type Framework struct {
	cfg     Config
	master  master
	logger  *slog.Logger
	m       *metrics
	ids     FrameworkIDStore
	secret  string
	tlsConf *tls.Config
	roles   []string

	// streamHost is the scheme and host that answered the SUBSCRIBE of the
	// newest stream; requests of that stream are sent there (P1).
	streamHost atomic.Pointer[streamHost]

	wake chan struct{} // nudges the pump

	mu         sync.Mutex
	caller     calls.Caller // current session's caller; nil outside a session
	subscribed bool         // SUBSCRIBED seen and no call failed since
	announced  bool         // Subscribed{} sent; Disconnected{} owed
	removed    bool         // Mesos said the framework ID is dead
	fid        string       // framework ID in use
	storedID   string       // framework ID as last read from / written to ids
	offers     map[string]mesos.Offer
	stream     mesos.Response // current SUBSCRIBE response (watchdog)
	streamUp   bool           // SUBSCRIBED seen on the current stream
	streamGen  uint64         // counts SUBSCRIBE responses; names the current stream
	lastEvent  time.Time
	handling   bool
	heartbeat  time.Duration
	pacer      *resubscribePacer       // this Run's subscription attempts
	interest   scheduler.OfferInterest // last interest sent this subscription
	lastRevive time.Time
	queue      []scheduler.Event // events for the pump to deliver
	recon      reconcileState
}

type streamHost struct{ id, scheme, host string }

// reconcileState tracks the explicit reconciliation the engine asked for.
type reconcileState struct {
	active       bool              // a Reconciled is owed
	pending      map[string]string // task ID → agent ID, not yet answered
	unknown      []string          // answered TASK_UNKNOWN: Mesos does not know them
	implicit     bool              // one implicit RECONCILE after Reconciled
	implicitDue  bool              // the pump must send that implicit RECONCILE
	attempts     int               // explicit RECONCILE calls sent
	delay        time.Duration     // next resend delay
	next         time.Time         // next resend
	nextImplicit time.Time         // next periodic implicit RECONCILE
}

// New checks cfg and builds a Framework. Metrics are registered on reg.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Framework, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ms, _ := parseMaster(cfg.Master)
	f := &Framework{
		cfg:    cfg,
		master: ms,
		logger: logger,
		ids:    cfg.FrameworkIDs,
		roles:  []string{cfg.Role},
		wake:   make(chan struct{}, 1),
	}
	if f.ids == nil {
		f.ids = &memIDStore{}
	}
	if cfg.SecretFile != "" {
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("framework: read secret file for principal %s: %w", cfg.Principal, err)
		}
		f.secret = strings.TrimRight(string(b), "\r\n")
	}
	if cfg.TLS.Enabled || cfg.TLS.CAFile != "" || cfg.TLS.InsecureSkipVerify {
		tc := &tls.Config{InsecureSkipVerify: cfg.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // operator's choice
		if cfg.TLS.CAFile != "" {
			pem, err := os.ReadFile(cfg.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("framework: read TLS CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("framework: TLS CA file %s: no PEM certificates", cfg.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		f.tlsConf = tc
	}
	m, err := newMetrics(reg, time.Now)
	if err != nil {
		return nil, err
	}
	f.m = m
	return f, nil
}

// memIDStore keeps the framework ID in memory when no store is given.
type memIDStore struct {
	mu sync.Mutex
	id string
}

func (s *memIDStore) Get(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id, nil
}

func (s *memIDStore) Set(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id = id
	return nil
}

// FrameworkID returns the framework ID in use ("" before the first
// SUBSCRIBED).
func (f *Framework) FrameworkID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fid
}

// ExecutorOverhead is what a task's executor adds to the task's resources
// in an offer: the engine must count it when matching. In shared mode it
// is counted by Mesos (and by Launch) only when the executor is new on the
// agent; the engine still counts it per task, which is conservative (it
// never places more than fits) and keeps the engine free of Mesos
// executor bookkeeping.
func (f *Framework) ExecutorOverhead() (cpus, mem float64) {
	return f.cfg.ExecutorCPUs, f.cfg.ExecutorMem
}

// Run subscribes and re-subscribes (with backoff, never a hot loop) until
// ctx ends, sending engine events on out: Subscribed, Disconnected,
// OffersArrived, OfferRescinded, TaskUpdated (AckUUID set when the status
// has a uuid; the leader acknowledges through Acknowledge once durable) and
// Reconciled. Run returns nil when ctx ends; only one Run may be active.
// A new Run (the next leadership term) starts with no queued events and no
// reconciliation in progress.
func (f *Framework) Run(ctx context.Context, out chan<- scheduler.Event) error {
	f.mu.Lock()
	f.queue, f.recon = nil, reconcileState{}
	f.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	leaders := newLeaderWatch()
	if f.master.zk != nil {
		scheme := "http"
		if f.cfg.TLS.Enabled {
			scheme = "https"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := detectMaster(ctx, *f.master.zk, scheme, f.cfg.ZKSessionTimeout, leaders, f.logger); err != nil {
					f.logger.Warn("mesos master detection stopped; restarting", "err", err)
					sleepCtx(ctx, time.Second)
				}
			}
		}()
	} else {
		leaders.set(f.master.endpoint)
	}
	wg.Add(2)
	go func() { defer wg.Done(); f.watchdog(ctx) }()
	go func() { defer wg.Done(); f.pump(ctx, out) }()

	pacer := newResubscribePacer(ctx, f.cfg.ResubscribeMin, f.cfg.ResubscribeMax)
	tokens := pacer.tokens
	f.mu.Lock()
	f.pacer = pacer
	f.mu.Unlock()
	for ctx.Err() == nil {
		ep, changed := leaders.get()
		if ep == "" {
			f.logger.Info("waiting for a leading mesos master", "master", f.cfg.Master)
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		sctx, scancel := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			select {
			case <-changed:
				f.logger.Info("mesos leading master changed; re-subscribing", "old", ep)
				scancel()
			case <-sctx.Done():
			}
		}()
		f.session(sctx, ctx, scancel, ep, tokens, out)
		scancel()
		<-watched

		f.mu.Lock()
		removed := f.removed
		f.removed = false
		f.mu.Unlock()
		if removed {
			f.forgetFrameworkID(ctx)
		}
	}
	return nil
}

// forgetFrameworkID clears the dead framework ID so the next session
// registers a new framework (§7: a fresh FrameworkInfo, not just an empty
// store).
func (f *Framework) forgetFrameworkID(ctx context.Context) {
	f.logger.Error("mesos removed the framework (failover timeout expired or torn down); its tasks are gone, registering a new framework", "framework", f.FrameworkID())
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, f.cfg.CallTimeout)
		err := f.ids.Set(cctx, "")
		cancel()
		if err == nil {
			break
		}
		f.logger.Warn("clear stored framework id failed; retrying", "err", err)
		sleepCtx(ctx, time.Second)
	}
	f.mu.Lock()
	f.fid, f.storedID = "", ""
	f.mu.Unlock()
}

// session runs controller.Run against one master endpoint with one
// FrameworkInfo, until sctx ends.
func (f *Framework) session(sctx, runCtx context.Context, scancel context.CancelFunc, endpoint string, tokens <-chan struct{}, out chan<- scheduler.Event) {
	gctx, cancel := context.WithTimeout(sctx, f.cfg.CallTimeout)
	id, err := f.ids.Get(gctx)
	cancel()
	if err != nil {
		// Subscribing without the stored ID would orphan every running task.
		f.logger.Error("read stored framework id failed; not subscribing", "err", err)
		select {
		case <-tokens:
		case <-sctx.Done():
		}
		return
	}
	f.mu.Lock()
	f.fid, f.storedID = id, id
	f.mu.Unlock()

	cfgOpts := []httpcli.ConfigOpt{httpcli.Timeout(f.cfg.CallTimeout)}
	if f.tlsConf != nil {
		cfgOpts = append(cfgOpts, httpcli.TLSConfig(f.tlsConf))
	}
	if f.cfg.Principal != "" {
		cfgOpts = append(cfgOpts, httpcli.BasicAuth(f.cfg.Principal, f.secret))
	}
	cli := httpcli.New(
		httpcli.Endpoint(endpoint),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(cfgOpts...)),
		httpcli.WrapDoer(f.followStream), // after Do, which replaces the doer
	)
	// Rules run in order; captureStream comes after the call so that it
	// sees the SUBSCRIBE response.
	caller := callrules.New(
		callrules.WithFrameworkID(f.FrameworkID),
		callrules.Call(httpsched.NewCaller(cli, httpsched.AllowReconnection(true))),
		f.captureStream,
	)

	f.mu.Lock()
	f.caller = caller
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.caller = nil
		f.mu.Unlock()
	}()

	info := f.frameworkInfo(id)
	f.logger.Info("subscribing to mesos", "master", endpoint, "framework", id)
	err = controller.Run(sctx, &info, caller,
		controller.WithEventHandler(f.eventHandler(out)),
		controller.WithFrameworkID(f.FrameworkID),
		controller.WithRegistrationTokens(tokens),
		controller.WithSubscriptionTerminated(func(err error) { f.subscriptionEnded(runCtx, scancel, out, err) }),
		controller.WithContextPerSubscription(true),
	)
	if err != nil && sctx.Err() == nil {
		f.logger.Warn("mesos controller stopped", "err", err)
	}
}

// frameworkInfo is the FrameworkInfo Horae subscribes with.
func (f *Framework) frameworkInfo(id string) mesos.FrameworkInfo {
	c := f.cfg
	fo := c.FailoverTimeout.Seconds()
	info := mesos.FrameworkInfo{
		User:            c.User,
		Name:            c.FrameworkName,
		FailoverTimeout: &fo,
		Checkpoint:      boolPtr(true),
	}
	if id != "" {
		info.ID = &mesos.FrameworkID{Value: id}
	}
	if c.Hostname != "" {
		info.Hostname = strPtr(c.Hostname)
	}
	if c.WebUIURL != "" {
		info.WebUiURL = strPtr(c.WebUIURL)
	}
	if c.Principal != "" {
		info.Principal = strPtr(c.Principal)
	}
	if c.hasCap(CapMultiRole) {
		info.Roles = []string{c.Role}
	} else {
		info.Role = strPtr(c.Role)
	}
	for _, name := range c.Capabilities {
		var t mesos.FrameworkInfo_Capability_Type
		switch name {
		case CapMultiRole:
			t = mesos.FrameworkInfo_Capability_MULTI_ROLE
		case CapPartitionAware:
			t = mesos.FrameworkInfo_Capability_PARTITION_AWARE
		case CapTaskKillingState:
			t = mesos.FrameworkInfo_Capability_TASK_KILLING_STATE
		}
		info.Capabilities = append(info.Capabilities, mesos.FrameworkInfo_Capability{Type: t})
	}
	return info
}

// followStream sends every request of a subscribed stream to the host that
// answered its SUBSCRIBE (mesos-go follows a 307 only for SUBSCRIBE and
// would keep sending other calls to the non-leading master: P1). Keyed by
// stream id, so a stale stream's calls are never re-pointed.
func (f *Framework) followStream(do httpcli.DoFunc) httpcli.DoFunc {
	return func(req *http.Request) (*http.Response, error) {
		if sid := req.Header.Get("Mesos-Stream-Id"); sid != "" {
			if sh := f.streamHost.Load(); sh != nil && sh.id == sid && (req.URL.Host != sh.host || req.URL.Scheme != sh.scheme) {
				req = req.Clone(req.Context())
				req.URL.Scheme, req.URL.Host, req.Host = sh.scheme, sh.host, ""
			}
			return do(req)
		}
		resp, err := do(req)
		if err == nil && resp.StatusCode == http.StatusOK {
			if sid := resp.Header.Get("Mesos-Stream-Id"); sid != "" {
				f.streamHost.Store(&streamHost{id: sid, scheme: req.URL.Scheme, host: req.URL.Host})
			}
		}
		return resp, err
	}
}

// captureStream is a call rule, placed after the call, that hands a
// successful SUBSCRIBE's response to the heartbeat watchdog.
func (f *Framework) captureStream(ctx context.Context, c *mscheduler.Call, r mesos.Response, err error, ch callrules.Chain) (context.Context, *mscheduler.Call, mesos.Response, error) {
	if c.GetType() == mscheduler.Call_SUBSCRIBE && err == nil && r != nil {
		f.mu.Lock()
		f.stream, f.streamUp = r, false
		f.streamGen++
		f.lastEvent = time.Now()
		f.heartbeat = defaultHeartbeatInterval
		f.mu.Unlock()
	}
	return ch(ctx, c, r, err)
}

// stampEvent is the first event rule: it feeds the watchdog, which does not
// fire while an event is being handled (a slow engine is not a silent
// master). A stream whose first event is not SUBSCRIBED is broken (Mesos
// always sends it first) and is ended, so that Run subscribes again.
func (f *Framework) stampEvent(ctx context.Context, e *mscheduler.Event, err error, ch eventrules.Chain) (context.Context, *mscheduler.Event, error) {
	f.mu.Lock()
	f.lastEvent, f.handling = time.Now(), true
	if e.GetType() == mscheduler.Event_SUBSCRIBED {
		f.streamUp = true
	}
	up := f.streamUp
	f.mu.Unlock()
	if !up && e.GetType() != mscheduler.Event_ERROR {
		f.mu.Lock()
		f.handling = false
		f.mu.Unlock()
		return ctx, e, fmt.Errorf("framework: %s event before SUBSCRIBED on a new stream", e.GetType())
	}
	defer func() {
		f.mu.Lock()
		f.lastEvent, f.handling = time.Now(), false
		f.mu.Unlock()
	}()
	return ch(ctx, e, err)
}

// eventHandler builds the event chain of a subscription.
func (f *Framework) eventHandler(out chan<- scheduler.Event) events.Handler {
	return eventrules.New(
		f.stampEvent,
		controller.LiftErrors(),
	).Handle(events.Handlers{
		mscheduler.Event_SUBSCRIBED: events.HandlerFunc(func(ctx context.Context, e *mscheduler.Event) error { return f.onSubscribed(ctx, out, e) }),
		mscheduler.Event_OFFERS:     events.HandlerFunc(func(ctx context.Context, e *mscheduler.Event) error { return f.onOffers(ctx, out, e) }),
		mscheduler.Event_RESCIND:    events.HandlerFunc(func(ctx context.Context, e *mscheduler.Event) error { return f.onRescind(ctx, out, e) }),
		mscheduler.Event_UPDATE:     events.HandlerFunc(func(ctx context.Context, e *mscheduler.Event) error { return f.onUpdate(ctx, out, e) }),
		mscheduler.Event_HEARTBEAT: events.HandlerFunc(func(context.Context, *mscheduler.Event) error {
			f.m.lastHeartbeat.Store(time.Now().UnixNano())
			return nil
		}),
		mscheduler.Event_FAILURE: events.HandlerFunc(func(_ context.Context, e *mscheduler.Event) error {
			fl := e.GetFailure()
			f.logger.Info("mesos failure event", "agent", fl.GetAgentID().GetValue(), "executor", fl.GetExecutorID().GetValue(), "status", fl.GetStatus())
			return nil
		}),
		mscheduler.Event_ERROR: events.HandlerFunc(func(_ context.Context, e *mscheduler.Event) error {
			msg := e.GetError().GetMessage()
			f.logger.Warn("mesos error event; re-subscribing", "err", msg)
			if strings.Contains(msg, msgRemoved) {
				f.mu.Lock()
				f.removed = true
				f.mu.Unlock()
			}
			return nil // LiftErrors already turned it into the loop's error
		}),
	}.Otherwise(func(_ context.Context, e *mscheduler.Event) error {
		f.logger.Debug("mesos event ignored", "type", e.GetType().String())
		return nil
	}))
}

func (f *Framework) onSubscribed(ctx context.Context, out chan<- scheduler.Event, e *mscheduler.Event) error {
	s := e.GetSubscribed()
	id := s.GetFrameworkID().GetValue()
	if id == "" {
		return errors.New("framework: SUBSCRIBED without a framework id")
	}
	hb := defaultHeartbeatInterval
	if v := s.GetHeartbeatIntervalSeconds(); v > 0 {
		hb = time.Duration(v * float64(time.Second))
	}
	f.mu.Lock()
	stored := f.storedID
	f.fid = id
	f.heartbeat = hb
	if f.pacer != nil {
		f.pacer.reset() // this subscription worked: the next drop retries at once
	}
	f.offers = map[string]mesos.Offer{}
	f.interest = scheduler.OffersUnchanged
	f.mu.Unlock()
	if stored != id {
		if stored != "" {
			f.logger.Warn("mesos gave a different framework id; tasks of the old one are orphaned", "framework", id, "old", stored)
		}
		sctx, cancel := context.WithTimeout(ctx, f.cfg.CallTimeout)
		err := f.ids.Set(sctx, id)
		cancel()
		if err != nil {
			// End this subscription; the next SUBSCRIBE carries id (cached in
			// f.fid) and persisting is tried again.
			return fmt.Errorf("framework: persist framework id %s: %w", id, err)
		}
		f.mu.Lock()
		f.storedID = id
		f.mu.Unlock()
	}
	f.mu.Lock()
	f.subscribed, f.announced = true, true
	f.lastEvent = time.Now()
	f.recon.nextImplicit = time.Now().Add(f.cfg.ReconcileInterval)
	f.mu.Unlock()
	f.m.subscriptions.Inc()
	f.m.subscribed.Set(1)
	f.m.lastHeartbeat.Store(time.Now().UnixNano())
	f.logger.Info("subscribed to mesos", "framework", id, "master", s.GetMasterInfo().GetHostname(), "heartbeat", hb)
	f.nudge()
	return emit(ctx, out, scheduler.Subscribed{})
}

func (f *Framework) onOffers(ctx context.Context, out chan<- scheduler.Event, e *mscheduler.Event) error {
	in := e.GetOffers().GetOffers()
	if len(in) == 0 {
		return nil
	}
	conv := make([]scheduler.Offer, 0, len(in))
	f.mu.Lock()
	for i := range in {
		if f.offers != nil {
			f.offers[in[i].ID.Value] = in[i]
		}
		conv = append(conv, convertOffer(&in[i], f.roles))
	}
	f.mu.Unlock()
	f.m.offersReceived.Add(float64(len(in)))
	f.logger.Debug("offers received", "count", len(in))
	return emit(ctx, out, scheduler.OffersArrived{Offers: conv})
}

func (f *Framework) onRescind(ctx context.Context, out chan<- scheduler.Event, e *mscheduler.Event) error {
	id := e.GetRescind().GetOfferID().Value
	f.mu.Lock()
	delete(f.offers, id)
	f.mu.Unlock()
	f.m.offersRescinded.Inc()
	return emit(ctx, out, scheduler.OfferRescinded{OfferID: id})
}

func (f *Framework) onUpdate(ctx context.Context, out chan<- scheduler.Event, e *mscheduler.Event) error {
	st := e.GetUpdate().GetStatus()
	u, err := convertStatus(&st)
	if err != nil {
		f.logger.Warn("status data ignored", "task", u.TaskID, "err", err)
	}
	f.m.updates.WithLabelValues(string(u.State)).Inc()
	f.logger.Debug("status update", "task", u.TaskID, "agent", u.AgentID, "state", u.State, "reason", u.Reason)
	if err := emit(ctx, out, u); err != nil {
		return err
	}
	// Any update answers an explicit reconciliation of its task.
	// A TASK_UNKNOWN answer (PARTITION_AWARE, no agent given) means Mesos
	// does not know the task: it is reported Missing.
	f.mu.Lock()
	r := &f.recon
	var missing []string
	done := false
	if r.active {
		if _, ok := r.pending[u.TaskID]; ok {
			delete(r.pending, u.TaskID)
			if u.State == scheduler.TaskUnknown {
				r.unknown = append(r.unknown, u.TaskID)
			}
			if len(r.pending) == 0 {
				done = true
				missing = r.finishLocked()
			}
		}
	}
	f.mu.Unlock()
	if !done {
		return nil
	}
	f.nudge()
	f.logger.Info("explicit reconciliation answered for every task", "unknown", len(missing))
	return emit(ctx, out, scheduler.Reconciled{Missing: missing})
}

// finishLocked ends the explicit reconciliation and returns the tasks to
// report Missing: those not answered and those answered TASK_UNKNOWN,
// sorted. The implicit RECONCILE, if asked for, becomes due.
func (r *reconcileState) finishLocked() []string {
	missing := append([]string(nil), r.unknown...)
	for id := range r.pending {
		missing = append(missing, id)
	}
	sort.Strings(missing)
	r.active, r.pending, r.unknown = false, nil, nil
	r.implicitDue, r.implicit = r.implicit, false
	return missing
}

// subscriptionEnded runs after every subscription cycle (failed SUBSCRIBE
// or ended stream).
func (f *Framework) subscriptionEnded(runCtx context.Context, scancel context.CancelFunc, out chan<- scheduler.Event, err error) {
	f.mu.Lock()
	announced := f.announced
	removed := f.removed
	f.announced, f.subscribed = false, false
	f.stream = nil
	f.offers = nil
	f.mu.Unlock()
	f.m.subscribed.Set(0)
	if runCtx.Err() != nil {
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		f.m.subscribeFails.Inc()
		f.logger.Warn("mesos subscription ended", "err", err)
	}
	if announced {
		if e := emit(runCtx, out, scheduler.Disconnected{}); e != nil {
			return
		}
	}
	if removed {
		scancel() // a fresh FrameworkInfo is needed: end this controller.Run
	}
}

// watchdog ends a subscription whose master went silent for
// HeartbeatMisses heartbeat intervals (P3): closing the SUBSCRIBE response
// makes httpsched disconnect, the event loop fail and Run re-subscribe.
func (f *Framework) watchdog(ctx context.Context) {
	for {
		f.mu.Lock()
		stream, last, hb, handling := f.stream, f.lastEvent, f.heartbeat, f.handling
		if hb <= 0 {
			hb = defaultHeartbeatInterval
		}
		limit := time.Duration(f.cfg.HeartbeatMisses) * hb
		fire := stream != nil && !handling && time.Since(last) > limit
		if fire {
			f.stream = nil
		}
		f.mu.Unlock()
		if fire {
			f.m.heartbeatMisses.Inc()
			f.logger.Warn("no event from mesos master within the heartbeat limit; re-subscribing", "limit", limit)
			stream.Close()
		}
		tick := min(max(hb/4, 10*time.Millisecond), time.Second)
		if !sleepCtx(ctx, tick) {
			return
		}
	}
}

// nudge wakes the pump.
func (f *Framework) nudge() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// enqueue hands an event to the pump (for events produced outside the
// event loop, e.g. by Launch or the reconciliation timer).
func (f *Framework) enqueue(evs ...scheduler.Event) {
	f.mu.Lock()
	f.queue = append(f.queue, evs...)
	f.mu.Unlock()
	f.nudge()
}

// pump delivers queued events and drives reconciliation: resends of the
// explicit reconciliation with backoff, giving up after ReconcileAttempts,
// the implicit RECONCILE that follows, and the periodic implicit one.
func (f *Framework) pump(ctx context.Context, out chan<- scheduler.Event) {
	for ctx.Err() == nil {
		now := time.Now()
		f.mu.Lock()
		queued := f.queue
		f.queue = nil
		r := &f.recon
		subscribed := f.subscribed
		var resend map[string]string
		var missing []string
		implicit := false
		if subscribed && r.active && len(r.pending) > 0 && !r.next.IsZero() && !now.Before(r.next) {
			if r.attempts >= f.cfg.ReconcileAttempts {
				missing = r.finishLocked()
			} else {
				resend = make(map[string]string, len(r.pending))
				for k, v := range r.pending {
					resend[k] = v
				}
				r.attempts++
				r.next = now.Add(r.delay)
				r.delay = min(2*r.delay, f.cfg.ReconcileRetryMax)
			}
		}
		if missing != nil {
			queued = append(queued, scheduler.Reconciled{Missing: missing})
		}
		if subscribed && r.implicitDue && !r.active {
			implicit, r.implicitDue = true, false
		}
		if subscribed && !r.nextImplicit.IsZero() && !now.Before(r.nextImplicit) {
			implicit = true
			r.nextImplicit = now.Add(f.cfg.ReconcileInterval)
		}
		wait := time.Minute
		if subscribed && r.active && !r.next.IsZero() {
			wait = min(wait, time.Until(r.next))
		}
		if subscribed && !r.nextImplicit.IsZero() {
			wait = min(wait, time.Until(r.nextImplicit))
		}
		f.mu.Unlock()

		if missing != nil {
			f.m.reconcileMissing.Add(float64(len(missing)))
			f.logger.Warn("explicit reconciliation gave up; tasks reported missing", "count", len(missing))
		}
		for _, ev := range queued {
			if emit(ctx, out, ev) != nil {
				return
			}
		}
		if resend != nil {
			f.logger.Info("explicit reconciliation resent", "tasks", len(resend))
			_ = f.reconcileCall(ctx, resend)
		}
		if implicit {
			_ = f.reconcileCall(ctx, nil)
		}
		if len(queued) > 0 || resend != nil || implicit || missing != nil {
			continue
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-f.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// emit sends ev on out unless ctx ends first.
func emit(ctx context.Context, out chan<- scheduler.Event, ev scheduler.Event) error {
	select {
	case out <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
