// Package taskspec is the wire contract between the Horae scheduler and the
// Horae executor: the JSON the scheduler puts in a Mesos TaskInfo.data
// (Spec), and the JSON the executor puts in the data of its terminal status
// update (Result). It holds data types only and imports nothing of Horae, so
// both sides (and a Horae executor of another version) agree on one shape.
//
// Version is bumped on incompatible change; readers reject a newer major.
package taskspec

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version of the Spec and Result formats.
const Version = 1

// Spec tells the executor what to run for one task.
type Spec struct {
	Version int `json:"version"`

	Job          string `json:"job"`
	Run          string `json:"run"`
	Owner        string `json:"owner,omitempty"`
	Attempt      int    `json:"attempt"`
	Instance     int    `json:"instance"`
	Instances    int    `json:"instances"`
	ScheduledFor string `json:"scheduledFor"` // RFC 3339 with nanoseconds, UTC
	// StartAt (RFC 3339 with nanoseconds, UTC), when set, is the instant to
	// start the command: the scheduler launched the task ahead of its slot
	// so that the launch path is not part of its lateness. The executor
	// holds the command until then, but never longer than its own bound
	// (a skewed clock must not hold a task back), and a kill meanwhile ends
	// the task without starting it. Empty: start at once.
	StartAt string `json:"startAt,omitempty"`

	// Command: with Shell, Command runs under /bin/sh -c (Arguments appended,
	// as Chronos did); otherwise Command is the executable and Arguments argv.
	Shell     bool     `json:"shell"`
	Command   string   `json:"command"`
	Arguments []string `json:"arguments,omitempty"`
	// Env is the job's environment plus per-run overrides, applied over the
	// executor's own environment; HORAE_* and Chronos variables are set by
	// the executor itself and cannot be overridden.
	Env  map[string]string `json:"env,omitempty"`
	User string            `json:"user,omitempty"` // runAsUser

	CPUs float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`

	// MaxRuntimeMillis: kill and fail with reason timeout past this; 0 = none.
	MaxRuntimeMillis int64 `json:"maxRuntimeMillis,omitempty"`
	// KillGraceMillis: SIGTERM→SIGKILL grace when no kill policy says otherwise.
	KillGraceMillis int64 `json:"killGraceMillis,omitempty"`
	// OutputLimitBytes caps each of stdout and stderr in the sandbox (with
	// one rotation); 0 = the executor's default.
	OutputLimitBytes int64 `json:"outputLimitBytes,omitempty"`
}

// Result is the executor's report in a terminal status update.
type Result struct {
	Version    int     `json:"version"`
	ExitCode   *int    `json:"exitCode,omitempty"`
	Signal     string  `json:"signal,omitempty"`     // e.g. "killed", "terminated"
	Reason     string  `json:"reason"`               // see Reason* constants
	DurationMs int64   `json:"durationMs"`           // wall time of the command
	CPUSeconds float64 `json:"cpuSeconds"`           // user+system of the process tree
	MaxRSSKiB  int64   `json:"maxRssKiB"`            // peak resident memory of the process tree
	Directory  string  `json:"directory,omitempty"`  // sandbox path on the agent
	StdoutTail string  `json:"stdoutTail,omitempty"` // last 4 KiB
	StderrTail string  `json:"stderrTail,omitempty"` // last 4 KiB
}

// Reasons in a Result.
const (
	ReasonExit        = "exit"         // the command exited (see ExitCode)
	ReasonSignal      = "signal"       // the command died of a signal
	ReasonTimeout     = "timeout"      // maxRuntime exceeded; killed
	ReasonKilled      = "killed"       // killed on request
	ReasonStartFailed = "start_failed" // could not start (missing binary, permission, user)
	ReasonShutdown    = "shutdown"     // executor shut down by the agent
)

// TailBytes is the size of the stream tails carried in a Result.
const TailBytes = 4096

// Marshal encodes s with the current Version.
func (s Spec) Marshal() ([]byte, error) {
	s.Version = Version
	return json.Marshal(s)
}

// ParseSpec decodes a Spec and checks its version and required fields.
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return Spec{}, fmt.Errorf("taskspec: decode spec: %w", err)
	}
	if s.Version < 1 || s.Version > Version {
		return Spec{}, fmt.Errorf("taskspec: spec version %d not supported (want 1..%d)", s.Version, Version)
	}
	if s.Command == "" {
		return Spec{}, fmt.Errorf("taskspec: spec field command: empty")
	}
	return s, nil
}

// Marshal encodes r with the current Version.
func (r Result) Marshal() ([]byte, error) {
	r.Version = Version
	return json.Marshal(r)
}

// ParseResult decodes a Result.
func ParseResult(data []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return Result{}, fmt.Errorf("taskspec: decode result: %w", err)
	}
	if r.Version < 1 || r.Version > Version {
		return Result{}, fmt.Errorf("taskspec: result version %d not supported (want 1..%d)", r.Version, Version)
	}
	return r, nil
}

// StartTime is StartAt parsed; zero when it is empty.
func (s Spec) StartTime() (time.Time, error) {
	if s.StartAt == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.StartAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("spec field startAt %q: %w", s.StartAt, err)
	}
	return t, nil
}
