// Package benchreport turns the raw output of `make bench` (scripts/bench.sh:
// `go test -bench` of every package, the load and failover measurements of
// integration/ as benchmark-format lines, and "horae-<key>: <value>" lines
// describing the machine) into docs/benchmarks.md, through a template kept
// next to it (benchmarks.md.tmpl) that holds the prose.
//
// Every figure in the page is the median over the run's repetitions, with
// the minimum and maximum; every verdict against a target is computed from
// the figures by the template's check function, never typed by hand.
//
// What it must not do: measure anything itself, or read anything but the
// raw output it is given (the machine description comes from that output,
// so that the page can be regenerated from bench/latest.txt alone).
//
// Invariant: a figure the run did not produce renders as "not run" and a
// verdict on it as "not measured"; rendering never fails for a missing
// benchmark, so a partial run still yields an honest page.
package benchreport
