package iso8601

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, in, canonical string
		want                Interval
	}{
		{"unbounded utc", "R/2026-03-01T05:52:00Z/P1D", "R/2026-03-01T05:52:00Z/P1D", Interval{
			Repeat: Unbounded, HasStart: true,
			Start:  DateTime{Year: 2026, Month: 3, Day: 1, Hour: 5, Minute: 52, HasOffset: true},
			Period: Period{Days: 1},
		}},
		{"date only", "R5/2026-03-01/PT1H", "R5/2026-03-01T00:00:00/PT1H", Interval{
			Repeat: 5, HasStart: true, Start: DateTime{Year: 2026, Month: 3, Day: 1}, Period: Period{Hours: 1},
		}},
		{"no seconds", "R/2026-03-01T05:52Z/PT15M", "R/2026-03-01T05:52:00Z/PT15M", Interval{
			Repeat: Unbounded, HasStart: true,
			Start:  DateTime{Year: 2026, Month: 3, Day: 1, Hour: 5, Minute: 52, HasOffset: true},
			Period: Period{Minutes: 15},
		}},
		{"fraction and offset", "R2/2026-03-01T05:52:00.250+05:30/PT1.5S", "R2/2026-03-01T05:52:00.25+05:30/PT1.5S", Interval{
			Repeat: 2, HasStart: true,
			Start:  DateTime{Year: 2026, Month: 3, Day: 1, Hour: 5, Minute: 52, Nanosecond: 250000000, HasOffset: true, Offset: 5*3600 + 30*60},
			Period: Period{Seconds: 1, Nanoseconds: 500000000},
		}},
		{"comma fraction, negative offset, hours-only offset", "R/2026-03-01T05:52:00,000000001-03/PT0,5S", "R/2026-03-01T05:52:00.000000001-03:00/PT0.5S", Interval{
			Repeat: Unbounded, HasStart: true,
			Start:  DateTime{Year: 2026, Month: 3, Day: 1, Hour: 5, Minute: 52, Nanosecond: 1, HasOffset: true, Offset: -3 * 3600},
			Period: Period{Nanoseconds: 500000000},
		}},
		{"+00:00 is Z", "R/2026-03-01T00:00:00+00:00/P1W", "R/2026-03-01T00:00:00Z/P1W", Interval{
			Repeat: Unbounded, HasStart: true,
			Start:  DateTime{Year: 2026, Month: 3, Day: 1, HasOffset: true},
			Period: Period{Weeks: 1},
		}},
		{"R0", "R0/2026-03-01T00:00:00Z/P1D", "R0/2026-03-01T00:00:00Z/P1D", Interval{
			Repeat: 0, HasStart: true, Start: DateTime{Year: 2026, Month: 3, Day: 1, HasOffset: true}, Period: Period{Days: 1},
		}},
		{"leading zeros in repeat", "R007//PT1M", "R7//PT1M", Interval{Repeat: 7, Period: Period{Minutes: 1}}},
		{"empty start", "R//PT15M", "R//PT15M", Interval{Repeat: Unbounded, Period: Period{Minutes: 15}}},
		{"all components", "R/2024-02-29T23:59:59Z/P1Y2M3W4DT5H6M7.008S", "R/2024-02-29T23:59:59Z/P1Y2M3W4DT5H6M7.008S", Interval{
			Repeat: Unbounded, HasStart: true,
			Start:  DateTime{Year: 2024, Month: 2, Day: 29, Hour: 23, Minute: 59, Second: 59, HasOffset: true},
			Period: Period{Years: 1, Months: 2, Weeks: 3, Days: 4, Hours: 5, Minutes: 6, Seconds: 7, Nanoseconds: 8000000},
		}},
		{"zero components dropped", "R/2026-01-01T00:00:00Z/P0Y1MT0S", "R/2026-01-01T00:00:00Z/P1M", Interval{
			Repeat: Unbounded, HasStart: true, Start: DateTime{Year: 2026, Month: 1, Day: 1, HasOffset: true}, Period: Period{Months: 1},
		}},
		{"not normalised", "R/2026-01-01T00:00:00Z/PT90M", "R/2026-01-01T00:00:00Z/PT90M", Interval{
			Repeat: Unbounded, HasStart: true, Start: DateTime{Year: 2026, Month: 1, Day: 1, HasOffset: true}, Period: Period{Minutes: 90},
		}},
		{"end form", "R3/2026-03-01T00:00:00Z/2026-03-01T01:30:00Z", "R3/2026-03-01T00:00:00Z/2026-03-01T01:30:00Z", Interval{
			Repeat: 3, HasStart: true, Start: DateTime{Year: 2026, Month: 3, Day: 1, HasOffset: true},
			HasEnd: true, End: DateTime{Year: 2026, Month: 3, Day: 1, Hour: 1, Minute: 30, HasOffset: true},
		}},
		{"end form with offsets", "R/2026-03-01T10:00:00+02:00/2026-03-01T09:00:00Z", "R/2026-03-01T10:00:00+02:00/2026-03-01T09:00:00Z", Interval{
			Repeat: Unbounded, HasStart: true, Start: DateTime{Year: 2026, Month: 3, Day: 1, Hour: 10, HasOffset: true, Offset: 7200},
			HasEnd: true, End: DateTime{Year: 2026, Month: 3, Day: 1, Hour: 9, HasOffset: true},
		}},
		{"leap day 2000", "R/2000-02-29T00:00:00Z/P1D", "R/2000-02-29T00:00:00Z/P1D", Interval{
			Repeat: Unbounded, HasStart: true, Start: DateTime{Year: 2000, Month: 2, Day: 29, HasOffset: true}, Period: Period{Days: 1},
		}},
		{"year bounds", "R/0001-01-01T00:00:00Z/P9999Y", "R/0001-01-01T00:00:00Z/P9999Y", Interval{
			Repeat: Unbounded, HasStart: true, Start: DateTime{Year: 1, Month: 1, Day: 1, HasOffset: true}, Period: Period{Years: 9999},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if *iv != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.in, *iv, tc.want)
			}
			if got := iv.String(); got != tc.canonical {
				t.Errorf("String() = %q, want %q", got, tc.canonical)
			}
			again, err := Parse(iv.String())
			if err != nil || *again != *iv {
				t.Errorf("round trip of %q: %+v, %v", iv.String(), again, err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, in string
		part     string
		column   int
		problem  string // substring of the message
	}{
		{"empty", "", "", 1, "empty schedule"},
		{"not iso", "FOO", "", 4, "want 3 parts"},
		{"two parts", "R/2008-03-01T13:00:00Z", "", 23, "got 2"},
		{"four parts", "R/2026-03-01T00:00:00Z/P1D/x", "", 27, "got 4"},
		{"lower r", "r/2026-03-01T00:00:00Z/P1D", "repeat", 1, "upper case"},
		{"no R", "X/2026-03-01T00:00:00Z/P1D", "repeat", 1, "want 'R'"},
		{"negative repeat", "R-1/2026-03-01T00:00:00Z/P1D", "repeat", 2, "negative"},
		{"repeat garbage", "R5x/2026-03-01T00:00:00Z/P1D", "repeat", 3, "unexpected"},
		{"repeat too large", "R99999999999999999999/2026-03-01T00:00:00Z/P1D", "repeat", 2, "too large"},
		{"impossible date", "R/2026-02-30T00:00:00Z/P1D", "start", 11, "day 30 out of range for February 2026"},
		{"not a leap year", "R/2100-02-29T00:00:00Z/P1D", "start", 11, "day 29 out of range for February 2100"},
		{"month 13", "R/2026-13-01T00:00:00Z/P1D", "start", 8, "month 13"},
		{"month 00", "R/2026-00-01T00:00:00Z/P1D", "start", 8, "month 00"},
		{"day 00", "R/2026-01-00T00:00:00Z/P1D", "start", 11, "day 0 out of range"},
		{"year 0", "R/0000-01-01T00:00:00Z/P1D", "start", 3, "year 0000 out of range"},
		{"five-digit year", "R/20260-01-01T00:00:00Z/P1D", "start", 7, "want 4 digits, got more"},
		{"basic format", "R/20260301T000000Z/P1D", "start", 7, "want 4 digits, got more"},
		{"basic format time", "R/2026-03-01T0552Z/P1D", "start", 16, "want ':'"},
		{"hour 24", "R/2026-03-01T24:00:00Z/P1D", "start", 14, "hour 24 out of range"},
		{"minute 60", "R/2026-03-01T10:60:00Z/P1D", "start", 17, "minute 60"},
		{"second 60", "R/2026-03-01T10:00:60Z/P1D", "start", 20, "leap seconds"},
		{"hour only", "R/2026-03-01T10Z/P1D", "start", 16, "want ':'"},
		{"T alone", "R/2026-03-01T/P1D", "start", 14, "without a time"},
		{"lower t", "R/2026-03-01t10:00Z/P1D", "start", 13, "upper case"},
		{"lower z", "R/2026-03-01T10:00z/P1D", "start", 19, "upper case"},
		{"space for T", "R/2026-03-01 10:00Z/P1D", "start", 13, "want 'T'"},
		{"offset on a date", "R/2026-03-01Z/P1D", "start", 13, "an offset needs a time"},
		{"trailing garbage", "R/2026-03-01T10:00:00Zjunk/P1D", "start", 23, "unexpected \"j\""},
		{"garbage after time", "R/2026-03-01T10:00:00x/P1D", "start", 22, "unexpected \"x\""},
		{"fraction on minutes", "R/2026-03-01T10:00.5Z/P1D", "start", 19, "seconds only"},
		{"ten fraction digits", "R/2026-03-01T10:00:00.1234567890Z/P1D", "start", 23, "more than 9"},
		{"empty fraction", "R/2026-03-01T10:00:00.Z/P1D", "start", 23, "want digits"},
		{"offset 24", "R/2026-03-01T10:00:00+24:00/P1D", "start", 22, "offset +24:00 out of range"},
		{"basic offset", "R/2026-03-01T10:00:00+0530/P1D", "start", 25, "extended format"},
		{"missing period", "R/2026-03-01T00:00:00Z/", "period", 24, "missing"},
		{"empty period", "R/2026-03-01T00:00:00Z/P", "period", 25, "empty"},
		{"empty period R//P (Chronos #614)", "R//P", "period", 5, "empty"},
		{"zero period", "R/2026-03-01T00:00:00Z/PT0S", "period", 24, "zero period"},
		{"zero days", "R//P0D", "period", 4, "zero period"},
		{"negative period", "R/2026-03-01T00:00:00Z/P-1D", "period", 25, "negative"},
		{"lower p", "R/2026-03-01T00:00:00Z/p1d", "period", 24, "upper case"},
		{"lower designator", "R/2026-03-01T00:00:00Z/P1d", "period", 26, "upper case"},
		{"time designator in the date part", "R/2026-03-01T00:00:00Z/P1H", "period", 26, "time designator H in the date part"},
		{"seconds in the date part", "R//P30S", "period", 7, "time designator S"},
		{"date designator in the time part", "R//PT1D", "period", 7, "date designator D in the time part"},
		{"T without time", "R//P1DT", "period", 8, "'T' without"},
		{"out of order", "R//P1D1Y", "period", 8, "out of order"},
		{"repeated", "R//PT1M1M", "period", 9, "out of order or repeated"},
		{"fraction on hours", "R//PT1.5H", "period", 6, "seconds only"},
		{"fraction on days", "R//P1.5D", "period", 5, "seconds only"},
		{"number without designator", "R//PT5", "period", 7, "without a designator"},
		{"designator without number", "R//P1YM", "period", 7, "want a number"},
		{"unknown designator", "R//P1X", "period", 6, "unknown designator"},
		{"trailing garbage in period", "R//P1D ", "period", 7, "want a number"},
		{"years too large", "R//P10000Y", "period", 4, "years 10000"},
		{"shorter than a microsecond", "R//PT0.000000999S", "period", 4, "shorter than 1 microsecond"},
		{"seconds too large", "R//PT9999999999S", "period", 4, "292 years"},
		{"end before start", "R/2026-03-01T10:00:00Z/2026-03-01T09:00:00Z", "end", 24, "not after the start"},
		{"end equal to start", "R/2026-03-01T10:00:00/2026-03-01T10:00:00", "end", 23, "not after the start"},
		{"end before start both ways", "R/2026-03-01T10:00:00+01:00/2026-03-01T09:00:00Z", "end", 29, "not after the start"},
		{"end without start", "R//2026-03-01T09:00:00Z", "end", 4, "needs a start"},
		{"bad end", "R/2026-03-01T10:00:00Z/2026-02-30T00:00:00Z", "end", 32, "day 30"},
		{"expanded year", "R/+2026-03-01T10:00:00Z/P1D", "start", 3, "signed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.in, iv)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", tc.in, err, err)
			}
			if e.Part != tc.part || e.Column != tc.column || !strings.Contains(e.Problem, tc.problem) {
				t.Errorf("Parse(%q) = %q (part %q, column %d), want part %q, column %d, problem containing %q",
					tc.in, err, e.Part, e.Column, tc.part, tc.column, tc.problem)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("R/2026-02-30T00:00:00Z/P1D")
	const want = "start: day 30 out of range for February 2026 (column 11)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// FuzzParse checks that Parse never panics, that whatever it accepts
// prints to a canonical form that parses back to an equal Interval and
// prints identically, and that binding and iterating never panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"R/2026-03-01T05:52:00Z/P1D", "R5/2026-03-01/PT1H", "R2/2026-03-01T05:52:00.250+05:30/PT1.5S",
		"R//PT15M", "R0/2026-03-01T00:00:00Z/P1D", "R3/2026-03-01T00:00:00Z/2026-03-01T01:30:00Z",
		"R/2024-02-29T23:59:59Z/P1Y2M3W4DT5H6M7.008S", "R/2026-02-30T00:00:00Z/P1D", "R//P", "FOO",
		"R/0001-01-01T00:00:00Z/PT0.000001S", "R/9999-12-31T23:59:59.999999999-23:59/P9999Y",
		"R/2026-03-01T05:52:00,5-03/PT0,5S", "R1/2026-10-25T02:30:00/P1M",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Column < 1 || e.Column > len(s)+1 {
				t.Fatalf("Parse(%q): bad error %v", s, err)
			}
			return
		}
		c := iv.String()
		again, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its canonical form %q fails: %v", s, c, err)
		}
		if *again != *iv {
			t.Fatalf("round trip %q → %q: %+v != %+v", s, c, *again, *iv)
		}
		if again.String() != c {
			t.Fatalf("canonical form not stable: %q → %q", c, again.String())
		}
		for _, loc := range []*time.Location{nil, mustZone("Europe/Berlin")} {
			sch, err := iv.Bind(loc, fuzzCreated)
			if err != nil {
				continue
			}
			prev, ok := sch.Next(fuzzCreated)
			for i := 0; ok && i < 3; i++ {
				next, ok2 := sch.Next(prev)
				if ok2 && !next.After(prev) {
					t.Fatalf("%q: Next(%v) = %v, not after", s, prev, next)
				}
				prev, ok = next, ok2
			}
		}
	})
}
