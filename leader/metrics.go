package leader

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horae-scheduler/horae/scheduler"
)

// Metrics are the loop's and the supervisor's Prometheus series. A nil
// *Metrics records nothing.
type Metrics struct {
	lateness     prometheus.Histogram
	isLeader     prometheus.Gauge
	changes      prometheus.Counter
	termsStarted prometheus.Counter
}

// NewMetrics creates the series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		// Like Kubernetes' cronjob_controller_job_creation_skew: how late a
		// task was handed to Mesos compared with its scheduled time.
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "horae_schedule_launch_lateness_seconds",
			Help:    "Seconds from a run's scheduled time to the launch of its task; negative when launched ahead of the slot (--launch-ahead).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "horae_leader_is_leader",
			Help: "1 while this instance leads, else 0.",
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_leader_terms_ended_total",
			Help: "Leadership terms of this instance that ended.",
		}),
		termsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horae_leader_terms_started_total",
			Help: "Leadership terms this instance started.",
		}),
	}
	for _, c := range []prometheus.Collector{m.lateness, m.isLeader, m.changes, m.termsStarted} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observeLaunches(now time.Time, launches []scheduler.Launch) {
	if m == nil {
		return
	}
	for _, l := range launches {
		for _, t := range l.Tasks {
			if !t.ScheduledFor.IsZero() {
				m.lateness.Observe(now.Sub(t.ScheduledFor).Seconds())
			}
		}
	}
}

func (m *Metrics) leading(on bool) {
	if m == nil {
		return
	}
	if on {
		m.isLeader.Set(1)
		m.termsStarted.Inc()
		return
	}
	m.isLeader.Set(0)
	m.changes.Inc()
}
