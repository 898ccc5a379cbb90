package localmesos

import (
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Faults are switches that make localmesos misbehave the way real
// clusters do, so tests can watch a framework recover. All methods are
// safe for concurrent use.
type Faults struct {
	m *Mesos

	mu          sync.Mutex
	silence     bool
	notLeader   string
	unavail     bool
	duplicates  bool
	updateDelay time.Duration
}

// DropStream closes every scheduler event stream at once, without a final
// event, as a crashed master or a cut connection would. Frameworks are then
// disconnected and their failover timeouts start.
func (f *Faults) DropStream() {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	for _, fw := range f.m.frameworks {
		if fw.stream != nil {
			fw.stream.drop()
		}
	}
}

// Silence, when on, keeps the scheduler connections open but sends no
// heartbeats and no events (events produced meanwhile are lost, offers are
// not made). Off resumes heartbeats and offers.
func (f *Faults) Silence(on bool) {
	f.mu.Lock()
	f.silence = on
	f.mu.Unlock()
	if !on {
		f.m.mu.Lock()
		f.m.allocateLocked(time.Now())
		f.m.mu.Unlock()
	}
}

// NotLeader makes the master answer every scheduler call with
// 307 Temporary Redirect to leaderHostPort, as a non-leading master does.
// The empty string makes it lead again.
func (f *Faults) NotLeader(leaderHostPort string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notLeader = leaderHostPort
}

// Unavailable, when on, makes the master answer every scheduler call with
// 503 Service Unavailable, as a recovering master does.
func (f *Faults) Unavailable(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unavail = on
}

// DuplicateUpdates, when on, sends every status update twice.
func (f *Faults) DuplicateUpdates(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.duplicates = on
}

// DelayUpdates delays every status update sent from now on by d (0 turns
// the delay off).
func (f *Faults) DelayUpdates(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updateDelay = d
}

// LoseAgent removes the agent as a master does when it becomes
// unreachable: its tasks become TASK_LOST (TASK_UNREACHABLE for
// PARTITION_AWARE frameworks), its offers are rescinded, frameworks get
// FAILURE for the agent, and its executors are killed. The agent then
// comes back empty under a new ID.
func (f *Faults) LoseAgent() {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	lost := m.agentID
	// The agent's processes die first, so no task command outlives the
	// TASK_LOST its framework is about to see.
	for key, ex := range m.executors {
		ex.agentLost = true
		ex.terminating = true
		if ex.stream != nil {
			ex.stream.drop()
		}
		delete(m.executors, key)
		ex.kill() // lock order m.mu → procMu, as everywhere
	}
	for _, fw := range m.sortedFrameworks() {
		m.rescindOffersLocked(fw, true)
		for _, id := range sortedKeys(fw.tasks) {
			t := fw.tasks[id]
			if !isTerminal(t.state) {
				state := mesos.TASK_LOST
				if fw.partitionAware() {
					state = mesos.TASK_UNREACHABLE
				}
				agent := mesos.AgentID{Value: t.agentID}
				m.sendUpdateLocked(fw, masterStatus(t.id, &agent, state,
					"Agent "+m.cfg.Hostname+" is unreachable", mesos.REASON_AGENT_REMOVED, now))
			}
			m.removeTaskLocked(t)
		}
		m.sendLocked(fw, &scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{
			AgentID: &mesos.AgentID{Value: lost}}})
	}
	m.newAgentLocked()
	m.log.Info("agent lost", "agent", lost, "new_agent", m.agentID)
	m.allocateLocked(now)
}

// RestartAgent simulates an agent restart: executor streams close and
// executors must re-subscribe within the recovery timeout (or be killed);
// unacknowledged status updates are sent to the schedulers again.
func (f *Faults) RestartAgent() {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for _, ex := range m.sortedExecutors() {
		if ex.stream != nil {
			ex.stream.drop()
			ex.stream = nil
		}
		ex.recovering = true
		ex.recoverDeadline = now.Add(m.cfg.RecoveryTimeout)
	}
	for _, fw := range m.sortedFrameworks() {
		for _, id := range sortedKeys(fw.tasks) {
			if t := fw.tasks[id]; len(t.pending) > 0 {
				m.forwardLocked(t, now)
			}
		}
	}
	m.log.Info("agent restarted", "agent", m.agentID)
}

func (f *Faults) silent() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.silence
}

func (f *Faults) leader() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notLeader
}

func (f *Faults) unavailable() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unavail
}

func (f *Faults) duplicate() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.duplicates
}

func (f *Faults) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updateDelay
}
