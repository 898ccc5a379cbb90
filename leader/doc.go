// Package leader runs Horae's engine while this instance leads: it is the one
// place where the pure scheduler.Engine meets I/O.
//
// One goroutine owns the engine. Commands from the API, events from Mesos and
// timer fires arrive on channels; for each batch of them the loop calls Step,
// re-arms its timer to WakeAt and queues the stepped batch for the
// committer. The committer, a second goroutine, commits the Persist records
// of every batch queued meanwhile in one store commit (fenced by the term's
// epoch: group commit, so a burst costs one sync), then publishes them to
// the read model, replies to the commands, sends the notices and hands each
// batch's Mesos side to the actuator. The actuator, a third goroutine,
// carries out committed batches in commit order — launches, kills, declines,
// reconciliation, offer interest, then the acknowledgements of the updates
// they made durable (sent in the background) — so neither a sync nor a round
// trip to the master holds up the next Tick or status update.
//
// What it must not do: decide anything (that is the engine's job), talk to
// ZooKeeper, bbolt or Mesos directly (it declares the small interfaces it
// needs: Persister, Mesos, Publisher, Notifier), or keep running after a
// fenced or failed commit: a commit error ends the term, because the
// instance can no longer be sure it leads.
//
// Invariant: nothing of an Output is carried out before its Persist is
// durable, and an acknowledgement is sent only for an update whose
// consequences are durable.
package leader
