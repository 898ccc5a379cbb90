// Package framework is Horae's Mesos scheduler side: it subscribes to the
// leading Mesos master with mesos-go's v1 HTTP API, turns Mesos events into
// engine events (scheduler.Subscribed, Disconnected, OffersArrived,
// OfferRescinded, TaskUpdated, Reconciled) and carries out the Mesos actions
// the engine asks for (Launch, Kill, Decline, Reconcile, SetOfferInterest,
// Acknowledge).
//
// What it does beyond mesos-go: it persists the framework ID when Mesos first
// gives it and re-subscribes with it (failover timeout of weeks); it backs off
// between subscriptions; a heartbeat watchdog ends a silent subscription; it
// re-points calls at the master that answered SUBSCRIBE (mesos-go only follows
// a 307 for SUBSCRIBE); it detects the leading master from ZooKeeper for
// zk:// masters; it starts over with a fresh framework after "Framework has
// been removed"; it resends explicit reconciliation until every task is
// answered or a bound is reached.
//
// Tasks run in the Horae executor: by default one shared executor per
// (framework, agent) whose ExecutorInfo is identical for every task and
// whose resources are counted once per agent (Config.ExecutorMode
// "shared"), or one executor per task ("per-task"); see docs/executor.md.
//
// What it must not do: decide anything. Offer matching, retries and run state
// belong to the engine (package scheduler); this package never imports store,
// api, leader or localmesos, and it never acknowledges a status update on its
// own: the leader calls Acknowledge once the update's consequences are
// durable.
//
// Invariant: no call is sent to Mesos unless the framework is subscribed on
// the current stream; a failed call counts as a lost subscription, and
// nothing more is sent until the next SUBSCRIBED.
package framework
