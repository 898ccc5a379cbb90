package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/scheduler"
)

// Store is durable state for one Horae cluster.
type Store interface {
	// Load reads everything the engine needs to take over: jobs, cursors and
	// runs, each sorted by job name (runs then by ID).
	Load(ctx context.Context) (scheduler.State, error)
	// Commit applies records atomically, in order. It is fenced: it fails
	// with ErrFenced (errors.Is) when this instance no longer holds
	// leadership epoch. Records are checked before anything is written: a
	// record over MaxRecordSize fails with ErrTooLarge, a cursor or run of a
	// job not stored fails with scheduler.ErrNotFound, a job over
	// MaxRunsPerJob runs with ErrTooManyRuns.
	Commit(ctx context.Context, epoch int64, records []scheduler.Record) error
	// FrameworkID returns the stored Mesos framework ID, "" when none.
	FrameworkID(ctx context.Context) (string, error)
	// SetFrameworkID stores the Mesos framework ID, fenced like Commit.
	SetFrameworkID(ctx context.Context, epoch int64, id string) error
	// Campaign blocks until this instance leads (or ctx ends) and returns
	// its term. After a term is lost, call Campaign again for a new term (a
	// new, higher epoch), or Close.
	Campaign(ctx context.Context, self Candidate) (Term, error)
	// Leader reports the current leader; any instance may ask (followers
	// use it to forward writes). ErrNoLeader when there is none.
	Leader(ctx context.Context) (LeaderInfo, error)
	// Close ends the session: a leader stops leading at once.
	Close() error
}

// Candidate is an instance running for leadership.
type Candidate struct {
	ID     string `json:"id"`     // unique per instance, e.g. host:port
	APIURL string `json:"apiURL"` // where followers forward writes
}

// LeaderInfo is the current leader and its term's epoch.
type LeaderInfo struct {
	ID     string `json:"id"`
	APIURL string `json:"apiURL"`
	Epoch  int64  `json:"epoch"`
}

// Term is one leadership term.
type Term interface {
	// Epoch numbers the term; each term of a cluster has a higher epoch than
	// every term before it.
	Epoch() int64
	// Lost is closed as soon as leadership is in doubt (ZooKeeper
	// Disconnected) or lost (session expired, candidate deleted, Resign,
	// Close). A term that saw Lost is over: stop acting as leader and call
	// Campaign again.
	Lost() <-chan struct{}
	// Resign ends the term and withdraws the candidacy, so another instance
	// can lead.
	Resign(ctx context.Context) error
}

// Errors matched with errors.Is.
var (
	// ErrFenced: the instance no longer leads the epoch it wrote with.
	ErrFenced = errors.New("fenced: this instance does not hold leadership of that epoch")
	// ErrNoLeader: no instance leads right now.
	ErrNoLeader = errors.New("no leader")
	// ErrTooLarge: one record encodes to more than MaxRecordSize bytes.
	ErrTooLarge = errors.New("record too large")
	// ErrTooManyRuns: a job would hold more than MaxRunsPerJob runs.
	ErrTooManyRuns = errors.New("too many runs stored for one job")
)

// Limits shared by both implementations, so they accept the same batches.
const (
	// MaxRecordSize bounds one encoded job, cursor or run (one znode).
	MaxRecordSize = 256 << 10
	// MaxRunsPerJob bounds the runs stored per job (one parent znode's
	// children). The engine prunes history far below this; the limit only
	// guards against unbounded growth (Chronos #773).
	MaxRunsPerJob = 4096
	// FormatVersion is the data format this Horae writes and reads; see
	// docs/zookeeper.md. A store with a newer format is refused.
	FormatVersion = 1
)

// Defaults for Config.
const (
	DefaultDataDir          = "./horae-data"
	DefaultZKSessionTimeout = 10 * time.Second
)

// Config selects and configures the store.
type Config struct {
	// URL is "" (bbolt in DataDir), a directory path or file:// URL (bbolt
	// in that directory), or zk://host1:2181,host2:2181/root (ZooKeeper;
	// the root defaults to /horae).
	URL string
	// DataDir holds horae.db when URL is "" (default ./horae-data).
	DataDir string
	// ZKSessionTimeout is the requested ZooKeeper session timeout (default
	// 10 s). A leader stops within 2/3 of it when cut off.
	ZKSessionTimeout time.Duration
	// ZKAuth is "user:pass": the session authenticates with digest auth
	// and every znode it creates gets an ACL granting only that user.
	ZKAuth string
	// Registerer receives the store's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if c.ZKSessionTimeout < 0 {
		return fmt.Errorf("store: config zk-session-timeout: %s is negative", c.ZKSessionTimeout)
	}
	if c.ZKAuth != "" {
		if u, p, ok := strings.Cut(c.ZKAuth, ":"); !ok || u == "" || p == "" {
			return errors.New("store: config zk-auth: want user:password")
		}
	}
	if isZK(c.URL) {
		_, _, err := parseZKURL(c.URL)
		return err
	}
	if c.ZKAuth != "" {
		return errors.New("store: config zk-auth: set, but the store is not ZooKeeper (zk://...)")
	}
	if strings.Contains(c.URL, "://") && !strings.HasPrefix(c.URL, "file://") {
		return fmt.Errorf("store: config store %q: want \"\", a directory, file://dir or zk://host:port/root", c.URL)
	}
	if c.boltDir() == "" {
		return errors.New("store: config data-dir: empty")
	}
	return nil
}

func isZK(url string) bool { return strings.HasPrefix(url, "zk://") }

func (c Config) boltDir() string {
	switch {
	case c.URL == "" && c.DataDir == "":
		return DefaultDataDir
	case c.URL == "":
		return c.DataDir
	default:
		return strings.TrimPrefix(c.URL, "file://")
	}
}

func (c Config) sessionTimeout() time.Duration {
	if c.ZKSessionTimeout == 0 {
		return DefaultZKSessionTimeout
	}
	return c.ZKSessionTimeout
}

// parseZKURL splits zk://h1:2181,h2:2181/root into servers and root.
func parseZKURL(url string) (servers []string, root string, err error) {
	rest := strings.TrimPrefix(url, "zk://")
	hosts, root, _ := strings.Cut(rest, "/")
	root = "/" + strings.TrimSuffix(root, "/")
	if root == "/" {
		root = "/horae"
	}
	if path.Clean(root) != root || strings.ContainsAny(root, "\x00") {
		return nil, "", fmt.Errorf("store: config store %q: root %q is not a clean ZooKeeper path", url, root)
	}
	if hosts == "" {
		return nil, "", fmt.Errorf("store: config store %q: no ZooKeeper servers", url)
	}
	for _, h := range strings.Split(hosts, ",") {
		if !strings.Contains(h, ":") {
			h += ":2181"
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return nil, "", fmt.Errorf("store: config store %q: server %q: want host:port", url, h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, "", fmt.Errorf("store: config store %q: server %q: bad port", url, h)
		}
		servers = append(servers, h)
	}
	return servers, root, nil
}

// Open opens the store c selects. For ZooKeeper it connects, authenticates
// and creates the layout; it does not campaign.
func Open(ctx context.Context, c Config, logger *slog.Logger) (Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(c.Registerer)
	if err != nil {
		return nil, err
	}
	if isZK(c.URL) {
		return openZK(ctx, c, logger, m)
	}
	return openBolt(ctx, c.boltDir(), logger, m)
}
