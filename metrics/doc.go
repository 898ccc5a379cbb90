// Package metrics derives Horae's run and job Prometheus series from the
// records the leader commits: runs finished by outcome and trigger, run
// durations, retries, skipped slots by reason, runs pending and running,
// jobs by state, and (behind a flag) per-job series.
//
// It must not decide anything or touch the store, Mesos or the engine: it
// only watches committed records (as a leader.Publisher) and counts. Series
// are registered on an injected prometheus.Registerer.
//
// Invariant: a run is counted as finished once, on the commit that moved it
// from a non-terminal to a terminal state, however often Mesos re-sends.
package metrics
