package scheduler

import "time"

// RunID identifies a run. It is deterministic — derived from the job and the
// scheduled slot, or from the trigger's id — so a new leader recognises a run
// it did not launch (the cure for Chronos #411/#818 duplicates).
type RunID string

// Run is one triggering of a job: one or more attempts, each attempt made of
// Instances tasks (split), ending when all of them ended (join).
type Run struct {
	ID      RunID   `json:"id"`
	Job     string  `json:"job"`
	Trigger Trigger `json:"trigger"`
	// TriggerID is the idempotency key of a manual or webhook trigger, or the
	// parent generation key of a dependency trigger; empty for schedule.
	TriggerID string   `json:"triggerId,omitempty"`
	State     RunState `json:"state"`
	Reason    string   `json:"reason,omitempty"`

	ScheduledFor time.Time `json:"scheduledFor"` // the slot, or the trigger time
	CreatedAt    time.Time `json:"createdAt"`
	NotBefore    time.Time `json:"notBefore,omitempty"` // pending retry: not launched before this
	StartedAt    time.Time `json:"startedAt,omitempty"` // first task reported running
	FinishedAt   time.Time `json:"finishedAt,omitempty"`

	Attempt  int  `json:"attempt"` // 0 for the first try; retries count up
	ExitCode *int `json:"exitCode,omitempty"`

	Tasks []Task `json:"tasks"` // tasks of the current attempt, one per instance

	Env       map[string]string `json:"env,omitempty"`       // per-run overrides
	Arguments []string          `json:"arguments,omitempty"` // per-run overrides
}

// Task is one instance of one attempt of a run, i.e. one Mesos task.
type Task struct {
	ID       string    `json:"taskId"` // the Mesos task ID
	Instance int       `json:"instance"`
	AgentID  string    `json:"agentId,omitempty"`
	Host     string    `json:"host,omitempty"`
	State    TaskState `json:"state"`
	ExitCode *int      `json:"exitCode,omitempty"`
	Message  string    `json:"message,omitempty"`

	LaunchedAt time.Time `json:"launchedAt,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`

	// Where the task's sandbox lives, for reading its full logs through the
	// agent's /files/read endpoint.
	AgentURL  string `json:"agentUrl,omitempty"`
	Directory string `json:"directory,omitempty"`
	// Tails of the output streams, from the executor's terminal status.
	StdoutTail string `json:"stdoutTail,omitempty"`
	StderrTail string `json:"stderrTail,omitempty"`
}

// Trigger says what started a run.
type Trigger string

// Triggers.
const (
	TriggerSchedule   Trigger = "schedule"
	TriggerDependency Trigger = "dependency"
	TriggerManual     Trigger = "manual"
	TriggerRetry      Trigger = "retry"
	TriggerWebhook    Trigger = "webhook"
)

// RunState is the lifecycle state of a run.
//
//	pending → launching → running → succeeded | failed | killed
//	pending → skipped (missed-run policy, starting deadline)
//	failed attempts with retries left go back to pending (NotBefore set).
type RunState string

// Run states.
const (
	RunPending   RunState = "pending"
	RunLaunching RunState = "launching"
	RunRunning   RunState = "running"
	RunSucceeded RunState = "succeeded"
	RunFailed    RunState = "failed"
	RunKilled    RunState = "killed"
	RunSkipped   RunState = "skipped"
)

// Terminal reports whether no further change can happen to a run in state s.
func (s RunState) Terminal() bool {
	switch s {
	case RunSucceeded, RunFailed, RunKilled, RunSkipped:
		return true
	}
	return false
}

// TaskState is a Mesos task state, as its Mesos name without the TASK_ prefix
// in lower case ("running", "finished", "lost"...), plus "pending" for a task
// not yet launched.
type TaskState string

// Task states.
const (
	TaskPending     TaskState = "pending"
	TaskStaging     TaskState = "staging"
	TaskStarting    TaskState = "starting"
	TaskRunning     TaskState = "running"
	TaskKilling     TaskState = "killing"
	TaskFinished    TaskState = "finished"
	TaskFailed      TaskState = "failed"
	TaskKilled      TaskState = "killed"
	TaskError       TaskState = "error"
	TaskLost        TaskState = "lost"
	TaskDropped     TaskState = "dropped"
	TaskGone        TaskState = "gone"
	TaskGoneByOp    TaskState = "gone_by_operator"
	TaskUnreachable TaskState = "unreachable"
	TaskUnknown     TaskState = "unknown"
)

// Terminal reports whether s is a final Mesos task state.
func (s TaskState) Terminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone, TaskGoneByOp:
		return true
	}
	return false
}

// Cursor is a job's durable progress: where its schedule stands, and what
// its dependents have consumed of its results. Chronos kept this in memory
// only and lost it on failover (#811); Horae persists it with the runs.
type Cursor struct {
	Job string `json:"job"`
	// Anchor resolves an empty schedule start (R//PT15M): the moment the
	// schedule was created. Zero when the schedule has a start.
	Anchor time.Time `json:"anchor,omitempty"`
	// LastSlot is the newest schedule slot handled (run, or skipped).
	LastSlot time.Time `json:"lastSlot,omitempty"`

	// Generation counts this job's finished runs; LastOutcome is the newest one.
	Generation  int64   `json:"generation"`
	LastOutcome Outcome `json:"lastOutcome,omitempty"`
	// Consumed maps each parent to the parent generation this job last fired
	// on (dependent jobs only).
	Consumed map[string]int64 `json:"consumed,omitempty"`
	// ParentOutcomes maps each parent to its outcome in the generation not
	// yet consumed.
	ParentOutcomes map[string]Outcome `json:"parentOutcomes,omitempty"`
	// Fired says the generation in ParentOutcomes already fired its run
	// (one_success and one_failed fire before every parent has reported);
	// it closes, without a second run, once every parent has reported.
	Fired bool `json:"fired,omitempty"`

	Stats Stats `json:"stats"`
}

// Outcome is how a finished run ended, as seen by dependents.
type Outcome string

// Outcomes. A failed parent with softError counts as OutcomeSuccess.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeSkipped Outcome = "skipped"
)

// Stats are Chronos-style counters, kept over the job's whole life (history
// is bounded, counters are not).
type Stats struct {
	SuccessCount           int64     `json:"successCount"`
	ErrorCount             int64     `json:"errorCount"`
	ErrorsSinceLastSuccess int64     `json:"errorsSinceLastSuccess"`
	SkippedCount           int64     `json:"skippedCount"`
	LastSuccess            time.Time `json:"lastSuccess,omitempty"`
	LastError              time.Time `json:"lastError,omitempty"`
}
