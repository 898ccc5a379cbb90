package scheduler

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzJobPut feeds arbitrary job fields to JobPut: the engine must either
// reject them with a command error or accept a job it can then schedule
// and launch without panicking, with valid Mesos task IDs. The seed corpus
// runs in plain go test.
func FuzzJobPut(f *testing.F) {
	f.Add("a", "R/2026-03-01T00:01:00Z/PT1M", "", "", 0.1, 2, "EQUALS", "x", "forbid", "latest", "all_success")
	f.Add("b.c-d_e", "R5//PT15M", "Europe/Berlin", "", 1.0, 1, "LIKE", "r[0-9]+", "allow", "all", "one_success")
	f.Add("c", "*/5 * * * *", "America/New_York", "", 0.0, 3, "UNIQUE", "", "replace", "skip", "all_done")
	f.Add("d", "", "", "root", 0.5, 1, "UNLIKE", "(", "forbid", "latest", "one_failed")
	f.Add("bad name", "R//P", "PST", "root,root", -1.0, -1, "GROUP_BY", "", "sometimes", "most", "xor")
	f.Add("e", "R1/1969-01-01T00:00:00Z/P1M", "", "", 0.25, 0, "EQUALS", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, schedule, tz, parents string, cpus float64, instances int, op, value, conc, missed, rule string) {
		h := newHarness(t)
		h.ready()
		h.put(sched("root", "R/2026-03-01T00:02:00Z/PT1H"))
		j := Job{Name: name, Command: "true", Schedule: schedule, ScheduleTimeZone: tz, CPUs: cpus, Instances: instances,
			ConcurrencyPolicy: ConcurrencyPolicy(conc), MissedRunPolicy: MissedRunPolicy(missed), TriggerRule: TriggerRule(rule),
			Constraints: []Constraint{{Attribute: "hostname", Operator: op, Value: value}}, Retries: 1}
		if parents != "" {
			j.Parents = strings.Split(parents, ",")
		}
		_, err := h.stepErr(JobPut{Job: j})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) && !errors.Is(err, ErrExists) {
				t.Fatalf("JobPut error %T %v is not a command error", err, err)
			}
			return
		}
		h.step(RunRequested{Job: name})
		valid := regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
		for i := 0; i < 3; i++ {
			h.advance(time.Hour)
			for _, id := range h.launchAll() {
				if !valid.MatchString(id) {
					t.Fatalf("task id %q", id)
				}
				h.finish(id, i%2)
			}
		}
	})
}
