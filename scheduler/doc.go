// Package scheduler is Horae's scheduling engine: a deterministic state
// machine that decides what runs when. Engine.Step takes one Event (time
// passed, a command, a Mesos fact) and the current instant, and returns an
// Output: records to persist, tasks to launch or kill, offers to decline,
// tasks to reconcile, notices, and when it next wants a Tick.
//
// It must not do I/O, start goroutines, read the clock, use randomness or
// let map iteration order reach its Output; it imports no other Horae
// package but schedule (the schedule math) and no network, store or Mesos
// library. Only the leader loop calls Step; the loop carries the Output out
// in the order documented on Output.
//
// Invariant: the same sequence of (now, Event) pairs gives equal Outputs,
// and every decision that must survive a failover (runs, launch intents,
// schedule and dependency progress) is in the Persist of the Output that
// made it, before any launch that depends on it.
package scheduler
