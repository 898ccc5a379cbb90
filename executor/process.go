package executor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/horae-scheduler/horae/taskspec"
)

// copyDrainTimeout bounds how long output copying may go on after the task's
// process group is gone: a grandchild that left the group may still hold
// the pipe open.
const copyDrainTimeout = 2 * time.Second

// procSpec is everything needed to start one task's process.
type procSpec struct {
	TaskID      string
	Spec        taskspec.Spec
	OutputDir   string // receives stdout, stderr (and their .1 rotations)
	WorkDir     string // the sandbox
	Env         []string
	OutputLimit int64
	TailBytes   int
	Cred        *syscall.Credential // nil: run as the executor's user
}

// proc is a started task process: the leader of its own process group.
type proc struct {
	cmd     *exec.Cmd
	pgid    int
	started time.Time // just before the fork
	running time.Time // when the command had been exec'd: its start
	stdout  *cappedFile
	stderr  *cappedFile
	rOut    *os.File
	rErr    *os.File
	copies  sync.WaitGroup
	exited  chan struct{} // closed once outcome is set
	outcome outcome
}

// outcome is what happened to a process, measured when it ended.
type outcome struct {
	ExitCode   int            // -1 when killed by a signal
	Signal     syscall.Signal // 0 when it exited
	Duration   time.Duration
	CPU        time.Duration // user+system of the process and its reaped descendants
	MaxRSSKiB  int64
	StdoutTail string
	StderrTail string
	OutputErr  error // writing the output files failed (the task was not affected)
}

// startError is a task that could not be started; Message says why in words.
type startError struct {
	Message string
	Err     error
}

func (e *startError) Error() string { return e.Message }
func (e *startError) Unwrap() error { return e.Err }

// argv returns the program and argument vector of a spec.
func argv(s taskspec.Spec) (string, []string) {
	if s.Shell {
		line := s.Command
		if len(s.Arguments) > 0 {
			// Chronos appended the arguments to the shell command unquoted.
			line += " " + strings.Join(s.Arguments, " ")
		}
		return "/bin/sh", []string{"sh", "-c", line}
	}
	return s.Command, append([]string{s.Command}, s.Arguments...)
}

// lookPath finds an argv-form program on the task's PATH (not the
// executor's: the job may set its own). Names with a slash are used as
// given, relative to the working directory.
func lookPath(name string, env []string, workDir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(workDir, p)
		}
		if err := executable(p); err != nil {
			return "", err
		}
		return p, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	var firstErr error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(workDir, dir)
		}
		p := filepath.Join(dir, name)
		err := executable(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", fs.ErrNotExist
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory: %w", p, fs.ErrPermission)
	}
	if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable: %w", p, fs.ErrPermission)
	}
	return nil
}

// startProc starts the task's process in its own process group with the
// parent-death signal set, its output going to capped files in OutputDir.
// The returned error is a *startError.
func startProc(ps procSpec) (*proc, error) {
	prog, args := argv(ps.Spec)
	if !ps.Spec.Shell {
		p, err := lookPath(prog, ps.Env, ps.WorkDir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &startError{Message: "command not found: " + prog, Err: err}
		case err != nil:
			return nil, &startError{Message: fmt.Sprintf("cannot run %s: %v", prog, err), Err: err}
		}
		prog = p
	}
	// The command writes into pipes; the files they are copied to are
	// made after the fork, so that their directory and two file creations
	// (a millisecond of file system work on a busy agent) are not between
	// the launch and the command's start. Until the copying starts the
	// pipes buffer what the command writes.
	p := &proc{exited: make(chan struct{})}
	rOut, wOut, err := os.Pipe()
	if err != nil {
		return nil, &startError{Message: "create stdout pipe: " + err.Error(), Err: err}
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		_, _ = rOut.Close(), wOut.Close()
		return nil, &startError{Message: "create stderr pipe: " + err.Error(), Err: err}
	}
	p.rOut, p.rErr = rOut, rErr
	cmd := &exec.Cmd{
		Path:   prog,
		Args:   args,
		Env:    ps.Env,
		Dir:    ps.WorkDir,
		Stdout: wOut,
		Stderr: wErr,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
			Credential: ps.Cred,
		},
	}
	p.started = time.Now()
	err = cmd.Start()
	p.running = time.Now()
	_, _ = wOut.Close(), wErr.Close()
	if err != nil {
		_, _ = rOut.Close(), rErr.Close()
		msg := fmt.Sprintf("cannot start %s: %v", prog, unwrapPathError(err))
		if ps.Cred != nil {
			msg = fmt.Sprintf("cannot start %s as uid %d in %s: %v", prog, ps.Cred.Uid, ps.WorkDir, unwrapPathError(err))
		}
		if errors.Is(err, fs.ErrNotExist) {
			msg = "command not found: " + prog
			if ps.Spec.Shell {
				msg = "shell not found: " + prog
			}
		}
		return nil, &startError{Message: msg, Err: err}
	}
	p.cmd, p.pgid = cmd, cmd.Process.Pid
	p.stdout, p.stderr = outputFiles(ps)
	p.copies.Add(2)
	go p.copy(p.stdout, rOut)
	go p.copy(p.stderr, rErr)
	go p.wait()
	return p, nil
}

// outputFiles creates the task's output directory and its stdout and
// stderr files. The task is already running, so a failure does not stop
// it: the streams are then kept in their tails only, and the terminal
// status says that the output is incomplete (outcome.OutputErr), as for a
// disk that fills up while the task runs.
func outputFiles(ps procSpec) (stdout, stderr *cappedFile) {
	err := os.MkdirAll(ps.OutputDir, 0o755)
	if err != nil {
		err = fmt.Errorf("output: create directory %s: %w", ps.OutputDir, err)
	} else if ps.Cred != nil {
		// The task writes nothing there itself, but may list or read it.
		if cerr := os.Chown(ps.OutputDir, int(ps.Cred.Uid), int(ps.Cred.Gid)); cerr != nil {
			err = fmt.Errorf("output: chown directory %s: %w", ps.OutputDir, cerr)
		}
	}
	open := func(name string) *cappedFile {
		path := filepath.Join(ps.OutputDir, name)
		if err != nil {
			return tailOnly(path, ps.TailBytes, err)
		}
		c, cerr := newCappedFile(path, ps.OutputLimit, ps.TailBytes)
		if cerr != nil {
			return tailOnly(path, ps.TailBytes, cerr)
		}
		return c
	}
	return open("stdout"), open("stderr")
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (p *proc) copy(dst *cappedFile, src *os.File) {
	defer p.copies.Done()
	_, _ = io.Copy(dst, src) // ends at EOF or when wait closes src
}

// wait reaps the process, kills what is left of its group, finishes the
// output, and publishes the outcome.
func (p *proc) wait() {
	_ = p.cmd.Wait() // the ProcessState says everything; the error repeats it
	ended := time.Now()
	// No process outlives its task: whatever the command left running in
	// its group goes now.
	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	drained := make(chan struct{})
	go func() { p.copies.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(copyDrainTimeout):
		// A process outside the group still holds the pipes: stop reading.
		_, _ = p.rOut.Close(), p.rErr.Close()
		<-drained
	}
	_, _ = p.rOut.Close(), p.rErr.Close()
	st := p.cmd.ProcessState
	o := outcome{ExitCode: st.ExitCode(), Duration: ended.Sub(p.started)}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.Signal = ws.Signal()
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		o.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		o.MaxRSSKiB = ru.Maxrss // KiB on Linux
	}
	o.StdoutTail, o.StderrTail = p.stdout.Tail(), p.stderr.Tail()
	o.OutputErr = errors.Join(p.stdout.Close(), p.stderr.Close())
	p.outcome = o
	close(p.exited)
}

// signal sends sig to the task's whole process group.
func (p *proc) signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, p.pgid, err)
	}
	return nil
}

// taskEnv is the task's environment: the executor's own, then the job's,
// then the variables Horae sets, which win. Sorted by name.
func taskEnv(base []string, s taskspec.Spec, taskID, host string) ([]string, error) {
	m := make(map[string]string, len(base)+len(s.Env)+20)
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return nil, fmt.Errorf("spec field env: variable %q: name empty or containing '=' or NUL, or value containing NUL", k)
		}
		m[k] = v
	}
	runTime := ""
	if s.ScheduledFor != "" {
		t, err := time.Parse(time.RFC3339Nano, s.ScheduledFor)
		if err != nil {
			return nil, fmt.Errorf("spec field scheduledFor %q: %w", s.ScheduledFor, err)
		}
		runTime = strconv.FormatInt(t.UnixMilli(), 10)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for k, v := range map[string]string{
		"HORAE_JOB_NAME":          s.Job,
		"HORAE_RUN_ID":            s.Run,
		"HORAE_SCHEDULED_TIME":    s.ScheduledFor,
		"HORAE_ATTEMPT":           strconv.Itoa(s.Attempt),
		"HORAE_INSTANCE":          strconv.Itoa(s.Instance),
		"HORAE_INSTANCES":         strconv.Itoa(s.Instances),
		"CHRONOS_JOB_NAME":        s.Job,
		"CHRONOS_JOB_OWNER":       s.Owner,
		"CHRONOS_JOB_RUN_TIME":    runTime,
		"CHRONOS_JOB_RUN_ATTEMPT": strconv.Itoa(s.Attempt),
		"CHRONOS_RESOURCE_CPU":    f(s.CPUs),
		"CHRONOS_RESOURCE_MEM":    f(s.Mem),
		"CHRONOS_RESOURCE_DISK":   f(s.Disk),
		"mesos_task_id":           taskID,
		"MESOS_TASK_ID":           taskID,
		"HOST":                    host,
	} {
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}

// credential decides whether the task runs as another user. An empty
// name, or the executor's own user, means no switch. Switching needs the
// executor to run as root.
func credential(name string) (*syscall.Credential, *user.User, error) {
	if name == "" {
		return nil, nil, nil
	}
	self, err := user.Current()
	if err == nil && self.Username == name {
		return nil, nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot run as user %s: %w", name, err)
	}
	if uid := os.Geteuid(); uid != 0 {
		return nil, nil, fmt.Errorf("cannot run as user %s: the executor runs as uid %d, not root, and may not switch users", name, uid)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("cannot run as user %s: uid %q or gid %q not numeric: %w", name, u.Uid, u.Gid, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, u, nil
}
