// Package prometheus holds no code: it ships Horae's Prometheus alerting
// rules (alerts.yml), and its tests check that the file parses, that every
// rule is complete, that every expression is well formed and, once
// docs/metrics.md exists, that it names only documented metrics. It must
// not be imported; its invariant is that alerts.yml always loads.
package prometheus
