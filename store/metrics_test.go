package store

import (
	"log/slog"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSessionMetricsFollowEvents(t *testing.T) {
	m, err := newMetrics(prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := &ZK{m: m, log: slog.New(slog.DiscardHandler)}
	for _, st := range []zk.State{zk.StateConnecting, zk.StateHasSession, zk.StateDisconnected, zk.StateHasSession} {
		s.onEvent(zk.Event{Type: zk.EventSession, State: st})
	}
	if got := testutil.ToFloat64(m.zkSession); got != 1 {
		t.Errorf("session usable = %v after HasSession, want 1", got)
	}
	if got := testutil.ToFloat64(m.zkEvents.WithLabelValues("HasSession")); got != 2 {
		t.Errorf("HasSession events = %v, want 2", got)
	}
	s.onEvent(zk.Event{Type: zk.EventSession, State: zk.StateExpired})
	if got := testutil.ToFloat64(m.zkSession); got != 0 {
		t.Errorf("session usable = %v after Expired, want 0", got)
	}
}
