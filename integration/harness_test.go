package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// horaeBin is the horae binary built once for the whole package.
var horaeBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "horae-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	horaeBin = filepath.Join(dir, "horae")
	build := exec.Command("go", "build", "-o", horaeBin, "../cmd/horae")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: build horae:", err)
		return 1
	}
	return m.Run()
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a horae process started by a test, with its output kept for
// failure reports.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	URL  string
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startHorae runs `horae <args...>` until the test ends.
func startHorae(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	return startHoraeIn(t, "", name, args...)
}

// startHoraeIn is startHorae with the process's working directory set.
func startHoraeIn(t testing.TB, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(horaeBin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Own process group, so a kill reaches the executors it started too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM, 15*time.Second)
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, tail(p.out.String(), 12000))
		}
	})
	return p
}

// stop signals the process (and its group) and waits up to grace, then kills.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	// Executors of a killed instance belong to the built-in Mesos; clean up
	// what is left of the group.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// serveLocal starts `horae serve` on one machine: embedded store, built-in
// Mesos, API on a free port.
func serveLocal(t testing.TB, extra ...string) *proc {
	t.Helper()
	return serveLocalIn(t, "", t.TempDir(), extra...)
}

// serveLocalIn is serveLocal run in the working directory dir, with its
// data in dataDir (relative to dir when not absolute).
func serveLocalIn(t testing.TB, dir, dataDir string, extra ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--local-heartbeat", "500ms", "--log-level", "debug"}, extra...)
	p := startHoraeIn(t, dir, "horae serve", args...)
	p.URL = "http://" + addr
	waitFor(t, 30*time.Second, "horae serve to lead", func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("horae serve exited before leading:\n%s", tail(p.out.String(), 4000))
		default:
		}
		var leader map[string]any
		code, body := call(t, http.MethodGet, p.URL+"/v1/scheduler/leader", nil, &leader)
		return code == 200 && leader["leader"] != "", fmt.Sprintf("leader: %d %s", code, body)
	})
	return p
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last state: %s", within, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call does one HTTP request with a JSON body and decodes a JSON answer into
// out (when non-nil and the answer is JSON). It returns the status and body.
func call(t testing.TB, method, url string, body any, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				t.Fatalf("encode request: %v", err)
			}
			rd = bytes.NewReader(data)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("decode %s %s answer %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode, string(data)
}
