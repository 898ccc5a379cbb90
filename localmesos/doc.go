// Package localmesos is a single-machine Apache Mesos master and agent in
// one process, speaking the Mesos v1 scheduler API (POST /api/v1/scheduler)
// and executor API (POST /api/v1/executor) the way Mesos 1.12 does: the same
// status codes, headers, error texts, RecordIO event streams, event shapes
// and key order (JSON and protobuf codecs), offers built from this machine's
// resources, executors launched as real processes in sandboxes with the
// environment a Mesos agent sets, status updates re-sent until acknowledged,
// reconciliation, kills, failover and the agent's /files endpoints.
// mesos-wire.md in the shared reference records the answers it copies.
//
// It is what `horae serve` runs in-process when no Mesos master is given,
// what `horae localmesos` runs as a process of its own, and what the
// integration tests run against. Faults switches make it misbehave (drop or
// silence streams, redirect as a non-leader, 503, lose or restart the agent,
// duplicate or delay updates) so that framework recovery can be tested.
//
// It must not import any Horae package nor mesos-go client code: only the
// mesos-go protobuf types and codecs. It does not run the Mesos command
// executor (tasks without an ExecutorInfo get TASK_ERROR), reservations,
// LAUNCH_GROUP, roles other than "*", or authentication.
//
// Invariant: the agent's used resources plus the outstanding offers never
// exceed its total; every status update an executor hands over is delivered
// to its framework, one at a time per task and in order, until the framework
// acknowledges it (or the framework or agent is removed). All state sits
// behind one mutex; streams are written by the goroutine that owns their
// hijacked connection.
package localmesos
