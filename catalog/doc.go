// Package catalog is Horae's in-memory read model: the jobs, cursors and runs
// the engine persists, indexed for the API's queries (job by name, sorted
// and filtered job lists, Chronos search, runs newest first, active runs,
// Chronos state and status, duration percentiles, the dependency graph).
//
// It is fed the same records the store holds: Reset with a whole
// scheduler.State (on election, or when a follower reloads from the store),
// then Apply with every batch of records the leader loop made durable.
//
// What it must not do: decide anything, reach the store or the engine, or
// mutate a value it was given. It does no I/O.
//
// Invariant: values are immutable once stored. Apply replaces a job, cursor
// or run by a new value and never changes one in place, so a value a reader
// got stays whole while later batches land. Apply costs O(records) map and
// per-job work, never a pass over all jobs; the exceptions are bounded
// copies: creating or deleting a job copies the sorted name slice (one
// memmove), and the search index is rebuilt lazily by the first search after
// a name or command changed.
package catalog
