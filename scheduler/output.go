package scheduler

import "time"

// Output is one Step's work, in the order it must be carried out:
//
//  1. Persist, atomically, fenced by the term's epoch. If it fails, nothing
//     else of this Output may be done: the leader steps down.
//  2. Launch, Kill, Decline, Reconcile and the offer interest, only after
//     Persist succeeded (a launch intent is durable before the launch).
//  3. Notify (best effort, never blocking the loop).
//  4. Re-arm the timer to WakeAt.
//
// Slices are sorted so that equal inputs give equal Outputs.
type Output struct {
	Persist []Record

	Launch    []Launch
	Kill      []TaskRef
	Decline   []string  // offer IDs
	Reconcile []TaskRef // explicit reconciliation; Implicit adds one empty RECONCILE
	Implicit  bool
	// Offers is the interest in offers after this step: revive when work is
	// pending, suppress when nothing is (Chronos never suppressed, #381).
	Offers OfferInterest

	Notify []Notice

	// WakeAt is when the next Tick is wanted; zero means nothing is due.
	WakeAt time.Time

	// Run is the run a RunRequested created (or found, for a repeated
	// idempotency key) or a RunKillRequested targeted.
	Run *Run
}

// OfferInterest tells the framework whether to revive or suppress offers.
type OfferInterest int

// Offer interests. Unchanged leaves things as they are.
const (
	OffersUnchanged OfferInterest = iota
	OffersWanted                  // REVIVE
	OffersNotWanted               // SUPPRESS
)

// Launch is one ACCEPT: the tasks placed on one offer.
type Launch struct {
	OfferID  string
	AgentID  string
	Hostname string
	Tasks    []TaskLaunch
}

// TaskLaunch is everything the framework needs to build a Mesos TaskInfo
// that runs in the Horae executor.
type TaskLaunch struct {
	TaskID       string
	Run          RunID
	Job          *Job // the job as it was when the run was created; shared, never modified
	Attempt      int
	Instance     int
	Instances    int
	ScheduledFor time.Time
	// StartAt, when set, is the instant the command must start: the run
	// was created and launched LaunchAhead before its slot, and the
	// executor holds the command until then. Zero: start at once.
	StartAt   time.Time
	Env       map[string]string // per-run overrides
	Arguments []string          // per-run overrides
	Ports     []uint64          // ports assigned from the offer
}

// TaskRef names a Mesos task (agent may be empty when unknown).
type TaskRef struct {
	TaskID  string
	AgentID string
}

// Notice is something worth telling people or other systems about.
type Notice struct {
	Kind NotifyOn
	Job  string
	Run  *Run
	At   time.Time
	Text string
}

// Record is one durable change in a Persist batch. The set is sealed.
type Record interface{ isRecord() }

// PutJob stores a job definition.
type PutJob struct{ Job Job }

// DeleteJob removes a job with its cursor and its runs.
type DeleteJob struct{ Name string }

// PutCursor stores a job's cursor.
type PutCursor struct{ Cursor Cursor }

// PutRun stores a run record.
type PutRun struct{ Run Run }

// DeleteRun removes a run record (history pruning).
type DeleteRun struct {
	Job string
	ID  RunID
}

func (PutJob) isRecord()    {}
func (DeleteJob) isRecord() {}
func (PutCursor) isRecord() {}
func (PutRun) isRecord()    {}
func (DeleteRun) isRecord() {}
