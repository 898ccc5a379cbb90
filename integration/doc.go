// Package integration holds Horae's end-to-end, failover and fault tests.
// They build the real horae binary once (TestMain) and drive real
// processes — horae serve, horae localmesos, ZooKeeper 3.8 servers from
// Debian's package — over HTTP only, checking outcomes from the run records
// and from what the tasks themselves wrote.
//
// It must not import Horae's packages beyond internal/zktest (which starts
// ZooKeeper): a test here sees Horae as a user or an operator does.
// Invariant: every test bounds its time and polls with deadlines.
package integration
