package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

func TestDurations(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT1M", time.Minute, true},
		{"PT1H30M", 90 * time.Minute, true},
		{"P1DT2H", 26 * time.Hour, true},
		{"P1W", 7 * 24 * time.Hour, true},
		{"PT0.5S", 500 * time.Millisecond, true},
		{"PT15M", 15 * time.Minute, true},
		{"P1M", 0, false},
		{"P1Y", 0, false},
		{"P", 0, false},
		{"PT", 0, false},
		{"1m", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v", tc.in, got, err)
			}
			if tc.ok {
				back, err := ParseDuration(FormatDuration(got))
				if err != nil || back != got {
					t.Fatalf("round trip %v → %q → %v, %v", got, FormatDuration(got), back, err)
				}
			}
		})
	}
}

func TestDecodeJobAliases(t *testing.T) {
	j, err := DecodeJob([]byte(`{"name":"a","command":"x","maxCompletionTime":90,"epsilon":"PT5M","concurrent":true,"shell":"false","retries":"0","cpus":"0.25"}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if j.MaxRuntime != 90*time.Second || j.StartingDeadline != 5*time.Minute || j.ConcurrencyPolicy != "allow" || j.Shell || j.Retries != 0 || j.CPUs != 0.25 {
		t.Fatalf("lenient decode = %+v", j)
	}
	if _, err := DecodeJob([]byte(`{"name":"a","command":"x","shell":"false"}`), true); err == nil {
		t.Fatal("strict decode coerced a string to a boolean")
	}
	var be *BodyError
	_, err = DecodeJob([]byte(`{"name":"a","command":"x","bogus":1,"cpus":-1}`), true)
	if !errorsAs(err, &be) || len(be.Details) != 2 || be.Details[0].Field != "bogus" || be.Details[1].Field != "cpus" {
		t.Fatalf("strict problems = %#v", err)
	}
}

func errorsAs(err error, be **BodyError) bool {
	b, ok := err.(*BodyError)
	*be = b
	return ok
}

// FuzzDecodeJob: decoding never panics; a job that decodes strictly
// survives the wire round trip (encode, decode strictly) unchanged.
func FuzzDecodeJob(f *testing.F) {
	for _, s := range []string{
		pyJob,
		`{"name":"a","command":"x","schedule":"R/2026-01-01T00:00:00Z/PT1H","cpus":0.5,"mem":64,"retries":0}`,
		`{"name":"b","command":"x","parents":["a"],"triggerRule":"one_failed","fetch":[{"uri":"http://x"}],"environmentVariables":[{"name":"K","value":"V"}]}`,
		`{"name":"c","command":"x","constraints":[["host","EQUALS","h1"],["rack","UNIQUE"]],"container":{"type":"DOCKER","image":"busybox","volumes":[{"containerPath":"/d","mode":"RO"}]}}`,
		`{"name":"d","command":"x","maxRuntime":"PT1H","retryDelay":"PT30S","retryDelayMax":"PT10M","labels":{"t":"x"},"notify":["failure"],"webhook":{"enabled":true,"secret":"s"}}`,
		`{"name":"e","cpus":"0.5","shell":"true"}`,
		`{`, `null`, `[]`, `{"name":null}`, `{"name":"a","maxRuntime":"P1M"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = DecodeJob(body, false)
		j, err := DecodeJob(body, true)
		if err != nil {
			return
		}
		wire, err := json.Marshal(JobFromScheduler(j, scheduler.Stats{}, false))
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := DecodeJob(wire, true)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", wire, err)
		}
		// The wire form drops what it must: the webhook secret, and a
		// schedule beside parents; times are not input.
		if j.Webhook != nil {
			j.Webhook.Secret = ""
		}
		if len(j.Parents) > 0 {
			j.Schedule, j.ScheduleTimeZone = "", ""
		}
		norm(&j)
		norm(&back)
		if !reflect.DeepEqual(j, back) {
			t.Fatalf("round trip changed the job:\n in  %+v\n out %+v\n wire %s", j, back, wire)
		}
		if strings.Contains(string(wire), `"secret"`) {
			t.Fatalf("secret echoed: %s", wire)
		}
	})
}

// norm makes the representations the wire form does not distinguish
// equal: empty versus nil collections and the defaults written out.
func norm(j *scheduler.Job) {
	if len(j.Arguments) == 0 {
		j.Arguments = nil
	}
	if len(j.URIs) == 0 {
		j.URIs = nil
	}
	if len(j.Parents) == 0 {
		j.Parents = nil
	}
	if len(j.Labels) == 0 {
		j.Labels = nil
	}
	if j.Instances == 0 {
		j.Instances = 1
	}
	if j.ConcurrencyPolicy == "" {
		j.ConcurrencyPolicy = scheduler.Forbid
	}
	if j.MissedRunPolicy == "" {
		j.MissedRunPolicy = scheduler.MissedLatest
	}
}
