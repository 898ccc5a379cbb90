package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/horae-scheduler/horae/iso8601"
	"github.com/robfig/cron/v3"
)

// Schedule is a job's schedule: the sequence of moments it fires at.
type Schedule interface {
	// Next returns the first occurrence strictly after the given moment,
	// in the schedule's zone; false when there are no more occurrences.
	Next(after time.Time) (time.Time, bool)
}

// Kind says which language an expression is written in.
type Kind string

// Kinds of schedule expressions.
const (
	KindISO8601 Kind = "iso8601"
	KindCron    Kind = "cron"
)

// ErrInvalid is wrapped by every error of Parse and Preview about the
// expression or the zone (as opposed to an internal failure), so callers
// can map it to a 400.
var ErrInvalid = errors.New("invalid schedule")

// Error is a rejected expression or zone. It wraps ErrInvalid and the
// underlying parser error (an *iso8601.Error for ISO 8601 syntax).
type Error struct {
	Expression string
	Timezone   string
	Field      string // "schedule" or "scheduleTimeZone"
	Err        error
}

func (e *Error) Error() string {
	if e.Field == "scheduleTimeZone" {
		return fmt.Sprintf("schedule time zone %q: %v", e.Timezone, e.Err)
	}
	return fmt.Sprintf("schedule %q: %v", e.Expression, e.Err)
}

// Unwrap returns ErrInvalid and the cause.
func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// LoadZone resolves an IANA zone name. Empty means none (nil). Unknown
// names are errors, never a silent GMT (Chronos did that); "Local" is
// refused because it would make a job's schedule depend on the machine
// the leader happens to run on.
func LoadZone(tz string) (*time.Location, error) {
	switch tz {
	case "":
		return nil, nil
	case "Local":
		return nil, errors.New(`"Local" depends on the machine: use an IANA name such as Europe/Berlin`)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown IANA time zone (e.g. America/Los_Angeles, not PST)")
	}
	return loc, nil
}

// Parse turns a job's schedule field into a Schedule.
//
// Expressions starting with "R" are ISO 8601 repeating intervals; a given
// tz is then the zone whose wall clock the start is read in (overriding a
// written offset), and without tz the start's own offset (UTC when none)
// applies. created is the start of the R//P form.
//
// Anything else is standard cron: five fields (minute hour day-of-month
// month day-of-week) or a descriptor (@yearly, @annually, @monthly,
// @weekly, @daily, @midnight, @hourly), evaluated in tz (UTC when empty).
// "@every", seconds fields and TZ= prefixes are refused: the zone belongs
// in scheduleTimeZone, and @every has no anchor (use R//PT1H).
func Parse(expr, tz string, created time.Time) (Schedule, error) {
	loc, err := LoadZone(tz)
	if err != nil {
		return nil, &Error{Expression: expr, Timezone: tz, Field: "scheduleTimeZone", Err: err}
	}
	bad := func(err error) error {
		return &Error{Expression: expr, Timezone: tz, Field: "schedule", Err: err}
	}
	switch KindOf(expr) {
	case KindISO8601:
		iv, err := iso8601.Parse(expr)
		if err != nil {
			return nil, bad(err)
		}
		s, err := iv.Bind(loc, created)
		if err != nil {
			return nil, bad(err)
		}
		return s, nil
	default:
		if loc == nil {
			loc = time.UTC
		}
		s, err := parseCron(expr, loc)
		if err != nil {
			return nil, bad(err)
		}
		return s, nil
	}
}

// KindOf says which language an expression is in: ISO 8601 when it starts
// with R (or r, to report the upper-case rule), cron otherwise.
func KindOf(expr string) Kind {
	if strings.HasPrefix(expr, "R") || strings.HasPrefix(expr, "r") {
		return KindISO8601
	}
	return KindCron
}

// Cron is a standard cron schedule in a zone.
type Cron struct {
	spec *cron.SpecSchedule
	loc  *time.Location
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func parseCron(expr string, loc *time.Location) (s *Cron, err error) {
	e := strings.TrimSpace(expr)
	switch {
	case e == "":
		return nil, errors.New("empty: want an ISO 8601 interval (R/2026-03-01T00:00:00Z/P1D) or a cron expression (0 5 * * *)")
	case strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ="):
		return nil, errors.New("cron: a TZ= prefix is not allowed: put the zone in scheduleTimeZone")
	case strings.HasPrefix(e, "@every"):
		return nil, errors.New("cron: @every is not supported (it has no anchor): use an ISO 8601 interval such as R//PT1H")
	}
	if n := len(strings.Fields(e)); !strings.HasPrefix(e, "@") && n != 5 {
		return nil, fmt.Errorf("cron: want 5 fields (minute hour day-of-month month day-of-week), got %d", n)
	}
	// The library has panicked on odd input before; a schedule field is
	// user input, so a panic becomes an error here.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cron: cannot parse: %v", r)
		}
	}()
	parsed, err := cronParser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("cron: %w", err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron: unsupported schedule type %T", parsed)
	}
	spec.Location = loc
	return &Cron{spec: spec, loc: loc}, nil
}

// Next returns the first activation strictly after the given moment, in
// the zone; false when there is none within five years (e.g. 0 0 30 2 *).
func (c *Cron) Next(after time.Time) (time.Time, bool) {
	t := c.spec.Next(after)
	if t.IsZero() {
		return time.Time{}, false
	}
	return t.In(c.loc), true
}

// Location returns the zone the schedule is evaluated in.
func (c *Cron) Location() *time.Location { return c.loc }

// MaxPreview caps Preview's count.
const MaxPreview = 1000

// DefaultPreview is Preview's count when none (≤ 0) is asked for.
const DefaultPreview = 5

// Upcoming lists upcoming occurrences of a schedule, as returned by
// Preview (the type cannot share the function's name). Its JSON form is
// the API's and `horae schedule next --json`'s:
// {"expression": ..., "timezone": ..., "next": ["RFC 3339", ...]}.
type Upcoming struct {
	Expression string `json:"expression"`
	// Timezone is the zone the times are in: the given IANA name, or, when
	// none was given, "UTC" or the ISO 8601 start's offset (e.g. "+05:30").
	Timezone string `json:"timezone"`
	// Next holds the occurrences in order; never nil (empty for R0 or an
	// exhausted schedule, shorter when the repetitions run out).
	Next []time.Time `json:"next"`
}

// zoned is implemented by schedules that know their zone.
type zoned interface{ Location() *time.Location }

// Preview parses expr in tz (created = from, for R//P) and lists up to
// count occurrences at or after from; count ≤ 0 means DefaultPreview and
// counts above MaxPreview are capped.
func Preview(expr, tz string, from time.Time, count int) (Upcoming, error) {
	if count <= 0 {
		count = DefaultPreview
	}
	count = min(count, MaxPreview)
	s, err := Parse(expr, tz, from)
	if err != nil {
		return Upcoming{}, err
	}
	p := Upcoming{Expression: expr, Timezone: tz, Next: make([]time.Time, 0, count)}
	if z, ok := s.(zoned); ok && tz == "" {
		p.Timezone = z.Location().String()
	}
	t := from.Add(-time.Nanosecond) // Next is strictly after: this makes it "at or after from"
	for len(p.Next) < count {
		next, ok := s.Next(t)
		if !ok {
			break
		}
		p.Next = append(p.Next, next)
		t = next
	}
	return p, nil
}
