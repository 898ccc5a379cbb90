// Package zktest starts real Apache ZooKeeper servers for tests: a standalone
// server (Start) or a quorum on loopback (StartEnsemble), each on free
// 127.0.0.1 ports with a temporary data directory, plus a loopback TCP Proxy
// that can blackhole a client's path to force session expiry.
//
// The servers come from Debian's zookeeper package
// (/usr/share/java/zookeeper.jar, run with Java as QuorumPeerMain). When the
// jar is missing a test is skipped with a message, except when the
// environment has CI=true: then it fails, because CI must run these tests
// (`make deps-test` installs the package).
//
// Usage:
//
//	srv := zktest.Start(t)                // standalone, tickTime 200 ms
//	conn, _, err := zk.Connect([]string{srv.Addr()}, 2*time.Second)
//	...
//	ens := zktest.StartEnsemble(t, 3)     // quorum; ens.Addrs() for clients
//	ens.Server(0).Stop(); ens.Server(0).Restart()
//	p := zktest.NewProxy(t, srv.Addr())   // connect clients to p.Addr()
//	p.Blackhole(); ...; p.Restore()
//
// With tickTime 200 ms the server accepts session timeouts from 400 ms to
// 30 s. Servers run with forceSync=no (tests need speed, not durability
// across power loss) and with the AdminServer disabled.
//
// What it must not do: import any Horae package, leave a process or a
// directory behind (everything is stopped and removed by t.Cleanup), or use a
// fixed port.
//
// Invariant: once Start, StartEnsemble or Restart returns, every server it
// started is serving requests (mntr reports zk_server_state).
package zktest
