package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/internal/zktest"
)

// cluster is three horae serve instances sharing one ZooKeeper and one
// localmesos process, as in production with a real Mesos cluster.
type cluster struct {
	t         *testing.T
	zk        string
	mesos     string
	instances map[string]*proc // by API address
	args      map[string][]string
}

// drillHistory keeps every run of a drill's job: the default history
// limit (100 terminal runs) would prune the first slots of a long drill
// before the check, which would then see their ledger lines without run
// records.
func drillHistory() []string { return []string{"--history-limit", "4096"} }

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	return startClusterOn(t, n, zktest.Start(t).Addr())
}

// startClusterOn is startCluster against the given ZooKeeper servers
// (comma-separated host:port list). Its instances keep every run of a
// drill (drillHistory).
func startClusterOn(t *testing.T, n int, zkServers string) *cluster {
	t.Helper()
	lmAddr := freeAddr(t)
	startHorae(t, "localmesos", "localmesos", "--listen", lmAddr, "--heartbeat-interval", "500ms", "--work-dir", t.TempDir())
	waitFor(t, 20*time.Second, "localmesos to serve", func() (bool, string) {
		code, body := call(t, http.MethodGet, "http://"+lmAddr+"/health", nil, nil)
		return code == http.StatusOK, fmt.Sprint(code, body)
	})
	c := &cluster{t: t, zk: zkServers, mesos: "http://" + lmAddr, instances: map[string]*proc{}, args: map[string][]string{}}
	for range n {
		addr := freeAddr(t)
		c.args[addr] = []string{"serve", "--listen", addr, "--store", "zk://" + c.zk + "/horae",
			"--zk-session-timeout", clusterSessionTimeout.String(), "--mesos-master", c.mesos, "--data-dir", t.TempDir(), "--log-level", "debug"}
		c.args[addr] = append(c.args[addr], drillHistory()...)
		c.start(addr)
	}
	c.leader(30 * time.Second)
	return c
}

func (c *cluster) start(addr string) {
	p := startHorae(c.t, "horae serve "+addr, c.args[addr]...)
	p.URL = "http://" + addr
	c.instances[addr] = p
}

// leader waits until the instances agree on a leader and returns its API address.
func (c *cluster) leader(within time.Duration) string {
	c.t.Helper()
	var addr string
	waitFor(c.t, within, "a leader", func() (bool, string) {
		for a, p := range c.instances {
			select {
			case <-p.done:
				continue
			default:
			}
			var l map[string]string
			code, body := call(c.t, http.MethodGet, p.URL+"/v1/scheduler/leader", nil, &l)
			if code != http.StatusOK {
				return false, fmt.Sprintf("%s: %d %s", a, code, body)
			}
			_, port, _ := strings.Cut(l["leader"], ":")
			for cand := range c.instances {
				if strings.HasSuffix(cand, ":"+port) && port != "" && c.alive(cand) {
					addr = cand
					return true, ""
				}
			}
			return false, "leader " + l["leader"] + " not among the live instances"
		}
		return false, "no live instance"
	})
	return addr
}

func (c *cluster) alive(addr string) bool {
	select {
	case <-c.instances[addr].done:
		return false
	default:
		return true
	}
}

// clusterSessionTimeout is the ZooKeeper session timeout of every cluster
// instance: the floor of a failover's recovery.
const clusterSessionTimeout = 2 * time.Second

// TestFailoverNoLostOrDoubledRuns SIGKILLs the leader again and again while
// a job runs every second, and checks from the run records and from what the
// tasks themselves wrote that every slot ran exactly once (Chronos #411,
// #818 ran them twice after failover). HORAE_DRILL_FAILOVERS sets how many
// times (3 by default).
func TestFailoverNoLostOrDoubledRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: not in -short")
	}
	runDrill(t, drillCount(t, "HORAE_DRILL_FAILOVERS", 3), func(c *cluster, lead string) {
		c.instances[lead].stop(syscall.SIGKILL, time.Second)
	}, func(c *cluster, lead string) {
		c.start(lead) // back to three instances
	})
}

// TestPausedLeaderIsFenced stops the leader (SIGSTOP) for longer than its
// ZooKeeper session, lets another instance take over, then resumes it: the
// old leader must not launch or record anything of its stale term.
// HORAE_DRILL_REPEAT sets how many times, on one cluster.
func TestPausedLeaderIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: not in -short")
	}
	runDrill(t, drillRepeat(t), func(c *cluster, lead string) {
		if err := c.instances[lead].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP leader %s: %v", lead, err)
		}
	}, func(c *cluster, lead string) {
		if err := c.instances[lead].cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT old leader %s: %v", lead, err)
		}
		time.Sleep(3 * time.Second) // let the resumed process try to act on its stale term
	})
}

// leaderDrillName is the BenchmarkDrill name of a test using runDrill.
func leaderDrillName(t *testing.T) string {
	switch t.Name() {
	case "TestFailoverNoLostOrDoubledRuns":
		return "sigkill-leader"
	case "TestPausedLeaderIsFenced":
		return "sigstop-leader"
	}
	return strings.ReplaceAll(t.Name(), "/", "-")
}

// runDrill runs a job every second on a three-instance cluster, disrupts
// the leader n times (disrupt, wait until runs resume under a new leader,
// recover), then checks that every slot has exactly one run record and no
// run's command executed twice.
func runDrill(t *testing.T, n int, disrupt, recover func(c *cluster, lead string)) {
	runDrillOn(t, startCluster(t, 3), n, true, disrupt, recover)
}

// runDrillOn is runDrill on a given cluster; with newLeader the disrupted
// leader must be replaced before runs resume.
func runDrillOn(t *testing.T, c *cluster, n int, newLeader bool, disrupt, recover func(c *cluster, lead string)) {
	runLeaderDrill(t, c, leaderDrill{
		name:      leaderDrillName(t),
		reps:      n,
		newLeader: newLeader,
		disrupt: func(c *cluster, lead string) time.Time {
			t0 := time.Now()
			disrupt(c, lead)
			return t0
		},
		recover: recover,
	})
}

// leaderDrill is a disruption of a three-instance cluster, repeated on the
// same cluster while one job runs every second.
type leaderDrill struct {
	name string // in the BenchmarkDrill/<name> line
	reps int
	// newLeader: the disrupted leader must be replaced before runs resume.
	newLeader bool
	// disrupt breaks the cluster and returns when the recovery clock
	// starts: the disruption itself, or for a fault it heals inside
	// disrupt (the ZooKeeper outage), the moment it healed.
	disrupt func(c *cluster, lead string) time.Time
	// recover undoes what disrupt left broken, after runs resumed.
	recover func(c *cluster, lead string)
}

// runLeaderDrill runs d.reps disruptions (disrupt, wait until runs resume,
// recover) on c, then disables the job, checks that every slot has exactly
// one run record and no run's command executed twice, restarts every
// instance and checks that no record was lost, and reports the drill.
func runLeaderDrill(t *testing.T, c *cluster, d leaderDrill) drillStats {
	t.Helper()
	ledger := filepath.Join(t.TempDir(), "ledger")
	stats := drillStats{name: d.name, sessionTimeout: clusterSessionTimeout}

	lead := c.leader(30 * time.Second)
	start := time.Now().UTC().Truncate(time.Second).Add(3 * time.Second)
	job := map[string]any{
		"name":              "tick",
		"command":           fmt.Sprintf(`echo "$HORAE_SCHEDULED_TIME $HORAE_ATTEMPT $HORAE_RUN_ID $(date +%%s%%N)" >> %s`, ledger),
		"schedule":          "R/" + start.Format(time.RFC3339) + "/PT1S",
		"missedRunPolicy":   "all",
		"concurrencyPolicy": "allow",
		"retries":           0,
		"cpus":              0.05, "mem": 16, "disk": 1,
	}
	// A leader just elected answers 503 until its term has loaded the
	// store; clients retry.
	waitFor(t, 30*time.Second, "the job to be created", func() (bool, string) {
		code, body := call(t, http.MethodPost, c.instances[lead].URL+"/api/v1/jobs", job, nil)
		if code != http.StatusCreated && code != http.StatusServiceUnavailable {
			t.Fatalf("create job: %d %s", code, body)
		}
		return code == http.StatusCreated, body
	})
	waitFor(t, 30*time.Second, "the first runs", func() (bool, string) {
		n := ledgerLines(t, ledger)
		return len(n) >= 3, fmt.Sprint(len(n), " lines")
	})

	for i := range d.reps {
		// Runs flow before each disruption (after a recovery they resumed
		// with one line; wait for a second one).
		steady := len(ledgerLines(t, ledger)) + 1
		waitFor(t, 30*time.Second, fmt.Sprintf("drill %d: runs to flow", i+1), func() (bool, string) {
			lines := ledgerLines(t, ledger)
			return len(lines) >= steady, fmt.Sprint(len(lines), " lines")
		})
		lead = c.leader(30 * time.Second)
		t0 := d.disrupt(c, lead)
		// Runs resume under the new leader: a leader other than the
		// disrupted one, and new ledger lines after the disruption.
		newLead := "the same or another leader"
		waitFor(t, 30*time.Second, fmt.Sprintf("drill %d: another leader", i+1), func() (bool, string) {
			if !d.newLeader {
				return true, ""
			}
			for a := range c.instances {
				if a == lead || !c.alive(a) {
					continue
				}
				var l map[string]string
				if code, _ := call(t, http.MethodGet, c.instances[a].URL+"/v1/scheduler/leader", nil, &l); code == http.StatusOK && !strings.HasSuffix(l["leader"], ":"+portOf(lead)) && l["leader"] != "" {
					newLead = l["leader"]
					return true, ""
				}
			}
			return false, "old leader still named"
		})
		// Each command is one echo with the wall clock: the ledger is also
		// the record of when each slot's run started.
		var recovery time.Duration
		waitFor(t, 60*time.Second, fmt.Sprintf("drill %d: runs on time again under %s", i+1, newLead), func() (bool, string) {
			var ok bool
			recovery, ok = recoveredAfter(ledgerLines(t, ledger), start, t0, time.Now(), drillPeriod)
			return ok, fmt.Sprintf("no %d runs on time in a row since %s", onTimeRuns, t0.Format(time.RFC3339Nano))
		})
		stats.recoveries = append(stats.recoveries, recovery)
		d.recover(c, lead)
	}

	// Stop the schedule and let the last runs finish.
	lead = c.leader(30 * time.Second)
	waitFor(t, 30*time.Second, "the job to be disabled", func() (bool, string) {
		code, body := call(t, http.MethodPost, c.instances[lead].URL+"/api/v1/jobs/tick/disable", nil, nil)
		if code != http.StatusServiceUnavailable && code/100 != 2 {
			t.Fatalf("disable: %d %s", code, body)
		}
		return code/100 == 2, fmt.Sprint(code, body)
	})
	var runs []runJSON
	waitFor(t, 30*time.Second, "all runs to end", func() (bool, string) {
		runs = allRuns(t, c.instances[lead].URL, "tick")
		active := 0
		for _, r := range runs {
			if r.State == "pending" || r.State == "launching" || r.State == "running" {
				active++
			}
		}
		return active == 0, fmt.Sprint(active, " active of ", len(runs))
	})
	once := checkOncePerSlot(t, runs, ledgerLines(t, ledger))
	stats.lost, stats.dups = once.lost, once.dups

	// Restart every instance: nothing may be lost.
	for addr, p := range c.instances {
		p.stop(syscall.SIGTERM, 15*time.Second)
		c.start(addr)
	}
	lead = c.leader(30 * time.Second)
	var after []runJSON
	waitFor(t, 30*time.Second, "the runs after a restart of every instance", func() (bool, string) {
		code, body := call(t, http.MethodGet, c.instances[lead].URL+"/api/v1/jobs/tick", nil, nil)
		if code != http.StatusOK {
			return false, fmt.Sprint(code, body)
		}
		after = allRuns(t, c.instances[lead].URL, "tick")
		return len(after) == len(runs), fmt.Sprintf("%d runs, had %d", len(after), len(runs))
	})
	// A follower forwards writes to the leader (after checking them).
	for addr, p := range c.instances {
		if addr == lead {
			continue
		}
		follower := map[string]any{"name": "via-follower", "command": "true", "schedule": "R0//PT1H"}
		waitFor(t, 20*time.Second, "a write through a follower", func() (bool, string) {
			code, body := call(t, http.MethodPost, p.URL+"/api/v1/jobs", follower, nil)
			if code == http.StatusConflict {
				return true, "" // an earlier attempt got through
			}
			return code == http.StatusCreated, fmt.Sprint(code, body)
		})
		if code, body := call(t, http.MethodGet, c.instances[lead].URL+"/api/v1/jobs/via-follower", nil, nil); code != http.StatusOK {
			t.Fatalf("job written through follower %s not on the leader: %d %s", addr, code, body)
		}
		break
	}
	before := map[string]string{}
	for _, r := range runs {
		before[r.ID] = r.State
	}
	for _, r := range after {
		if before[r.ID] != r.State {
			stats.lost++
			t.Errorf("run %s was %q before the restart, %q after", r.ID, before[r.ID], r.State)
		}
	}
	stats.report(t)
	return stats
}

// TestZooKeeperOutageDrill stops one ZooKeeper server of three (quorum
// kept: nothing may change), then a second one (quorum lost: the leader must
// stop acting), then brings both back: runs resume, missed slots are caught
// up under missedRunPolicy all, none runs twice. HORAE_DRILL_REPEAT sets how
// many outages, on one ensemble and cluster. Recovery counts from the moment
// the first restarted server serves again, that is quorum is back (the
// outage itself is ≈ 7 s plus a server's restart).
func TestZooKeeperOutageDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("ZooKeeper drill: not in -short")
	}
	ens := zktest.StartEnsemble(t, 3)
	c := startClusterOn(t, 3, strings.Join(ens.Addrs(), ","))
	runLeaderDrill(t, c, leaderDrill{
		name: "zookeeper-outage",
		reps: drillRepeat(t),
		disrupt: func(c *cluster, lead string) time.Time {
			down := time.Now()
			ens.Server(0).Stop()
			time.Sleep(3 * time.Second) // one server down: quorum holds
			ens.Server(1).Stop()        // majority down: no quorum
			time.Sleep(4 * time.Second)
			ens.Server(0).Restart() // serving again means quorum again (servers 0 and 2)
			quorum := time.Now()
			ens.Server(1).Restart()
			t.Logf("ZooKeeper outage: quorum back %v after the first stop, both servers serving after %v",
				quorum.Sub(down).Round(10*time.Millisecond), time.Since(down).Round(10*time.Millisecond))
			return quorum
		},
		recover: func(c *cluster, lead string) {},
	})
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

// checkOncePerSlot checks that every slot from the first to the last has
// exactly one run record and that no run's command executed twice (see
// countOnce), reporting each problem as a test error; it logs the run
// states, requires 90 % of the runs to have succeeded, and returns the
// counts for the drill's report.
func checkOncePerSlot(t *testing.T, runs []runJSON, ledger []string) onceOutcome {
	t.Helper()
	o := countOnce(runs, ledger, drillPeriod)
	for _, p := range o.problems {
		t.Error(p)
	}
	states := countStates(runs)
	t.Logf("%d slots, states %v", len(runs), states)
	for _, r := range runs {
		if r.State != "succeeded" {
			t.Logf("run %s: %s (%s)", r.ID, r.State, r.Reason)
		}
	}
	if states["succeeded"] < len(runs)*9/10 {
		t.Errorf("only %d of %d runs succeeded", states["succeeded"], len(runs))
	}
	return o
}

func ledgerLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return slices.Clip(lines)
}

// allRuns pages through a job's runs.
func allRuns(t testing.TB, base, job string) []runJSON {
	t.Helper()
	var all []runJSON
	cursor := ""
	for {
		var page struct {
			Runs []runJSON `json:"runs"`
			Next string    `json:"next"`
		}
		u := base + "/api/v1/jobs/" + job + "/runs?limit=1000"
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		code, body := call(t, http.MethodGet, u, nil, &page)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, code, body)
		}
		all = append(all, page.Runs...)
		if page.Next == "" || len(page.Runs) == 0 {
			return all
		}
		cursor = page.Next
	}
}
