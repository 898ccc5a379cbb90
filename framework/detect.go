package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// masterInfoJSON is the JSON MasterInfo a Mesos master writes into its
// json.info_<seq> znode.
type masterInfoJSON struct {
	ID       string `json:"id"`
	IP       uint32 `json:"ip"`
	Port     int    `json:"port"`
	PID      string `json:"pid"`
	Hostname string `json:"hostname"`
	Address  *struct {
		Hostname string `json:"hostname"`
		IP       string `json:"ip"`
		Port     int    `json:"port"`
	} `json:"address"`
}

// parseMasterInfo returns host:port of the master described by a json.info_
// znode: address.ip (or address.hostname), else the packed ip, else hostname.
func parseMasterInfo(data []byte) (string, error) {
	var mi masterInfoJSON
	if err := json.Unmarshal(data, &mi); err != nil {
		return "", fmt.Errorf("decode MasterInfo: %w", err)
	}
	if a := mi.Address; a != nil && a.Port > 0 && a.Port < 65536 {
		host := a.IP
		if host == "" {
			host = a.Hostname
		}
		if host != "" {
			return net.JoinHostPort(host, strconv.Itoa(a.Port)), nil
		}
	}
	if mi.Port <= 0 || mi.Port >= 65536 {
		return "", fmt.Errorf("MasterInfo %q: no valid port", mi.ID)
	}
	switch {
	case mi.IP != 0:
		ip := net.IPv4(byte(mi.IP), byte(mi.IP>>8), byte(mi.IP>>16), byte(mi.IP>>24))
		return net.JoinHostPort(ip.String(), strconv.Itoa(mi.Port)), nil
	case mi.Hostname != "":
		return net.JoinHostPort(mi.Hostname, strconv.Itoa(mi.Port)), nil
	}
	return "", fmt.Errorf("MasterInfo %q: no address, ip or hostname", mi.ID)
}

// leaderChild picks the leading master's znode: the json.info_ child with
// the lowest sequence number. Other children (log_replicas, legacy info_)
// are ignored.
func leaderChild(children []string) (string, bool) {
	const prefix = "json.info_"
	best, bestSeq := "", int64(-1)
	for _, c := range children {
		s, ok := strings.CutPrefix(c, prefix)
		if !ok || s == "" {
			continue
		}
		seq, err := strconv.ParseInt(s, 10, 64)
		if err != nil || seq < 0 {
			continue
		}
		if bestSeq < 0 || seq < bestSeq {
			best, bestSeq = c, seq
		}
	}
	return best, bestSeq >= 0
}

// leaderWatch holds the current master endpoint ("" = none known) and
// tells waiters when it changes.
type leaderWatch struct {
	mu      sync.Mutex
	current string
	changed chan struct{} // closed and replaced on every change
}

func newLeaderWatch() *leaderWatch { return &leaderWatch{changed: make(chan struct{})} }

func (w *leaderWatch) set(ep string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ep == w.current {
		return
	}
	w.current = ep
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *leaderWatch) get() (string, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current, w.changed
}

// zkLogger routes go-zookeeper's logging to slog at debug level.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug("zookeeper: " + fmt.Sprintf(format, args...))
}

// detectMaster follows the leading Mesos master in ZooKeeper until ctx
// ends, publishing its scheduler endpoint (or "" while there is none) on w.
func detectMaster(ctx context.Context, z zkMaster, scheme string, sessionTimeout time.Duration, w *leaderWatch, logger *slog.Logger) error {
	conn, _, err := zk.Connect(z.servers, sessionTimeout, zk.WithLogger(zkLogger{logger}), zk.WithLogInfo(false))
	if err != nil {
		return fmt.Errorf("framework: connect to zookeeper %s: %w", strings.Join(z.servers, ","), err)
	}
	defer conn.Close()
	if z.auth != "" {
		if err := conn.AddAuth("digest", []byte(z.auth)); err != nil {
			return fmt.Errorf("framework: zookeeper digest auth: %w", err)
		}
	}
	retry := 100 * time.Millisecond
	for ctx.Err() == nil {
		ep, watch, err := leaderOnce(conn, z.path, scheme)
		if err != nil {
			logger.Warn("mesos master detection failed; retrying", "path", z.path, "err", err)
			t := time.NewTimer(retry)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			retry = min(2*retry, 5*time.Second)
			continue
		}
		retry = 100 * time.Millisecond
		if watch == nil {
			continue // a child vanished between list and get: list again
		}
		if cur, _ := w.get(); cur != ep {
			logger.Info("mesos leading master", "master", ep, "path", z.path)
		}
		w.set(ep)
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		}
	}
	return nil
}

// leaderOnce lists the masters once. It returns the leader's endpoint ("" if
// none) and a watch that fires on the next change; a nil watch with a nil
// error means "list again now".
func leaderOnce(conn *zk.Conn, dir, scheme string) (string, <-chan zk.Event, error) {
	children, _, watch, err := conn.ChildrenW(dir)
	if errors.Is(err, zk.ErrNoNode) {
		ok, _, ewatch, err := conn.ExistsW(dir)
		if err != nil {
			return "", nil, fmt.Errorf("watch %s: %w", dir, err)
		}
		if ok {
			return "", nil, nil
		}
		return "", ewatch, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(children)
	leader, ok := leaderChild(children)
	if !ok {
		return "", watch, nil
	}
	data, _, err := conn.Get(path.Join(dir, leader))
	if errors.Is(err, zk.ErrNoNode) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("read %s/%s: %w", dir, leader, err)
	}
	hostport, err := parseMasterInfo(data)
	if err != nil {
		return "", nil, fmt.Errorf("%s/%s: %w", dir, leader, err)
	}
	return schedulerEndpoint(scheme, hostport, ""), watch, nil
}
