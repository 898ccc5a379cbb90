package framework

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/horae-scheduler/horae/scheduler"
	"github.com/horae-scheduler/horae/taskspec"
)

// Label keys Horae puts on every task and executor.
const (
	LabelJob      = "horae.job"
	LabelRun      = "horae.run"
	LabelAttempt  = "horae.attempt"
	LabelInstance = "horae.instance"
)

// usable reports whether the framework may spend r in a launch: it belongs
// to one of roles (or carries no allocation), and it is not a persistent
// volume, a shared resource or revocable, which Horae's tasks never ask for.
func usable(r *mesos.Resource, roles []string) bool {
	if r.Disk != nil && r.Disk.Persistence != nil {
		return false
	}
	if r.Shared != nil || r.Revocable != nil {
		return false
	}
	if r.AllocationInfo == nil || r.AllocationInfo.Role == nil {
		return true
	}
	for _, role := range roles {
		if *r.AllocationInfo.Role == role {
			return true
		}
	}
	return false
}

// convertOffer reduces a Mesos offer to what the engine matches on: scalar
// sums of cpus, mem, disk and gpus and the port ranges usable by the
// framework's roles, the agent's attributes, hostname and URL.
func convertOffer(o *mesos.Offer, roles []string) scheduler.Offer {
	out := scheduler.Offer{
		ID:         o.ID.Value,
		AgentID:    o.AgentID.Value,
		Hostname:   o.Hostname,
		AgentURL:   agentURL(o.URL),
		Attributes: map[string]string{},
	}
	for i := range o.Resources {
		r := &o.Resources[i]
		if !usable(r, roles) {
			continue
		}
		switch r.GetType() {
		case mesos.SCALAR:
			v := r.GetScalar().GetValue()
			switch r.Name {
			case "cpus":
				out.CPUs += v
			case "mem":
				out.Mem += v
			case "disk":
				out.Disk += v
			case "gpus":
				out.GPUs += v
			}
		case mesos.RANGES:
			if r.Name == "ports" {
				for _, rg := range r.GetRanges().GetRange() {
					out.Ports = append(out.Ports, scheduler.PortRange{Begin: rg.Begin, End: rg.End})
				}
			}
		}
	}
	out.CPUs, out.Mem, out.Disk, out.GPUs = round3(out.CPUs), round3(out.Mem), round3(out.Disk), round3(out.GPUs)
	sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Begin < out.Ports[j].Begin })
	for _, a := range o.Attributes {
		out.Attributes[a.Name] = attributeString(a)
	}
	if _, ok := out.Attributes["hostname"]; !ok {
		out.Attributes["hostname"] = o.Hostname
	}
	return out
}

// attributeString renders an attribute value the way Mesos prints it
// (text as is, scalars shortest, ranges "[a-b,c-d]", sets "{a,b}").
func attributeString(a mesos.Attribute) string {
	switch a.Type {
	case mesos.TEXT:
		return a.GetText().GetValue()
	case mesos.SCALAR:
		return strconv.FormatFloat(a.GetScalar().GetValue(), 'f', -1, 64)
	case mesos.RANGES:
		parts := make([]string, 0, len(a.GetRanges().GetRange()))
		for _, r := range a.GetRanges().GetRange() {
			parts = append(parts, fmt.Sprintf("%d-%d", r.Begin, r.End))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case mesos.SET:
		return "{" + strings.Join(a.GetSet().GetItem(), ",") + "}"
	}
	return ""
}

// agentURL is "scheme://host:port" of the agent, or "" when unknown.
func agentURL(u *mesos.URL) string {
	if u == nil {
		return ""
	}
	host := u.Address.GetHostname()
	if host == "" {
		host = u.Address.GetIP()
	}
	if host == "" {
		return ""
	}
	scheme := u.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(u.Address.Port)))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// taskState maps a Mesos task state to the engine's name for it; every
// Mesos state has one.
func taskState(s mesos.TaskState) scheduler.TaskState {
	switch s {
	case mesos.TASK_STAGING:
		return scheduler.TaskStaging
	case mesos.TASK_STARTING:
		return scheduler.TaskStarting
	case mesos.TASK_RUNNING:
		return scheduler.TaskRunning
	case mesos.TASK_KILLING:
		return scheduler.TaskKilling
	case mesos.TASK_FINISHED:
		return scheduler.TaskFinished
	case mesos.TASK_FAILED:
		return scheduler.TaskFailed
	case mesos.TASK_KILLED:
		return scheduler.TaskKilled
	case mesos.TASK_ERROR:
		return scheduler.TaskError
	case mesos.TASK_LOST:
		return scheduler.TaskLost
	case mesos.TASK_DROPPED:
		return scheduler.TaskDropped
	case mesos.TASK_GONE:
		return scheduler.TaskGone
	case mesos.TASK_GONE_BY_OPERATOR:
		return scheduler.TaskGoneByOp
	case mesos.TASK_UNREACHABLE:
		return scheduler.TaskUnreachable
	default:
		return scheduler.TaskUnknown
	}
}

// convertStatus turns a Mesos status into the engine's TaskUpdated. The
// returned error is about the status data only (a Result that does not
// parse); the update itself is always usable.
func convertStatus(s *mesos.TaskStatus) (scheduler.TaskUpdated, error) {
	u := scheduler.TaskUpdated{
		TaskID:  s.TaskID.Value,
		AgentID: s.GetAgentID().GetValue(),
		State:   taskState(s.GetState()),
		Message: s.GetMessage(),
	}
	if s.Reason != nil {
		u.Reason = s.Reason.String()
		u.Reconciliation = *s.Reason == mesos.REASON_RECONCILIATION
	}
	if s.Timestamp != nil {
		sec, frac := math.Modf(*s.Timestamp)
		u.Timestamp = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
	}
	if len(s.UUID) > 0 {
		u.AckUUID = append([]byte(nil), s.UUID...)
	}
	if len(s.Data) == 0 {
		return u, nil
	}
	r, err := taskspec.ParseResult(s.Data)
	if err != nil {
		return u, fmt.Errorf("framework: status data of task %s: %w", u.TaskID, err)
	}
	u.Result = &scheduler.TaskResult{
		ExitCode:   r.ExitCode,
		Signal:     r.Signal,
		Reason:     r.Reason,
		Duration:   time.Duration(r.DurationMs) * time.Millisecond,
		Directory:  r.Directory,
		StdoutTail: r.StdoutTail,
		StderrTail: r.StderrTail,
	}
	return u, nil
}

// resourcePool is what is left of one offer while its tasks are carved out
// of it. Taking from the offer's own resources keeps their role,
// reservation and allocation_info (MULTI_ROLE).
type resourcePool struct {
	res   []mesos.Resource
	roles []string
}

func newResourcePool(offer []mesos.Resource, roles []string) *resourcePool {
	p := &resourcePool{roles: roles}
	for i := range offer {
		if usable(&offer[i], roles) {
			p.res = append(p.res, cloneResource(offer[i]))
		}
	}
	return p
}

func (p *resourcePool) clone() *resourcePool {
	c := &resourcePool{roles: p.roles, res: make([]mesos.Resource, len(p.res))}
	for i := range p.res {
		c.res[i] = cloneResource(p.res[i])
	}
	return c
}

func cloneResource(r mesos.Resource) mesos.Resource {
	c := r
	if r.Scalar != nil {
		s := *r.Scalar
		c.Scalar = &s
	}
	if r.Ranges != nil {
		rg := mesos.Value_Ranges{Range: append([]mesos.Value_Range(nil), r.Ranges.Range...)}
		c.Ranges = &rg
	}
	return c
}

// takeScalar removes amount of name from the pool, possibly from several
// entries (e.g. reserved and unreserved), and returns what it took.
func (p *resourcePool) takeScalar(name string, amount float64) ([]mesos.Resource, error) {
	need := round3(amount)
	if need <= 0 {
		return nil, nil
	}
	var out []mesos.Resource
	have := 0.0
	for i := range p.res {
		r := &p.res[i]
		if r.Name == name && r.GetType() == mesos.SCALAR {
			have += r.Scalar.Value
		}
	}
	if round3(have) < need {
		return nil, fmt.Errorf("%s: need %g, offer has %g", name, need, round3(have))
	}
	for i := range p.res {
		if need <= 0 {
			break
		}
		r := &p.res[i]
		if r.Name != name || r.GetType() != mesos.SCALAR || r.Scalar.Value <= 0 {
			continue
		}
		take := math.Min(r.Scalar.Value, need)
		t := cloneResource(*r)
		t.Scalar.Value = round3(take)
		out = append(out, t)
		r.Scalar.Value = round3(r.Scalar.Value - take)
		need = round3(need - take)
	}
	return out, nil
}

// takePorts removes the given ports from the pool's port ranges.
func (p *resourcePool) takePorts(ports []uint64) ([]mesos.Resource, error) {
	var out []mesos.Resource
	for _, port := range ports {
		found := false
		for i := range p.res {
			r := &p.res[i]
			if r.Name != "ports" || r.GetType() != mesos.RANGES {
				continue
			}
			for j, rg := range r.Ranges.Range {
				if port < rg.Begin || port > rg.End {
					continue
				}
				var rest []mesos.Value_Range
				rest = append(rest, r.Ranges.Range[:j]...)
				if rg.Begin < port {
					rest = append(rest, mesos.Value_Range{Begin: rg.Begin, End: port - 1})
				}
				if port < rg.End {
					rest = append(rest, mesos.Value_Range{Begin: port + 1, End: rg.End})
				}
				rest = append(rest, r.Ranges.Range[j+1:]...)
				r.Ranges.Range = rest
				t := cloneResource(*r)
				t.Ranges = &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: port, End: port}}}
				out = append(out, t)
				found = true
				break
			}
			if found {
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("ports: %d not in the offer", port)
		}
	}
	return out, nil
}

// plainResources builds resources for an offer Horae no longer holds (the
// master will refuse the launch as an invalid offer, which is the answer the
// engine needs). MULTI_ROLE resources must carry allocation_info.
func plainResources(role string, multiRole bool, cpus, mem, disk, gpus float64, ports []uint64) []mesos.Resource {
	var out []mesos.Resource
	add := func(r mesos.Resource) {
		if multiRole {
			rl := role
			r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: &rl}
		}
		out = append(out, r)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", cpus}, {"mem", mem}, {"disk", disk}, {"gpus", gpus}} {
		if round3(s.v) > 0 {
			t := mesos.SCALAR
			add(mesos.Resource{Name: s.name, Type: &t, Scalar: &mesos.Value_Scalar{Value: round3(s.v)}})
		}
	}
	for _, port := range ports {
		t := mesos.RANGES
		add(mesos.Resource{Name: "ports", Type: &t, Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: port, End: port}}}})
	}
	return out
}

// taskResources are the resources one task asks for (defaults when the job
// left them zero).
func taskResources(j *scheduler.Job) (cpus, mem, disk float64) {
	cpus, mem, disk = j.CPUs, j.Mem, j.Disk
	if cpus <= 0 {
		cpus = scheduler.DefaultCPUs
	}
	if mem <= 0 {
		mem = scheduler.DefaultMem
	}
	if disk <= 0 {
		disk = scheduler.DefaultDisk
	}
	return cpus, mem, disk
}

// carve takes a task's resources from the pool, and its executor's unless
// withExec is false (a shared executor already running on the agent, or
// already counted for an earlier task of the same ACCEPT). The pool is
// changed only on success.
func (p *resourcePool) carve(cfg Config, t scheduler.TaskLaunch, withExec bool) (task, exec []mesos.Resource, err error) {
	trial := p.clone()
	cpus, mem, disk := taskResources(t.Job)
	execCPUs, execMem := cfg.ExecutorCPUs, cfg.ExecutorMem
	if !withExec {
		execCPUs, execMem = 0, 0
	}
	steps := []struct {
		dst  *[]mesos.Resource
		name string
		v    float64
	}{
		{&exec, "cpus", execCPUs}, {&exec, "mem", execMem},
		{&task, "cpus", cpus}, {&task, "mem", mem}, {&task, "disk", disk}, {&task, "gpus", t.Job.GPUs},
	}
	for _, s := range steps {
		got, err := trial.takeScalar(s.name, s.v)
		if err != nil {
			return nil, nil, fmt.Errorf("task %s with its executor does not fit offer: %w", t.TaskID, err)
		}
		*s.dst = append(*s.dst, got...)
	}
	got, err := trial.takePorts(t.Ports)
	if err != nil {
		return nil, nil, fmt.Errorf("task %s does not fit offer: %w", t.TaskID, err)
	}
	task = append(task, got...)
	p.res = trial.res
	return task, exec, nil
}

// buildSpec is the executor's instructions for one task.
func buildSpec(cfg Config, t scheduler.TaskLaunch) taskspec.Spec {
	j := t.Job
	cpus, mem, disk := taskResources(j)
	args := j.Arguments
	if len(t.Arguments) > 0 {
		args = t.Arguments
	}
	env := map[string]string{}
	for _, e := range j.Env {
		env[e.Name] = e.Value
	}
	for k, v := range t.Env {
		env[k] = v
	}
	for i, p := range t.Ports {
		env["PORT"+strconv.Itoa(i)] = strconv.FormatUint(p, 10)
	}
	if len(env) == 0 {
		env = nil
	}
	instances := t.Instances
	if instances < 1 {
		instances = 1
	}
	startAt := ""
	if !t.StartAt.IsZero() {
		startAt = t.StartAt.UTC().Format(time.RFC3339Nano)
	}
	return taskspec.Spec{
		Version:          taskspec.Version,
		Job:              j.Name,
		Run:              string(t.Run),
		Owner:            j.Owner,
		Attempt:          t.Attempt,
		Instance:         t.Instance,
		Instances:        instances,
		ScheduledFor:     t.ScheduledFor.UTC().Format(time.RFC3339Nano),
		StartAt:          startAt,
		Shell:            j.Shell,
		Command:          j.Command,
		Arguments:        args,
		Env:              env,
		User:             j.RunAsUser,
		CPUs:             cpus,
		Mem:              mem,
		Disk:             disk,
		MaxRuntimeMillis: j.MaxRuntime.Milliseconds(),
		KillGraceMillis:  cfg.KillGrace.Milliseconds(),
	}
}

// sharesExecutor reports whether task t runs in the shared executor: in
// shared mode, unless its job fetches URIs (the fetch list is part of the
// ExecutorInfo, which must be identical for every task of an executor).
func sharesExecutor(cfg Config, t scheduler.TaskLaunch) bool {
	return cfg.ExecutorMode == ExecutorShared && len(t.Job.URIs) == 0 && len(t.Job.Fetch) == 0
}

// sharedExecutorInfo is the ExecutorInfo every shared-mode task names. It
// depends only on the configuration, the framework ID and the role, so it
// is byte-identical for every task (Mesos refuses a task whose ExecutorInfo
// differs from the running executor's). Its resources are always the
// configured overhead, unreserved, in the framework's role. Its ID is
// "horae-executor-[<version>-]<hash>", the hash covering everything else in
// it, so that a changed command, URI, environment or overhead names a new
// executor instead of clashing with a running old one.
func sharedExecutorInfo(cfg Config, frameworkID string, multiRole bool) (mesos.ExecutorInfo, error) {
	cmd := &mesos.CommandInfo{Value: strPtr(cfg.ExecutorCommand), Shell: boolPtr(true)}
	if cfg.ExecutorURI != "" {
		cmd.URIs = append(cmd.URIs, executorURI(cfg))
	}
	info := mesos.ExecutorInfo{
		Type:                mesos.ExecutorInfo_CUSTOM,
		Name:                strPtr("horae executor (shared)"),
		Source:              strPtr("horae"),
		Command:             cmd,
		Resources:           plainResources(cfg.Role, multiRole, cfg.ExecutorCPUs, cfg.ExecutorMem, 0, 0, nil),
		ShutdownGracePeriod: &mesos.DurationInfo{Nanoseconds: cfg.ExecutorShutdownGrace.Nanoseconds()},
		Labels: &mesos.Labels{Labels: []mesos.Label{
			{Key: LabelExecutorIdleTimeout, Value: strPtr(cfg.ExecutorIdleTimeout.String())},
			{Key: LabelExecutorRetainTasks, Value: strPtr(strconv.Itoa(cfg.ExecutorRetainTasks))},
			{Key: LabelExecutorRetainFor, Value: strPtr(cfg.ExecutorRetainFor.String())},
		}},
	}
	raw, err := info.Marshal()
	if err != nil {
		return mesos.ExecutorInfo{}, fmt.Errorf("framework: encode shared executor info: %w", err)
	}
	sum := sha256.Sum256(raw)
	id := "horae-executor-"
	if v := sanitizeIDPart(cfg.Version); v != "" {
		id += v + "-"
	}
	info.ExecutorID = mesos.ExecutorID{Value: id + hex.EncodeToString(sum[:6])}
	if frameworkID != "" {
		info.FrameworkID = &mesos.FrameworkID{Value: frameworkID}
	}
	return info, nil
}

// sanitizeIDPart keeps letters, digits, '.', '_' and '-' (an executor ID
// becomes a directory name on the agent).
func sanitizeIDPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

func executorURI(cfg Config) mesos.CommandInfo_URI {
	return mesos.CommandInfo_URI{
		Value:      cfg.ExecutorURI,
		Executable: boolPtr(true),
		Extract:    boolPtr(false),
		Cache:      boolPtr(true),
		OutputFile: strPtr(executorFetchedOutputFile),
	}
}

// buildTaskInfo builds the Mesos TaskInfo of one task, the run spec in
// data. With shared set (see sharesExecutor) the task names the shared
// executor; otherwise it runs in its own Horae executor (executor id =
// task id) whose resources are execRes.
func buildTaskInfo(cfg Config, frameworkID, agentID string, t scheduler.TaskLaunch, taskRes, execRes []mesos.Resource, shared *mesos.ExecutorInfo) (mesos.TaskInfo, error) {
	data, err := buildSpec(cfg, t).Marshal()
	if err != nil {
		return mesos.TaskInfo{}, fmt.Errorf("framework: encode spec of task %s: %w", t.TaskID, err)
	}
	labels := &mesos.Labels{Labels: []mesos.Label{
		{Key: LabelJob, Value: strPtr(t.Job.Name)},
		{Key: LabelRun, Value: strPtr(string(t.Run))},
		{Key: LabelAttempt, Value: strPtr(strconv.Itoa(t.Attempt))},
		{Key: LabelInstance, Value: strPtr(strconv.Itoa(t.Instance))},
	}}
	killPolicy := &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: cfg.KillGrace.Nanoseconds()}}
	if shared != nil {
		exec := *shared
		return mesos.TaskInfo{
			Name:       "horae:" + t.Job.Name,
			TaskID:     mesos.TaskID{Value: t.TaskID},
			AgentID:    mesos.AgentID{Value: agentID},
			Resources:  taskRes,
			Executor:   &exec,
			Data:       data,
			Labels:     labels,
			KillPolicy: killPolicy,
		}, nil
	}
	cmd := &mesos.CommandInfo{Value: strPtr(cfg.ExecutorCommand), Shell: boolPtr(true)}
	if cfg.ExecutorURI != "" {
		cmd.URIs = append(cmd.URIs, executorURI(cfg))
	}
	// A custom executor is the only thing the fetcher fetches for, so the
	// job's own URIs travel on the executor's command.
	for _, u := range t.Job.URIs {
		cmd.URIs = append(cmd.URIs, mesos.CommandInfo_URI{Value: u, Extract: boolPtr(true)})
	}
	for _, f := range t.Job.Fetch {
		cu := mesos.CommandInfo_URI{Value: f.URI, Executable: boolPtr(f.Executable), Extract: boolPtr(f.Extract), Cache: boolPtr(f.Cache)}
		if f.OutputFile != "" {
			cu.OutputFile = strPtr(f.OutputFile)
		}
		cmd.URIs = append(cmd.URIs, cu)
	}
	exec := &mesos.ExecutorInfo{
		Type:                mesos.ExecutorInfo_CUSTOM,
		ExecutorID:          mesos.ExecutorID{Value: t.TaskID},
		Name:                strPtr("horae executor " + t.TaskID),
		Source:              strPtr("horae"),
		Command:             cmd,
		Resources:           execRes,
		ShutdownGracePeriod: &mesos.DurationInfo{Nanoseconds: cfg.ExecutorShutdownGrace.Nanoseconds()},
		Labels:              labels,
	}
	if frameworkID != "" {
		exec.FrameworkID = &mesos.FrameworkID{Value: frameworkID}
	}
	return mesos.TaskInfo{
		Name:       "horae:" + t.Job.Name,
		TaskID:     mesos.TaskID{Value: t.TaskID},
		AgentID:    mesos.AgentID{Value: agentID},
		Resources:  taskRes,
		Executor:   exec,
		Data:       data,
		Labels:     labels,
		KillPolicy: killPolicy,
	}, nil
}

func strPtr(s string) *string { return &s }
func boolPtr(b bool) *bool    { return &b }
