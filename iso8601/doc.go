// Package iso8601 parses, validates, prints and iterates ISO 8601 repeating
// intervals, the schedule language of Chronos jobs:
//
//	R[n]/<start>/<duration>   e.g. R/2026-03-01T05:52:00Z/P1D
//	R[n]/<start>/<end>        the period is the exact length of start→end
//	R[n]//<duration>          empty start: the moment the schedule is created
//
// Parse checks syntax only and returns an [Interval], a value that prints
// back to a canonical form ([Interval.String]) which parses to an equal
// value. [Interval.Bind] fixes the time zone and the creation moment and
// returns a [Schedule] whose occurrences can be asked for by index
// ([Schedule.Occurrence]) or by moment ([Schedule.Next],
// [Schedule.MostRecent]).
//
// What it must not do: import any Horae package or anything outside the
// standard library; read the clock (callers pass every moment in); keep
// package-level mutable state.
//
// Invariant: occurrence k is a pure function of (start, period, zone, k),
// computed from the original start and never by chaining occurrences, so
// month ends do not drift (Chronos #819, #851) and finding the next
// occurrence after any moment never walks over the elapsed ones. The
// occurrence sequence is non-decreasing in k.
//
// The rules, with examples and the differences from Chronos, are in
// docs/schedules.md.
package iso8601
