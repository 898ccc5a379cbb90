// Package store keeps Horae's durable state — jobs, their cursors, their
// runs (launch intents with Mesos task IDs, pending retries, history), the
// Mesos framework ID and the leader epoch — and elects the leader.
//
// Two implementations sit behind the Store interface, chosen by Config.URL:
//
//   - Bolt, an embedded bbolt file (DataDir/horae.db): one process, hence one
//     leader by construction (bbolt's file lock refuses a second process).
//     Campaign returns at once with the stored epoch + 1.
//   - ZK, Apache ZooKeeper (zk://host:port,host:port/root): several
//     instances share an ensemble, elect a leader with protected
//     ephemeral-sequential candidates (each watching only its predecessor)
//     and fence every write with a Multi that starts with a CheckVersion of
//     the leader's own candidate znode. docs/zookeeper.md documents the
//     layout and the data format.
//
// What it must not do: decide anything about jobs or runs (it stores the
// engine's scheduler.Record values as given), import framework, api, leader
// or mesos-go, or let a write of a deposed leader through. It never blocks in
// a ZooKeeper callback.
//
// Invariant: a Commit is applied whole or not at all (ZooKeeper: one Multi,
// unless the batch exceeds jute.maxbuffer, in which case each part is still
// fenced), and only while this instance holds the leadership of the epoch it
// names; otherwise it fails with ErrFenced.
package store
