package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Config.withDefaults when a field is zero.
const (
	DefaultFrameworkName      = "horae"
	DefaultRole               = "*"
	DefaultFailoverTimeout    = 4 * 7 * 24 * time.Hour
	DefaultExecutorCPUs       = 0.05
	DefaultExecutorMem        = 32
	DefaultHeartbeatMisses    = 5
	DefaultRefuse             = time.Second
	DefaultSuppressedRefuse   = time.Hour
	DefaultReconcileInterval  = 10 * time.Minute
	DefaultReconcileRetry     = 4 * time.Second
	DefaultReconcileRetryMax  = 2 * time.Minute
	DefaultReconcileAttempts  = 6
	DefaultReviveInterval     = 2 * time.Second
	DefaultCallTimeout        = 20 * time.Second
	DefaultZKSessionTimeout   = 10 * time.Second
	DefaultResubscribeMin     = time.Second
	DefaultResubscribeMax     = 15 * time.Second
	DefaultKillGrace          = 10 * time.Second
	DefaultExecutorShutdown   = 15 * time.Second
	DefaultExecutorMode       = ExecutorShared
	DefaultExecutorIdle       = 60 * time.Second
	defaultHeartbeatInterval  = 15 * time.Second
	maxRefuse                 = 365 * 24 * time.Hour
	executorFetchedOutputFile = "horae"
)

// Defaults of the shared executor's retention of finished tasks'
// directories (package executor's DefaultRetainTasks, DefaultRetainFor).
const (
	DefaultExecutorRetainTasks = 1000
	DefaultExecutorRetainFor   = 24 * time.Hour
)

// Executor modes accepted in Config.ExecutorMode.
const (
	// ExecutorShared runs one Horae executor per (framework, agent): every
	// task that can share names the same executor ID and a byte-identical
	// ExecutorInfo, and the executor stays up IdleTimeout after its last
	// task.
	ExecutorShared = "shared"
	// ExecutorPerTask runs every task in its own executor process
	// (executor ID = task ID).
	ExecutorPerTask = "per-task"
)

// LabelExecutorIdleTimeout is the label of a shared executor's
// ExecutorInfo that tells the executor how long to stay up with no task (a
// Go duration). The executor reads it from its SUBSCRIBED event, so no
// flag or environment is needed (package executor has the same literal).
const LabelExecutorIdleTimeout = "horae.executor.idle-timeout"

// LabelExecutorRetainTasks (a decimal integer, at least 1) and
// LabelExecutorRetainFor (a positive Go duration) tell a shared executor
// how many finished tasks' directories it keeps in its sandbox, and for
// how long; older ones are deleted (package executor has the same
// literals, LabelRetainTasks and LabelRetainFor).
const (
	LabelExecutorRetainTasks = "horae.executor.retain-tasks"
	LabelExecutorRetainFor   = "horae.executor.retain-for"
)

// Capability names accepted in Config.Capabilities.
const (
	CapMultiRole        = "MULTI_ROLE"
	CapPartitionAware   = "PARTITION_AWARE"
	CapTaskKillingState = "TASK_KILLING_STATE"
)

// FrameworkIDStore keeps the Mesos framework ID across restarts and leader
// changes. Get returns "" with a nil error when no ID is stored yet. Set("")
// clears the stored ID (after Mesos removed the framework).
type FrameworkIDStore interface {
	Get(ctx context.Context) (string, error)
	Set(ctx context.Context, id string) error
}

// TLS configures TLS to the master.
type TLS struct {
	// Enabled selects https for masters found in ZooKeeper; an https://
	// Master enables it too.
	Enabled            bool
	CAFile             string // PEM bundle of CAs to trust; empty = system pool
	InsecureSkipVerify bool
}

// Config configures a Framework. Zero fields take the Default* values.
type Config struct {
	// Master is "http(s)://host:5050" (path optional) or
	// "zk://[user:pass@]h1:2181,h2:2181/mesos".
	Master        string
	FrameworkName string
	User          string // FrameworkInfo.user; required
	Role          string
	Principal     string
	SecretFile    string // file holding the principal's secret (HTTP Basic)
	// FailoverTimeout is how long Mesos keeps the tasks while no scheduler is
	// subscribed. The framework always checkpoints.
	FailoverTimeout time.Duration
	Hostname        string
	WebUIURL        string
	TLS             TLS
	// Capabilities: MULTI_ROLE, PARTITION_AWARE, TASK_KILLING_STATE. Nil means
	// all three.
	Capabilities []string
	FrameworkIDs FrameworkIDStore // nil = kept in memory only

	// ExecutorCommand is the shell command that starts the Horae executor in
	// the sandbox: "./horae executor" when fetched from ExecutorURI, or an
	// absolute path to a local binary plus "executor".
	ExecutorCommand string
	// ExecutorURI, when set, is fetched into the sandbox as file "horae",
	// executable, not extracted, cached.
	ExecutorURI  string
	ExecutorCPUs float64
	ExecutorMem  float64
	// ExecutorShutdownGrace is ExecutorInfo.shutdown_grace_period.
	ExecutorShutdownGrace time.Duration
	// KillGrace is the SIGTERM→SIGKILL grace of the kill policy.
	KillGrace time.Duration
	// ExecutorMode is ExecutorShared (default) or ExecutorPerTask. In
	// shared mode a task whose job fetches URIs still gets its own
	// executor, because the fetch list is part of the ExecutorInfo.
	ExecutorMode string
	// ExecutorIdleTimeout is how long a shared executor stays up after its
	// last task ended and was acknowledged (LabelExecutorIdleTimeout).
	ExecutorIdleTimeout time.Duration
	// ExecutorRetainTasks and ExecutorRetainFor bound the finished tasks'
	// directories a shared executor keeps in its sandbox: a directory is
	// deleted once ExecutorRetainTasks newer ones are kept or once it is
	// older than ExecutorRetainFor (LabelExecutorRetainTasks,
	// LabelExecutorRetainFor). 0 = the defaults.
	ExecutorRetainTasks int
	ExecutorRetainFor   time.Duration
	// Version, when set, is part of the shared executor's ID, so that an
	// upgraded scheduler does not name an executor of the old version.
	Version string

	// HeartbeatMisses: re-subscribe after this many heartbeat intervals
	// without any event.
	HeartbeatMisses int
	// Refuse is the decline filter while offers are wanted (1 s, Mesos's
	// allocation interval: a longer filter left runs due meanwhile waiting
	// for the next REVIVE; p99 lateness at 100 runs/s went from 385 ms to
	// 117 ms); SuppressedRefuse the one while they are not.
	Refuse           time.Duration
	SuppressedRefuse time.Duration
	// ReviveInterval is the minimum time between two REVIVE calls while
	// offers stay wanted.
	ReviveInterval time.Duration
	// ReconcileInterval is the period of implicit reconciliation.
	ReconcileInterval time.Duration
	// ReconcileRetry is the first resend delay of an explicit reconciliation
	// (doubling up to ReconcileRetryMax); after ReconcileAttempts sends the
	// unanswered tasks are reported Missing.
	ReconcileRetry    time.Duration
	ReconcileRetryMax time.Duration
	ReconcileAttempts int
	// CallTimeout bounds every non-SUBSCRIBE call and the SUBSCRIBE response
	// headers.
	CallTimeout      time.Duration
	ZKSessionTimeout time.Duration
	// ResubscribeMin/Max bound the backoff between subscription attempts.
	ResubscribeMin time.Duration
	ResubscribeMax time.Duration
}

func (c Config) withDefaults() Config {
	setD := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.FrameworkName == "" {
		c.FrameworkName = DefaultFrameworkName
	}
	if c.Role == "" {
		c.Role = DefaultRole
	}
	if c.Capabilities == nil {
		c.Capabilities = []string{CapMultiRole, CapPartitionAware, CapTaskKillingState}
	}
	if c.ExecutorCPUs == 0 {
		c.ExecutorCPUs = DefaultExecutorCPUs
	}
	if c.ExecutorMem == 0 {
		c.ExecutorMem = DefaultExecutorMem
	}
	if c.HeartbeatMisses == 0 {
		c.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if c.ReconcileAttempts == 0 {
		c.ReconcileAttempts = DefaultReconcileAttempts
	}
	setD(&c.FailoverTimeout, DefaultFailoverTimeout)
	setD(&c.ExecutorShutdownGrace, DefaultExecutorShutdown)
	setD(&c.KillGrace, DefaultKillGrace)
	setD(&c.ExecutorIdleTimeout, DefaultExecutorIdle)
	setD(&c.ExecutorRetainFor, DefaultExecutorRetainFor)
	if c.ExecutorRetainTasks == 0 {
		c.ExecutorRetainTasks = DefaultExecutorRetainTasks
	}
	if c.ExecutorMode == "" {
		c.ExecutorMode = DefaultExecutorMode
	}
	setD(&c.Refuse, DefaultRefuse)
	setD(&c.SuppressedRefuse, DefaultSuppressedRefuse)
	setD(&c.ReviveInterval, DefaultReviveInterval)
	setD(&c.ReconcileInterval, DefaultReconcileInterval)
	setD(&c.ReconcileRetry, DefaultReconcileRetry)
	setD(&c.ReconcileRetryMax, DefaultReconcileRetryMax)
	setD(&c.CallTimeout, DefaultCallTimeout)
	setD(&c.ZKSessionTimeout, DefaultZKSessionTimeout)
	setD(&c.ResubscribeMin, DefaultResubscribeMin)
	setD(&c.ResubscribeMax, DefaultResubscribeMax)
	if strings.HasPrefix(strings.ToLower(c.Master), "https://") {
		c.TLS.Enabled = true
	}
	return c
}

// Validate checks c (after defaults) and names every field at fault.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("framework: config %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, err := parseMaster(c.Master); err != nil {
		bad("Master", "%v", err)
	}
	if c.User == "" {
		bad("User", "empty; Mesos requires framework_info.user")
	}
	if strings.TrimSpace(c.ExecutorCommand) == "" {
		bad("ExecutorCommand", "empty; tasks need a command that starts the Horae executor")
	}
	if c.ExecutorURI != "" {
		if u, err := url.Parse(c.ExecutorURI); err != nil || u.Scheme == "" {
			bad("ExecutorURI", "%q is not an absolute URI", c.ExecutorURI)
		}
	}
	if c.ExecutorMode != ExecutorShared && c.ExecutorMode != ExecutorPerTask {
		bad("ExecutorMode", "%q, want %q or %q", c.ExecutorMode, ExecutorShared, ExecutorPerTask)
	}
	if c.SecretFile != "" && c.Principal == "" {
		bad("SecretFile", "set without Principal")
	}
	if c.Role != "*" && (strings.ContainsAny(c.Role, " /\t\n") || c.Role == "." || c.Role == "..") {
		bad("Role", "%q is not a valid Mesos role", c.Role)
	}
	for _, capName := range c.Capabilities {
		switch capName {
		case CapMultiRole, CapPartitionAware, CapTaskKillingState:
		default:
			bad("Capabilities", "unknown capability %q (want %s, %s or %s)", capName, CapMultiRole, CapPartitionAware, CapTaskKillingState)
		}
	}
	if c.ExecutorCPUs < 0 || c.ExecutorMem < 0 {
		bad("ExecutorCPUs/ExecutorMem", "negative")
	}
	if c.HeartbeatMisses < 1 {
		bad("HeartbeatMisses", "%d, want at least 1", c.HeartbeatMisses)
	}
	if c.ReconcileAttempts < 1 {
		bad("ReconcileAttempts", "%d, want at least 1", c.ReconcileAttempts)
	}
	if c.ExecutorRetainTasks < 1 {
		bad("ExecutorRetainTasks", "%d, want at least 1", c.ExecutorRetainTasks)
	}
	if c.ExecutorRetainFor <= 0 {
		bad("ExecutorRetainFor", "%s, want a positive duration", c.ExecutorRetainFor)
	}
	for name, d := range map[string]time.Duration{
		"FailoverTimeout": c.FailoverTimeout, "Refuse": c.Refuse,
		"SuppressedRefuse": c.SuppressedRefuse, "ReconcileInterval": c.ReconcileInterval,
		"ReconcileRetry": c.ReconcileRetry, "ReconcileRetryMax": c.ReconcileRetryMax,
		"CallTimeout": c.CallTimeout, "ZKSessionTimeout": c.ZKSessionTimeout,
		"ResubscribeMin": c.ResubscribeMin, "ResubscribeMax": c.ResubscribeMax,
		"KillGrace": c.KillGrace, "ExecutorShutdownGrace": c.ExecutorShutdownGrace,
		"ReviveInterval": c.ReviveInterval, "ExecutorIdleTimeout": c.ExecutorIdleTimeout,
	} {
		if d < 0 {
			bad(name, "negative duration %s", d)
		}
	}
	if c.Refuse > maxRefuse || c.SuppressedRefuse > maxRefuse {
		bad("Refuse", "above Mesos's cap of 365 days")
	}
	if c.ResubscribeMax < c.ResubscribeMin {
		bad("ResubscribeMax", "%s below ResubscribeMin %s", c.ResubscribeMax, c.ResubscribeMin)
	}
	return errors.Join(errs...)
}

func (c Config) hasCap(name string) bool {
	for _, x := range c.Capabilities {
		if x == name {
			return true
		}
	}
	return false
}

// master is a parsed Config.Master.
type master struct {
	// endpoint is the scheduler API URL for an http(s) master.
	endpoint string
	// zk is set for a zk:// master.
	zk *zkMaster
}

// zkMaster is a parsed zk:// URL.
type zkMaster struct {
	servers []string // host:port
	path    string
	auth    string // "user:pass" for digest auth, or ""
}

// parseMaster parses "http(s)://host:port[/path]", "host:port" (http) or
// "zk://[user:pass@]h1:p1,h2:p2/path".
func parseMaster(s string) (master, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return master{}, errors.New("empty; want http(s)://host:5050 or zk://host:2181/mesos")
	}
	if strings.HasPrefix(strings.ToLower(s), "zk://") {
		z, err := parseZKURL(s)
		if err != nil {
			return master{}, err
		}
		return master{zk: &z}, nil
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return master{}, fmt.Errorf("%q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return master{}, fmt.Errorf("%q: scheme %q, want http, https or zk", s, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return master{}, fmt.Errorf("%q: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return master{}, fmt.Errorf("%q: unexpected user, query or fragment", s)
	}
	ep := schedulerEndpoint(u.Scheme, u.Host, u.Path)
	if v, err := url.Parse(ep); err != nil || v.Host != u.Host {
		return master{}, fmt.Errorf("%q: host or path not usable in a URL", s)
	}
	return master{endpoint: ep}, nil
}

// schedulerEndpoint builds the scheduler API URL under an optional prefix
// path ("/master" style prefixes are kept).
func schedulerEndpoint(scheme, host, prefix string) string {
	prefix = strings.TrimRight(prefix, "/")
	if strings.HasSuffix(prefix, "/api/v1/scheduler") {
		return scheme + "://" + host + prefix
	}
	return scheme + "://" + host + prefix + "/api/v1/scheduler"
}

// parseZKURL parses zk://[user:pass@]h1:p1[,h2:p2...]/path.
func parseZKURL(s string) (zkMaster, error) {
	rest, ok := strings.CutPrefix(s, "zk://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "ZK://")
	}
	if !ok {
		return zkMaster{}, fmt.Errorf("%q: not a zk:// URL", s)
	}
	var z zkMaster
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		z.auth, rest = rest[:at], rest[at+1:]
		if !strings.Contains(z.auth, ":") || strings.HasPrefix(z.auth, ":") {
			return zkMaster{}, fmt.Errorf("%q: credentials must be user:password", s)
		}
	}
	slash := strings.Index(rest, "/")
	if slash < 0 {
		return zkMaster{}, fmt.Errorf("%q: no path (want e.g. zk://host:2181/mesos)", s)
	}
	hosts, path := rest[:slash], strings.TrimRight(rest[slash:], "/")
	if path == "" {
		return zkMaster{}, fmt.Errorf("%q: path / is not allowed (want e.g. /mesos)", s)
	}
	if strings.Contains(path, "//") || strings.ContainsAny(path, "?#\x00") {
		return zkMaster{}, fmt.Errorf("%q: invalid znode path %q", s, path)
	}
	z.path = path
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return zkMaster{}, fmt.Errorf("%q: empty host in host list", s)
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "2181")
		}
		host, port, err := net.SplitHostPort(h)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 ||
			strings.ContainsAny(host, "/@?#[] ") {
			return zkMaster{}, fmt.Errorf("%q: bad host %q", s, h)
		}
		z.servers = append(z.servers, h)
	}
	return z, nil
}
