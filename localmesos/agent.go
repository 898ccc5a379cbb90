package localmesos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// maxResendInterval caps the doubling re-send interval of status updates.
const maxResendInterval = 10 * time.Minute

// task is the master's and agent's record of one launched task.
type task struct {
	id        string
	fw        *framework
	ex        *executor
	agentID   string
	info      mesos.TaskInfo // as delivered to the executor
	res       resources
	released  bool
	state     mesos.TaskState
	latest    *mesos.TaskStatus // latest status, for container_status
	delivered bool              // LAUNCH sent to the executor

	// pending are the status updates not yet acknowledged, oldest first;
	// only the head is sent to the scheduler.
	pending    []mesos.TaskStatus
	sentUUID   []byte
	nextResend time.Time
	backoff    time.Duration
	seen       map[string]bool // uuids taken from the executor
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR,
		mesos.TASK_LOST, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

func (t *task) reconcileStatus(now time.Time) mesos.TaskStatus {
	agent := mesos.AgentID{Value: t.agentID}
	st := masterStatus(t.id, &agent, t.state, "Reconciliation: Latest task state", mesos.REASON_RECONCILIATION, now)
	if t.latest != nil {
		st.ContainerStatus = t.latest.ContainerStatus
	}
	return st
}

// exKey names an executor of a framework.
type exKey struct{ fw, ex string }

// executor is the agent's record of one executor run (container).
type executor struct {
	fwID        string
	id          string
	containerID string
	agentID     string
	sandbox     string
	info        mesos.ExecutorInfo // as given to the executor
	fwInfo      mesos.FrameworkInfo
	res         resources
	released    bool
	grace       time.Duration
	tasks       map[string]*task
	queued      []*task
	kills       []*execpb.Event // KILLs that came while the stream was down
	stream      *stream

	subscribed      bool
	recovering      bool
	recoverDeadline time.Time
	regDeadline     time.Time
	terminating     bool
	killAt          time.Time
	killReason      string
	killCode        mesos.TaskStatus_Reason
	frameworkGone   bool
	agentLost       bool
	pid             int

	procMu sync.Mutex
	proc   *os.Process
	exited bool
}

// kill sends SIGKILL to the executor's process group.
func (ex *executor) kill() {
	ex.procMu.Lock()
	defer ex.procMu.Unlock()
	if ex.proc != nil && !ex.exited {
		_ = syscall.Kill(-ex.proc.Pid, syscall.SIGKILL)
	}
}

func (ex *executor) unqueue(t *task) {
	for i, q := range ex.queued {
		if q == t {
			ex.queued = append(ex.queued[:i], ex.queued[i+1:]...)
			return
		}
	}
}

func (ex *executor) sendEvent(m *Mesos, ev *execpb.Event) {
	if ex.stream == nil {
		return
	}
	rec, err := encodeMessage(ex.stream.media, ev)
	if err != nil {
		m.log.Error("encode executor event", "type", ev.Type, "err", err)
		return
	}
	ex.stream.send(rec)
}

func execMessage(data []byte) *execpb.Event {
	return &execpb.Event{Type: execpb.Event_MESSAGE, Message: &execpb.Event_Message{Data: data}}
}

func execKill(taskID string, p *mesos.KillPolicy) *execpb.Event {
	return &execpb.Event{Type: execpb.Event_KILL, Kill: &execpb.Event_Kill{TaskID: mesos.TaskID{Value: taskID}, KillPolicy: p}}
}

// launchLocked checks one task against what is left of the accepted
// offers and hands it to the agent. It returns what is left afterwards.
func (m *Mesos) launchLocked(fw *framework, ti mesos.TaskInfo, left resources, now time.Time) resources {
	agent := ti.AgentID
	fail := func(msg string) resources {
		m.sendUpdateLocked(fw, masterStatus(ti.TaskID.Value, &agent, mesos.TASK_ERROR, msg, mesos.REASON_TASK_INVALID, now))
		return left
	}
	switch {
	case ti.TaskID.Value == "":
		return fail("Task ID must not be empty")
	case fw.tasks[ti.TaskID.Value] != nil:
		return fail("Task has duplicate ID: " + ti.TaskID.Value)
	case ti.AgentID.Value != m.agentID:
		return fail("Task uses invalid agent: " + ti.AgentID.Value)
	case (ti.Executor == nil) == (ti.Command == nil):
		return fail("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	case ti.Executor == nil:
		return fail("localmesos does not run the command executor: launch the task with an ExecutorInfo")
	case ti.Executor.FrameworkID != nil && ti.Executor.FrameworkID.Value != fw.id:
		return fail(fmt.Sprintf("ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)", ti.Executor.FrameworkID.Value, fw.id))
	case ti.Executor.Command == nil:
		return fail("Executor " + ti.Executor.ExecutorID.Value + " has no CommandInfo")
	}
	taskRes, err := parseResources(ti.Resources)
	if err != nil {
		return fail("Task uses invalid resources: " + err.Error())
	}
	key := exKey{fw.id, ti.Executor.ExecutorID.Value}
	ex := m.executors[key]
	if ex != nil && ex.terminating {
		return fail("Executor " + ex.id + " is terminating")
	}
	role := fw.allocRole()
	if role == "" {
		role = "*"
	}
	if ex != nil {
		// As Mesos's master: a task naming a running executor must carry
		// the same ExecutorInfo (framework_id is filled in by the master).
		given := *ti.Executor
		given.FrameworkID = &mesos.FrameworkID{Value: fw.id}
		given.Resources = stripRole(given.Resources, role)
		if !given.Equal(&ex.info) {
			return fail("Task has invalid ExecutorInfo (existing ExecutorInfo with same ExecutorID " + ex.id + " is not compatible)")
		}
	}
	need := taskRes
	var exRes resources
	if ex == nil {
		exRes, err = parseResources(ti.Executor.Resources)
		if err != nil {
			return fail("Executor uses invalid resources: " + err.Error())
		}
		need = need.add(exRes)
	}
	if !left.contains(need) {
		return fail(fmt.Sprintf("Total resources %s required by task and its executor is more than available %s", need, left))
	}
	left = left.sub(need)
	m.used = m.used.add(need)
	if ex == nil {
		ex = m.newExecutorLocked(fw, *ti.Executor, exRes, role, now)
	}
	info := ti
	info.Resources = stripRole(ti.Resources, role)
	exInfo := ex.info
	info.Executor = &exInfo
	t := &task{id: ti.TaskID.Value, fw: fw, ex: ex, agentID: m.agentID, info: info, res: taskRes,
		state: mesos.TASK_STAGING, seen: map[string]bool{}}
	fw.tasks[t.id] = t
	ex.tasks[t.id] = t
	if ex.stream != nil && !ex.recovering {
		t.delivered = true
		ex.sendEvent(m, &execpb.Event{Type: execpb.Event_LAUNCH, Launch: &execpb.Event_Launch{Task: t.info}})
	} else {
		ex.queued = append(ex.queued, t)
	}
	m.log.Info("task launched", "framework", fw.id, "task", t.id, "executor", ex.id, "agent", m.agentID)
	return left
}

// newExecutorLocked records a new executor run and starts its process.
func (m *Mesos) newExecutorLocked(fw *framework, info mesos.ExecutorInfo, res resources, role string, now time.Time) *executor {
	info.FrameworkID = &mesos.FrameworkID{Value: fw.id}
	info.Resources = stripRole(info.Resources, role)
	fwInfo := fw.info
	if fwInfo.FailoverTimeout == nil {
		z := 0.0
		fwInfo.FailoverTimeout = &z
	}
	if fwInfo.Checkpoint == nil {
		f := false
		fwInfo.Checkpoint = &f
	}
	ex := &executor{
		fwID:        fw.id,
		id:          info.ExecutorID.Value,
		containerID: uuidString(newUUID()),
		agentID:     m.agentID,
		info:        info,
		fwInfo:      fwInfo,
		res:         res,
		grace:       m.cfg.ExecutorShutdownGracePeriod,
		tasks:       map[string]*task{},
		regDeadline: now.Add(m.cfg.ExecutorRegistrationTimeout),
	}
	if info.ShutdownGracePeriod != nil {
		ex.grace = time.Duration(info.ShutdownGracePeriod.Nanoseconds)
	}
	ex.sandbox = filepath.Join(m.cfg.WorkDir, "slaves", m.agentID, "frameworks", fw.id, "executors", ex.id, "runs", ex.containerID)
	key := exKey{fw.id, ex.id}
	m.executors[key] = ex
	m.runs[key] = append(m.runs[key], ex)
	env := m.executorEnv(ex, fw.checkpoint())
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.runExecutor(ex, env)
	}()
	return ex
}

// executorEnv is exactly the environment a Mesos agent gives a custom
// executor (mesos-wire.md §4), plus the CommandInfo's variables.
func (m *Mesos) executorEnv(ex *executor, checkpoint bool) []string {
	hp := m.HostPort()
	env := []string{
		"LIBPROCESS_IP=" + m.host,
		"LIBPROCESS_PORT=0",
		"MESOS_AGENT_ENDPOINT=" + hp,
		"MESOS_CHECKPOINT=0",
		"MESOS_DIRECTORY=" + ex.sandbox,
		"MESOS_EXECUTOR_ID=" + ex.id,
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=" + stoutDuration(float64(ex.grace)),
		"MESOS_FRAMEWORK_ID=" + ex.fwID,
		"MESOS_HTTP_COMMAND_EXECUTOR=0",
		"MESOS_SANDBOX=" + ex.sandbox,
		"MESOS_SLAVE_ID=" + ex.agentID,
		"MESOS_SLAVE_PID=slave(1)@" + hp,
		"PATH=" + defaultPath,
	}
	if checkpoint {
		env[3] = "MESOS_CHECKPOINT=1"
		env = append(env, "MESOS_RECOVERY_TIMEOUT="+stoutDuration(float64(m.cfg.RecoveryTimeout)),
			"MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs")
	}
	if e := ex.info.Command.Environment; e != nil {
		for _, v := range e.Variables {
			if v.Value != nil {
				env = setEnv(env, v.Name, *v.Value)
			}
		}
	}
	return env
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// runExecutor prepares the sandbox, fetches the URIs, runs the executor
// in its own process group and reports its exit.
func (m *Mesos) runExecutor(ex *executor, env []string) {
	cmd, err := m.prepareExecutor(ex, env)
	if err == nil {
		err = cmd.Start()
		// The child has its own copies of the sandbox files now.
		for _, f := range []any{cmd.Stdout, cmd.Stderr} {
			if c, ok := f.(io.Closer); ok {
				c.Close()
			}
		}
		if err != nil {
			err = fmt.Errorf("start executor %s: %w", ex.id, err)
		}
	}
	if err != nil {
		m.log.Error("executor launch failed", "executor", ex.id, "framework", ex.fwID, "err", err)
		m.executorExited(ex, -1, err)
		return
	}
	ex.procMu.Lock()
	ex.proc = cmd.Process
	ex.procMu.Unlock()
	m.mu.Lock()
	ex.pid = cmd.Process.Pid
	// The registration timeout runs from the launch, after the fetch.
	ex.regDeadline = time.Now().Add(m.cfg.ExecutorRegistrationTimeout)
	killNow := ex.terminating && ex.stream == nil || m.shutdown
	m.mu.Unlock()
	if killNow {
		ex.kill()
	}
	m.log.Info("executor started", "executor", ex.id, "framework", ex.fwID, "pid", ex.pid, "sandbox", ex.sandbox)
	_ = cmd.Wait()
	ex.procMu.Lock()
	// The container ends with its executor, as a Mesos agent destroys it:
	// whatever is left in the process group (the task's commands) is
	// killed before the agent reports the executor's end.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	ex.exited = true
	ex.procMu.Unlock()
	status := -1
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		status = int(ws)
	}
	m.executorExited(ex, status, nil)
}

func (m *Mesos) prepareExecutor(ex *executor, env []string) (*exec.Cmd, error) {
	if err := os.MkdirAll(ex.sandbox, 0o755); err != nil {
		return nil, fmt.Errorf("create sandbox %s: %w", ex.sandbox, err)
	}
	latest := filepath.Join(filepath.Dir(ex.sandbox), "latest")
	_ = os.Remove(latest)
	_ = os.Symlink(ex.containerID, latest)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	ci := ex.info.Command
	for _, u := range ci.URIs {
		if err := fetchURI(ctx, u, ex.sandbox); err != nil {
			return nil, err
		}
	}
	var cmd *exec.Cmd
	if ci.Shell == nil || *ci.Shell {
		if ci.Value == nil {
			return nil, errors.New("shell command of executor has no value")
		}
		cmd = exec.Command("/bin/sh", "-c", *ci.Value)
	} else {
		if ci.Value == nil {
			return nil, errors.New("command of executor has no value")
		}
		path := *ci.Value
		if !strings.Contains(path, "/") {
			for _, dir := range filepath.SplitList(defaultPath) {
				if st, err := os.Stat(filepath.Join(dir, path)); err == nil && !st.IsDir() {
					path = filepath.Join(dir, path)
					break
				}
			}
		}
		cmd = &exec.Cmd{Path: path, Args: ci.Arguments}
		if len(cmd.Args) == 0 {
			cmd.Args = []string{*ci.Value}
		}
	}
	cmd.Dir = ex.sandbox
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := os.OpenFile(filepath.Join(ex.sandbox, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open sandbox stdout: %w", err)
	}
	stderr, err := os.OpenFile(filepath.Join(ex.sandbox, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		stdout.Close()
		return nil, fmt.Errorf("open sandbox stderr: %w", err)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, nil
}

// fetchURI copies a CommandInfo URI into the sandbox: http(s) by GET,
// file:// or a plain path by copy. Executable files get mode 0755; tar
// archives are extracted when extract is set (the Mesos default).
func fetchURI(ctx context.Context, u mesos.CommandInfo_URI, sandbox string) error {
	src := u.Value
	name := filepath.Base(strings.SplitN(strings.SplitN(src, "?", 2)[0], "#", 2)[0])
	if u.OutputFile != nil && *u.OutputFile != "" {
		name = *u.OutputFile
	}
	dst := filepath.Join(sandbox, name)
	var in io.ReadCloser
	switch {
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return fmt.Errorf("fetch %s: %w", src, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("fetch %s: %w", src, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("fetch %s: HTTP %s", src, resp.Status)
		}
		in = resp.Body
	default:
		path := strings.TrimPrefix(src, "file://")
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("fetch %s: %w", src, err)
		}
		in = f
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("fetch %s: copy: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("fetch %s: %w", src, err)
	}
	if u.Executable != nil && *u.Executable {
		if err := os.Chmod(dst, 0o755); err != nil {
			return fmt.Errorf("fetch %s: chmod: %w", src, err)
		}
		return nil
	}
	extract := u.Extract == nil || *u.Extract
	if extract && (strings.HasSuffix(name, ".tar") || strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz")) {
		if out, err := exec.CommandContext(ctx, "tar", "-C", sandbox, "-xf", dst).CombinedOutput(); err != nil {
			return fmt.Errorf("fetch %s: extract: %v: %s", src, err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// executorExited handles the end of an executor process: FAILURE, then
// TASK_FAILED for each task not yet terminal, as a real agent does.
func (m *Mesos) executorExited(ex *executor, status int, launchErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	key := exKey{ex.fwID, ex.id}
	if m.executors[key] == ex {
		delete(m.executors, key)
	}
	if ex.stream != nil {
		ex.stream.end()
		ex.stream = nil
	}
	if !ex.released {
		ex.released = true
		if ex.agentID == m.agentID {
			m.used = m.used.sub(ex.res)
		}
	}
	m.log.Info("executor exited", "executor", ex.id, "framework", ex.fwID, "status", status)
	m.finished = append(m.finished, key)
	if len(m.finished) > maxRuns {
		old := m.finished[0]
		m.finished = m.finished[1:]
		if runs := m.runs[old]; len(runs) > 0 {
			m.runs[old] = runs[1:]
			if len(m.runs[old]) == 0 {
				delete(m.runs, old)
			}
		}
	}
	fw := m.frameworks[ex.fwID]
	if ex.frameworkGone || ex.agentLost || m.shutdown || fw == nil {
		for _, t := range ex.tasks {
			m.releaseTaskLocked(t)
		}
		return
	}
	if launchErr == nil {
		st := int32(status)
		m.sendLocked(fw, &scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{
			AgentID: &mesos.AgentID{Value: ex.agentID}, ExecutorID: &mesos.ExecutorID{Value: ex.id}, Status: &st}})
	}
	msg, reason := "Executor terminated", mesos.REASON_EXECUTOR_TERMINATED
	switch {
	case launchErr != nil:
		msg, reason = "Failed to launch container: "+launchErr.Error(), mesos.REASON_CONTAINER_LAUNCH_FAILED
	case ex.killReason != "":
		msg, reason = ex.killReason, ex.killCode
	}
	ids := make([]string, 0, len(ex.tasks))
	for id := range ex.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := ex.tasks[id]
		if !isTerminal(t.state) {
			ex.unqueue(t)
			m.agentUpdateLocked(t, agentStatus(t, mesos.TASK_FAILED, msg, reason, now), now)
		}
	}
	m.allocateLocked(now)
}

// agentStatus builds an agent-generated, reliable status update.
func agentStatus(t *task, state mesos.TaskState, msg string, reason mesos.TaskStatus_Reason, now time.Time) mesos.TaskStatus {
	src := mesos.SOURCE_AGENT
	return mesos.TaskStatus{TaskID: mesos.TaskID{Value: t.id}, State: &state, Message: strPtr(msg), Source: &src,
		Reason: &reason, AgentID: &mesos.AgentID{Value: t.agentID}, ExecutorID: &mesos.ExecutorID{Value: t.ex.id},
		Timestamp: timestamp(now), UUID: newUUID()}
}

// agentUpdateLocked takes a reliable status update into the task's queue;
// it is sent to the scheduler when everything before it is acknowledged.
func (m *Mesos) agentUpdateLocked(t *task, st mesos.TaskStatus, now time.Time) {
	t.state = st.GetState()
	latest := st
	t.latest = &latest
	t.pending = append(t.pending, st)
	m.log.Debug("status update taken", "framework", t.fw.id, "task", t.id, "state", t.state, "queued", len(t.pending))
	if len(t.pending) == 1 {
		m.forwardLocked(t, now)
	}
	if isTerminal(t.state) && !t.released {
		// Freed resources are offered at once, as a separate offer.
		m.releaseTaskLocked(t)
		m.allocateLocked(now)
	}
}

// forwardLocked sends the head update of t; the first send of an update
// starts its re-send schedule.
func (m *Mesos) forwardLocked(t *task, now time.Time) {
	head := t.pending[0]
	switch {
	case !bytes.Equal(t.sentUUID, head.UUID):
		t.sentUUID = head.UUID
		t.backoff = m.cfg.UpdateResendInterval
		t.nextResend = now.Add(t.backoff)
	case !now.Before(t.nextResend):
		t.backoff *= 2
		if t.backoff > maxResendInterval {
			t.backoff = maxResendInterval
		}
		t.nextResend = now.Add(t.backoff)
	}
	m.sendUpdateLocked(t.fw, head)
}

func (m *Mesos) releaseTaskLocked(t *task) {
	if t.released {
		return
	}
	t.released = true
	if t.agentID == m.agentID {
		m.used = m.used.sub(t.res)
	}
}

func (m *Mesos) removeTaskLocked(t *task) {
	delete(t.fw.tasks, t.id)
	delete(t.ex.tasks, t.id)
	m.releaseTaskLocked(t)
}

// shutdownExecutorLocked sends SHUTDOWN and kills the process group after
// the grace period (at once when the executor has no stream).
func (m *Mesos) shutdownExecutorLocked(ex *executor, now time.Time) {
	if ex.terminating {
		return
	}
	ex.terminating = true
	if ex.stream != nil {
		ex.sendEvent(m, &execpb.Event{Type: execpb.Event_SHUTDOWN})
		ex.killAt = now.Add(ex.grace)
		return
	}
	go ex.kill()
}

// handleExecutor serves POST /api/v1/executor.
func (m *Mesos) handleExecutor(w http.ResponseWriter, r *http.Request) {
	var call execpb.Call
	herr := readCall(r, &call)
	if herr != nil {
		herr.write(w)
		return
	}
	if msg := validateExecutorCall(&call); msg != "" {
		badRequest("Failed to validate executor::Call: " + msg).write(w)
		return
	}
	if call.Type == execpb.Call_SUBSCRIBE {
		m.executorSubscribe(w, r, &call)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ex, herr := m.findExecutorLocked(&call)
	if herr != nil {
		herr.write(w)
		return
	}
	if !ex.subscribed || ex.recovering {
		(&httpError{code: http.StatusForbidden, body: "Executor is not subscribed"}).write(w)
		return
	}
	now := time.Now()
	switch call.Type {
	case execpb.Call_UPDATE:
		m.executorUpdateLocked(ex, call.Update.Status, now)
	case execpb.Call_MESSAGE:
		if fw := m.frameworks[ex.fwID]; fw != nil {
			m.sendLocked(fw, &scheduler.Event{Type: scheduler.Event_MESSAGE, Message: &scheduler.Event_Message{
				AgentID: mesos.AgentID{Value: ex.agentID}, ExecutorID: mesos.ExecutorID{Value: ex.id}, Data: call.Message.Data}})
		}
	}
	writeAccepted(w)
}

func (m *Mesos) findExecutorLocked(call *execpb.Call) (*executor, *httpError) {
	if m.frameworks[call.FrameworkID.Value] == nil {
		return nil, badRequest("Framework cannot be found")
	}
	ex := m.executors[exKey{call.FrameworkID.Value, call.ExecutorID.Value}]
	if ex == nil {
		return nil, badRequest("Executor cannot be found")
	}
	return ex, nil
}

// validateExecutorCall mirrors Mesos's validation::executor::call::validate.
func validateExecutorCall(c *execpb.Call) string {
	switch c.Type {
	case execpb.Call_UNKNOWN:
		return "Expecting 'type' to be present"
	case execpb.Call_SUBSCRIBE:
		if c.Subscribe == nil {
			return "Expecting 'subscribe' to be present"
		}
	case execpb.Call_UPDATE:
		if c.Update == nil {
			return "Expecting 'update' to be present"
		}
		st := c.Update.Status
		if len(st.UUID) == 0 {
			return "Expecting 'uuid' to be present"
		}
		if !validUUID(st.UUID) {
			return "Not a valid UUID"
		}
		if st.ExecutorID != nil && st.ExecutorID.Value != c.ExecutorID.Value {
			return fmt.Sprintf("ExecutorID in Call: %s does not match ExecutorID in TaskStatus: %s", c.ExecutorID.Value, st.ExecutorID.Value)
		}
		if st.GetSource() != mesos.SOURCE_EXECUTOR {
			return fmt.Sprintf("Received Call from executor '%s' of framework '%s' with invalid source, expecting 'SOURCE_EXECUTOR'", c.ExecutorID.Value, c.FrameworkID.Value)
		}
		if st.GetState() == mesos.TASK_STAGING {
			return fmt.Sprintf("Received TASK_STAGING from executor '%s' of framework '%s' which is not allowed", c.ExecutorID.Value, c.FrameworkID.Value)
		}
	case execpb.Call_MESSAGE:
		if c.Message == nil {
			return "Expecting 'message' to be present"
		}
	}
	return ""
}

// executorSubscribe answers an executor SUBSCRIBE with its event stream:
// SUBSCRIBED, then LAUNCH for each queued task.
func (m *Mesos) executorSubscribe(w http.ResponseWriter, r *http.Request, call *execpb.Call) {
	media, ok := acceptType(r)
	if !ok {
		(&httpError{code: http.StatusNotAcceptable,
			body: "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"}).write(w)
		return
	}
	s := newStream("", media)
	now := time.Now()
	m.mu.Lock()
	ex, herr := m.findExecutorLocked(call)
	if herr == nil && m.shutdown {
		herr = &httpError{code: http.StatusServiceUnavailable, body: "Agent is shutting down"}
	}
	if herr != nil {
		m.mu.Unlock()
		herr.write(w)
		return
	}
	m.streams.Add(1)
	defer m.streams.Done()
	if ex.stream != nil {
		ex.stream.end()
	}
	ex.stream = s
	ex.subscribed = true
	ex.recovering = false
	ex.sendEvent(m, &execpb.Event{Type: execpb.Event_SUBSCRIBED, Subscribed: &execpb.Event_Subscribed{
		ExecutorInfo: ex.info, FrameworkInfo: ex.fwInfo, AgentInfo: m.agentInfoLocked(),
		ContainerID: &mesos.ContainerID{Value: ex.containerID}}})
	for _, t := range ex.queued {
		t.delivered = true
		ex.sendEvent(m, &execpb.Event{Type: execpb.Event_LAUNCH, Launch: &execpb.Event_Launch{Task: t.info}})
	}
	ex.queued = nil
	for _, k := range ex.kills {
		ex.sendEvent(m, k)
	}
	ex.kills = nil
	for _, u := range call.Subscribe.UnacknowledgedUpdates {
		m.executorUpdateLocked(ex, u.Status, now)
	}
	m.log.Info("executor subscribed", "executor", ex.id, "framework", ex.fwID)
	m.mu.Unlock()

	if _, err := s.serve(w, m.stop, 0, nil); err != nil {
		m.log.Error("executor stream failed", "executor", ex.id, "err", err)
	}
	m.mu.Lock()
	if ex.stream == s {
		ex.stream = nil
	}
	m.mu.Unlock()
}

// executorUpdateLocked takes a status update from an executor: the agent
// stamps it, queues it for the scheduler and acknowledges it at once.
func (m *Mesos) executorUpdateLocked(ex *executor, st mesos.TaskStatus, now time.Time) {
	ack := &execpb.Event{Type: execpb.Event_ACKNOWLEDGED, Acknowledged: &execpb.Event_Acknowledged{
		TaskID: st.TaskID, UUID: st.UUID}}
	t := ex.tasks[st.TaskID.Value]
	if t == nil {
		m.log.Info("update for unknown task dropped", "executor", ex.id, "task", st.TaskID.Value)
		ex.sendEvent(m, ack)
		return
	}
	key := string(st.UUID)
	if t.seen[key] {
		ex.sendEvent(m, ack)
		return
	}
	t.seen[key] = true
	st.AgentID = &mesos.AgentID{Value: ex.agentID}
	if st.ExecutorID == nil {
		st.ExecutorID = &mesos.ExecutorID{Value: ex.id}
	}
	if st.Timestamp == nil {
		st.Timestamp = timestamp(now)
	}
	pid := uint32(ex.pid)
	proto := mesos.IPv4
	st.ContainerStatus = &mesos.ContainerStatus{
		ContainerID:  &mesos.ContainerID{Value: ex.containerID},
		NetworkInfos: []mesos.NetworkInfo{{IPAddresses: []mesos.NetworkInfo_IPAddress{{Protocol: &proto, IPAddress: strPtr(m.host)}}}},
		ExecutorPID:  &pid,
	}
	m.agentUpdateLocked(t, st, now)
	ex.sendEvent(m, ack)
}
