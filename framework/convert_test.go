package framework

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/horae-scheduler/horae/scheduler"
	"github.com/horae-scheduler/horae/taskspec"
)

func scalar(name string, v float64, role string) mesos.Resource {
	t := mesos.SCALAR
	r := mesos.Resource{Name: name, Type: &t, Scalar: &mesos.Value_Scalar{Value: v}}
	if role != "" {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(role)}
	}
	return r
}

func ports(role string, rs ...mesos.Value_Range) mesos.Resource {
	t := mesos.RANGES
	r := mesos.Resource{Name: "ports", Type: &t, Ranges: &mesos.Value_Ranges{Range: rs}}
	if role != "" {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(role)}
	}
	return r
}

// wireOffer is shaped like the OFFERS a Mesos 1.12 master sends a
// MULTI_ROLE framework (mesos-wire.md §1), plus an attribute set and a
// resource of another role.
func wireOffer() mesos.Offer {
	vol := scalar("disk", 500, "*")
	vol.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{ID: "v1"}}
	return mesos.Offer{
		ID:          mesos.OfferID{Value: "M-O0"},
		FrameworkID: mesos.FrameworkID{Value: "M-0000"},
		AgentID:     mesos.AgentID{Value: "M-S0"},
		Hostname:    "agent1.example",
		URL: &mesos.URL{Scheme: "http", Address: mesos.Address{
			Hostname: strPtr("agent1.example"), IP: strPtr("10.0.0.5"), Port: 5051,
		}, Path: strPtr("/slave(1)")},
		Resources: []mesos.Resource{
			ports("*", mesos.Value_Range{Begin: 31000, End: 31010}, mesos.Value_Range{Begin: 30000, End: 30001}),
			scalar("cpus", 2, "*"),
			scalar("mem", 23081, "*"),
			scalar("disk", 252899, "*"),
			scalar("cpus", 8, "other"),
			vol,
		},
		Attributes: []mesos.Attribute{
			{Name: "rack", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: "r1"}},
			{Name: "ssd", Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: 1.5}},
			{Name: "zones", Type: mesos.SET, Set: &mesos.Value_Set{Item: []string{"a", "b"}}},
		},
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: strPtr("*")},
	}
}

func TestConvertOffer(t *testing.T) {
	o := wireOffer()
	got := convertOffer(&o, []string{"*"})
	want := scheduler.Offer{
		ID: "M-O0", AgentID: "M-S0", Hostname: "agent1.example",
		AgentURL: "http://agent1.example:5051",
		CPUs:     2, Mem: 23081, Disk: 252899,
		Ports: []scheduler.PortRange{{Begin: 30000, End: 30001}, {Begin: 31000, End: 31010}},
		Attributes: map[string]string{
			"rack": "r1", "ssd": "1.5", "zones": "{a,b}", "hostname": "agent1.example",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("convertOffer:\n got %+v\nwant %+v", got, want)
	}

	// A plain (non MULTI_ROLE) framework's offers carry no allocation_info.
	for i := range o.Resources {
		o.Resources[i].AllocationInfo = nil
	}
	got = convertOffer(&o, []string{"*"})
	if got.CPUs != 10 {
		t.Errorf("offer without allocation_info: cpus %g, want 10 (no role filter applies)", got.CPUs)
	}
}

func TestTaskStateCoversEveryMesosState(t *testing.T) {
	for v, name := range mesos.TaskState_name {
		got := taskState(mesos.TaskState(v))
		want := scheduler.TaskState(strings.ToLower(strings.TrimPrefix(name, "TASK_")))
		if got != want {
			t.Errorf("taskState(%s) = %q, want %q", name, got, want)
		}
	}
	for _, s := range []mesos.TaskState{mesos.TASK_LOST, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR, mesos.TASK_ERROR, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_FINISHED} {
		if !taskState(s).Terminal() {
			t.Errorf("%s maps to non-terminal %q", s, taskState(s))
		}
	}
	for _, s := range []mesos.TaskState{mesos.TASK_UNREACHABLE, mesos.TASK_UNKNOWN, mesos.TASK_KILLING, mesos.TASK_STAGING} {
		if taskState(s).Terminal() {
			t.Errorf("%s maps to terminal %q", s, taskState(s))
		}
	}
}

func TestConvertStatus(t *testing.T) {
	exit := 3
	result, _ := taskspec.Result{ExitCode: &exit, Reason: taskspec.ReasonExit, DurationMs: 1500, Directory: "/sb", StdoutTail: "out", StderrTail: "err"}.Marshal()
	running, _ := taskspec.Result{Directory: "/sb/task-t4"}.Marshal()
	st := func(s mesos.TaskState) *mesos.TaskState { return &s }
	rs := func(r mesos.TaskStatus_Reason) *mesos.TaskStatus_Reason { return &r }
	ts := 1795815424.779913
	tests := []struct {
		name    string
		in      mesos.TaskStatus
		want    scheduler.TaskUpdated
		wantErr bool
	}{
		{
			name: "executor terminal update with result and uuid",
			in: mesos.TaskStatus{
				TaskID: mesos.TaskID{Value: "t1"}, State: st(mesos.TASK_FAILED), Message: strPtr("exit status 3"),
				AgentID: &mesos.AgentID{Value: "S0"}, Timestamp: &ts, UUID: []byte("0123456789abcdef"), Data: result,
			},
			want: scheduler.TaskUpdated{
				TaskID: "t1", AgentID: "S0", State: scheduler.TaskFailed, Message: "exit status 3",
				Timestamp: time.Date(2026, 11, 27, 21, 37, 4, 779913000, time.UTC),
				AckUUID:   []byte("0123456789abcdef"),
				Result: &scheduler.TaskResult{ExitCode: &exit, Reason: "exit", Duration: 1500 * time.Millisecond,
					Directory: "/sb", StdoutTail: "out", StderrTail: "err"},
			},
		},
		{
			name: "executor running update names the task directory",
			in: mesos.TaskStatus{
				TaskID: mesos.TaskID{Value: "t4"}, State: st(mesos.TASK_RUNNING), Data: running,
			},
			want: scheduler.TaskUpdated{TaskID: "t4", State: scheduler.TaskRunning,
				Result: &scheduler.TaskResult{Directory: "/sb/task-t4"}},
		},
		{
			name: "reconciliation answer has no uuid",
			in: mesos.TaskStatus{
				TaskID: mesos.TaskID{Value: "t2"}, State: st(mesos.TASK_LOST), Reason: rs(mesos.REASON_RECONCILIATION),
				Message: strPtr("Reconciliation: Task is unknown"),
			},
			want: scheduler.TaskUpdated{
				TaskID: "t2", State: scheduler.TaskLost, Reason: "REASON_RECONCILIATION", Reconciliation: true,
				Message: "Reconciliation: Task is unknown",
			},
		},
		{
			name: "foreign status data is reported, update still usable",
			in: mesos.TaskStatus{
				TaskID: mesos.TaskID{Value: "t3"}, State: st(mesos.TASK_RUNNING), Data: []byte("aGVsbG8"),
				Reason: rs(mesos.REASON_EXECUTOR_TERMINATED),
			},
			want:    scheduler.TaskUpdated{TaskID: "t3", State: scheduler.TaskRunning, Reason: "REASON_EXECUTOR_TERMINATED"},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := convertStatus(&tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("convertStatus:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func testLaunch() scheduler.TaskLaunch {
	return scheduler.TaskLaunch{
		TaskID: "ct:1795815424000:0:backup", Run: "backup@2026-11-27T21:37:00Z",
		Job: &scheduler.Job{
			Name: "backup", Command: "echo $FOO", Shell: true, Arguments: []string{"a"}, Owner: "ops@example",
			CPUs: 0.3, Mem: 64, Disk: 10, RunAsUser: "nobody", MaxRuntime: time.Minute,
			Env:   []scheduler.EnvVar{{Name: "FOO", Value: "job"}, {Name: "BAR", Value: "job"}},
			URIs:  []string{"http://example/data.tgz"},
			Fetch: []scheduler.FetchURI{{URI: "http://example/tool", Executable: true, OutputFile: "tool"}},
		},
		Attempt: 1, Instance: 0, Instances: 2,
		ScheduledFor: time.Date(2026, 11, 27, 22, 37, 0, 0, time.FixedZone("CET", 3600)),
		StartAt:      time.Date(2026, 11, 27, 22, 37, 0, 0, time.FixedZone("CET", 3600)),
		Env:          map[string]string{"FOO": "run"},
		Arguments:    []string{"b", "c"},
		Ports:        []uint64{31002},
	}
}

func testConfig() Config {
	return Config{Master: "http://127.0.0.1:5050", User: "root", ExecutorCommand: "./horae executor",
		ExecutorURI: "http://horae:4400/executor/horae"}.withDefaults()
}

func TestCarveKeepsAllocationAndSplitsPorts(t *testing.T) {
	o := wireOffer()
	pool := newResourcePool(o.Resources, []string{"*"})
	task, exec, err := pool.carve(testConfig(), testLaunch(), true)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(rs []mesos.Resource, name string) float64 {
		s := 0.0
		for _, r := range rs {
			if r.Name == name {
				s += r.GetScalar().GetValue()
			}
			if r.GetAllocationInfo().GetRole() != "*" {
				t.Errorf("resource %s lost its allocation_info: %+v", r.Name, r)
			}
		}
		return s
	}
	if c, m, d := sum(task, "cpus"), sum(task, "mem"), sum(task, "disk"); c != 0.3 || m != 64 || d != 10 {
		t.Errorf("task resources cpus %g mem %g disk %g, want 0.3 64 10", c, m, d)
	}
	if c, m := sum(exec, "cpus"), sum(exec, "mem"); c != DefaultExecutorCPUs || m != DefaultExecutorMem {
		t.Errorf("executor resources cpus %g mem %g", c, m)
	}
	var gotPorts []mesos.Value_Range
	for _, r := range task {
		if r.Name == "ports" {
			gotPorts = append(gotPorts, r.GetRanges().GetRange()...)
		}
	}
	if !reflect.DeepEqual(gotPorts, []mesos.Value_Range{{Begin: 31002, End: 31002}}) {
		t.Errorf("task ports %v", gotPorts)
	}
	for _, r := range pool.res {
		if r.Name == "ports" {
			want := []mesos.Value_Range{{Begin: 31000, End: 31001}, {Begin: 31003, End: 31010}, {Begin: 30000, End: 30001}}
			if !reflect.DeepEqual(r.Ranges.Range, want) {
				t.Errorf("ports left %v, want %v", r.Ranges.Range, want)
			}
		}
		if r.Name == "cpus" && r.Scalar.Value != 1.65 {
			t.Errorf("cpus left %g, want 1.65", r.Scalar.Value)
		}
		if r.GetAllocationInfo().GetRole() == "other" {
			t.Errorf("pool holds a resource of another role: %+v", r)
		}
	}

	// Too big: nothing taken.
	big := testLaunch()
	big.Job.CPUs = 1.7
	before := pool.clone()
	if _, _, err := pool.carve(testConfig(), big, true); err == nil || !strings.Contains(err.Error(), "cpus") {
		t.Fatalf("carve of a task too big: err = %v, want a cpus shortfall", err)
	}
	if !reflect.DeepEqual(before.res, pool.res) {
		t.Fatal("failed carve changed the pool")
	}
	taken := testLaunch()
	taken.Ports = []uint64{31002}
	if _, _, err := pool.carve(testConfig(), taken, true); err == nil || !strings.Contains(err.Error(), "31002") {
		t.Fatalf("carve of a port already taken: err = %v", err)
	}
}

func TestBuildTaskInfo(t *testing.T) {
	cfg := testConfig()
	l := testLaunch()
	ti, err := buildTaskInfo(cfg, "M-0000", "M-S0", l, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ti.Name != "horae:backup" || ti.TaskID.Value != l.TaskID || ti.AgentID.Value != "M-S0" || ti.Command != nil {
		t.Errorf("task identity: name %q id %q agent %q command %v", ti.Name, ti.TaskID.Value, ti.AgentID.Value, ti.Command)
	}
	ex := ti.Executor
	if ex == nil || ex.Type != mesos.ExecutorInfo_CUSTOM || ex.ExecutorID.Value != l.TaskID || ex.GetFrameworkID().GetValue() != "M-0000" {
		t.Fatalf("executor %+v", ex)
	}
	if ex.Command.GetValue() != "./horae executor" || !ex.Command.GetShell() {
		t.Errorf("executor command %+v", ex.Command)
	}
	wantURIs := []string{"http://horae:4400/executor/horae", "http://example/data.tgz", "http://example/tool"}
	if len(ex.Command.URIs) != 3 {
		t.Fatalf("uris %+v", ex.Command.URIs)
	}
	for i, u := range ex.Command.URIs {
		if u.Value != wantURIs[i] {
			t.Errorf("uri %d = %q, want %q", i, u.Value, wantURIs[i])
		}
	}
	if u := ex.Command.URIs[0]; !u.GetExecutable() || u.GetExtract() || !u.GetCache() || u.GetOutputFile() != "horae" {
		t.Errorf("executor uri flags %+v", u)
	}
	if ex.ShutdownGracePeriod.Nanoseconds != DefaultExecutorShutdown.Nanoseconds() || ti.KillPolicy.GracePeriod.Nanoseconds != DefaultKillGrace.Nanoseconds() {
		t.Errorf("grace periods: shutdown %v kill %v", ex.ShutdownGracePeriod, ti.KillPolicy)
	}
	labels := map[string]string{}
	for _, lb := range ti.Labels.Labels {
		labels[lb.Key] = lb.GetValue()
	}
	if labels[LabelJob] != "backup" || labels[LabelRun] != string(l.Run) || labels[LabelAttempt] != "1" {
		t.Errorf("labels %v", labels)
	}
	spec, err := taskspec.ParseSpec(ti.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := taskspec.Spec{
		Version: 1, Job: "backup", Run: string(l.Run), Owner: "ops@example", Attempt: 1, Instance: 0, Instances: 2,
		ScheduledFor: "2026-11-27T21:37:00Z", StartAt: "2026-11-27T21:37:00Z", Shell: true, Command: "echo $FOO", Arguments: []string{"b", "c"},
		Env:  map[string]string{"FOO": "run", "BAR": "job", "PORT0": "31002"},
		User: "nobody", CPUs: 0.3, Mem: 64, Disk: 10, MaxRuntimeMillis: 60000, KillGraceMillis: DefaultKillGrace.Milliseconds(),
	}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("spec:\n got %+v\nwant %+v", spec, want)
	}
	// The task must survive the protobuf codec mesos-go uses (required
	// fields set).
	b, err := ti.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var back mesos.TaskInfo
	if err := back.Unmarshal(b); err != nil {
		t.Fatalf("unmarshal TaskInfo: %v", err)
	}
	if _, err := json.Marshal(&back); err != nil {
		t.Fatal(err)
	}
}

func TestPlainResourcesCarryAllocationForMultiRole(t *testing.T) {
	rs := plainResources("analytics", true, 0.1, 32, 0, 0, []uint64{31000})
	if len(rs) != 3 {
		t.Fatalf("resources %+v", rs)
	}
	for _, r := range rs {
		if r.GetAllocationInfo().GetRole() != "analytics" {
			t.Errorf("%s without allocation_info", r.Name)
		}
	}
	if rs := plainResources("analytics", false, 0.1, 32, 0, 0, nil); rs[0].AllocationInfo != nil {
		t.Error("non MULTI_ROLE resource carries allocation_info")
	}
}
