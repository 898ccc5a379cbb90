package executor

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/horae-scheduler/horae/taskspec"
)

// Why a task was ended from outside.
const (
	endNone     = ""
	endTimeout  = taskspec.ReasonTimeout
	endKilled   = taskspec.ReasonKilled
	endShutdown = taskspec.ReasonShutdown
)

// final is the terminal status of a task.
type final struct {
	State   mesos.TaskState
	Reason  *mesos.TaskStatus_Reason // nil: none
	Message string
	Result  taskspec.Result
}

type killRequest struct {
	grace time.Duration
	why   string // endKilled or endShutdown
}

// runner owns one started process for its whole life: it enforces the
// maximum runtime, turns kill requests into SIGTERM then SIGKILL after the
// grace period, and computes the terminal status. Everything it does to
// the process happens on its own goroutine.
type runner struct {
	p     *proc
	kills chan killRequest
	done  chan struct{} // closed once final is set
	final final
}

// startRunner starts the process of ps and the goroutine that watches it.
// maxRuntime 0 means no limit; timeoutGrace is the SIGTERM→SIGKILL grace
// used when the limit is hit. The error is a *startError.
func startRunner(ps procSpec, maxRuntime, timeoutGrace time.Duration, dir string) (*runner, error) {
	p, err := startProc(ps)
	if err != nil {
		return nil, err
	}
	r := &runner{p: p, kills: make(chan killRequest, 4), done: make(chan struct{})}
	go r.loop(maxRuntime, timeoutGrace, dir)
	return r, nil
}

// kill asks the runner to end the task: SIGTERM to its group now, SIGKILL
// once grace has passed. A later request with a shorter grace shortens it.
// It never blocks; after the task ended it does nothing.
func (r *runner) kill(grace time.Duration, why string) {
	select {
	case r.kills <- killRequest{grace: grace, why: why}:
	case <-r.done:
	default:
		// The buffer is full of earlier requests; the runner is already
		// killing. Enforce this grace from here by retrying in a goroutine.
		go func() {
			select {
			case r.kills <- killRequest{grace: grace, why: why}:
			case <-r.done:
			}
		}()
	}
}

func (r *runner) loop(maxRuntime, timeoutGrace time.Duration, dir string) {
	var (
		why      = endNone
		timeout  <-chan time.Time
		deadline time.Time // SIGKILL due
		escalate *time.Timer
		killNow  <-chan time.Time
	)
	if maxRuntime > 0 {
		t := time.NewTimer(maxRuntime)
		defer t.Stop()
		timeout = t.C
	}
	term := func(grace time.Duration) {
		due := time.Now().Add(grace)
		if !deadline.IsZero() && !due.Before(deadline) {
			return // a kill with an earlier SIGKILL is already under way
		}
		deadline = due
		if grace <= 0 {
			_ = r.p.signal(syscall.SIGKILL)
			return
		}
		_ = r.p.signal(syscall.SIGTERM)
		if escalate != nil {
			escalate.Stop()
		}
		escalate = time.NewTimer(grace)
		killNow = escalate.C
	}
	for {
		select {
		case <-r.p.exited:
			if escalate != nil {
				escalate.Stop()
			}
			r.final = decide(r.p.outcome, why, maxRuntime, dir)
			close(r.done)
			return
		case <-timeout:
			timeout = nil
			if why == endNone {
				why = endTimeout
			}
			term(timeoutGrace)
		case k := <-r.kills:
			select {
			case <-r.p.exited:
				continue // it ended by itself; the exit case reports that
			default:
			}
			if why == endNone {
				why = k.why
			}
			term(k.grace)
		case <-killNow:
			killNow = nil
			_ = r.p.signal(syscall.SIGKILL)
		}
	}
}

// decide maps how a process ended, and why it was ended if it was, to a
// task state, a reason and a message in words.
func decide(o outcome, why string, maxRuntime time.Duration, dir string) final {
	res := taskspec.Result{
		Version:    taskspec.Version,
		DurationMs: o.Duration.Milliseconds(),
		CPUSeconds: o.CPU.Seconds(),
		MaxRSSKiB:  o.MaxRSSKiB,
		Directory:  dir,
		StdoutTail: o.StdoutTail,
		StderrTail: o.StderrTail,
	}
	how := ""
	if o.Signal != 0 {
		res.Signal = o.Signal.String()
		how = fmt.Sprintf("killed by signal %d (%s)", int(o.Signal), o.Signal)
	} else {
		code := o.ExitCode
		res.ExitCode = &code
		how = fmt.Sprintf("exit status %d", code)
	}
	f := final{Result: res}
	switch why {
	case endTimeout:
		f.State = mesos.TASK_FAILED
		f.Reason = mesos.REASON_MAX_COMPLETION_TIME_REACHED.Enum()
		f.Result.Reason = taskspec.ReasonTimeout
		f.Message = fmt.Sprintf("timed out after %v (%s)", maxRuntime, how)
	case endKilled, endShutdown:
		f.State = mesos.TASK_KILLED
		f.Result.Reason = why
		f.Message = fmt.Sprintf("%s (%s)", killedBecause(why), how)
	default:
		switch {
		case o.Signal != 0:
			f.State = mesos.TASK_FAILED
			f.Result.Reason = taskspec.ReasonSignal
			f.Message = how
		case o.ExitCode == 0:
			f.State = mesos.TASK_FINISHED
			f.Result.Reason = taskspec.ReasonExit
			f.Message = how
		default:
			f.State = mesos.TASK_FAILED
			f.Result.Reason = taskspec.ReasonExit
			f.Message = how
			// The shell's words for 127 and 126 are the useful part.
			if o.ExitCode == 127 || o.ExitCode == 126 {
				what := "command not found"
				if o.ExitCode == 126 {
					what = "command not executable"
				}
				f.Message = fmt.Sprintf("%s (%s)", what, how)
				if line := lastLine(o.StderrTail); line != "" {
					f.Message += ": " + line
				}
			}
		}
	}
	if o.OutputErr != nil {
		f.Message += "; output incomplete: " + o.OutputErr.Error()
	}
	return f
}

// killedBecause says in words why a task was killed (endKilled or
// endShutdown).
func killedBecause(why string) string {
	if why == endShutdown {
		return "killed: the executor was shut down"
	}
	return "killed on request"
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// startFailed is the terminal status of a task that could not start.
func startFailed(msg, dir string) final {
	return final{
		State:   mesos.TASK_FAILED,
		Message: msg,
		Result:  taskspec.Result{Version: taskspec.Version, Reason: taskspec.ReasonStartFailed, Directory: dir},
	}
}
