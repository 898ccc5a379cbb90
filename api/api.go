package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/events"
	"github.com/horae-scheduler/horae/scheduler"
)

// ErrNotLeader is returned (wrapped) by a Commander on an instance that does
// not lead; the API then forwards the request to the leader.
var ErrNotLeader = errors.New("not the leader")

// Commander hands a command to the engine and returns its Output once the
// Output's records are durable. The leader loop implements it.
type Commander interface {
	Do(ctx context.Context, ev scheduler.Event) (scheduler.Output, error)
}

// Leadership tells who leads. Leader returns the leader's id and the base
// URL of its API ("http://host:port").
type Leadership interface {
	Leader(ctx context.Context) (id, apiURL string, err error)
	IsLeader() bool
}

// Reader is what the API reads from the catalog.
type Reader interface {
	Job(name string) (catalog.JobView, bool)
	Jobs(q catalog.JobQuery) ([]catalog.JobView, string)
	AllJobs() []catalog.JobView
	Refs() []catalog.JobRef
	Summaries() []catalog.JobView
	Search(q catalog.SearchQuery) []catalog.JobView
	Runs(job string, after scheduler.RunID, limit int) ([]scheduler.Run, scheduler.RunID, bool)
	Run(id scheduler.RunID) (scheduler.Run, bool)
	Durations(job string) (catalog.Percentiles, []scheduler.Run, bool)
	AllDurations() ([]string, []catalog.Percentiles)
	Graph() catalog.Graph
}

var _ Reader = (*catalog.Catalog)(nil)

// MaxBody caps request bodies.
const MaxBody = 1 << 20

// Config is the API's configuration.
type Config struct {
	// Addr is the listen address; without users it must be loopback unless
	// Insecure.
	Addr string `mapstructure:"addr"`
	// AuthFile lists users (YAML or JSON); empty means no authentication.
	AuthFile string `mapstructure:"auth-file"`
	// Users are the loaded users (LoadUsers(AuthFile)); set by New when
	// empty and AuthFile is set.
	Users []User `mapstructure:"-"`
	// Insecure allows a non-loopback listener without authentication.
	Insecure bool `mapstructure:"insecure"`
	// TLSCert and TLSKey (PEM files) make Serve use TLS.
	TLSCert string `mapstructure:"tls-cert"`
	TLSKey  string `mapstructure:"tls-key"`
	// ExecutorBinary is served at GET /executor/horae when set.
	ExecutorBinary string `mapstructure:"executor-binary"`
	// LogPoll is how often a followed log is re-read (default 500 ms).
	LogPoll time.Duration `mapstructure:"log-poll"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("api config: tls-cert and tls-key must be given together")
	}
	if c.AuthFile == "" && len(c.Users) == 0 && !c.Insecure && c.Addr != "" && !loopbackAddr(c.Addr) {
		return fmt.Errorf("api config: listening on %s without an auth-file needs insecure", c.Addr)
	}
	for i, u := range c.Users {
		if err := u.validate(); err != nil {
			return fmt.Errorf("api config: user %d: %w", i, err)
		}
	}
	if c.LogPoll < 0 {
		return fmt.Errorf("api config: log-poll %v is negative", c.LogPoll)
	}
	return nil
}

// loopbackAddr reports whether a host:port listens on loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Deps are the API's collaborators.
type Deps struct {
	Catalog    Reader
	Commander  Commander
	Leadership Leadership // nil: this instance always leads
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
	HTTPClient *http.Client // for agents' /files/read and forwarding
	// Events is the hub GET /api/v1/events streams; nil answers 404.
	Events *events.Hub
}

// API serves both surfaces.
type API struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
	users   *userSet
	mux     *http.ServeMux
	metrics *apiMetrics
	client  *http.Client

	listMu    sync.Mutex
	listCache map[string]cachedJob
}

// New builds the API. It loads Config.AuthFile when Users is empty.
func New(cfg Config, deps Deps) (*API, error) {
	if deps.Catalog == nil || deps.Commander == nil {
		return nil, errors.New("api: Catalog and Commander are required")
	}
	if cfg.AuthFile != "" && len(cfg.Users) == 0 {
		users, err := LoadUsers(cfg.AuthFile)
		if err != nil {
			return nil, err
		}
		cfg.Users = users
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.LogPoll == 0 {
		cfg.LogPoll = 500 * time.Millisecond
	}
	a := &API{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now, client: deps.HTTPClient}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: 30 * time.Second}
	}
	if a.deps.Gatherer == nil {
		a.deps.Gatherer = prometheus.NewRegistry()
	}
	a.users = newUserSet(cfg.Users)
	m, err := newAPIMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	a.metrics = m
	a.mux = http.NewServeMux()
	a.routes()
	return a, nil
}

// Handler returns the HTTP handler of both surfaces.
func (a *API) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// Refuse dot segments and empty segments before the mux cleans
		// the path into another route (a job named "..").
		if p := r.URL.EscapedPath(); strings.Contains(p, "//") || hasDotSegment(p) {
			a.fail(w, r, surfaceOf(r.URL.Path), &BodyError{Problem: fmt.Sprintf("path %q has an empty, '.' or '..' segment", r.URL.Path)})
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("api handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				a.fail(w, r, surfaceOf(r.URL.Path), fmt.Errorf("panic: %v", v))
			}
		}()
		a.mux.ServeHTTP(w, r)
	})
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		s, _ := url.PathUnescape(seg)
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// Serve serves on ln until ctx ends, then shuts down gracefully (10 s).
func (a *API) Serve(ctx context.Context, ln net.Listener) error {
	if len(a.cfg.Users) == 0 && !a.cfg.Insecure && !loopbackAddr(ln.Addr().String()) {
		return fmt.Errorf("api: refusing to serve on %s without authentication (set an auth-file or insecure)", ln.Addr())
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if a.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("api: load tls key pair %s, %s: %w", a.cfg.TLSCert, a.cfg.TLSKey, err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("api serving", "addr", ln.Addr().String(), "tls", a.cfg.TLSCert != "", "auth", len(a.cfg.Users) > 0)
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	<-errc
	return nil
}

// surface says which error envelope a path gets.
type surface int

const (
	chronos surface = iota
	native
)

func surfaceOf(path string) surface {
	if strings.HasPrefix(path, "/api/") {
		return native
	}
	return chronos
}

// route describes one endpoint for the wrapper.
type route struct {
	pattern string // mux pattern, also the metrics label
	role    Role   // minimum role; RoleNone = open
	surface surface
	write   bool // a command: forwarded to the leader by followers
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, body []byte) error

// handle registers fn with auth, body cap, forwarding and metrics.
func (a *API) handle(rt route, fn handlerFunc) {
	a.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w}
		defer func() {
			a.metrics.observe(rt.pattern, rw.status(), time.Since(start))
		}()
		if rt.role != RoleNone {
			if err := a.authorize(r, rt.role); err != nil {
				a.fail(rw, r, rt.surface, err)
				return
			}
		}
		var body []byte
		if r.Body != nil && r.Method != http.MethodGet {
			b, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxBody))
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					a.fail(rw, r, rt.surface, errTooLarge)
					return
				}
				a.fail(rw, r, rt.surface, &BodyError{Problem: "read body: " + err.Error()})
				return
			}
			body = b
		}
		if rt.write && a.deps.Leadership != nil && !a.deps.Leadership.IsLeader() {
			a.forward(rw, r, rt.surface, body)
			return
		}
		if err := fn(rw, r, body); err != nil {
			if errors.Is(err, ErrNotLeader) && rt.write {
				a.forward(rw, r, rt.surface, body)
				return
			}
			a.fail(rw, r, rt.surface, err)
		}
	})
}

// forwardedHeader marks a request a follower forwarded, against loops.
const forwardedHeader = "X-Horae-Forwarded-By"

// forward proxies the request to the leader, as Chronos followers did
// (they proxy, not redirect). Auth was checked here already; the leader
// checks it again with the same credentials.
func (a *API) forward(w http.ResponseWriter, r *http.Request, s surface, body []byte) {
	if r.Header.Get(forwardedHeader) != "" || a.deps.Leadership == nil {
		a.fail(w, r, s, errNoLeader)
		return
	}
	id, leaderURL, err := a.deps.Leadership.Leader(r.Context())
	if err != nil || leaderURL == "" {
		a.log.Warn("no leader to forward to", "err", err)
		a.fail(w, r, s, errNoLeader)
		return
	}
	target, err := url.Parse(leaderURL)
	if err != nil {
		a.fail(w, r, s, fmt.Errorf("leader %s has a bad url %q: %w", id, leaderURL, err))
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set(forwardedHeader, "1")
			pr.Out.Body = io.NopCloser(bytes.NewReader(body))
			pr.Out.ContentLength = int64(len(body))
		},
		Transport: a.client.Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.log.Warn("forward to leader failed", "leader", id, "err", err)
			a.fail(w, r, s, errNoLeader)
		},
	}
	proxy.ServeHTTP(w, r)
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Errors of the API itself.
var (
	errTooLarge = &statusError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes", MaxBody)}
	errNoLeader = &statusError{code: http.StatusServiceUnavailable, msg: "no leader to handle the request; retry later"}
)

// statusError is an error with a fixed status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// notFound names a missing job or run.
func notFound(kind, name string) error { return &scheduler.NotFoundError{Kind: kind, Name: name} }

// badRequest is a 400 with a message.
func badRequest(format string, args ...any) error {
	return &BodyError{Problem: fmt.Sprintf(format, args...)}
}

// Detail is one field problem of an error response.
type Detail = scheduler.FieldProblem

// ErrorBody is the native surface's error envelope.
type ErrorBody struct {
	Error   string   `json:"error"`
	Details []Detail `json:"details,omitempty"`
}

// statusOf is the one error-to-status map of the native surface; the
// Chronos surface maps every 4xx except auth and size to 400.
func statusOf(err error) (int, []Detail) {
	var be *BodyError
	var ve *scheduler.ValidationError
	var ce *scheduler.ConflictError
	var se *statusError
	var ae *authError
	switch {
	case errors.As(err, &ae):
		return ae.code, nil
	case errors.As(err, &se):
		return se.code, nil
	case errors.As(err, &be):
		return http.StatusBadRequest, be.Details
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, ve.Problems
	case errors.As(err, &ce):
		var d []Detail
		for _, dep := range ce.Dependents {
			d = append(d, Detail{Field: "dependents", Message: dep})
		}
		return http.StatusConflict, d
	case errors.Is(err, scheduler.ErrNotFound):
		return http.StatusNotFound, nil
	case errors.Is(err, scheduler.ErrExists):
		return http.StatusConflict, nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, nil
	}
	return http.StatusInternalServerError, nil
}

// fail writes err in the surface's envelope. Internal errors are logged
// and answered without detail.
func (a *API) fail(w http.ResponseWriter, r *http.Request, s surface, err error) {
	code, details := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if ae := (*authError)(nil); errors.As(err, &ae) && ae.challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.challenge)
	}
	if s == chronos {
		if code >= 400 && code < 500 && code != http.StatusUnauthorized && code != http.StatusForbidden &&
			code != http.StatusRequestEntityTooLarge {
			code = http.StatusBadRequest
		}
		writeJSON(w, code, map[string]string{"message": msg, "status": http.StatusText(code)})
		return
	}
	writeJSON(w, code, ErrorBody{Error: msg, Details: details})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, s)
}

// do sends a command to the engine.
func (a *API) do(r *http.Request, ev scheduler.Event) (scheduler.Output, error) {
	return a.deps.Commander.Do(r.Context(), ev)
}

// pathName returns the {name} path value, checked as a job name.
func pathName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if p := checkName(name); p != "" {
		return "", &BodyError{Problem: fmt.Sprintf("job name %q %s", name, p), Details: []Detail{{Field: "name", Message: p}}}
	}
	return name, nil
}
