package scheduler

import "time"

// Job is one job definition: what to run, where, when and under which
// policies. It is the single schema behind both API surfaces (Chronos 3.x
// field names in JSON, plus Horae's own fields). Jobs are values: the engine
// never mutates a Job it was given; a change is a new JobPut.
//
// Exactly one of Schedule and Parents is set: a scheduled job fires from its
// schedule, a dependent job fires from its parents' results.
type Job struct {
	Name        string            `json:"name"`
	Command     string            `json:"command"`
	Shell       bool              `json:"shell"`
	Arguments   []string          `json:"arguments,omitempty"`
	Description string            `json:"description,omitempty"`
	Owner       string            `json:"owner,omitempty"` // comma-separated e-mail addresses (Chronos)
	OwnerName   string            `json:"ownerName,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`

	// Chronos custom-executor fields, kept for compatibility. Horae always
	// runs tasks in its own executor; these travel to it in the task spec.
	Executor      string `json:"executor,omitempty"`
	ExecutorFlags string `json:"executorFlags,omitempty"`
	TaskInfoData  string `json:"taskInfoData,omitempty"`

	// Resources of one task (one instance). Mem and Disk are MiB.
	CPUs  float64 `json:"cpus"`
	Mem   float64 `json:"mem"`
	Disk  float64 `json:"disk"`
	Ports int     `json:"ports,omitempty"` // number of ports wanted from the offer
	GPUs  float64 `json:"gpus,omitempty"`

	RunAsUser   string       `json:"runAsUser,omitempty"`
	URIs        []string     `json:"uris,omitempty"`
	Fetch       []FetchURI   `json:"fetch,omitempty"`
	Env         []EnvVar     `json:"environmentVariables,omitempty"`
	Container   *Container   `json:"container,omitempty"`
	Constraints []Constraint `json:"constraints,omitempty"`

	Schedule         string      `json:"schedule,omitempty"`         // ISO 8601 repeating interval or cron
	ScheduleTimeZone string      `json:"scheduleTimeZone,omitempty"` // IANA name
	Parents          []string    `json:"parents,omitempty"`
	TriggerRule      TriggerRule `json:"triggerRule,omitempty"`

	Disabled     bool `json:"disabled"`
	SoftError    bool `json:"softError"`
	HighPriority bool `json:"highPriority"`

	Instances   int  `json:"instances,omitempty"`   // ≥ 1; split one run into N tasks
	UniqueHosts bool `json:"uniqueHosts,omitempty"` // the N tasks go to N distinct agents

	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	MissedRunPolicy   MissedRunPolicy   `json:"missedRunPolicy,omitempty"`
	// StartingDeadline: a slot older than this when it could start is
	// skipped and recorded as skipped. Zero means no deadline.
	StartingDeadline time.Duration `json:"startingDeadline,omitempty"`

	Retries       int           `json:"retries"`                 // extra attempts after a failure
	RetryDelay    time.Duration `json:"retryDelay,omitempty"`    // first retry delay; doubles per attempt
	RetryDelayMax time.Duration `json:"retryDelayMax,omitempty"` // cap of the doubling
	MaxRuntime    time.Duration `json:"maxRuntime,omitempty"`    // zero = unlimited

	Notify  []NotifyOn   `json:"notify,omitempty"`
	Webhook *WebhookSpec `json:"webhook,omitempty"`

	CreatedAt time.Time `json:"createdAt"` // set by the engine on first put
	UpdatedAt time.Time `json:"updatedAt"` // set by the engine on every put
}

// EnvVar is one environment variable of a job (Chronos environmentVariables).
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// FetchURI is one Mesos fetcher URI (Chronos fetch).
type FetchURI struct {
	URI        string `json:"uri"`
	Executable bool   `json:"executable"`
	Cache      bool   `json:"cache"`
	Extract    bool   `json:"extract"`
	OutputFile string `json:"output_file,omitempty"`
}

// Container is the Chronos container description, carried to Mesos as is.
type Container struct {
	Type           string     `json:"type,omitempty"` // DOCKER (default) or MESOS
	Image          string     `json:"image,omitempty"`
	Network        string     `json:"network,omitempty"`
	ForcePullImage bool       `json:"forcePullImage,omitempty"`
	Volumes        []Volume   `json:"volumes,omitempty"`
	Parameters     []KeyValue `json:"parameters,omitempty"`
}

// Volume is a container volume.
type Volume struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath,omitempty"`
	Mode          string `json:"mode,omitempty"` // RW or RO
}

// KeyValue is a generic key/value pair.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Constraint restricts the agents a task may run on (Chronos constraints:
// [attribute, operator, value]). Operators: EQUALS, LIKE, UNLIKE, UNIQUE.
type Constraint struct {
	Attribute string `json:"attribute"`
	Operator  string `json:"operator"`
	Value     string `json:"value,omitempty"`
}

// WebhookSpec enables inbound webhooks that start runs of the job.
type WebhookSpec struct {
	Enabled bool   `json:"enabled"`
	Secret  string `json:"secret,omitempty"` // HMAC key or token; never logged
}

// TriggerRule decides when a dependent job fires from its parents' results.
type TriggerRule string

// Trigger rules. AllSuccess is Chronos's rule and the default.
const (
	AllSuccess TriggerRule = "all_success"
	AllDone    TriggerRule = "all_done"
	NoneFailed TriggerRule = "none_failed"
	OneSuccess TriggerRule = "one_success"
	OneFailed  TriggerRule = "one_failed"
	AllFailed  TriggerRule = "all_failed"
)

// ConcurrencyPolicy says what happens when a run comes due while another run
// of the same job is still going.
type ConcurrencyPolicy string

// Concurrency policies. Forbid is the default; Chronos concurrent=true is Allow.
const (
	Forbid  ConcurrencyPolicy = "forbid"
	Allow   ConcurrencyPolicy = "allow"
	Replace ConcurrencyPolicy = "replace"
)

// MissedRunPolicy says what happens to schedule slots that passed without a
// run (downtime, no leader, a forbidden overlap).
type MissedRunPolicy string

// Missed-run policies. Latest is the default.
const (
	MissedLatest MissedRunPolicy = "latest" // one catch-up run for the newest missed slot
	MissedSkip   MissedRunPolicy = "skip"   // none; each missed slot recorded as skipped
	MissedAll    MissedRunPolicy = "all"    // every missed slot, capped at MaxMissedRuns
)

// MaxMissedRuns caps catch-up runs under MissedAll (as Kubernetes CronJob).
const MaxMissedRuns = 100

// NotifyOn names an occasion that notifies the job's owners.
type NotifyOn string

// Notification occasions. Failure (retries exhausted) is on by default.
const (
	NotifyFailure  NotifyOn = "failure"
	NotifySuccess  NotifyOn = "success"
	NotifySkipped  NotifyOn = "skipped"
	NotifyOverdue  NotifyOn = "overdue"
	NotifyDisabled NotifyOn = "disabled"
)

// Job defaults applied by Normalize when a field is zero.
const (
	DefaultCPUs          = 0.1
	DefaultMem           = 128
	DefaultDisk          = 256
	DefaultRetries       = 2
	DefaultRetryDelay    = time.Minute
	DefaultRetryDelayMax = 30 * time.Minute
)
