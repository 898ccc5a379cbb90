package scheduler

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden outputs of testdata/*.txt")

// TestScripts runs the event scripts in testdata/*.txt. Each script is a
// list of commands; the file holds, after each command, the Output it
// produced (lines starting with two spaces). The test replays the commands
// and compares the whole file; -update rewrites it.
//
// Commands:
//
//	at <RFC 3339>           set the clock (no event)
//	+ <duration>            advance the clock (no event)
//	elect | subscribe | disconnect | failover
//	reconciled [task…]      Reconciled with Missing tasks
//	put <name> [k=v…]       JobPut (schedule, tz, parents, retries, rule,
//	                        concurrency, missed, deadline, instances, unique,
//	                        cpus, mem, ports, disabled, soft, high,
//	                        maxruntime, retrydelay, retrymax, constraint,
//	                        mode=create|replace)
//	delete <name> [detach]  JobDeleted
//	enable|disable <name>   JobEnabled
//	run <name> [id=<key>]   RunRequested (manual)
//	killrun <run> | killjob <name> | success <name>
//	tick                    Tick
//	offers <id:host:cpus:mem>…
//	update <task> <state> [exit=N] [reason=R] [reconcile]
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := runScript(t, string(data))
			if *update {
				if err := os.WriteFile(f, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(data) {
				t.Errorf("%s: output differs (run with -update to accept):\n%s", f, diffLines(string(data), got))
			}
		})
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, a, b)
		}
	}
	return ""
}

func runScript(t *testing.T, src string) string {
	h := newHarness(t)
	var b strings.Builder
	for n, line := range strings.Split(strings.TrimRight(src, "\n"), "\n") {
		if strings.HasPrefix(line, "  ") {
			continue // previous output
		}
		b.WriteString(line + "\n")
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		ev, err := scriptEvent(h, f)
		if err != nil {
			t.Fatalf("line %d %q: %v", n+1, line, err)
		}
		if ev == nil {
			continue
		}
		out, serr := h.stepErr(ev)
		if serr != nil {
			fmt.Fprintf(&b, "  error: %v\n", serr)
			continue
		}
		printOutput(&b, h, out)
	}
	return b.String()
}

func kv(f []string) map[string]string {
	m := map[string]string{}
	for _, s := range f {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			v = "true"
		}
		m[k] = v
	}
	return m
}

func scriptEvent(h *harness, f []string) (Event, error) {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "at":
		t, err := time.Parse(time.RFC3339, arg(1))
		h.now = t
		return nil, err
	case "+":
		d, err := time.ParseDuration(arg(1))
		h.now = h.now.Add(d)
		return nil, err
	case "elect":
		h.epoch++
		return LeaderElected{Epoch: h.epoch, State: h.store.state()}, nil
	case "failover":
		h.e = New(h.cfg)
		h.epoch++
		return LeaderElected{Epoch: h.epoch, State: h.store.state()}, nil
	case "subscribe":
		return Subscribed{}, nil
	case "disconnect":
		return Disconnected{}, nil
	case "reconciled":
		return Reconciled{Missing: f[1:]}, nil
	case "tick":
		return Tick{}, nil
	case "put":
		j, mode, err := scriptJob(arg(1), kv(f[2:]))
		return JobPut{Job: j, Mode: mode}, err
	case "delete":
		return JobDeleted{Name: arg(1), Detach: arg(2) == "detach"}, nil
	case "enable", "disable":
		return JobEnabled{Name: arg(1), Enabled: f[0] == "enable"}, nil
	case "run":
		m := kv(f[2:])
		return RunRequested{Job: arg(1), Trigger: TriggerManual, TriggerID: m["id"]}, nil
	case "killrun":
		return RunKillRequested{Run: RunID(arg(1))}, nil
	case "killjob":
		return JobKillRequested{Job: arg(1)}, nil
	case "success":
		return JobMarkedSuccess{Job: arg(1)}, nil
	case "offers":
		var os []Offer
		for _, s := range f[1:] {
			p := strings.Split(s, ":")
			if len(p) != 4 {
				return nil, fmt.Errorf("offer %q: want id:host:cpus:mem", s)
			}
			c, err1 := strconv.ParseFloat(p[2], 64)
			m, err2 := strconv.ParseFloat(p[3], 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("offer %q: bad numbers", s)
			}
			os = append(os, Offer{ID: p[0], AgentID: "agent-" + p[1], Hostname: p[1], CPUs: c, Mem: m, Disk: 1 << 20,
				Ports: []PortRange{{Begin: 31000, End: 31009}}, Attributes: map[string]string{"rack": "r-" + p[1]}})
		}
		return OffersArrived{Offers: os}, nil
	case "update":
		m := kv(f[3:])
		ev := TaskUpdated{TaskID: arg(1), State: TaskState(arg(2)), Reconciliation: m["reconcile"] == "true"}
		if x, ok := m["exit"]; ok || m["reason"] != "" {
			ev.Result = &TaskResult{Reason: m["reason"]}
			if ok {
				c, err := strconv.Atoi(x)
				if err != nil {
					return nil, err
				}
				ev.Result.ExitCode = &c
			}
		}
		return ev, nil
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}

func scriptJob(name string, m map[string]string) (Job, PutMode, error) {
	j := Job{Name: name, Command: "true"}
	var mode PutMode
	var err error
	dur := func(s string) time.Duration {
		d, e := time.ParseDuration(s)
		if e != nil {
			err = e
		}
		return d
	}
	num := func(s string) int {
		n, e := strconv.Atoi(s)
		if e != nil {
			err = e
		}
		return n
	}
	flt := func(s string) float64 {
		n, e := strconv.ParseFloat(s, 64)
		if e != nil {
			err = e
		}
		return n
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "schedule":
			j.Schedule = v
		case "tz":
			j.ScheduleTimeZone = v
		case "parents":
			j.Parents = strings.Split(v, ",")
		case "retries":
			j.Retries = num(v)
		case "rule":
			j.TriggerRule = TriggerRule(v)
		case "concurrency":
			j.ConcurrencyPolicy = ConcurrencyPolicy(v)
		case "missed":
			j.MissedRunPolicy = MissedRunPolicy(v)
		case "deadline":
			j.StartingDeadline = dur(v)
		case "instances":
			j.Instances = num(v)
		case "unique":
			j.UniqueHosts = true
		case "cpus":
			j.CPUs = flt(v)
		case "mem":
			j.Mem = flt(v)
		case "ports":
			j.Ports = num(v)
		case "disabled":
			j.Disabled = true
		case "soft":
			j.SoftError = true
		case "high":
			j.HighPriority = true
		case "maxruntime":
			j.MaxRuntime = dur(v)
		case "retrydelay":
			j.RetryDelay = dur(v)
		case "retrymax":
			j.RetryDelayMax = dur(v)
		case "constraint":
			p := strings.SplitN(v, ":", 3)
			for len(p) < 3 {
				p = append(p, "")
			}
			j.Constraints = append(j.Constraints, Constraint{Attribute: p[0], Operator: p[1], Value: p[2]})
		case "mode":
			switch v {
			case "create":
				mode = CreateOnly
			case "replace":
				mode = ReplaceOnly
			}
		default:
			return j, mode, fmt.Errorf("unknown job key %q", k)
		}
	}
	return j, mode, err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func fmtRun(r Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s attempt=%d", r.ID, r.Trigger, r.State, r.Attempt)
	if r.Reason != "" {
		fmt.Fprintf(&b, " reason=%q", r.Reason)
	}
	if !r.NotBefore.IsZero() {
		fmt.Fprintf(&b, " notBefore=%s", fmtTime(r.NotBefore))
	}
	if r.ExitCode != nil {
		fmt.Fprintf(&b, " exit=%d", *r.ExitCode)
	}
	var ts []string
	for _, t := range r.Tasks {
		s := t.ID + ":" + string(t.State)
		if t.Host != "" {
			s += "@" + t.Host
		}
		ts = append(ts, s)
	}
	if len(ts) > 0 {
		fmt.Fprintf(&b, " tasks=[%s]", strings.Join(ts, " "))
	}
	return b.String()
}

func fmtCursor(c Cursor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", c.Job)
	if !c.LastSlot.IsZero() {
		fmt.Fprintf(&b, " last=%s", fmtTime(c.LastSlot))
	}
	fmt.Fprintf(&b, " gen=%d", c.Generation)
	if c.LastOutcome != "" {
		fmt.Fprintf(&b, " outcome=%s", c.LastOutcome)
	}
	if len(c.Consumed) > 0 {
		fmt.Fprintf(&b, " consumed=%s", fmtMap(c.Consumed))
	}
	if len(c.ParentOutcomes) > 0 {
		fmt.Fprintf(&b, " parents=%s", fmtMap(c.ParentOutcomes))
	}
	if c.Fired {
		b.WriteString(" fired")
	}
	s := c.Stats
	fmt.Fprintf(&b, " ok=%d err=%d skip=%d", s.SuccessCount, s.ErrorCount, s.SkippedCount)
	return b.String()
}

func fmtMap[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var p []string
	for _, k := range keys {
		p = append(p, fmt.Sprintf("%s:%v", k, m[k]))
	}
	return strings.Join(p, ",")
}

func printOutput(b *strings.Builder, h *harness, out Output) {
	for _, rec := range out.Persist {
		switch r := rec.(type) {
		case PutJob:
			fmt.Fprintf(b, "  persist job %s disabled=%v parents=%s\n", r.Job.Name, r.Job.Disabled, strings.Join(r.Job.Parents, ","))
		case DeleteJob:
			fmt.Fprintf(b, "  persist delete-job %s\n", r.Name)
		case PutCursor:
			fmt.Fprintf(b, "  persist cursor %s\n", fmtCursor(r.Cursor))
		case PutRun:
			fmt.Fprintf(b, "  persist run %s\n", fmtRun(r.Run))
		case DeleteRun:
			fmt.Fprintf(b, "  persist delete-run %s\n", r.ID)
		}
	}
	for _, l := range out.Launch {
		var ids []string
		for _, t := range l.Tasks {
			s := t.TaskID
			if len(t.Ports) > 0 {
				s += fmt.Sprintf("%v", t.Ports)
			}
			ids = append(ids, s)
		}
		fmt.Fprintf(b, "  launch %s@%s %s\n", l.OfferID, l.Hostname, strings.Join(ids, " "))
	}
	for _, k := range out.Kill {
		fmt.Fprintf(b, "  kill %s\n", k.TaskID)
	}
	if len(out.Decline) > 0 {
		fmt.Fprintf(b, "  decline %s\n", strings.Join(out.Decline, " "))
	}
	if len(out.Reconcile) > 0 || out.Implicit {
		var ids []string
		for _, r := range out.Reconcile {
			ids = append(ids, r.TaskID)
		}
		fmt.Fprintf(b, "  reconcile [%s] implicit=%v\n", strings.Join(ids, " "), out.Implicit)
	}
	switch out.Offers {
	case OffersWanted:
		b.WriteString("  offers wanted\n")
	case OffersNotWanted:
		b.WriteString("  offers not-wanted\n")
	}
	for _, n := range out.Notify {
		fmt.Fprintf(b, "  notify %s %s %q\n", n.Kind, n.Job, n.Text)
	}
	if out.Run != nil {
		fmt.Fprintf(b, "  run %s\n", fmtRun(*out.Run))
	}
	fmt.Fprintf(b, "  wake %s\n", fmtTime(out.WakeAt))
}
