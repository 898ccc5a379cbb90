package zktest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a loopback TCP proxy to one address. Blackhole makes it go
// silent, like a network partition: bytes on open connections are read and
// dropped in both directions (nothing is closed: the peers time out on
// their own), and new connections are closed at once. Restore makes new
// connections work again; a connection that was
// ever blackholed stays silent (its byte stream is broken), so clients must
// reconnect, which a ZooKeeper client does once it times out.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener
	holed  atomic.Bool

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target.
// t.Cleanup closes it.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("zktest: proxy listen: %v", err)
	}
	p := &Proxy{t: t, target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Blackhole makes the proxy drop everything from now on.
func (p *Proxy) Blackhole() { p.holed.Store(true) }

// Restore lets new connections through again.
func (p *Proxy) Restore() { p.holed.Store(false) }

// Close stops the proxy and closes every connection it holds.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			return
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	var dead atomic.Bool // once silent, always silent
	if p.holed.Load() {
		// A partitioned peer cannot be reached at all: the client's
		// connect fails (as a dropped SYN would, after its dial timeout)
		// and it tries again.
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	var inner sync.WaitGroup
	inner.Add(2)
	pipe := func(dst, src net.Conn) {
		defer inner.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if p.holed.Load() {
					dead.Store(true)
				}
				if !dead.Load() {
					if _, werr := dst.Write(buf[:n]); werr != nil {
						break
					}
				}
			}
			if err != nil {
				break
			}
		}
		// One side ended: end both. Closing a TCP connection does not end a
		// ZooKeeper session; only its timeout does.
		dst.Close()
		src.Close()
	}
	go pipe(server, client)
	go pipe(client, server)
	inner.Wait()
}
