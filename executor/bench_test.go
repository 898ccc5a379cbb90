package executor

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mesosexec "github.com/mesos/mesos-go/api/v1/lib/executor"

	"github.com/horae-scheduler/horae/taskspec"
)

// Benchmarks for docs/benchmarks.md "## Launch overhead". They run the
// executor as its own process (this test binary re-executed, see
// TestMain), like an agent does, and time with the command's own clock
// reading.
//
//	go test -run '^$' -bench . -benchtime 20x ./executor/
//
// With HORAE_EXECUTOR_BIN=<path to a horae binary> they run
// `horae executor` instead of the test binary (make bench does).

// startedAt is a command that records when it started, in Unix ns: argv
// form, so the only process between executor and clock is date itself.
func startedAt() taskspec.Spec {
	return taskspec.Spec{Command: "date", Arguments: []string{"+%s%N"}}
}

func readNanos(tb testing.TB, path string) time.Time {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if line, ok := strings.CutSuffix(string(b), "\n"); ok {
			ns, err := strconv.ParseInt(line, 10, 64)
			if err != nil {
				tb.Fatalf("%s: %q is not Unix nanoseconds", path, line)
			}
			return time.Unix(0, ns)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: no timestamp within 20s", path)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// BenchmarkExecutorStartToCommand: from starting the executor process
// to its task's command running (one executor per task, the Horae way).
func BenchmarkExecutorStartToCommand(b *testing.B) {
	var total, inGo []time.Duration
	for i := 0; i < b.N; i++ {
		a := newFakeAgent(b)
		id := fmt.Sprintf("t%d", i)
		a.launch(taskInfo(b, id, startedAt()))
		sandbox := b.TempDir()
		stamp := filepath.Join(b.TempDir(), "stamp")
		t0 := time.Now()
		cmd := executorProcess(b, a, sandbox, true, "HORAE_EXECUTOR_TEST_QUIET=1", "HORAE_EXECUTOR_TEST_STAMP="+stamp)
		started := readNanos(b, filepath.Join(sandbox, "task-"+id, "stdout"))
		total = append(total, started.Sub(t0))
		if os.Getenv("HORAE_EXECUTOR_BIN") == "" {
			inGo = append(inGo, started.Sub(readNanos(b, stamp)))
		}
		if err := waitExit(b, a, cmd); err != nil {
			b.Fatalf("executor: %v", err)
		}
	}
	reportLatency(b, total, "")
	// From the executor's first Go instruction (process exec and runtime
	// start excluded) to the command: subscribe, LAUNCH, fork/exec.
	if len(inGo) > 0 {
		reportLatency(b, inGo, "-from-main")
	}
}

// BenchmarkSharedExecutorLaunchToCommand: the alternative design, one
// executor per agent: from the LAUNCH event to the command running in an
// executor that is already up.
func BenchmarkSharedExecutorLaunchToCommand(b *testing.B) {
	a := newFakeAgent(b)
	a.launch(taskInfo(b, "keeper", taskspec.Spec{Shell: true, Command: "sleep 600"}))
	sandbox := b.TempDir()
	cmd := executorProcess(b, a, sandbox, true, "HORAE_EXECUTOR_TEST_QUIET=1")
	b.Cleanup(func() {
		a.send(&mesosexec.Event{Type: mesosexec.Event_SHUTDOWN})
		_ = waitExit(b, a, cmd)
	})
	a.waitFor("keeper running", func(a *fakeAgent) bool { return len(a.updates) >= 2 })
	var samples []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("s%d", i)
		t0 := time.Now()
		a.launch(taskInfo(b, id, startedAt()))
		started := readNanos(b, filepath.Join(sandbox, "task-"+id, "stdout"))
		samples = append(samples, started.Sub(t0))
	}
	reportLatency(b, samples, "")
}

// reportLatency reports the median and the minimum: on a loaded machine
// the minimum is the closest to the uncontended cost.
func reportLatency(b *testing.B, samples []time.Duration, suffix string) {
	slices.Sort(samples)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(samples[len(samples)/2]), "ms-median"+suffix)
	b.ReportMetric(ms(samples[0]), "ms-min"+suffix)
}

// rssKiB is VmRSS of a process.
func rssKiB(tb testing.TB, pid int) int64 { return statusKiB(tb, pid, "VmRSS:") }

// statusKiB reads one "<key> <n> kB" line of /proc/<pid>/status.
func statusKiB(tb testing.TB, pid int, key string) int64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatalf("status of %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	tb.Fatalf("no %s for %d", key, pid)
	return 0
}

// BenchmarkExecutorRSS: resident memory of the executor and its guard
// while n tasks run in it: n=1 is the per-task cost of the Horae design,
// the slope between n=1 and n=20 the per-task cost of a shared executor.
func BenchmarkExecutorRSS(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			var exec, anon, guard, guardAnon int64
			for i := 0; i < b.N; i++ {
				a := newFakeAgent(b)
				for k := 0; k < n; k++ {
					a.launch(taskInfo(b, fmt.Sprintf("r%d", k), taskspec.Spec{Shell: true, Command: "sleep 600"}))
				}
				cmd := executorProcess(b, a, b.TempDir(), true, "HORAE_EXECUTOR_TEST_QUIET=1")
				a.waitFor("all running", func(a *fakeAgent) bool { return len(a.updates) >= 2*n })
				exec += rssKiB(b, cmd.Process.Pid)
				anon += statusKiB(b, cmd.Process.Pid, "RssAnon:")
				kids, err := children(cmd.Process.Pid)
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range kids {
					if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", k)); err == nil && strings.Contains(string(b), "groups=") {
						guard += rssKiB(bNoop{}, k)
						guardAnon += statusKiB(bNoop{}, k, "RssAnon:")
					}
				}
				a.send(&mesosexec.Event{Type: mesosexec.Event_SHUTDOWN})
				_ = waitExit(b, a, cmd)
			}
			b.ReportMetric(float64(exec)/float64(b.N)/1024, "MiB-executor")
			// Private memory: what each more executor costs; the rest is
			// the binary's text, shared by all executors of the agent.
			b.ReportMetric(float64(anon)/float64(b.N)/1024, "MiB-executor-anon")
			b.ReportMetric(float64(guard)/float64(b.N)/1024, "MiB-guard")
			b.ReportMetric(float64(guardAnon)/float64(b.N)/1024, "MiB-guard-anon")
		})
	}
}

// bNoop lets rssKiB be used where a vanished process is not a failure.
type bNoop struct{ testing.TB }

func (bNoop) Helper()               {}
func (bNoop) Fatalf(string, ...any) {}

// BenchmarkBareForkExec is the reference for the launch figures above,
// measured in the same run: fork/exec and wait of `true` (the floor any
// launch pays), and of the executor binary doing nothing (`horae version`,
// or this test binary running no test): what starting a Go binary of that
// size costs before the executor does any work.
func BenchmarkBareForkExec(b *testing.B) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Fatalf("bare fork/exec: %v", err)
	}
	self := []string{os.Args[0], "-test.run=^$", "-test.bench=^$"}
	if bin := os.Getenv("HORAE_EXECUTOR_BIN"); bin != "" {
		self = []string{bin, "version"}
	}
	for _, c := range []struct {
		name string
		argv []string
	}{{"true", []string{truePath}}, {"executor-binary", self}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				// Output to /dev/null, as the launch benchmarks' commands
				// write to a file: no pipe to drain.
				if err := exec.Command(c.argv[0], c.argv[1:]...).Run(); err != nil {
					b.Fatalf("bare fork/exec of %s: %v", strings.Join(c.argv, " "), err)
				}
			}
		})
	}
}
