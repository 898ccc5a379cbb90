package localmesos

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Config configures a localmesos master and agent. Zero fields take the
// defaults documented on each.
type Config struct {
	// Listen is the TCP address of the HTTP server ("127.0.0.1:0").
	Listen string
	// WorkDir is the agent work directory holding sandboxes; default a new
	// temporary directory, removed by Close.
	WorkDir string
	// Hostname is the agent's and master's hostname ("127.0.0.1").
	Hostname string
	// CPUs, MemMB and DiskMB are the agent's resources; default this
	// machine's CPUs, total memory and the free space of WorkDir.
	CPUs, MemMB, DiskMB float64
	// Ports are the agent's port ranges (31000-32000).
	Ports []PortRange
	// Attributes are the agent's text attributes.
	Attributes map[string]string
	// HeartbeatInterval is the scheduler stream's heartbeat interval (15s).
	HeartbeatInterval time.Duration
	// UpdateResendInterval is the first re-send delay of an unacknowledged
	// status update (10s); it doubles on each re-send, up to 10 minutes.
	UpdateResendInterval time.Duration
	// ExecutorRegistrationTimeout is how long a launched executor has to
	// subscribe before it is killed (1m).
	ExecutorRegistrationTimeout time.Duration
	// ExecutorShutdownGracePeriod is the time between an executor SHUTDOWN
	// event and SIGKILL (5s).
	ExecutorShutdownGracePeriod time.Duration
	// OfferRefuseDefault is the refuse filter when a call gives none (5s).
	OfferRefuseDefault time.Duration
	// RecoveryTimeout is how long executors of checkpointing frameworks
	// have to re-subscribe after RestartAgent (15m).
	RecoveryTimeout time.Duration
}

// maxRuns bounds how many exited executor runs /files still knows, so a
// long-running localmesos does not grow without end (sandboxes stay on
// disk).
const maxRuns = 5000

// version is the Mesos version localmesos reports.
const version = "1.12.0"

// defaultPath is the PATH a Mesos agent gives executors.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Mesos is a single-machine Mesos master and agent speaking the v1
// scheduler and executor HTTP APIs. It is safe for concurrent use.
type Mesos struct {
	cfg      Config
	log      *slog.Logger
	masterID string
	tempDir  bool
	faults   *Faults

	ln      net.Listener
	srv     *http.Server
	host    string // advertised IP or hostname
	port    int
	stop    chan struct{}
	wg      sync.WaitGroup // server, housekeeping, executor processes
	streams sync.WaitGroup // stream handlers; Add only under mu before shutdown
	closed  sync.Once

	mu           sync.Mutex
	agentSeq     int
	agentID      string
	offerSeq     int
	frameworkSeq int
	frameworks   map[string]*framework
	removed      map[string]bool
	executors    map[exKey]*executor   // live executors of the current agent
	runs         map[exKey][]*executor // runs, for /files; see maxRuns
	finished     []exKey               // keys of exited runs, oldest first
	total        resources
	used         resources // tasks and executors on the current agent
	allocRound   int
	shutdown     bool
}

// New validates cfg, fills in defaults and returns a Mesos ready to Start.
func New(cfg Config, logger *slog.Logger) (*Mesos, error) {
	if logger == nil {
		return nil, errors.New("localmesos: nil logger")
	}
	m := &Mesos{
		log:        logger,
		masterID:   uuidString(newUUID()),
		frameworks: map[string]*framework{},
		removed:    map[string]bool{},
		executors:  map[exKey]*executor{},
		runs:       map[exKey][]*executor{},
		stop:       make(chan struct{}),
	}
	m.faults = &Faults{m: m}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "127.0.0.1"
	}
	if cfg.WorkDir == "" {
		dir, err := os.MkdirTemp("", "localmesos-")
		if err != nil {
			return nil, fmt.Errorf("localmesos: create work dir: %w", err)
		}
		cfg.WorkDir = dir
		m.tempDir = true
	} else if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("localmesos: create work dir %s: %w", cfg.WorkDir, err)
	}
	// Sandbox paths go to executors (MESOS_DIRECTORY, MESOS_SANDBOX) and
	// frameworks (task directories), which resolve them from their own
	// working directories: absolute, as a real agent's always are.
	abs, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("localmesos: work dir %s: %w", cfg.WorkDir, err)
	}
	cfg.WorkDir = abs
	if cfg.CPUs == 0 {
		cfg.CPUs = float64(runtime.NumCPU())
	}
	if cfg.MemMB == 0 {
		mem, err := memTotalMB()
		if err != nil {
			return nil, fmt.Errorf("localmesos: default mem: %w", err)
		}
		cfg.MemMB = mem
	}
	if cfg.DiskMB == 0 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(cfg.WorkDir, &st); err != nil {
			return nil, fmt.Errorf("localmesos: default disk: statfs %s: %w", cfg.WorkDir, err)
		}
		cfg.DiskMB = float64(st.Bavail * uint64(st.Bsize) / (1 << 20))
	}
	if cfg.CPUs < 0 || cfg.MemMB < 0 || cfg.DiskMB < 0 {
		return nil, fmt.Errorf("localmesos: negative resources cpus=%v mem=%v disk=%v", cfg.CPUs, cfg.MemMB, cfg.DiskMB)
	}
	if cfg.Ports == nil {
		cfg.Ports = []PortRange{{31000, 32000}}
	}
	for _, p := range cfg.Ports {
		if p.End < p.Begin || p.End > 65535 {
			return nil, fmt.Errorf("localmesos: invalid port range %d-%d", p.Begin, p.End)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.HeartbeatInterval, 15*time.Second)
	def(&cfg.UpdateResendInterval, 10*time.Second)
	def(&cfg.ExecutorRegistrationTimeout, time.Minute)
	def(&cfg.ExecutorShutdownGracePeriod, 5*time.Second)
	def(&cfg.OfferRefuseDefault, 5*time.Second)
	def(&cfg.RecoveryTimeout, 15*time.Minute)
	m.cfg = cfg
	m.total = resources{cpus: milli(cfg.CPUs), mem: milli(cfg.MemMB), disk: milli(cfg.DiskMB), ports: normalizePorts(cfg.Ports)}
	m.newAgentLocked()
	return m, nil
}

func memTotalMB() (float64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				return 0, fmt.Errorf("parse /proc/meminfo MemTotal %q: %w", fields[1], err)
			}
			return float64(int64(kb / 1024)), nil
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}

// Start listens and serves; it returns once the server accepts
// connections. ctx bounds only the start; Close stops the server.
func (m *Mesos) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.cfg.Listen)
	if err != nil {
		return fmt.Errorf("localmesos: listen on %s: %w", m.cfg.Listen, err)
	}
	m.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	m.port = addr.Port
	m.host = addr.IP.String()
	if addr.IP.IsUnspecified() {
		m.host = m.cfg.Hostname
	}
	m.srv = &http.Server{Handler: m.routes(), ReadHeaderTimeout: 10 * time.Second}
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("localmesos server stopped", "err", err)
		}
	}()
	go func() {
		defer m.wg.Done()
		m.housekeeping()
	}()
	m.log.Info("localmesos serving", "url", m.URL(), "master", m.masterID, "agent", m.AgentID(),
		"cpus", m.cfg.CPUs, "mem", m.cfg.MemMB, "disk", m.cfg.DiskMB, "work_dir", m.cfg.WorkDir)
	return nil
}

// URL is the master's and agent's base URL, "http://127.0.0.1:port".
func (m *Mesos) URL() string { return "http://" + net.JoinHostPort(m.host, strconv.Itoa(m.port)) }

// HostPort is the server's address as host:port.
func (m *Mesos) HostPort() string { return net.JoinHostPort(m.host, strconv.Itoa(m.port)) }

// MasterID is the master's ID; framework IDs are "<MasterID>-0000"…
func (m *Mesos) MasterID() string { return m.masterID }

// AgentID is the current agent's ID ("<MasterID>-S0"; a new one after
// Faults.LoseAgent).
func (m *Mesos) AgentID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.agentID
}

// WorkDir is the agent work directory.
func (m *Mesos) WorkDir() string { return m.cfg.WorkDir }

// Faults returns the fault switches.
func (m *Mesos) Faults() *Faults { return m.faults }

// Close stops serving, ends every stream, kills every executor process
// group and waits for all goroutines. A temporary work dir is removed.
func (m *Mesos) Close() error {
	var err error
	m.closed.Do(func() {
		m.mu.Lock()
		m.shutdown = true
		var procs []*executor
		for _, runs := range m.runs {
			procs = append(procs, runs...)
		}
		m.mu.Unlock()
		close(m.stop)
		if m.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = m.srv.Shutdown(ctx)
			cancel()
		}
		for _, ex := range procs {
			ex.kill()
		}
		m.wg.Wait()
		m.streams.Wait()
		if m.tempDir {
			if rerr := os.RemoveAll(m.cfg.WorkDir); rerr != nil && err == nil {
				err = fmt.Errorf("localmesos: remove work dir: %w", rerr)
			}
		}
	})
	return err
}

// Wait blocks until ctx is done, then closes m.
func (m *Mesos) Wait(ctx context.Context) error {
	<-ctx.Done()
	return m.Close()
}

func (m *Mesos) newAgentLocked() {
	m.agentID = fmt.Sprintf("%s-S%d", m.masterID, m.agentSeq)
	m.agentSeq++
	m.used = resources{}
}

// housekeeping runs the timers: update re-sends, refuse filter expiry,
// failover timeouts, executor registration and recovery timeouts.
func (m *Mesos) housekeeping() {
	period := 25 * time.Millisecond
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			m.mu.Lock()
			m.tickLocked(now)
			m.mu.Unlock()
		}
	}
}

func (m *Mesos) tickLocked(now time.Time) {
	for _, fw := range m.sortedFrameworks() {
		fw.filtered(resources{}, now) // drops expired filters even while nothing is offered
		if fw.stream == nil && !fw.failoverDeadline.IsZero() && now.After(fw.failoverDeadline) {
			m.log.Info("framework failover timeout expired", "framework", fw.id)
			m.removeFrameworkLocked(fw)
			continue
		}
		for _, id := range sortedKeys(fw.tasks) {
			t := fw.tasks[id]
			if len(t.pending) > 0 && !now.Before(t.nextResend) {
				m.forwardLocked(t, now)
			}
		}
	}
	for _, ex := range m.sortedExecutors() {
		switch {
		case ex.pid != 0 && !ex.subscribed && !ex.terminating && now.After(ex.regDeadline):
			ex.killReason = fmt.Sprintf("Executor did not register within %s", stoutDuration(float64(m.cfg.ExecutorRegistrationTimeout)))
			ex.killCode = mesos.REASON_EXECUTOR_REGISTRATION_TIMEOUT
			ex.terminating = true
			m.log.Info("executor registration timed out", "executor", ex.id, "framework", ex.fwID)
			go ex.kill()
		case ex.recovering && !ex.terminating && now.After(ex.recoverDeadline):
			ex.killReason = fmt.Sprintf("Executor did not reregister within %s", stoutDuration(float64(m.cfg.RecoveryTimeout)))
			ex.killCode = mesos.REASON_EXECUTOR_REREGISTRATION_TIMEOUT
			ex.terminating = true
			go ex.kill()
		case ex.terminating && !ex.killAt.IsZero() && now.After(ex.killAt):
			ex.killAt = time.Time{}
			go ex.kill()
		}
	}
	m.allocateLocked(now)
}

func (m *Mesos) sortedFrameworks() []*framework {
	out := make([]*framework, 0, len(m.frameworks))
	for _, id := range sortedKeys(m.frameworks) {
		out = append(out, m.frameworks[id])
	}
	return out
}

func (m *Mesos) sortedExecutors() []*executor {
	keys := make([]exKey, 0, len(m.executors))
	for k := range m.executors {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].fw != keys[j].fw {
			return keys[i].fw < keys[j].fw
		}
		return keys[i].ex < keys[j].ex
	})
	out := make([]*executor, len(keys))
	for i, k := range keys {
		out[i] = m.executors[k]
	}
	return out
}

func sortedKeys[V any](mp map[string]V) []string {
	keys := make([]string, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// masterInfo is the MasterInfo sent in SUBSCRIBED.
func (m *Mesos) masterInfo() mesos.MasterInfo {
	port := uint32(m.port)
	var ip uint32
	if addr := net.ParseIP(m.host).To4(); addr != nil {
		ip = binary.LittleEndian.Uint32(addr)
	}
	host := m.host
	return mesos.MasterInfo{
		ID: m.masterID, IP: ip, Port: &port,
		PID:      strPtr("master@" + m.HostPort()),
		Hostname: strPtr(m.cfg.Hostname),
		Version:  strPtr(version),
		Address:  &mesos.Address{Hostname: strPtr(m.cfg.Hostname), IP: &host, Port: int32(m.port)},
		Capabilities: []mesos.MasterInfo_Capability{
			{Type: mesos.MasterInfo_Capability_AGENT_UPDATE},
			{Type: mesos.MasterInfo_Capability_AGENT_DRAINING},
			{Type: capabilityQuotaV2},
		},
	}
}

// agentInfo is the AgentInfo sent to executors.
func (m *Mesos) agentInfoLocked() mesos.AgentInfo {
	port := int32(m.port)
	return mesos.AgentInfo{
		Hostname:   m.cfg.Hostname,
		Port:       &port,
		Resources:  m.total.toMesos(false, false, ""),
		Attributes: m.attributes(),
		ID:         &mesos.AgentID{Value: m.agentID},
	}
}

func (m *Mesos) attributes() []mesos.Attribute {
	var out []mesos.Attribute
	for _, k := range sortedKeys(m.cfg.Attributes) {
		out = append(out, mesos.Attribute{Name: k, Type: mesos.TEXT, Text: &mesos.Value_Text{Value: m.cfg.Attributes[k]}})
	}
	return out
}

// now returns the Mesos timestamp of t: seconds with microseconds.
func timestamp(t time.Time) *float64 {
	f := float64(t.UnixMicro()) / 1e6
	return &f
}

// capabilityQuotaV2 is MasterInfo.Capability QUOTA_V2 (3), which Mesos
// 1.12 sends but mesos-go v0.0.11 does not name.
const capabilityQuotaV2 = mesos.MasterInfo_Capability_Type(3)
