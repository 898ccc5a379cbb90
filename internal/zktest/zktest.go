package zktest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Jar is the ZooKeeper server jar from Debian's zookeeper package.
const Jar = "/usr/share/java/zookeeper.jar"

// confDir holds the package's logging configuration, put on the class path.
const confDir = "/etc/zookeeper/conf"

// TickTime is the servers' tickTime: session timeouts from 2 to 150 ticks
// are accepted (400 ms to 30 s).
const TickTime = 200 * time.Millisecond

// readyTimeout bounds how long a (re)start may take before the test fails.
const readyTimeout = 60 * time.Second

// Server is one ZooKeeper server process started by this package.
type Server struct {
	t       testing.TB
	dir     string
	cfgPath string
	port    int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output *tailBuffer
}

// Ensemble is a ZooKeeper quorum of servers on loopback.
type Ensemble struct {
	servers []*Server
}

// Start starts a standalone ZooKeeper server on a free loopback port and
// returns once it serves requests. t.Cleanup stops it and removes its data.
func Start(t testing.TB) *Server {
	t.Helper()
	requireJar(t)
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	s := newServer(t, dir, port, "")
	s.Restart()
	return s
}

// StartEnsemble starts n ZooKeeper servers forming one quorum (n ≥ 1, odd
// sizes make sense) and returns once all of them serve requests, one as
// leader. t.Cleanup stops them.
func StartEnsemble(t testing.TB, n int) *Ensemble {
	t.Helper()
	requireJar(t)
	if n < 1 {
		t.Fatalf("zktest: ensemble size %d: need at least 1", n)
	}
	ports := freePorts(t, 3*n)
	var peers strings.Builder
	peers.WriteString("initLimit=20\nsyncLimit=10\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&peers, "server.%d=127.0.0.1:%d:%d\n", i+1, ports[3*i+1], ports[3*i+2])
	}
	e := &Ensemble{}
	for i := 0; i < n; i++ {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("zk%d", i+1))
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatalf("zktest: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data", "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatalf("zktest: %v", err)
		}
		e.servers = append(e.servers, newServer(t, dir, ports[3*i], peers.String()))
	}
	for _, s := range e.servers {
		s.start()
	}
	for _, s := range e.servers {
		s.waitReady()
	}
	return e
}

// Addrs returns the client addresses (host:port) of every server.
func (e *Ensemble) Addrs() []string {
	addrs := make([]string, len(e.servers))
	for i, s := range e.servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Server returns the i-th server (0-based), to stop or restart it.
func (e *Ensemble) Server(i int) *Server { return e.servers[i] }

// Len is the number of servers in the ensemble.
func (e *Ensemble) Len() int { return len(e.servers) }

func newServer(t testing.TB, dir string, port int, peers string) *Server {
	t.Helper()
	cfg := fmt.Sprintf(`tickTime=%d
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxSessionTimeout=30000
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,mntr
forceSync=no
maxClientCnxns=0
%s`, TickTime.Milliseconds(), filepath.Join(dir, "data"), port, peers)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatalf("zktest: %v", err)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatalf("zktest: write %s: %v", cfgPath, err)
	}
	s := &Server{t: t, dir: dir, cfgPath: cfgPath, port: port}
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's client address, 127.0.0.1:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Running reports whether the server process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Restart starts the server again (same port, same data) after Stop and
// returns once it serves requests; on a running server it is a no-op.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
	s.waitReady()
}

// Stop stops the server with SIGTERM (SIGKILL after 10 s) and waits for it
// to exit. Its data stays, so Restart resumes it. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (s *Server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("java",
		"-Xmx1g", "-XX:+UseParallelGC", "-Xshare:auto",
		"-cp", Jar+":"+confDir,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfgPath)
	s.output = &tailBuffer{max: 16 << 10}
	cmd.Stdout = s.output
	cmd.Stderr = s.output
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("zktest: start java for %s: %v", s.cfgPath, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
}

func (s *Server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(readyTimeout)
	wait := 50 * time.Millisecond
	for {
		s.mu.Lock()
		exited := s.exited
		s.mu.Unlock()
		select {
		case <-exited:
			s.t.Fatalf("zktest: server %s exited during start; output:\n%s", s.Addr(), s.output.String())
		default:
		}
		out, err := FourLetter(s.Addr(), "mntr")
		if err == nil && strings.Contains(out, "zk_server_state") {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("zktest: server %s not serving after %s (last: %q, %v); output:\n%s",
				s.Addr(), readyTimeout, out, err, s.output.String())
		}
		time.Sleep(wait)
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// State returns the server's role from mntr: "standalone", "leader",
// "follower", or "" when it is not serving.
func (s *Server) State() string {
	out, err := FourLetter(s.Addr(), "mntr")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "\t"); ok && k == "zk_server_state" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// FourLetter sends a ZooKeeper four-letter command (ruok, stat, mntr) to addr
// and returns the answer.
func FourLetter(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(c); err != nil && !errors.Is(err, net.ErrClosed) {
		return buf.String(), fmt.Errorf("zktest: %s from %s: %w", cmd, addr, err)
	}
	return buf.String(), nil
}

func requireJar(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Jar); err == nil {
		if _, err := exec.LookPath("java"); err == nil {
			return
		}
	}
	msg := "zktest: ZooKeeper not installed (" + Jar + " or java missing); run `make deps-test` (Debian package zookeeper)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so this is a failure")
	}
	t.Skip(msg)
}

// freePorts returns n distinct free loopback ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("zktest: free port: %v", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// tailBuffer keeps the last max bytes written to it, for failure messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
