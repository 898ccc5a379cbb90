package framework

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the framework's Prometheus series, registered on the
// registerer given to New.
type metrics struct {
	offersReceived   prometheus.Counter
	offersUsed       prometheus.Counter
	offersDeclined   prometheus.Counter
	offersRescinded  prometheus.Counter
	revives          prometheus.Counter
	suppresses       prometheus.Counter
	subscriptions    prometheus.Counter
	subscribeFails   prometheus.Counter
	heartbeatMisses  prometheus.Counter
	reconciliations  *prometheus.CounterVec
	reconcileMissing prometheus.Counter
	updates          *prometheus.CounterVec
	callErrors       *prometheus.CounterVec
	tasksLaunched    prometheus.Counter
	tasksRefused     prometheus.Counter
	subscribed       prometheus.Gauge

	// lastHeartbeat is the unix nanosecond time of the last HEARTBEAT (0 =
	// none yet), read by the age gauge.
	lastHeartbeat atomic.Int64
}

func newMetrics(reg prometheus.Registerer, now func() time.Time) (*metrics, error) {
	m := &metrics{}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "horae_mesos_" + name, Help: help})
	}
	m.offersReceived = counter("offers_received_total", "Resource offers received from Mesos.")
	m.offersUsed = counter("offers_used_total", "Offers accepted with at least one task launch.")
	m.offersDeclined = counter("offers_declined_total", "Offers declined.")
	m.offersRescinded = counter("offers_rescinded_total", "Offers rescinded by Mesos.")
	m.revives = counter("revive_calls_total", "REVIVE calls sent.")
	m.suppresses = counter("suppress_calls_total", "SUPPRESS calls sent.")
	m.subscriptions = counter("subscriptions_total", "SUBSCRIBED events received (subscriptions that succeeded).")
	m.subscribeFails = counter("subscription_failures_total", "Subscription cycles that ended with an error (failed SUBSCRIBE or lost stream).")
	m.heartbeatMisses = counter("heartbeat_timeouts_total", "Subscriptions ended by the heartbeat watchdog.")
	m.reconcileMissing = counter("reconcile_missing_tasks_total", "Tasks reported Missing after explicit reconciliation gave up.")
	m.tasksLaunched = counter("tasks_launched_total", "Tasks sent to Mesos in ACCEPT calls.")
	m.tasksRefused = counter("tasks_refused_total", "Tasks not sent because they did not fit their offer (reported as TASK_ERROR).")
	m.reconciliations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "horae_mesos_reconcile_calls_total", Help: "RECONCILE calls sent, by kind (explicit, implicit).",
	}, []string{"kind"})
	m.updates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "horae_mesos_status_updates_total", Help: "Task status updates received, by state.",
	}, []string{"state"})
	m.callErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "horae_mesos_call_errors_total", Help: "Calls to the master that failed (each ends the subscription), by call type.",
	}, []string{"call"})
	m.subscribed = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "horae_mesos_subscribed", Help: "1 while subscribed to a Mesos master.",
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "horae_mesos_heartbeat_age_seconds", Help: "Seconds since the last HEARTBEAT from the master (NaN before the first).",
	}, func() float64 {
		t := m.lastHeartbeat.Load()
		if t == 0 {
			return math.NaN()
		}
		return now().Sub(time.Unix(0, t)).Seconds()
	})
	for _, c := range []prometheus.Collector{
		m.offersReceived, m.offersUsed, m.offersDeclined, m.offersRescinded, m.revives, m.suppresses,
		m.subscriptions, m.subscribeFails, m.heartbeatMisses, m.reconcileMissing, m.tasksLaunched,
		m.tasksRefused, m.reconciliations, m.updates, m.callErrors, m.subscribed, age,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("framework: register metrics: %w", err)
		}
	}
	return m, nil
}
