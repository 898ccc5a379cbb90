package store

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus metrics (horae_store_*).
type metrics struct {
	commits        prometheus.Counter
	commitFailures prometheus.Counter
	commitSeconds  prometheus.Histogram
	records        prometheus.Counter
	zkWrites       prometheus.Counter
	loadSeconds    prometheus.Gauge
	zkSession      prometheus.Gauge
	zkEvents       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_store_commits_total", Help: "Commits applied.",
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_store_commit_failures_total", Help: "Commits refused or failed (fenced ones included).",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "horae_store_commit_duration_seconds", Help: "Time to apply one commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_store_records_total", Help: "Records applied by commits.",
		}),
		zkWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_store_zk_write_requests_total", Help: "ZooKeeper write requests (each Multi counts once).",
		}),
		loadSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "horae_store_load_duration_seconds", Help: "Duration of the last Load.",
		}),
		zkSession: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "horae_store_zk_session_usable", Help: "1 while the ZooKeeper session is established (ZooKeeper store only).",
		}),
		zkEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_store_zk_session_events_total", Help: "ZooKeeper session state changes, by new state.",
		}, []string{"state"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.commits, m.commitFailures, m.commitSeconds, m.records, m.zkWrites, m.loadSeconds, m.zkSession, m.zkEvents} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("store: register metrics: %w", err)
		}
	}
	return m, nil
}
