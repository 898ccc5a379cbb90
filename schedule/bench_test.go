package schedule

import (
	"testing"
	"time"
)

// BenchmarkNext measures Next for fixed and calendar ISO 8601 periods and,
// in the same run, the equivalent cron schedule through robfig/cron. Each
// asks about a moment 26 years after the start, so an implementation
// walking over elapsed occurrences would show. docs/benchmarks.md reports
// the figures.
func BenchmarkNext(b *testing.B) {
	after := time.Date(2026, 11, 27, 21, 55, 14, 300, time.UTC)
	cases := []struct{ name, expr, tz string }{
		{"fixed/iso/PT1M", "R/2000-01-01T00:00:00Z/PT1M", ""},
		{"fixed/cron/every-minute", "* * * * *", ""},
		{"fixed/iso/PT1S", "R/2000-01-01T00:00:00Z/PT1S", ""},
		{"fixed/iso/PT1H-Berlin", "R/2000-01-01T00:00:00/PT1H", "Europe/Berlin"},
		{"fixed/cron/hourly-Berlin", "0 * * * *", "Europe/Berlin"},
		{"calendar/iso/P1M", "R/2000-01-01T00:00:00Z/P1M", ""},
		{"calendar/cron/monthly", "0 0 1 * *", ""},
		{"calendar/iso/P1D-Berlin", "R/2000-01-01T02:30:00/P1D", "Europe/Berlin"},
		{"calendar/cron/daily-Berlin", "30 2 * * *", "Europe/Berlin"},
		{"calendar/iso/P1Y-NewYork", "R/2000-02-29T09:00:00/P1Y", "America/New_York"},
		{"calendar/cron/yearly-NewYork", "0 9 28 2 *", "America/New_York"},
	}
	for _, c := range cases {
		s, err := Parse(c.expr, c.tz, after)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink time.Time
			for b.Loop() {
				sink, _ = s.Next(after)
			}
			if sink.IsZero() {
				b.Fatal("no occurrence")
			}
		})
	}
}
