// Package api is Horae's HTTP interface: the Chronos-compatible surface
// (/v1/scheduler/..., its 2.x aliases under /scheduler/..., /ping and the
// Chronos /metrics JSON), the native surface under /api/v1 (with its
// OpenAPI document), Prometheus /metrics, authentication and roles, and
// forwarding of writes from a follower to the leader.
//
// Writes are commands handed to the engine through the Commander interface;
// reads come from the catalog read model. The package declares the narrow
// interfaces it needs (Commander, Leadership, Reader) and has one error
// envelope per surface and one error-to-status map (statusOf).
//
// What it must not do: decide scheduling (the engine does), reach the store,
// Mesos or ZooKeeper, log a secret (tokens, passwords, webhook secrets), or
// answer a Chronos client with a stack trace.
//
// Invariant: a request that is refused (bad body, bad name, failed auth,
// validation) changes nothing: nothing is sent to the engine before the
// request was fully decoded and checked.
package api
