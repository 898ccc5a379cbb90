package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/mail"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/scheduler"
)

// Deps are what a Notifier works with.
type Deps struct {
	// Jobs looks up a job definition by name (e.g. from the catalog). It is
	// called from Notify and so must not block. Nil: every job is unknown,
	// and only failures are sent.
	Jobs func(name string) (scheduler.Job, bool)
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// HTTPClient posts to the webhooks; nil uses a client that does not
	// follow redirects (a POST redirected by 301/302 would arrive as a GET
	// without its body) and has no timeout of its own (each attempt carries
	// Config.Timeout).
	HTTPClient *http.Client
	// Now is the clock for e-mail Date headers; nil uses time.Now.
	Now func() time.Time
	// TLSConfig is the base of the STARTTLS configuration (RootCAs for a
	// private CA); nil uses the system roots. ServerName defaults to the
	// SMTP host.
	TLSConfig *tls.Config
}

// Notifier delivers notices to the configured sinks. Notify may be called
// from any goroutine, before, during and after Run.
type Notifier struct {
	cfg     Config
	jobs    func(string) (scheduler.Job, bool)
	logger  *slog.Logger
	metrics *metrics
	queues  []*queue

	mu      sync.Mutex // guards the fields below and every push
	started bool
	closed  bool
	recent  recent
}

// recentSize bounds the memory of event IDs used to drop repeats.
const recentSize = 4096

// New checks cfg and builds a Notifier; deliveries start with Run.
func New(cfg Config, deps Deps) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	client := deps.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	var sinks []sink
	if cfg.WebhookURL != "" {
		sinks = append(sinks, &webhook{url: cfg.WebhookURL, secret: []byte(cfg.WebhookSecret), client: client})
	}
	if cfg.SlackURL != "" {
		sinks = append(sinks, &slack{url: cfg.SlackURL, client: client})
	}
	if cfg.SMTPAddr != "" {
		host, _, _ := net.SplitHostPort(cfg.SMTPAddr) // Validate checked it
		from, _ := mail.ParseAddress(cfg.SMTPFrom)    // Validate checked it
		helo, err := os.Hostname()
		if err != nil || helo == "" {
			helo = "localhost"
		}
		tlsConfig := deps.TLSConfig
		if tlsConfig == nil {
			tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		dom := "horae.invalid"
		if i := strings.LastIndex(from.Address, "@"); i >= 0 && i < len(from.Address)-1 {
			dom = from.Address[i+1:]
		}
		sinks = append(sinks, &email{
			addr: cfg.SMTPAddr, host: host, from: from.Address, fromHeader: from.String(),
			user: cfg.SMTPUser, pass: cfg.SMTPPassword, startTLS: cfg.SMTPStartTLS,
			tlsConfig: tlsConfig, helo: helo, now: now, logger: logger, messageIDDom: dom,
		})
	}
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.name()
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg, names)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		cfg:     cfg,
		jobs:    deps.Jobs,
		logger:  logger,
		metrics: m,
		recent:  newRecent(recentSize),
	}
	for _, s := range sinks {
		n.queues = append(n.queues, newQueue(s, cfg.QueueSize, m.queued.WithLabelValues(s.name())))
	}
	return n, nil
}

// Notify enqueues the notices the jobs asked for, once per sink, and
// returns without waiting: when a sink's queue is full its oldest delivery
// is dropped (and counted). A notice repeated (same kind, job, run, attempt,
// state and time) is not enqueued again. After Run has returned, notices
// are counted as dropped.
func (n *Notifier) Notify(notices []scheduler.Notice) {
	if len(n.queues) == 0 {
		return
	}
	for _, no := range notices {
		var job scheduler.Job
		if n.jobs != nil {
			job, _ = n.jobs(no.Job)
		}
		// The engine may have filtered already; filtering again is harmless.
		if !wants(job, no.Kind) {
			continue
		}
		e := newEvent(n.cfg.ClusterName, no, job)
		n.enqueue(e, no)
	}
}

func (n *Notifier) enqueue(e *event, no scheduler.Notice) {
	runID := ""
	if no.Run != nil {
		runID = string(no.Run.ID)
	}
	// Logging happens after the lock is released: a slow log writer must
	// not hold up other callers of Notify.
	type dropped struct {
		why  string
		sink string
		ev   *event
	}
	var drops []dropped
	n.mu.Lock()
	repeat := !n.recent.add(e.payload.ID)
	for _, q := range n.queues {
		if repeat || !q.sink.accepts(e) {
			continue
		}
		if n.closed {
			n.metrics.dropped.Inc()
			drops = append(drops, dropped{"notifier stopped", q.sink.name(), e})
			continue
		}
		if old, full := q.push(e); full {
			n.metrics.dropped.Inc()
			drops = append(drops, dropped{"queue full", q.sink.name(), old})
		}
	}
	n.mu.Unlock()
	if repeat {
		n.logger.Debug("notice repeated, not sent again", "job", no.Job, "run", runID, "kind", no.Kind)
	}
	for _, d := range drops {
		// Debug: with a stuck sink this fires per notice; the metric and
		// its alert are how operators learn of it.
		n.logger.Debug("notification dropped", "why", d.why, "job", d.ev.payload.Job.Name, "run", runOf(d.ev), "kind", d.ev.payload.Kind, "sink", d.sink)
	}
}

func runOf(e *event) string {
	if e.payload.Run == nil {
		return ""
	}
	return string(e.payload.Run.ID)
}

// Run delivers queued notices until ctx ends, then keeps delivering what is
// queued for at most Config.DrainTimeout; what is still queued then is
// dropped (and counted). It returns nil after a clean stop, and an error
// when called a second time.
func (n *Notifier) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.started {
		n.mu.Unlock()
		return errors.New("notify: Run called twice")
	}
	n.started = true
	n.mu.Unlock()
	sinks := make([]string, len(n.queues))
	for i, q := range n.queues {
		sinks[i] = q.sink.name()
	}
	n.logger.Info("notifier started", "sinks", sinks)

	// Deliveries outlive ctx by the drain period; work ends them after it.
	work, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	var wg sync.WaitGroup
	for _, q := range n.queues {
		for range n.cfg.Workers {
			wg.Go(func() { n.work(work, ctx.Done(), q) })
		}
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := time.NewTimer(n.cfg.DrainTimeout)
	defer drain.Stop()
	select {
	case <-done:
	case <-drain.C:
		abort()
		<-done
	}

	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	for _, q := range n.queues {
		if left := q.clear(); left > 0 {
			n.metrics.dropped.Add(float64(left))
			n.logger.Warn("notifications dropped: still queued at shutdown", "sink", q.sink.name(), "count", left)
		}
	}
	return nil
}

// work delivers from q until stop is closed and q is empty, or ctx ends.
func (n *Notifier) work(ctx context.Context, stop <-chan struct{}, q *queue) {
	for ctx.Err() == nil {
		if e, ok := q.pop(); ok {
			n.deliver(ctx, q.sink, e)
			continue
		}
		select {
		case <-q.ready:
		case <-stop:
			if q.len() == 0 {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// deliver sends e through s, retrying with exponential backoff, and
// records the outcome.
func (n *Notifier) deliver(ctx context.Context, s sink, e *event) {
	name := s.name()
	log := n.logger.With("job", e.payload.Job.Name, "run", runOf(e), "kind", e.payload.Kind, "sink", name)
	var err error
	attempt := 0
	for attempt < n.cfg.MaxAttempts {
		attempt++
		if attempt > 1 {
			n.metrics.retries.WithLabelValues(name).Inc()
			if !sleep(ctx, n.wait(attempt-1, err)) {
				break
			}
		}
		actx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		start := time.Now()
		err = s.send(actx, e)
		cancel()
		n.metrics.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if err == nil {
			n.metrics.sent.WithLabelValues(name, string(e.payload.Kind)).Inc()
			log.Debug("notification sent", "attempt", attempt)
			return
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			break
		}
		log.Debug("notification attempt failed", "attempt", attempt, "err", err)
	}
	if err == nil {
		err = fmt.Errorf("stopped before attempt %d: %w", attempt, ctx.Err())
	}
	n.metrics.failed.WithLabelValues(name).Inc()
	log.Warn("notification failed", "attempts", attempt, "err", err)
}

// backoff is the wait before retry k (1-based): RetryBase doubled k-1
// times, capped at RetryMax, with jitter taking it down by up to half so
// that the retries of many deliveries spread out.
func (n *Notifier) backoff(k int) time.Duration {
	d := n.cfg.RetryBase
	for i := 1; i < k && d < n.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, n.cfg.RetryMax)
	if half := int64(d / 2); half > 0 {
		d -= time.Duration(rand.Int64N(half + 1))
	}
	return d
}

// wait is the pause before retry k after err: the backoff, or longer when
// the receiver asked for it (Retry-After), never beyond RetryMax.
func (n *Notifier) wait(k int, err error) time.Duration {
	d := n.backoff(k)
	var ra *retryAfterError
	if errors.As(err, &ra) && ra.after > d {
		d = min(ra.after, n.cfg.RetryMax)
	}
	return d
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// queue is one sink's bounded FIFO of events.
type queue struct {
	sink  sink
	max   int
	gauge prometheus.Gauge
	ready chan struct{} // a token: something may be queued

	mu    sync.Mutex
	items []*event
}

func newQueue(s sink, size int, gauge prometheus.Gauge) *queue {
	return &queue{sink: s, max: size, gauge: gauge, ready: make(chan struct{}, 1)}
}

// push appends e; when the queue is full it drops the oldest event and
// returns it.
func (q *queue) push(e *event) (old *event, dropped bool) {
	q.mu.Lock()
	if len(q.items) >= q.max {
		old, dropped = q.items[0], true
		q.items[0] = nil
		q.items = q.items[1:]
	}
	q.items = append(q.items, e)
	q.gauge.Set(float64(len(q.items)))
	q.mu.Unlock()
	q.signal()
	return old, dropped
}

func (q *queue) pop() (*event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	e := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	q.gauge.Set(float64(len(q.items)))
	if len(q.items) > 0 {
		q.signal() // wake another worker
	}
	return e, true
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *queue) clear() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items)
	q.items = nil
	q.gauge.Set(0)
	return n
}

// recent remembers the last IDs added, in a ring.
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecent(size int) recent {
	return recent{set: make(map[string]struct{}, size), ring: make([]string, size)}
}

// add records id and reports whether it was new.
func (r *recent) add(id string) bool {
	if _, ok := r.set[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return true
}
