package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
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

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	return startClusterOn(t, n, zktest.Start(t).Addr())
}

// startClusterOn is startCluster against the given ZooKeeper servers
// (comma-separated host:port list).
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
			"--zk-session-timeout", "2s", "--mesos-master", c.mesos, "--data-dir", t.TempDir(), "--log-level", "debug"}
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

// TestFailoverNoLostOrDoubledRuns SIGKILLs the leader again and again while
// a job runs every second, and checks from the run records and from what the
// tasks themselves wrote that every slot ran exactly once (Chronos #411,
// #818 ran them twice after failover).
func TestFailoverNoLostOrDoubledRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: not in -short")
	}
	failovers := 3
	if s := os.Getenv("HORAE_DRILL_FAILOVERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("HORAE_DRILL_FAILOVERS=%q: %v", s, err)
		}
		failovers = n
	}
	runDrill(t, failovers, func(c *cluster, lead string) {
		c.instances[lead].stop(syscall.SIGKILL, time.Second)
	}, func(c *cluster, lead string) {
		c.start(lead) // back to three instances
	})
}

// TestPausedLeaderIsFenced stops the leader (SIGSTOP) for longer than its
// ZooKeeper session, lets another instance take over, then resumes it: the
// old leader must not launch or record anything of its stale term.
func TestPausedLeaderIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("failover drill: not in -short")
	}
	runDrill(t, 1, func(c *cluster, lead string) {
		if err := c.instances[lead].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP leader: %v", err)
		}
	}, func(c *cluster, lead string) {
		if err := c.instances[lead].cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT old leader: %v", err)
		}
		time.Sleep(3 * time.Second) // let the resumed process try to act on its stale term
	})
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
	ledger := filepath.Join(t.TempDir(), "ledger")

	lead := c.leader(30 * time.Second)
	start := time.Now().UTC().Truncate(time.Second).Add(3 * time.Second)
	job := map[string]any{
		"name":              "tick",
		"command":           fmt.Sprintf(`echo "$HORAE_SCHEDULED_TIME $HORAE_ATTEMPT $HORAE_RUN_ID" >> %s`, ledger),
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

	var recoveries []time.Duration
	for i := range n {
		lead = c.leader(30 * time.Second)
		disrupted := time.Now()
		disrupt(c, lead)
		// Runs resume under the new leader: a leader other than the
		// disrupted one, and new ledger lines after the disruption.
		newLead := "the same or another leader"
		waitFor(t, 30*time.Second, fmt.Sprintf("drill %d: another leader", i+1), func() (bool, string) {
			if !newLeader {
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
		before := len(ledgerLines(t, ledger))
		waitFor(t, 45*time.Second, fmt.Sprintf("drill %d: runs to resume under %s", i+1, newLead), func() (bool, string) {
			lines := ledgerLines(t, ledger)
			return len(lines) > before, fmt.Sprint(len(lines), " lines")
		})
		recoveries = append(recoveries, time.Since(disrupted))
		recover(c, lead)
	}
	t.Logf("recovery (disruption → runs resumed): %v", recoveries)

	// Stop the schedule and let the last runs finish.
	lead = c.leader(30 * time.Second)
	if code, body := call(t, http.MethodPost, c.instances[lead].URL+"/api/v1/jobs/tick/disable", nil, nil); code/100 != 2 {
		t.Fatalf("disable: %d %s", code, body)
	}
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
	checkOncePerSlot(t, runs, ledgerLines(t, ledger))

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
			t.Errorf("run %s was %q before the restart, %q after", r.ID, before[r.ID], r.State)
		}
	}
}

// TestZooKeeperOutageDrill stops one ZooKeeper server of three (quorum
// kept: nothing may change), then a second one (quorum lost: the leader must
// stop acting), then brings both back: runs resume, missed slots are caught
// up under missedRunPolicy all, none runs twice.
func TestZooKeeperOutageDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("ZooKeeper drill: not in -short")
	}
	ens := zktest.StartEnsemble(t, 3)
	c := startClusterOn(t, 3, strings.Join(ens.Addrs(), ","))
	runDrillOn(t, c, 1, false, func(c *cluster, lead string) {
		ens.Server(0).Stop()
		time.Sleep(3 * time.Second) // one server down: quorum holds
		ens.Server(1).Stop()        // majority down: no quorum
		time.Sleep(4 * time.Second)
		ens.Server(0).Restart()
		ens.Server(1).Restart()
	}, func(c *cluster, lead string) {})
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

// checkOncePerSlot checks that every slot from the first to the last has
// exactly one run record and that no run's command executed twice.
func checkOncePerSlot(t *testing.T, runs []runJSON, ledger []string) {
	t.Helper()
	slots := map[string]int{}
	for _, r := range runs {
		slots[r.ScheduledFor]++
	}
	var times []time.Time
	for s, n := range slots {
		if n != 1 {
			t.Errorf("slot %s has %d runs, want 1", s, n)
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("scheduledFor %q: %v", s, err)
		}
		times = append(times, ts)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap != time.Second {
			t.Errorf("slots %s and %s are %v apart: a slot was lost", times[i-1], times[i], gap)
		}
	}
	ran := map[string]int{}
	for _, line := range ledger {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("ledger line %q", line)
		}
		ran[f[2]]++
	}
	for id, n := range ran {
		if n != 1 {
			t.Errorf("run %s executed %d times, want once", id, n)
		}
	}
	for _, r := range runs {
		if r.State == "succeeded" && ran[r.ID] != 1 {
			t.Errorf("run %s succeeded but its command ran %d times", r.ID, ran[r.ID])
		}
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
