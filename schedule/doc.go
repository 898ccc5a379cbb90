// Package schedule is the one entry point for a job's schedule field: the
// engine, the API and the CLI turn (schedule, scheduleTimeZone) into a
// [Schedule] with [Parse], and list upcoming occurrences with [Preview].
//
// An expression starting with "R" is an ISO 8601 repeating interval
// (package iso8601); anything else is standard cron: five fields or a
// descriptor such as @hourly, parsed by github.com/robfig/cron/v3. Both are
// evaluated in the same IANA zone.
//
// What it must not do: import Horae packages other than iso8601; read the
// clock (callers pass the creation moment and "from"); accept an unknown
// zone silently (Chronos turned them into GMT).
//
// Invariant: Schedule.Next(t) is strictly after t, and a schedule's
// occurrences depend only on (expression, zone, creation moment).
package schedule
