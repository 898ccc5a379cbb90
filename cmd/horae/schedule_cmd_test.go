package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runHorae executes the cobra tree in process, as main does, and returns
// stdout, stderr and the error main would print.
func runHorae(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err = root.Execute()
	return out.String(), errb.String(), err
}

func TestScheduleNext(t *testing.T) {
	for _, k := range []string{"HORAE_TZ", "HORAE_FROM", "HORAE_COUNT", "HORAE_JSON", "HORAE_CONFIG"} {
		t.Setenv(k, "")
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"month ends, default count 5", []string{"schedule", "next", "R/2026-01-31T10:00:00Z/P1M", "--from", "2026-01-01T00:00:00Z"},
			"2026-01-31T10:00:00Z\n2026-02-28T10:00:00Z\n2026-03-31T10:00:00Z\n2026-04-30T10:00:00Z\n2026-05-31T10:00:00Z\n"},
		{"DST gap in a zone", []string{"schedule", "next", "R/2026-03-28T02:30:00/P1D", "--tz", "Europe/Berlin", "--from", "2026-03-28T00:00:00Z", "--count", "3"},
			"2026-03-28T02:30:00+01:00\n2026-03-29T03:30:00+02:00\n2026-03-30T02:30:00+02:00\n"},
		{"from is inclusive", []string{"schedule", "next", "R/2026-03-01T00:00:00Z/PT1H", "--from", "2026-03-01T01:00:00Z", "--count", "2"},
			"2026-03-01T01:00:00Z\n2026-03-01T02:00:00Z\n"},
		{"empty start is from", []string{"schedule", "next", "R3//PT15M", "--from", "2026-03-01T12:00:00+01:00", "--count", "10"},
			"2026-03-01T11:00:00Z\n2026-03-01T11:15:00Z\n2026-03-01T11:30:00Z\n"},
		{"R0 prints nothing", []string{"schedule", "next", "R0/2026-03-01T00:00:00Z/P1D", "--from", "2026-01-01T00:00:00Z"}, ""},
		{"cron in zone", []string{"schedule", "next", "0 9 * * 1-5", "--tz", "America/New_York", "--from", "2026-03-06T00:00:00Z", "--count", "2"},
			"2026-03-06T09:00:00-05:00\n2026-03-09T09:00:00-04:00\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runHorae(t, tc.args...)
			if err != nil {
				t.Fatalf("horae %q: %v (stderr %q)", tc.args, err, errOut)
			}
			if out != tc.want {
				t.Errorf("stdout = %q, want %q", out, tc.want)
			}
			if errOut != "" {
				t.Errorf("stderr = %q, want nothing", errOut)
			}
		})
	}
}

func TestScheduleNextJSON(t *testing.T) {
	tests := []struct {
		name string
		args []string
		tz   string
		next []string
	}{
		{"iso", []string{"R2/2026-10-24T02:30:00/P1D", "--tz", "Europe/Berlin", "--from", "2026-10-01T00:00:00Z"}, "Europe/Berlin",
			[]string{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00"}},
		{"R0 is []", []string{"R0/2026-03-01T00:00:00Z/P1D", "--from", "2026-01-01T00:00:00Z"}, "UTC", []string{}},
		{"cron", []string{"@weekly", "--from", "2026-03-01T00:00:00Z", "--count", "1"}, "UTC", []string{"2026-03-01T00:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runHorae(t, append([]string{"schedule", "next", "--json"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Expression string           `json:"expression"`
				Timezone   string           `json:"timezone"`
				Next       *json.RawMessage `json:"next"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("stdout %q is not JSON: %v", out, err)
			}
			if got.Expression != tc.args[0] || got.Timezone != tc.tz {
				t.Errorf("expression, timezone = %q, %q; want %q, %q", got.Expression, got.Timezone, tc.args[0], tc.tz)
			}
			if got.Next == nil {
				t.Fatalf("next missing or null in %s", out)
			}
			var next []string
			if err := json.Unmarshal(*got.Next, &next); err != nil {
				t.Fatal(err)
			}
			if strings.Join(next, ",") != strings.Join(tc.next, ",") || next == nil {
				t.Errorf("next = %q, want %q", next, tc.next)
			}
		})
	}
}

func TestScheduleNextErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"impossible date", []string{"R/2026-02-30T00:00:00Z/P1D"}, `schedule "R/2026-02-30T00:00:00Z/P1D": start: day 30 out of range for February 2026 (column 11)`},
		{"trailing garbage", []string{"R/2026-03-01T00:00:00Zx/P1D"}, `schedule "R/2026-03-01T00:00:00Zx/P1D": start: unexpected "x" after the start (column 23)`},
		{"unknown zone", []string{"R/2026-03-01T00:00:00Z/P1D", "--tz", "Nowhere/Special"}, `schedule time zone "Nowhere/Special": unknown IANA time zone (e.g. America/Los_Angeles, not PST)`},
		{"bad cron", []string{"61 * * * *"}, `schedule "61 * * * *": cron: end of range (61) above maximum (59): 61`},
		{"bad from", []string{"@daily", "--from", "yesterday"}, `schedule next: --from "yesterday": want an RFC 3339 time such as 2026-03-01T00:00:00Z`},
		{"bad count", []string{"@daily", "--count", "0"}, `schedule next: --count 0: want 1 to 1000`},
		{"two expressions", []string{"0", "5 * * *"}, `schedule next: want exactly one expression (quote it), got 2 arguments`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runHorae(t, append([]string{"schedule", "next"}, tc.args...)...)
			if err == nil {
				t.Fatalf("no error; stdout %q", out)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q\n want %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

// TestScheduleNextProcess runs the real main in a child process (this test
// binary, re-executed) to check the exit status and that stderr is exactly
// one line.
func TestScheduleNextProcess(t *testing.T) {
	if args := os.Getenv("HORAE_TEST_MAIN_ARGS"); args != "" {
		os.Args = append([]string{"horae"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"ok", []string{"schedule", "next", "R2/2026-03-01T00:00:00Z/P1D", "--from", "2026-01-01T00:00:00Z"}, 0,
			"2026-03-01T00:00:00Z\n2026-03-02T00:00:00Z\n", ""},
		{"invalid expression", []string{"schedule", "next", "R/2026-03-01T24:00:00Z/P1D"}, 1,
			"", "horae: schedule \"R/2026-03-01T24:00:00Z/P1D\": start: hour 24 out of range 00-23 (column 14)\n"},
		{"invalid zone", []string{"schedule", "next", "@daily", "--tz", "GMT+25"}, 1,
			"", "horae: schedule time zone \"GMT+25\": unknown IANA time zone (e.g. America/Los_Angeles, not PST)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestScheduleNextProcess$")
			cmd.Env = append(os.Environ(), "HORAE_TEST_MAIN_ARGS="+strings.Join(tc.args, "\x1f"), "HORAE_TZ=", "HORAE_FROM=", "HORAE_COUNT=")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || out.String() != tc.wantStdout || errb.String() != tc.wantStderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
					code, out.String(), errb.String(), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}
