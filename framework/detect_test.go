package framework

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/horae-scheduler/horae/internal/zktest"
)

func TestLeaderChild(t *testing.T) {
	tests := []struct {
		children []string
		want     string
	}{
		{[]string{"json.info_0000000002", "json.info_0000000000", "log_replicas"}, "json.info_0000000000"},
		{[]string{"info_0000000000", "json.info_0000000010", "json.info_0000000009"}, "json.info_0000000009"},
		{[]string{"log_replicas", "info_0000000001"}, ""},
		{[]string{"json.info_", "json.info_x", "json.info_-1"}, ""},
		{nil, ""},
	}
	for _, tc := range tests {
		got, ok := leaderChild(tc.children)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("leaderChild(%v) = %q, %v; want %q", tc.children, got, ok, tc.want)
		}
	}
}

// A MasterInfo as a real Mesos 1.12 master writes it (mesos-wire.md §9).
const wireMasterInfo = `{"address":{"hostname":"127.0.0.1","ip":"127.0.0.1","port":5052},"capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{"type":"QUOTA_V2"}],"hostname":"127.0.0.1","id":"f3794ef6-103e-441c-b1be-a9f1f07cb2ab","ip":16777343,"pid":"master@127.0.0.1:5052","port":5052,"version":"1.12.0"}`

func TestParseMasterInfo(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: wireMasterInfo, want: "127.0.0.1:5052"},
		{in: `{"ip":16777343,"port":5050}`, want: "127.0.0.1:5050"},
		{in: `{"hostname":"m1","port":5050}`, want: "m1:5050"},
		{in: `{"address":{"hostname":"m2","port":5051},"port":1}`, want: "m2:5051"},
		{in: `{"address":{"ip":"::1","port":5051}}`, want: "[::1]:5051"},
		{in: `{"port":5050}`, err: true},
		{in: `{"ip":1}`, err: true},
		{in: `not json`, err: true},
	}
	for _, tc := range tests {
		got, err := parseMasterInfo([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseMasterInfo(%s) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseMasterInfo(f *testing.F) {
	f.Add([]byte(wireMasterInfo))
	f.Add([]byte(`{"ip":16777343,"port":5050}`))
	f.Add([]byte(`{"address":{"hostname":"h","port":70000},"port":5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		hp, err := parseMasterInfo(data)
		if err != nil {
			return
		}
		_, port, err := net.SplitHostPort(hp)
		if err != nil {
			t.Fatalf("%q: %q is not host:port: %v", data, hp, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			t.Fatalf("%q: bad port in %q", data, hp)
		}
	})
}

// TestDetectMasterFollowsZooKeeper runs the detector against a real
// ZooKeeper where two "masters" contend as Mesos masters do: ephemeral
// sequential json.info_ nodes under /mesos, next to log_replicas.
func TestDetectMasterFollowsZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper")
	}
	srv := zktest.Start(t)
	conn, _, err := zk.Connect([]string{srv.Addr()}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newLeaderWatch()
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- detectMaster(ctx, zkMaster{servers: []string{srv.Addr()}, path: "/mesos"}, "http", 4*time.Second, w, logger)
	}()

	waitLeader := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			cur, ch := w.get()
			if cur == want {
				return
			}
			select {
			case <-ch:
			case <-deadline:
				t.Fatalf("leader %q, want %q", cur, want)
			}
		}
	}
	create := func(port int) string {
		t.Helper()
		data := fmt.Sprintf(`{"address":{"hostname":"localhost","ip":"127.0.0.1","port":%d},"id":"m%d","ip":16777343,"port":%d}`, port, port, port)
		p, err := conn.Create("/mesos/json.info_", []byte(data), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// /mesos does not exist yet: the detector watches for it to appear.
	if _, err := conn.Create("/mesos", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create("/mesos/log_replicas", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	first := create(5052)
	second := create(5053)
	waitLeader("http://127.0.0.1:5052/api/v1/scheduler")

	// The leader's node goes away (its ZooKeeper session ended): the next
	// lowest sequence leads.
	if err := conn.Delete(first, -1); err != nil {
		t.Fatal(err)
	}
	waitLeader("http://127.0.0.1:5053/api/v1/scheduler")
	if err := conn.Delete(second, -1); err != nil {
		t.Fatal(err)
	}
	waitLeader("")
	create(5054)
	waitLeader("http://127.0.0.1:5054/api/v1/scheduler")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("detector did not stop with its context")
	}
}
