// Package grafana holds no code: it ships Horae's Grafana dashboard
// (horae.json), and its test checks that the file is valid JSON, that every
// panel queries something, and, once docs/metrics.md exists, that the
// queries name only documented metrics. It must not be imported; its
// invariant is that horae.json always imports.
package grafana
