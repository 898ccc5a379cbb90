package scheduler

import "time"

// Event is a fact handed to Engine.Step: time passed, a command arrived, or
// Mesos reported something. The set is sealed.
type Event interface{ isEvent() }

// Tick says time has passed; the engine fires what is due at now.
type Tick struct{}

// LeaderElected starts a leadership term: the engine drops whatever it held
// and restores State as loaded from the store. Every Persist of this term is
// fenced by Epoch. The engine launches nothing until Reconciled arrives.
type LeaderElected struct {
	Epoch int64
	State State
}

// State is everything the store holds for the engine.
type State struct {
	Jobs    []Job
	Cursors []Cursor
	Runs    []Run // non-terminal runs and the bounded history
}

// Reconciled says Mesos has answered the explicit reconciliation of every
// task the engine asked about (or the framework gave up waiting), so the
// engine may launch again. Tasks it still holds as non-terminal and that
// Mesos did not report are in Missing and count as lost.
type Reconciled struct {
	Missing []string // task IDs
}

// JobPut creates or replaces a job (command). Mode restricts which.
type JobPut struct {
	Job  Job
	Mode PutMode
}

// PutMode restricts a JobPut.
type PutMode int

// Put modes.
const (
	Upsert      PutMode = iota // create or replace (Chronos iso8601/dependency)
	CreateOnly                 // fail with ErrExists if present (native POST)
	ReplaceOnly                // fail with ErrNotFound if absent (native PUT)
)

// JobDeleted deletes a job (command). With Detach false, a job that others
// depend on is refused with a *ConflictError naming them (native API). With
// Detach true the edges are removed and a child left with no parents is kept
// but disabled (Chronos surface). Running tasks of the job are killed.
type JobDeleted struct {
	Name   string
	Detach bool
}

// JobEnabled enables or disables a job (command).
type JobEnabled struct {
	Name    string
	Enabled bool
}

// RunRequested triggers a run by hand or by webhook (command). A disabled job
// can be run by hand. Repeating a request with the same TriggerID returns the
// run it created the first time instead of a second run (idempotency).
type RunRequested struct {
	Job       string
	Trigger   Trigger // TriggerManual or TriggerWebhook
	TriggerID string  // idempotency key; the engine derives one when empty
	Env       map[string]string
	Arguments []string
}

// RunKillRequested kills a run's tasks (command); the run ends killed and
// is not retried.
type RunKillRequested struct{ Run RunID }

// JobKillRequested kills every active run of a job (command).
type JobKillRequested struct{ Job string }

// JobMarkedSuccess records the job's last run as successful (Chronos
// job/success): counters move and ready children fire.
type JobMarkedSuccess struct{ Job string }

// OffersArrived hands the engine resource offers to match pending tasks to.
// Every offer comes back in the Output either in a Launch or in Decline.
type OffersArrived struct{ Offers []Offer }

// OfferRescinded withdraws an offer the engine may still hold.
type OfferRescinded struct{ OfferID string }

// TaskUpdated is a Mesos status update for a task.
type TaskUpdated struct {
	TaskID  string
	AgentID string
	State   TaskState
	Message string
	Reason  string // Mesos reason, e.g. REASON_RECONCILIATION
	// Reconciliation marks answers to RECONCILE: they confirm state, they are
	// not new facts (and carry no ack).
	Reconciliation bool
	Timestamp      time.Time
	// Result is the executor's terminal report, when it sent one.
	Result *TaskResult
	// AckUUID is the status uuid to acknowledge once the engine's Persist
	// for this update is durable. The engine ignores it.
	AckUUID []byte
}

// TaskResult is what the Horae executor reports in a terminal status. Its
// TASK_RUNNING status carries one too, with only Directory set, so that
// the output of a running task can be read.
type TaskResult struct {
	ExitCode   *int
	Signal     string
	Reason     string // "timeout", "killed", "exit", "start_failed"...
	Duration   time.Duration
	Directory  string // sandbox path on the agent
	StdoutTail string
	StderrTail string
}

// Subscribed says the framework (re)subscribed to Mesos; the engine answers
// with a Reconcile of every non-terminal task and with its offer interest.
type Subscribed struct{}

// Disconnected says the framework lost its subscription; the engine holds
// launches until the next Subscribed/Reconciled.
type Disconnected struct{}

func (Tick) isEvent()             {}
func (LeaderElected) isEvent()    {}
func (Reconciled) isEvent()       {}
func (JobPut) isEvent()           {}
func (JobDeleted) isEvent()       {}
func (JobEnabled) isEvent()       {}
func (RunRequested) isEvent()     {}
func (RunKillRequested) isEvent() {}
func (JobKillRequested) isEvent() {}
func (JobMarkedSuccess) isEvent() {}
func (OffersArrived) isEvent()    {}
func (OfferRescinded) isEvent()   {}
func (TaskUpdated) isEvent()      {}
func (Subscribed) isEvent()       {}
func (Disconnected) isEvent()     {}

// Offer is a Mesos resource offer, reduced to what matching needs.
type Offer struct {
	ID       string
	AgentID  string
	Hostname string
	AgentURL string // http://host:port of the agent, for /files/read
	CPUs     float64
	Mem      float64
	Disk     float64
	GPUs     float64
	Ports    []PortRange
	// Attributes of the agent; "hostname" is always present.
	Attributes map[string]string
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Begin, End uint64 }
