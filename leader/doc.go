// Package leader runs Horae's engine while this instance leads: it is the one
// place where the pure scheduler.Engine meets I/O.
//
// One goroutine owns the engine. Commands from the API, events from Mesos and
// timer fires arrive on channels; for each batch of them the loop calls Step,
// then commits the Persist records (fenced by the term's epoch), then
// publishes them to the read model, acknowledges the status updates they
// made durable, carries out launches, kills, declines and reconciliation,
// hands notices to the notifier, replies to the commands, and re-arms its
// timer to WakeAt.
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
