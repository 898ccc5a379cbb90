package notify

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/scheduler"
)

// metrics are the notifier's Prometheus series. Labels are bounded: sink is
// one of webhook, slack, email; kind is a scheduler.NotifyOn.
type metrics struct {
	sent     *prometheus.CounterVec   // sink, kind
	failed   *prometheus.CounterVec   // sink
	retries  *prometheus.CounterVec   // sink
	dropped  prometheus.Counter       //
	duration *prometheus.HistogramVec // sink
	queued   *prometheus.GaugeVec     // sink
}

// kinds are the notice kinds whose series are created up front, so that
// rate() and alerts see zeros instead of absent series.
func kinds() []scheduler.NotifyOn {
	return []scheduler.NotifyOn{
		scheduler.NotifyFailure, scheduler.NotifySuccess, scheduler.NotifySkipped,
		scheduler.NotifyOverdue, scheduler.NotifyDisabled,
	}
}

func newMetrics(reg prometheus.Registerer, sinks []string) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_notifications_sent_total",
			Help: "Notifications delivered, by sink and notice kind.",
		}, []string{"sink", "kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_notifications_failed_total",
			Help: "Notifications given up on after their last attempt or a permanent error, by sink.",
		}, []string{"sink"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_notification_retries_total",
			Help: "Delivery attempts after a failed one, by sink.",
		}, []string{"sink"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_notifications_dropped_total",
			Help: "Notification deliveries dropped: oldest of a full queue, or still queued at shutdown.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "horae_notification_delivery_duration_seconds",
			Help:    "Duration of one delivery attempt, by sink.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"sink"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "horae_notifications_queued",
			Help: "Deliveries waiting in a sink's queue, by sink.",
		}, []string{"sink"}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.retries, m.dropped, m.duration, m.queued} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("notify: register metrics: %w", err)
		}
	}
	for _, s := range sinks {
		for _, k := range kinds() {
			m.sent.WithLabelValues(s, string(k))
		}
		m.failed.WithLabelValues(s)
		m.retries.WithLabelValues(s)
		m.duration.WithLabelValues(s)
		m.queued.WithLabelValues(s)
	}
	return m, nil
}
