package api

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// apiMetrics are the API's own request metrics.
type apiMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newAPIMetrics(reg prometheus.Registerer) (*apiMetrics, error) {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horae_api_requests_total", Help: "API requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "horae_api_request_duration_seconds", Help: "API request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("api: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *apiMetrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// wantsPrometheus reports whether the Accept header asks for the text or
// OpenMetrics exposition (Prometheus sends one); JSON or no Accept header
// gets Chronos's Codahale JSON (chronos-python sends none).
func wantsPrometheus(accept string) bool {
	return strings.Contains(accept, "text/plain") || strings.Contains(accept, "application/openmetrics-text") ||
		strings.Contains(accept, "application/vnd.google.protobuf")
}

func (a *API) metricsHandler(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if wantsPrometheus(r.Header.Get("Accept")) {
		promhttp.HandlerFor(a.deps.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true}).ServeHTTP(w, r)
		return nil
	}
	families, err := a.deps.Gatherer.Gather()
	if err != nil && len(families) == 0 {
		return fmt.Errorf("gather metrics: %w", err)
	}
	writeJSON(w, http.StatusOK, codahale(families))
	return nil
}

// codahale renders Prometheus families in the Dropwizard/Codahale metrics
// JSON shape that Chronos served: gauges {name: {value}}, counters {name:
// {count}}, histograms {name: {count, mean, p50...}} (approximated from
// buckets), empty meters and timers. Names are family names, with labels
// appended as name{k=v,...}.
func codahale(families []*dto.MetricFamily) map[string]any {
	gauges, counters, histograms := map[string]any{}, map[string]any{}, map[string]any{}
	sort.Slice(families, func(i, k int) bool { return families[i].GetName() < families[k].GetName() })
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName() + labelSuffix(m.GetLabel())
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				gauges[name] = map[string]float64{"value": finite(m.GetGauge().GetValue())}
			case dto.MetricType_UNTYPED:
				gauges[name] = map[string]float64{"value": finite(m.GetUntyped().GetValue())}
			case dto.MetricType_COUNTER:
				counters[name] = map[string]float64{"count": finite(m.GetCounter().GetValue())}
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				count := h.GetSampleCount()
				mean := 0.0
				if count > 0 {
					mean = h.GetSampleSum() / float64(count)
				}
				histograms[name] = map[string]any{
					"count": count, "mean": finite(mean),
					"p50": bucketQuantile(h, 0.5), "p75": bucketQuantile(h, 0.75), "p95": bucketQuantile(h, 0.95),
					"p98": bucketQuantile(h, 0.98), "p99": bucketQuantile(h, 0.99),
				}
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				histograms[name] = map[string]any{"count": s.GetSampleCount(), "sum": finite(s.GetSampleSum())}
			}
		}
	}
	return map[string]any{
		"version": "3.0.0", "gauges": gauges, "counters": counters, "histograms": histograms,
		"meters": map[string]any{}, "timers": map[string]any{},
	}
}

func labelSuffix(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.GetName() + "=" + l.GetValue()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// bucketQuantile is the upper bound of the bucket holding quantile q.
func bucketQuantile(h *dto.Histogram, q float64) float64 {
	n := float64(h.GetSampleCount())
	if n == 0 {
		return 0
	}
	for _, b := range h.GetBucket() {
		if float64(b.GetCumulativeCount()) >= q*n {
			return finite(b.GetUpperBound())
		}
	}
	return 0
}
