package zktest

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func connect(t *testing.T, addrs []string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(addrs, 2*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func TestStandaloneStopRestart(t *testing.T) {
	s := Start(t)
	if got := s.State(); got != "standalone" {
		t.Fatalf("state = %q, want standalone", got)
	}
	c := connect(t, []string{s.Addr()})
	if _, err := c.Create("/x", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v", err)
	}
	s.Stop()
	if s.Running() || s.State() != "" {
		t.Fatal("server still running after Stop")
	}
	s.Restart()
	data, _, err := c.Get("/x")
	if err != nil || string(data) != "1" {
		t.Fatalf("after restart get /x = %q, %v; want data kept", data, err)
	}
}

func TestProxyBlackholeExpiresSession(t *testing.T) {
	s := Start(t)
	p := NewProxy(t, s.Addr())
	states := make(chan zk.State, 64)
	// 2 s: short enough to expire quickly, long enough that a loaded
	// machine does not drop the connection before the test blackholes it.
	c, _, err := zk.Connect([]string{p.Addr()}, 2*time.Second, zk.WithLogger(nopLogger{}),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession {
				select {
				case states <- ev.State:
				default:
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A create can meet a connection the loaded machine dropped; it is
	// safe to retry until the node exists.
	for attempt := 0; ; attempt++ {
		_, err := c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		if err == nil || errors.Is(err, zk.ErrNodeExists) {
			break
		}
		if !errors.Is(err, zk.ErrConnectionClosed) || attempt == 5 {
			t.Fatalf("create ephemeral: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitState := func(want zk.State) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case st := <-states:
				if st == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %v within 20s", want)
			}
		}
	}
	p.Blackhole()
	waitState(zk.StateDisconnected)
	// The server expires the session once it has heard nothing for the
	// timeout; a direct client sees the ephemeral go.
	d := connect(t, []string{s.Addr()})
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, _, err := d.Exists("/e")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ephemeral of the blackholed session still present after 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Restore()
	waitState(zk.StateExpired)
}

func TestEnsemble(t *testing.T) {
	if testing.Short() {
		t.Skip("ensemble start takes several seconds")
	}
	e := StartEnsemble(t, 3)
	leaders := 0
	for i := 0; i < e.Len(); i++ {
		switch st := e.Server(i).State(); st {
		case "leader":
			leaders++
		case "follower":
		default:
			t.Fatalf("server %d state %q", i, st)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders, want 1", leaders)
	}
	c := connect(t, e.Addrs())
	if _, err := c.Create("/q", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	e.Server(0).Stop()
	// A client that was connected to server 0 sees its connection closed
	// and moves to another server; the write must then succeed (quorum of
	// two), within a session timeout or so.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.Set("/q", []byte("w"), -1)
		if err == nil {
			break
		}
		if !errors.Is(err, zk.ErrConnectionClosed) && !errors.Is(err, zk.ErrNoServer) || time.Now().After(deadline) {
			t.Fatalf("set with one of three servers down: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.Server(0).Restart()
}
