package scheduler

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Normalize fills the defaults of zero fields: cpus 0.1, mem 128, disk 256,
// instances 1, triggerRule all_success, concurrencyPolicy forbid,
// missedRunPolicy latest, retryDelay PT1M, retryDelayMax PT30M. Retries is
// not defaulted: zero means no retry (the Chronos surface applies its
// default of 2 when the field is absent).
func (j *Job) Normalize() {
	if j.CPUs == 0 {
		j.CPUs = DefaultCPUs
	}
	if j.Mem == 0 {
		j.Mem = DefaultMem
	}
	if j.Disk == 0 {
		j.Disk = DefaultDisk
	}
	if j.Instances == 0 {
		j.Instances = 1
	}
	if j.TriggerRule == "" {
		j.TriggerRule = AllSuccess
	}
	if j.ConcurrencyPolicy == "" {
		j.ConcurrencyPolicy = Forbid
	}
	if j.MissedRunPolicy == "" {
		j.MissedRunPolicy = MissedLatest
	}
	if j.RetryDelay == 0 {
		j.RetryDelay = DefaultRetryDelay
	}
	if j.RetryDelayMax == 0 {
		j.RetryDelayMax = DefaultRetryDelayMax
	}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,200}$`)

// Constraint operators the engine understands.
const (
	OpEquals = "EQUALS"
	OpLike   = "LIKE"
	OpUnlike = "UNLIKE"
	OpUnique = "UNIQUE"
)

type problems []FieldProblem

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// validateFields checks one normalized job on its own (not its parents).
// It returns the compiled LIKE/UNLIKE patterns, index-aligned with
// Constraints.
func validateFields(j *Job, p *problems) []*regexp.Regexp {
	if !namePattern.MatchString(j.Name) {
		p.add("name", "%q must match [A-Za-z0-9_.-]{1,200}", j.Name)
	}
	if j.Command == "" && (j.Container == nil || j.Container.Image == "") {
		p.add("command", "empty (only a container job may omit it)")
	}
	switch {
	case j.Schedule != "" && len(j.Parents) > 0:
		p.add("schedule", "set together with parents: a job has exactly one of schedule and parents")
	case j.Schedule == "" && len(j.Parents) == 0:
		p.add("schedule", "missing: a job has exactly one of schedule and parents")
	}
	if j.Schedule == "" && j.ScheduleTimeZone != "" && len(j.Parents) > 0 {
		p.add("scheduleTimeZone", "set on a dependent job")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"cpus", j.CPUs}, {"mem", j.Mem}, {"disk", j.Disk}, {"gpus", j.GPUs}} {
		if f.v < 0 {
			p.add(f.name, "negative (%g)", f.v)
		}
	}
	if j.Ports < 0 {
		p.add("ports", "negative (%d)", j.Ports)
	}
	if j.Instances < 1 {
		p.add("instances", "must be at least 1 (got %d)", j.Instances)
	}
	if j.Retries < 0 {
		p.add("retries", "negative (%d)", j.Retries)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"retryDelay", int64(j.RetryDelay)}, {"retryDelayMax", int64(j.RetryDelayMax)}, {"maxRuntime", int64(j.MaxRuntime)}, {"startingDeadline", int64(j.StartingDeadline)}} {
		if f.v < 0 {
			p.add(f.name, "negative duration")
		}
	}
	if j.RetryDelayMax < j.RetryDelay {
		p.add("retryDelayMax", "shorter than retryDelay")
	}
	switch j.TriggerRule {
	case AllSuccess, AllDone, NoneFailed, OneSuccess, OneFailed, AllFailed:
	default:
		p.add("triggerRule", "unknown rule %q (all_success, all_done, none_failed, one_success, one_failed, all_failed)", j.TriggerRule)
	}
	switch j.ConcurrencyPolicy {
	case Forbid, Allow, Replace:
	default:
		p.add("concurrencyPolicy", "unknown policy %q (forbid, allow, replace)", j.ConcurrencyPolicy)
	}
	switch j.MissedRunPolicy {
	case MissedLatest, MissedSkip, MissedAll:
	default:
		p.add("missedRunPolicy", "unknown policy %q (latest, skip, all)", j.MissedRunPolicy)
	}
	for i, n := range j.Notify {
		switch n {
		case NotifyFailure, NotifySuccess, NotifySkipped, NotifyOverdue, NotifyDisabled:
		default:
			p.add(fmt.Sprintf("notify[%d]", i), "unknown occasion %q", n)
		}
	}
	var res []*regexp.Regexp
	for i, c := range j.Constraints {
		field := fmt.Sprintf("constraints[%d]", i)
		if c.Attribute == "" {
			p.add(field+".attribute", "empty")
		}
		var re *regexp.Regexp
		switch c.Operator {
		case OpEquals:
		case OpLike, OpUnlike:
			var err error
			re, err = regexp.Compile(`^(?:` + c.Value + `)$`)
			if err != nil {
				p.add(field+".value", "bad regular expression: %v", err)
			}
		case OpUnique:
			if c.Attribute != "hostname" {
				p.add(field+".attribute", "UNIQUE is supported on hostname only (got %q)", c.Attribute)
			}
		default:
			p.add(field+".operator", "unknown operator %q (EQUALS, LIKE, UNLIKE, UNIQUE)", c.Operator)
		}
		res = append(res, re)
	}
	seen := make(map[string]bool, len(j.Parents))
	for _, par := range j.Parents {
		if seen[par] {
			p.add("parents", "%q listed twice", par)
		}
		seen[par] = true
		if par == j.Name {
			p.add("parents", "cycle: %s -> %s", j.Name, j.Name)
		}
	}
	return res
}

// validateGraph checks that j's parents exist and that putting j closes no
// cycle.
func (e *Engine) validateGraph(j *Job, p *problems) {
	var unknown []string
	for _, par := range j.Parents {
		if _, ok := e.jobs[par]; !ok && par != j.Name {
			unknown = append(unknown, par)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		p.add("parents", "unknown jobs: %s", strings.Join(unknown, ", "))
		return
	}
	if c := e.findCycle(j); c != "" {
		p.add("parents", "cycle: %s", c)
	}
}

// findCycle looks for a path from j up through parents back to j, using
// j's new parents and everyone else's current ones. It returns the cycle in
// parent → child order, e.g. "a -> b -> c -> a", or "".
func (e *Engine) findCycle(j *Job) string {
	parentsOf := func(name string) []string {
		if name == j.Name {
			return j.Parents
		}
		if js, ok := e.jobs[name]; ok {
			return js.job.Parents
		}
		return nil
	}
	visited := make(map[string]bool)
	var path []string // child → parent chain starting at j
	var dfs func(name string) bool
	dfs = func(name string) bool {
		path = append(path, name)
		for _, par := range parentsOf(name) {
			if par == j.Name {
				path = append(path, par)
				return true
			}
			if visited[par] {
				continue
			}
			visited[par] = true
			if dfs(par) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if !dfs(j.Name) {
		return ""
	}
	// path is j ← p1 ← p2 … ← j; print it parent → child.
	for l, r := 0, len(path)-1; l < r; l, r = l+1, r-1 {
		path[l], path[r] = path[r], path[l]
	}
	return strings.Join(path, " -> ")
}
