package iso8601

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zones for machines without /usr/share/zoneinfo
)

var fuzzCreated = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func bind(t *testing.T, expr, tz string, created time.Time) *Schedule {
	t.Helper()
	iv, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	var loc *time.Location
	if tz != "" {
		loc = mustZone(tz)
	}
	s, err := iv.Bind(loc, created)
	if err != nil {
		t.Fatalf("Bind(%q, %q): %v", expr, tz, err)
	}
	return s
}

// firstN lists up to n occurrences by index, as RFC 3339 in the zone.
func firstN(s *Schedule, n int) []string {
	var out []string
	for k := int64(0); k < int64(n); k++ {
		o, ok := s.Occurrence(k)
		if !ok {
			break
		}
		out = append(out, o.Format(time.RFC3339Nano))
	}
	return out
}

// nextN lists up to n occurrences by chaining Next from the moment before
// the start, which must agree with Occurrence.
func nextN(s *Schedule, n int) []string {
	var out []string
	t := s.Start().Add(-time.Nanosecond)
	for range n {
		var ok bool
		if t, ok = s.Next(t); !ok {
			break
		}
		out = append(out, t.Format(time.RFC3339Nano))
	}
	return out
}

func TestOccurrences(t *testing.T) {
	created := time.Date(2026, 5, 17, 8, 15, 30, 500, time.UTC)
	tests := []struct {
		name, expr, tz string
		n              int
		want           []string
	}{
		// Month ends: computed from the original start, never chained, so
		// the 31st does not drift to the 28th (Chronos #819, #851, #559).
		{"month end clamps and recovers", "R/2026-01-31T10:00:00Z/P1M", "", 5,
			[]string{"2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z", "2026-05-31T10:00:00Z"}},
		{"month end in a leap year", "R/2024-01-31T00:00:00Z/P1M", "", 3,
			[]string{"2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"}},
		{"P2M from Dec 31", "R/2025-12-31T00:00:00Z/P2M", "", 4,
			[]string{"2025-12-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-04-30T00:00:00Z", "2026-06-30T00:00:00Z"}},
		{"leap day yearly", "R/2024-02-29T12:00:00Z/P1Y", "", 5,
			[]string{"2024-02-29T12:00:00Z", "2025-02-28T12:00:00Z", "2026-02-28T12:00:00Z", "2027-02-28T12:00:00Z", "2028-02-29T12:00:00Z"}},
		{"century leap rules", "R/1896-02-29T00:00:00Z/P4Y", "", 3,
			[]string{"1896-02-29T00:00:00Z", "1900-02-28T00:00:00Z", "1904-02-29T00:00:00Z"}},
		{"2000 is a leap year", "R/1996-02-29T00:00:00Z/P4Y", "", 2,
			[]string{"1996-02-29T00:00:00Z", "2000-02-29T00:00:00Z"}},
		{"P1M1D: months then days", "R/2026-01-31T00:00:00Z/P1M1D", "", 3,
			[]string{"2026-01-31T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-02T00:00:00Z"}},
		{"weeks", "R3/2026-12-21T09:00:00Z/P1W", "", 5,
			[]string{"2026-12-21T09:00:00Z", "2026-12-28T09:00:00Z", "2027-01-04T09:00:00Z"}},
		{"R0 never", "R0/2026-03-01T00:00:00Z/P1D", "", 3, nil},
		{"R1 once", "R1/2026-03-01T00:00:00Z/P1D", "", 3, []string{"2026-03-01T00:00:00Z"}},
		{"R2 twice", "R2/2026-03-01T00:00:00Z/PT1H", "", 3, []string{"2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z"}},
		{"fractions", "R/2026-01-01T00:00:00.5Z/PT0.25S", "", 4,
			[]string{"2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.75Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:01.25Z"}},
		{"microsecond period", "R/2026-01-01T00:00:00.999999Z/PT0.000001S", "", 2,
			[]string{"2026-01-01T00:00:00.999999Z", "2026-01-01T00:00:01Z"}},
		{"start offset kept without zone", "R/2026-03-01T13:00:00-04:00/P1D", "", 2,
			[]string{"2026-03-01T13:00:00-04:00", "2026-03-02T13:00:00-04:00"}},
		{"fixed offset has no DST", "R/2026-03-07T12:00:00-05:00/P1D", "", 3,
			[]string{"2026-03-07T12:00:00-05:00", "2026-03-08T12:00:00-05:00", "2026-03-09T12:00:00-05:00"}},
		{"no offset no zone is UTC", "R/2026-03-01T13:00:00/PT12H", "", 2,
			[]string{"2026-03-01T13:00:00Z", "2026-03-02T01:00:00Z"}},
		// Zone precedence (Chronos: the wall clock is kept and read in the zone).
		{"zone wins over offset", "R/2008-03-01T13:00:00-04:00/P1D", "America/Los_Angeles", 2,
			[]string{"2008-03-01T13:00:00-08:00", "2008-03-02T13:00:00-08:00"}},
		{"zone wins over Z", "R/2008-03-01T13:00:00Z/P1D", "Europe/Paris", 1,
			[]string{"2008-03-01T13:00:00+01:00"}},
		{"date only in zone", "R/2008-03-01/P1D", "America/Los_Angeles", 1,
			[]string{"2008-03-01T00:00:00-08:00"}},
		// End form: the period is the exact elapsed time start→end.
		{"end form", "R3/2026-03-01T00:00:00Z/2026-03-01T01:30:00Z", "", 4,
			[]string{"2026-03-01T00:00:00Z", "2026-03-01T01:30:00Z", "2026-03-01T03:00:00Z"}},
		{"end form with offsets", "R2/2026-03-01T10:00:00+02:00/2026-03-01T09:00:00Z", "", 2,
			[]string{"2026-03-01T10:00:00+02:00", "2026-03-01T11:00:00+02:00"}},
		{"end form across a gap is elapsed time", "R3/2026-03-28T12:00:00/2026-03-29T12:00:00", "Europe/Berlin", 3,
			// 12:00 CET → 12:00 CEST is 23 h of elapsed time.
			[]string{"2026-03-28T12:00:00+01:00", "2026-03-29T12:00:00+02:00", "2026-03-30T11:00:00+02:00"}},
		{"end form: a zone reads the wall clocks", "R2/2026-03-01T10:00:00Z/2026-03-01T11:00:00+05:00", "Europe/Berlin", 2,
			[]string{"2026-03-01T10:00:00+01:00", "2026-03-01T11:00:00+01:00"}},
		{"end form fraction", "R2/2026-03-01T00:00:00.9Z/2026-03-01T00:00:01.1Z", "", 2,
			[]string{"2026-03-01T00:00:00.9Z", "2026-03-01T00:00:01.1Z"}},
		// Empty start: the creation moment.
		{"empty start", "R3//PT1H", "", 3,
			[]string{"2026-05-17T08:15:30.0000005Z", "2026-05-17T09:15:30.0000005Z", "2026-05-17T10:15:30.0000005Z"}},
		{"empty start in zone keeps wall clock", "R2//P1D", "America/New_York", 2,
			[]string{"2026-05-17T04:15:30.0000005-04:00", "2026-05-18T04:15:30.0000005-04:00"}},
		{"mixed calendar and fixed", "R/2026-01-30T22:00:00Z/P1MT3H", "", 3,
			[]string{"2026-01-30T22:00:00Z", "2026-03-01T01:00:00Z", "2026-03-31T04:00:00Z"}},
		{"year 9999 is the end", "R/9999-12-30T00:00:00Z/P1D", "", 5,
			[]string{"9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z"}},
		{"year 1", "R2/0001-01-01T00:00:00Z/P1Y", "", 2, []string{"0001-01-01T00:00:00Z", "0002-01-01T00:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := bind(t, tc.expr, tc.tz, created)
			if got := firstN(s, tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("Occurrence 0..%d = %q, want %q", tc.n-1, got, tc.want)
			}
			if got := nextN(s, tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("Next chain = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDST covers spring-forward gaps (moved forward by the gap) and
// fall-back overlaps (the earlier instant) in both hemispheres, and P1D
// (wall clock) against PT24H (elapsed time).
func TestDST(t *testing.T) {
	tests := []struct {
		name, expr, tz string
		want           []string
	}{
		{"Berlin gap P1D", "R/2026-03-28T02:30:00/P1D", "Europe/Berlin",
			[]string{"2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"Berlin gap PT24H", "R/2026-03-28T12:00:00/PT24H", "Europe/Berlin",
			[]string{"2026-03-28T12:00:00+01:00", "2026-03-29T13:00:00+02:00", "2026-03-30T13:00:00+02:00"}},
		{"Berlin P1D keeps noon", "R/2026-03-28T12:00:00/P1D", "Europe/Berlin",
			[]string{"2026-03-28T12:00:00+01:00", "2026-03-29T12:00:00+02:00", "2026-03-30T12:00:00+02:00"}},
		{"Berlin overlap takes the earlier", "R/2026-10-24T02:30:00/P1D", "Europe/Berlin",
			[]string{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"Berlin overlap PT24H", "R/2026-10-24T12:00:00/PT24H", "Europe/Berlin",
			[]string{"2026-10-24T12:00:00+02:00", "2026-10-25T11:00:00+01:00", "2026-10-26T11:00:00+01:00"}},
		{"Berlin start in the gap", "R2/2026-03-29T02:00:00/PT1H", "Europe/Berlin",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		{"Berlin hourly through the overlap is elapsed", "R4/2026-10-25T01:30:00/PT1H", "Europe/Berlin",
			[]string{"2026-10-25T01:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"}},
		{"Berlin monthly into the gap", "R/2026-01-29T02:30:00/P1M", "Europe/Berlin",
			[]string{"2026-01-29T02:30:00+01:00", "2026-02-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-04-29T02:30:00+02:00"}},
		{"New York gap", "R/2026-03-07T02:30:00/P1D", "America/New_York",
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"New York overlap", "R/2026-10-31T01:30:00/P1D", "America/New_York",
			[]string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"New York PT24H", "R/2026-03-07T09:00:00/PT24H", "America/New_York",
			[]string{"2026-03-07T09:00:00-05:00", "2026-03-08T10:00:00-04:00", "2026-03-09T10:00:00-04:00"}},
		{"Sydney gap (October)", "R/2026-10-03T02:30:00/P1D", "Australia/Sydney",
			[]string{"2026-10-03T02:30:00+10:00", "2026-10-04T03:30:00+11:00", "2026-10-05T02:30:00+11:00"}},
		{"Sydney overlap (April)", "R/2026-04-04T02:30:00/P1D", "Australia/Sydney",
			[]string{"2026-04-04T02:30:00+11:00", "2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"}},
		{"Sydney PT24H over the April change", "R/2026-04-04T12:00:00/PT24H", "Australia/Sydney",
			[]string{"2026-04-04T12:00:00+11:00", "2026-04-05T11:00:00+10:00", "2026-04-06T11:00:00+10:00"}},
		{"Santiago midnight gap", "R/2026-09-05/P1D", "America/Santiago",
			[]string{"2026-09-05T00:00:00-04:00", "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"}},
		{"Santiago gap 00:30", "R/2026-09-05T00:30:00/P1D", "America/Santiago",
			[]string{"2026-09-05T00:30:00-04:00", "2026-09-06T01:30:00-03:00", "2026-09-07T00:30:00-03:00"}},
		{"Santiago overlap 23:30", "R/2026-04-03T23:30:00/P1D", "America/Santiago",
			[]string{"2026-04-03T23:30:00-03:00", "2026-04-04T23:30:00-03:00", "2026-04-05T23:30:00-04:00"}},
		{"Lord Howe half-hour gap", "R/2026-10-03T02:15:00/P1D", "Australia/Lord_Howe",
			[]string{"2026-10-03T02:15:00+10:30", "2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := bind(t, tc.expr, tc.tz, time.Time{})
			if got := firstN(s, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("Occurrence = %q, want %q", got, tc.want)
			}
			if got := nextN(s, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("Next chain = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	type q struct {
		after string
		want  string // "" = none
	}
	tests := []struct {
		name, expr, tz string
		queries        []q
	}{
		{"far past start, seconds", "R/2000-01-01T00:00:00Z/PT1S", "", []q{
			{"2026-11-27T21:55:14.3Z", "2026-11-27T21:55:15Z"},
			{"2026-11-27T21:55:15Z", "2026-11-27T21:55:16Z"}, // strictly after
			{"1999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"},
			{"9999-12-31T23:59:59Z", ""},
			{"9999-12-31T23:59:58.5Z", "9999-12-31T23:59:59Z"},
		}},
		{"far past start, minutes", "R/1970-01-01T00:00:00Z/PT1M", "", []q{
			{"2026-03-29T01:00:30+01:00", "2026-03-29T00:01:00Z"},
		}},
		{"monthly from 1900", "R/1900-01-31T06:00:00Z/P1M", "", []q{
			{"2026-02-15T00:00:00Z", "2026-02-28T06:00:00Z"},
			{"2026-02-28T06:00:00Z", "2026-03-31T06:00:00Z"},
			{"2026-02-28T05:59:59.999999999Z", "2026-02-28T06:00:00Z"},
		}},
		// Chronos #851 returned 2016-12-01, in the past; #819 returned the 1st
		// of the current month instead of the next one.
		{"Chronos #819/#851 vectors", "R/2012-01-01T00:00:01Z/P1M", "", []q{
			{"2017-01-02T00:00:00+09:00", "2017-02-01T00:00:01Z"},
			{"2017-08-31T00:00:00Z", "2017-09-01T00:00:01Z"},
			{"2017-03-27T00:00:00Z", "2017-04-01T00:00:01Z"},
		}},
		{"daily in Berlin from 2000", "R/2000-01-01T02:30:00/P1D", "Europe/Berlin", []q{
			{"2026-03-28T12:00:00Z", "2026-03-29T03:30:00+02:00"},
			{"2026-10-25T00:29:59Z", "2026-10-25T02:30:00+02:00"},
			{"2026-10-25T00:30:00Z", "2026-10-26T02:30:00+01:00"},
		}},
		{"bounded", "R3/2026-01-01T00:00:00Z/P1D", "", []q{
			{"2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z"},
			{"2026-01-02T12:00:00Z", "2026-01-03T00:00:00Z"},
			{"2026-01-03T00:00:00Z", ""},
		}},
		{"R0", "R0/2026-01-01T00:00:00Z/P1D", "", []q{{"2025-01-01T00:00:00Z", ""}}},
		{"year 9999 edge", "R/9999-12-01T00:00:00Z/P1M", "", []q{{"9999-12-01T00:00:00Z", ""}}},
		{"after far beyond 9999", "R/2026-01-01T00:00:00Z/PT1H", "", []q{{"", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := bind(t, tc.expr, tc.tz, time.Time{})
			for _, qq := range tc.queries {
				after := time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)
				if qq.after != "" {
					var err error
					if after, err = time.Parse(time.RFC3339Nano, qq.after); err != nil {
						t.Fatal(err)
					}
				}
				got, ok := s.Next(after)
				gotS := ""
				if ok {
					gotS = got.Format(time.RFC3339Nano)
				}
				if gotS != qq.want {
					t.Errorf("Next(%s) = %q, want %q", after.Format(time.RFC3339Nano), gotS, qq.want)
				}
			}
		})
	}
}

func TestMostRecent(t *testing.T) {
	s := bind(t, "R5/2026-01-31T00:00:00Z/P1M", "", time.Time{})
	tests := []struct{ at, want string }{
		{"2026-01-30T00:00:00Z", ""},
		{"2026-01-31T00:00:00Z", "2026-01-31T00:00:00Z"},
		{"2026-03-30T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"2026-03-31T00:00:00Z", "2026-03-31T00:00:00Z"},
		{"2030-01-01T00:00:00Z", "2026-05-31T00:00:00Z"}, // exhausted: the last one
	}
	for _, tc := range tests {
		at, _ := time.Parse(time.RFC3339, tc.at)
		got, ok := s.MostRecent(at)
		gotS := ""
		if ok {
			gotS = got.Format(time.RFC3339)
		}
		if gotS != tc.want {
			t.Errorf("MostRecent(%s) = %q, want %q", tc.at, gotS, tc.want)
		}
	}
	u := bind(t, "R/2026-01-01T00:00:00Z/PT1H", "", time.Time{})
	if got, ok := u.MostRecent(time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)); !ok || got.Format(time.RFC3339) != "9999-12-31T23:00:00Z" {
		t.Errorf("MostRecent(year 20000) = %v, %v, want 9999-12-31T23:00:00Z", got, ok)
	}
}

func TestBindErrors(t *testing.T) {
	tests := []struct {
		name, expr, tz string
		created        time.Time
		want           string
	}{
		{"empty start without created", "R//PT1H", "", time.Time{}, "needs the creation moment"},
		{"end before the start as written, no zone", "R/2026-03-01T10:00:00Z/2026-03-01T11:00:00+05:00", "", time.Time{}, "not after the start"},
		{"end before the start as wall clock, in a zone", "R/2026-03-01T10:00:00+02:00/2026-03-01T09:00:00Z", "Europe/Berlin", time.Time{}, "not after the start"},
		{"end in the same gap as the start", "R/2026-03-29T02:10:00/2026-03-29T03:10:00", "Europe/Berlin", time.Time{}, "not after the start"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv := MustParse(tc.expr)
			var loc *time.Location
			if tc.tz != "" {
				loc = mustZone(tc.tz)
			}
			_, err := iv.Bind(loc, tc.created)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Bind = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// TestResolveRule checks the wall-clock rule against its definition for
// random wall-clock times in zones with gaps, overlaps, half-hour changes
// and historical oddities: the result is the earliest instant showing that
// wall clock, or, when none does, the wall clock moved forward by the gap.
func TestResolveRule(t *testing.T) {
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago",
		"Australia/Lord_Howe", "Pacific/Apia", "Europe/London", "Asia/Kolkata", "UTC", "America/Sao_Paulo"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range zones {
		loc := mustZone(name)
		s, err := MustParse("R/2000-01-01T00:00:00/P1D").Bind(loc, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		// Wall clocks near every transition 1990-2040, plus random ones.
		var walls []int64
		for u := time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); u < time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); {
			tt := time.Unix(u, 0).In(loc)
			_, end := tt.ZoneBounds()
			if end.IsZero() {
				break
			}
			_, before := tt.Zone()
			_, after := end.Zone()
			for d := int64(-2 * 3600); d <= 2*3600; d += 1800 {
				walls = append(walls, end.Unix()+int64(before)+d, end.Unix()+int64(after)+d)
			}
			u = end.Unix()
		}
		for range 500 {
			walls = append(walls, rng.Int64N(50*365*86400)+time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
		}
		for _, w := range walls {
			got := s.resolve(w)
			want := resolveByDefinition(loc, w)
			if got != want {
				t.Fatalf("%s: wall %s resolved to %s, want %s", name,
					time.Unix(w, 0).UTC().Format("2006-01-02T15:04:05"), time.Unix(got, 0).In(loc).Format(time.RFC3339), time.Unix(want, 0).In(loc).Format(time.RFC3339))
			}
		}
	}
}

// resolveByDefinition tries every offset seen within two days around w.
func resolveByDefinition(loc *time.Location, w int64) int64 {
	offsets := map[int64]bool{}
	for u := w - 2*86400; u <= w+2*86400; u += 3 * 3600 {
		_, o := time.Unix(u, 0).In(loc).Zone()
		offsets[int64(o)] = true
	}
	best := int64(1 << 62)
	for o := range offsets {
		u := w - o
		if _, uo := time.Unix(u, 0).In(loc).Zone(); int64(uo) == o && u < best {
			best = u
		}
	}
	if best != 1<<62 {
		return best
	}
	// A gap: T is the first instant whose wall clock is later than w
	// (binary search; wall clocks only grow within ±30 h here), and the
	// answer reads w with the offset in effect just before T.
	lo, hi := w-30*3600, w+30*3600
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		if _, o := time.Unix(mid, 0).In(loc).Zone(); mid+int64(o) > w {
			hi = mid
		} else {
			lo = mid
		}
	}
	_, ob := time.Unix(hi-1, 0).In(loc).Zone()
	return w - int64(ob)
}

// TestNextAgreesWithOccurrence checks, for many schedules and moments,
// that Next(t) is the first occurrence strictly after t and MostRecent(t)
// the last at or before it, against a brute-force walk.
func TestNextAgreesWithOccurrence(t *testing.T) {
	exprs := []struct{ expr, tz string }{
		{"R/2001-01-31T02:30:00/P1M", "Europe/Berlin"},
		{"R/1999-12-31T23:59:59.5/P1D", "America/Santiago"},
		{"R/2010-03-14T02:30:00/P1W", "America/New_York"},
		{"R/2004-02-29T00:00:00Z/P1Y", ""},
		{"R/2020-01-01T00:00:00Z/P3DT7H", ""},
		{"R/2015-10-04T02:30:00/P1M2D", "Australia/Sydney"},
		{"R/2000-01-01T00:00:00Z/PT7M13.25S", ""},
		{"R500/2020-05-05T05:05:05+05:00/P2W", ""},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, e := range exprs {
		s := bind(t, e.expr, e.tz, time.Time{})
		occ := all(s, 601)
		for range 200 {
			k := rng.Int64N(600)
			base, ok := s.Occurrence(k)
			if !ok {
				continue
			}
			next, hasNext := s.Occurrence(k + 1)
			// Moments: the occurrence, just before, just after, midway.
			moments := []time.Time{base, base.Add(-time.Nanosecond), base.Add(time.Nanosecond)}
			if hasNext {
				moments = append(moments, base.Add(next.Sub(base)/2))
			}
			for _, m := range moments {
				want, wantOK := bruteNext(occ, m)
				got, gotOK := s.Next(m)
				if gotOK != wantOK || !got.Equal(want) {
					t.Fatalf("%s: Next(%v) = %v %v, want %v %v", e.expr, m, got, gotOK, want, wantOK)
				}
				wantR, wantROK := bruteMostRecent(occ, m)
				gotR, gotROK := s.MostRecent(m)
				if gotROK != wantROK || !gotR.Equal(wantR) {
					t.Fatalf("%s: MostRecent(%v) = %v %v, want %v %v", e.expr, m, gotR, gotROK, wantR, wantROK)
				}
			}
		}
	}
}

// all lists every occurrence up to index n (fewer when exhausted).
func all(s *Schedule, n int64) []time.Time {
	var out []time.Time
	for k := int64(0); k <= n; k++ {
		o, ok := s.Occurrence(k)
		if !ok {
			break
		}
		out = append(out, o)
	}
	return out
}

func bruteNext(occ []time.Time, after time.Time) (time.Time, bool) {
	for _, o := range occ {
		if o.After(after) {
			return o, true
		}
	}
	return time.Time{}, false
}

func bruteMostRecent(occ []time.Time, at time.Time) (time.Time, bool) {
	var last time.Time
	found := false
	for _, o := range occ {
		if o.After(at) {
			break
		}
		last, found = o, true
	}
	return last, found
}

// TestNextFarFuture: a start 26 years back with a one-second period
// (~8.5×10^8 elapsed occurrences) answers exactly and without allocating;
// BenchmarkNext in package schedule shows it takes constant time.
func TestNextFarFuture(t *testing.T) {
	s := bind(t, "R/2000-01-01T00:00:00Z/PT1S", "", time.Time{})
	after := time.Date(2026, 11, 27, 21, 55, 14, 300, time.UTC)
	if n := testing.AllocsPerRun(100, func() { s.Next(after) }); n != 0 {
		t.Errorf("Next allocates %v times per call, want 0", n)
	}
	got, _ := s.Next(after)
	if want := time.Date(2026, 11, 27, 21, 55, 15, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
	k, _ := s.Index(after)
	if want := int64(after.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))/time.Second) + 1; k != want {
		t.Errorf("Index = %d, want %d", k, want)
	}
}
