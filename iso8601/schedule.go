package iso8601

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Schedule is an Interval bound to a time zone and a creation moment: the
// sequence of its occurrences. It is immutable and safe for concurrent use.
type Schedule struct {
	iv     Interval
	loc    *time.Location
	repeat int64 // Unbounded or n

	// Occurrence 0, as an instant.
	startSec, startNsec int64
	// Wall clock of the start in loc: civil date and seconds of the day.
	sy, sm, sd int
	sod        int64

	months int64 // years*12 + months per step
	days   int64 // weeks*7 + days per step
	fixed  int64 // hours, minutes, seconds (or the end form's length) per step, ns

	calendar bool
	avgSec   float64 // average step in seconds, for estimates
	fixedOff bool    // loc has one offset for ever (UTC, fixed zones)
	offset   int64   // that offset
}

// maxUnix is the last second of year MaxYear, UTC.
var maxUnix = daysFromCivil(MaxYear+1, 1, 1)*86400 - 1

// Bind fixes the zone and the creation moment and returns the schedule.
//
// loc non-nil: the start's (and end's) wall-clock time is read in loc,
// whatever offset was written (as Chronos's scheduleTimeZone), and
// calendar periods follow loc's wall clock. loc nil: the written offset
// is the zone (UTC when none was written), a fixed offset without DST.
//
// created is the start of the R//P form (in loc, or UTC when loc is nil);
// it is ignored when the interval has a start.
//
// Errors: an empty start with a zero created, a start or an occurrence
// outside years 1-9999, and an end that is not after the start once read
// in loc (both in one spring-forward gap).
func (i *Interval) Bind(loc *time.Location, created time.Time) (*Schedule, error) {
	s := &Schedule{iv: *i, repeat: i.Repeat}
	zone := loc
	if zone == nil {
		zone = time.UTC
		if i.HasStart && i.Start.HasOffset && i.Start.Offset != 0 {
			zone = time.FixedZone(offsetName(i.Start.Offset), i.Start.Offset)
		}
	}
	s.loc = zone
	s.detectFixed()

	if i.HasStart {
		w := i.Start.wallSeconds()
		if loc == nil {
			s.startSec = w - int64(i.Start.Offset)
		} else {
			s.startSec = s.resolve(w)
		}
		s.startNsec = int64(i.Start.Nanosecond)
	} else {
		if created.IsZero() {
			return nil, errors.New("start: empty start (R//P) needs the creation moment")
		}
		s.startSec, s.startNsec = created.Unix(), int64(created.Nanosecond())
	}
	if s.startSec < daysFromCivil(MinYear, 1, 1)*86400-14*3600 || s.startSec > maxUnix {
		return nil, fmt.Errorf("start: %s outside years %04d-%04d", time.Unix(s.startSec, 0).UTC().Format(time.RFC3339), MinYear, MaxYear)
	}
	wall := time.Unix(s.startSec, 0).In(zone)
	y, m, d := wall.Date()
	s.sy, s.sm, s.sd = y, int(m), d
	s.sod = int64(wall.Hour()*3600 + wall.Minute()*60 + wall.Second())

	if i.HasEnd {
		var endSec int64
		w := i.End.wallSeconds()
		if loc == nil {
			endSec = w - int64(i.End.Offset)
		} else {
			endSec = s.resolve(w)
		}
		hi, lo := bits.Mul64(uint64(endSec-s.startSec), 1e9) // endSec-startSec < 10000 years in s
		if endSec < s.startSec || hi != 0 || lo > math.MaxInt64-1e9 {
			return nil, fmt.Errorf("end: %s is not after the start %s in %s", i.End, i.Start, zone)
		}
		s.fixed = int64(lo) + int64(i.End.Nanosecond) - s.startNsec
		if s.fixed <= 0 {
			return nil, fmt.Errorf("end: %s is not after the start %s in %s", i.End, i.Start, zone)
		}
	} else {
		p := i.Period
		s.months = p.Years*12 + p.Months
		s.days = p.Weeks*7 + p.Days
		s.fixed = p.fixedNanos()
	}
	s.calendar = s.months != 0 || s.days != 0
	s.avgSec = float64(s.months)*(365.2425/12*86400) + float64(s.days)*86400 + float64(s.fixed)/1e9
	return s, nil
}

func offsetName(off int) string {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b := []byte{sign}
	b = appendInt(b, off/3600, 2)
	b = append(b, ':')
	return string(appendInt(b, off%3600/60, 2))
}

// Interval returns the interval the schedule was bound from.
func (s *Schedule) Interval() Interval { return s.iv }

// Location returns the zone occurrences are computed and returned in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Start returns occurrence 0 (also for R0, which never occurs).
func (s *Schedule) Start() time.Time { return time.Unix(s.startSec, s.startNsec).In(s.loc) }

// Repeats returns the number of occurrences and whether it is bounded.
func (s *Schedule) Repeats() (n int64, bounded bool) { return s.repeat, s.repeat != Unbounded }

// Occurrence returns occurrence k (0 is the start), in the schedule's
// zone. It is false when k is negative, not below the repeat count, or the
// occurrence would fall after year 9999.
func (s *Schedule) Occurrence(k int64) (time.Time, bool) {
	if k < 0 || (s.repeat != Unbounded && k >= s.repeat) {
		return time.Time{}, false
	}
	sec, nsec, ok := s.occ(k)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec).In(s.loc), true
}

// Next returns the first occurrence strictly after the given moment, in
// the schedule's zone; false when there is none (exhausted, R0, or after
// year 9999). It does not walk over elapsed occurrences: fixed periods
// are one division, calendar periods step from an estimate.
func (s *Schedule) Next(after time.Time) (time.Time, bool) {
	k, sec, nsec, ok := s.firstAfter(after)
	if !ok || (s.repeat != Unbounded && k >= s.repeat) {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec).In(s.loc), true
}

// MostRecent returns the last occurrence at or before the given moment;
// false when the first occurrence is later (or the schedule is R0).
func (s *Schedule) MostRecent(at time.Time) (time.Time, bool) {
	k := s.atOrBefore(at)
	if s.repeat != Unbounded && k >= s.repeat {
		k = s.repeat - 1
	}
	return s.Occurrence(k)
}

// Index returns the index of the first occurrence strictly after the given
// moment, ignoring the repeat count (which the caller may compare with
// Repeats): the number of occurrences at or before it, had the schedule
// no end. False when that occurrence would fall after year 9999.
func (s *Schedule) Index(after time.Time) (int64, bool) {
	k, _, _, ok := s.firstAfter(after)
	return k, ok
}

// firstAfter returns the smallest k ≥ 0 with occ(k) > t, ignoring the
// repeat count, and that occurrence; false when there is none up to year
// 9999.
func (s *Schedule) firstAfter(t time.Time) (k, sec, nsec int64, ok bool) {
	if t.Unix() > maxUnix {
		return 0, 0, 0, false
	}
	k = s.atOrBefore(t) + 1
	sec, nsec, ok = s.occ(k)
	return k, sec, nsec, ok
}

// atOrBefore returns the largest k with occ(k) ≤ t, ignoring the repeat
// count; -1 when t is before the start. Moments after year 9999 count as
// its last instant.
func (s *Schedule) atOrBefore(t time.Time) int64 {
	tsec, tnsec := t.Unix(), int64(t.Nanosecond())
	if tsec < s.startSec || (tsec == s.startSec && tnsec < s.startNsec) {
		return -1
	}
	if tsec > maxUnix {
		tsec, tnsec = maxUnix, 999999999
	}
	// d = t - start ≥ 0, as seconds and nanoseconds.
	dsec, dnsec := tsec-s.startSec, tnsec-s.startNsec
	if dnsec < 0 {
		dsec, dnsec = dsec-1, dnsec+1e9
	}
	if !s.calendar {
		// k = ⌊d / fixed⌋ in 128 bits: d can exceed 292 years of ns. It
		// fits an int64 because fixed ≥ 1µs and d < 10^4 years.
		hi, lo := bits.Mul64(uint64(dsec), 1e9)
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(dnsec), 0)
		hi += carry
		f := uint64(s.fixed)
		q, _ := bits.Div64(hi%f, lo, f) // hi < f: d < 2^69 ns, f ≥ 1000
		return int64(q)
	}
	// Calendar: estimate from the average step, then correct; the estimate
	// is off by the month-length and DST variance, a few steps at most.
	k := max(int64((float64(dsec)+float64(dnsec)/1e9)/s.avgSec), 0)
	for k > 0 && s.later(k, tsec, tnsec) {
		k--
	}
	for !s.later(k+1, tsec, tnsec) {
		k++
	}
	return k
}

// later reports whether occurrence k is after (tsec, tnsec) or beyond the
// year range.
func (s *Schedule) later(k int64, tsec, tnsec int64) bool {
	sec, nsec, ok := s.occ(k)
	if !ok {
		return true
	}
	return sec > tsec || (sec == tsec && nsec > tnsec)
}

// occ computes occurrence k ≥ 0 as Unix seconds and nanoseconds; false
// beyond year 9999.
func (s *Schedule) occ(k int64) (sec, nsec int64, ok bool) {
	if k == 0 {
		return s.startSec, s.startNsec, true
	}
	sec = s.startSec
	if s.calendar {
		const maxSteps = (MaxYear - MinYear + 1) * 366
		if k > maxSteps {
			return 0, 0, false
		}
		// 1. k×months on the wall-clock date, clamping the day.
		y, m, d := int64(s.sy), s.sm, s.sd
		if s.months != 0 {
			mi := y*12 + int64(m-1) + k*s.months
			y, m = mi/12, int(mi%12)+1
			if y > MaxYear {
				return 0, 0, false
			}
			d = min(d, daysIn(int(y), m))
		}
		// 2. k×days as calendar days.
		day := daysFromCivil(y, m, d) + k*s.days
		// 3. That wall clock, read in the zone.
		w := day*86400 + s.sod
		if w > maxUnix+14*3600 {
			return 0, 0, false
		}
		sec = s.resolve(w)
	}
	nsec = s.startNsec
	if s.fixed != 0 {
		// 4. k×fixed as elapsed time, in 128 bits.
		hi, lo := bits.Mul64(uint64(k), uint64(s.fixed))
		if hi >= 1e9 {
			return 0, 0, false
		}
		q, r := bits.Div64(hi, lo, 1e9)
		if q > uint64(maxUnix) {
			return 0, 0, false
		}
		sec += int64(q)
		nsec += int64(r)
		if nsec >= 1e9 {
			sec, nsec = sec+1, nsec-1e9
		}
	}
	if sec > maxUnix {
		return 0, 0, false
	}
	return sec, nsec, true
}

func (s *Schedule) detectFixed() {
	t := time.Unix(0, 0).In(s.loc)
	start, end := t.ZoneBounds()
	if start.IsZero() && end.IsZero() {
		_, off := t.Zone()
		s.fixedOff, s.offset = true, int64(off)
	}
}

// zoneAt returns the offset in effect at Unix second u and the bounds
// [start, end) of that zone period (MinInt64/MaxInt64 when unbounded).
func (s *Schedule) zoneAt(u int64) (off, start, end int64) {
	t := time.Unix(u, 0).In(s.loc)
	_, o := t.Zone()
	zs, ze := t.ZoneBounds()
	start, end = math.MinInt64, math.MaxInt64
	if !zs.IsZero() {
		start = zs.Unix()
	}
	if !ze.IsZero() {
		end = ze.Unix()
	}
	return int64(o), start, end
}

func (s *Schedule) offsetAt(u int64) int64 {
	_, o := time.Unix(u, 0).In(s.loc).Zone()
	return int64(o)
}

// resolve turns a wall-clock time w (seconds since 1970-01-01T00:00 of
// the local calendar) into a Unix second in the schedule's zone:
//   - exists once: that instant;
//   - ambiguous (fall-back overlap): the earlier instant;
//   - does not exist (spring-forward gap): moved forward by the length of
//     the gap, i.e. read with the offset in effect before the gap.
//
// time.Date leaves the last two unspecified, hence this.
func (s *Schedule) resolve(w int64) int64 {
	if s.fixedOff {
		return w - s.offset
	}
	guess, gs, ge := s.zoneAt(w)
	a := w - guess
	// Fast path: a lies in the zone period that gave its offset, far from
	// both ends, so a shows wall clock w and no other offset (they differ
	// by less than two days) could also reach w.
	const margin = 2 * 86400
	if (gs == math.MinInt64 || a-gs >= margin) && (ge == math.MaxInt64 || ge-a > margin) {
		return a
	}
	oa, sa, ea := s.zoneAt(a)
	best, found := int64(math.MaxInt64), false
	try := func(o int64) {
		u := w - o
		if s.offsetAt(u) == o && u < best {
			best, found = u, true
		}
	}
	try(oa)
	var ob, oe int64
	if sa != math.MinInt64 {
		ob = s.offsetAt(sa - 1)
		try(ob)
	}
	if ea != math.MaxInt64 {
		oe = s.offsetAt(ea)
		try(oe)
	}
	if found {
		return best
	}
	// A gap: find the transition whose skipped wall-clock range holds w.
	if sa != math.MinInt64 && sa+ob <= w && w < sa+oa {
		return w - ob
	}
	if ea != math.MaxInt64 && ea+oa <= w && w < ea+oe {
		return w - oa
	}
	// Not reached for real zones (transitions further apart than their
	// offset changes); keep a defined answer.
	return a
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (H. Hinnant's algorithm).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
