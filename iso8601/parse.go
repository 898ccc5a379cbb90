package iso8601

import (
	"fmt"
	"strconv"
	"strings"
)

// Unbounded is the repeat count of an R interval without a number: it
// repeats for ever.
const Unbounded int64 = -1

// Year range of every date and occurrence: ISO 8601's four-digit years.
const (
	MinYear = 1
	MaxYear = 9999
)

// maxFixedSeconds bounds the hours, minutes and seconds of a period so that
// their sum in nanoseconds fits an int64 (about 292 years).
const maxFixedSeconds int64 = (1<<63-1)/1000000000 - 1

// minFixed is the shortest period: with it, the index of any occurrence
// within years 1-9999 fits an int64.
const minFixed = 1000

// Interval is a parsed ISO 8601 repeating interval. It is a comparable
// value: print→parse round-trips to an equal Interval.
//
// Exactly one of Period (non-zero) and HasEnd is set.
type Interval struct {
	// Repeat is the number of occurrences, or Unbounded. R0 never occurs.
	Repeat int64
	// HasStart is false for the R//P form: the start is the moment the
	// schedule is created.
	HasStart bool
	Start    DateTime
	// HasEnd is true for the R/start/end form, whose period is the exact
	// elapsed time from Start to End.
	HasEnd bool
	End    DateTime
	Period Period
}

// DateTime is a calendar date and wall-clock time as written, with the
// UTC offset if one was written. A date without a time is midnight.
type DateTime struct {
	Year, Month, Day     int
	Hour, Minute, Second int
	Nanosecond           int
	// HasOffset is true when an offset (Z or ±hh:mm) was written; Offset is
	// then its value in seconds east of UTC.
	HasOffset bool
	Offset    int
}

// Period is an ISO 8601 duration PnYnMnWnDTnHnMnS as written (not
// normalised: PT90M stays PT90M). Nanoseconds is the fraction of Seconds.
type Period struct {
	Years, Months, Weeks, Days int64
	Hours, Minutes, Seconds    int64
	Nanoseconds                int64
}

// IsZero reports whether the period has no component.
func (p Period) IsZero() bool { return p == Period{} }

// Calendar reports whether the period has years, months, weeks or days,
// which are added to the wall clock rather than as elapsed time.
func (p Period) Calendar() bool {
	return p.Years != 0 || p.Months != 0 || p.Weeks != 0 || p.Days != 0
}

// fixedNanos is the elapsed-time part (hours, minutes, seconds) in ns.
func (p Period) fixedNanos() int64 {
	return (p.Hours*3600+p.Minutes*60+p.Seconds)*1e9 + p.Nanoseconds
}

// Error is a syntax or range error in an expression: Part is "repeat",
// "start", "end" or "period" (or "" for the expression as a whole) and
// Column the 1-based byte position in the expression where it was found.
type Error struct {
	Part    string
	Column  int
	Problem string
}

func (e *Error) Error() string {
	if e.Part == "" {
		return fmt.Sprintf("%s (column %d)", e.Problem, e.Column)
	}
	return fmt.Sprintf("%s: %s (column %d)", e.Part, e.Problem, e.Column)
}

// Parse parses an ISO 8601 repeating interval. It checks syntax and ranges
// only; zones and the creation moment come in with Bind.
func Parse(s string) (*Interval, error) {
	if s == "" {
		return nil, &Error{Column: 1, Problem: "empty schedule: want R[n]/<start>/<period>"}
	}
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		col := len(s) + 1
		problem := "want 3 parts R[n]/<start>/<period> separated by '/', got " + strconv.Itoa(len(parts))
		if len(parts) > 3 {
			col = len(parts[0]) + len(parts[1]) + len(parts[2]) + 3
		}
		return nil, &Error{Column: col, Problem: problem}
	}
	iv := &Interval{}
	p := scanner{s: s}

	// Repeat.
	p.part, p.base, p.pos = "repeat", 0, 0
	p.end = len(parts[0])
	if err := p.repeat(iv); err != nil {
		return nil, err
	}

	// Start.
	startBase := len(parts[0]) + 1
	if parts[1] != "" {
		p.part, p.base, p.pos, p.end = "start", startBase, startBase, startBase+len(parts[1])
		dt, err := p.dateTime()
		if err != nil {
			return nil, err
		}
		iv.HasStart, iv.Start = true, dt
	}

	// Period or end.
	thirdBase := startBase + len(parts[1]) + 1
	third := parts[2]
	p.base, p.pos, p.end = thirdBase, thirdBase, thirdBase+len(third)
	switch {
	case third == "":
		return nil, &Error{Part: "period", Column: thirdBase + 1, Problem: "missing: want a duration such as P1D or an end date-time"}
	case third[0] == 'P':
		p.part = "period"
		per, err := p.period()
		if err != nil {
			return nil, err
		}
		iv.Period = per
	case third[0] == 'p':
		return nil, &Error{Part: "period", Column: thirdBase + 1, Problem: "designators are upper case: want 'P'"}
	default:
		p.part = "end"
		if !iv.HasStart {
			return nil, &Error{Part: "end", Column: thirdBase + 1, Problem: "an end needs a start: write R[n]/<start>/<end>, or R[n]//<duration> to start at creation"}
		}
		dt, err := p.dateTime()
		if err != nil {
			return nil, err
		}
		iv.HasEnd, iv.End = true, dt
		// Bind compares again once the zone is known: with a zone the wall
		// clocks count, without one the written offsets. Rejected here is an
		// end that is not after the start either way.
		if cmpInstant(iv.End, iv.Start) <= 0 && cmpWall(iv.End, iv.Start) <= 0 {
			return nil, &Error{Part: "end", Column: thirdBase + 1, Problem: "not after the start: the period would be zero or negative"}
		}
	}
	return iv, nil
}

// MustParse is Parse for expressions known to be valid (tests, examples);
// it panics on error.
func MustParse(s string) *Interval {
	iv, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("iso8601.MustParse(%q): %v", s, err))
	}
	return iv
}

// scanner reads one part of the expression; positions are byte offsets
// into the whole expression so errors carry absolute columns.
type scanner struct {
	s         string
	part      string
	base, pos int // start of the part, current position
	end       int // end of the part (exclusive)
}

func (p *scanner) errAt(pos int, format string, args ...any) error {
	return &Error{Part: p.part, Column: pos + 1, Problem: fmt.Sprintf(format, args...)}
}

func (p *scanner) peek() byte {
	if p.pos < p.end {
		return p.s[p.pos]
	}
	return 0
}

func (p *scanner) describe(pos int) string {
	if pos >= p.end {
		return "end of " + p.part
	}
	return strconv.Quote(p.s[pos : pos+1])
}

func (p *scanner) repeat(iv *Interval) error {
	if p.end == 0 {
		return p.errAt(0, "missing: want R, R<n> or R0")
	}
	switch p.s[0] {
	case 'R':
	case 'r':
		return p.errAt(0, "designators are upper case: want 'R'")
	default:
		return p.errAt(0, "want 'R' at the beginning, got %s", p.describe(0))
	}
	p.pos = 1
	if p.pos == p.end {
		iv.Repeat = Unbounded
		return nil
	}
	if p.peek() == '-' {
		return p.errAt(p.pos, "negative repeat count")
	}
	n, ok, err := p.digits(18)
	if err != nil {
		return err
	}
	if !ok {
		return p.errAt(p.pos, "want a repeat count after R, got %s", p.describe(p.pos))
	}
	if p.pos != p.end {
		return p.errAt(p.pos, "unexpected %s after the repeat count", p.describe(p.pos))
	}
	iv.Repeat = n
	return nil
}

// digits reads up to max decimal digits (at least one) into n.
func (p *scanner) digits(max int) (n int64, ok bool, err error) {
	start := p.pos
	for p.pos < p.end && isDigit(p.s[p.pos]) {
		if p.pos-start == max {
			return 0, false, p.errAt(start, "number too large")
		}
		n = n*10 + int64(p.s[p.pos]-'0')
		p.pos++
	}
	return n, p.pos > start, nil
}

// fixed reads exactly n digits for the named field.
func (p *scanner) fixed(n int, field string) (int, error) {
	v := 0
	for i := 0; i < n; i++ {
		if p.pos >= p.end || !isDigit(p.s[p.pos]) {
			return 0, p.errAt(p.pos, "%s: want %d digits, got %s", field, n, p.describe(p.pos))
		}
		v = v*10 + int(p.s[p.pos]-'0')
		p.pos++
	}
	return v, nil
}

func (p *scanner) expect(c byte, what string) error {
	if p.pos < p.end && p.s[p.pos] == c {
		p.pos++
		return nil
	}
	return p.errAt(p.pos, "want %q %s, got %s", c, what, p.describe(p.pos))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// dateTime parses YYYY-MM-DD[Thh:mm[:ss[.f]][Z|±hh[:mm]]].
func (p *scanner) dateTime() (DateTime, error) {
	var dt DateTime
	var err error
	yearPos := p.pos
	if c := p.peek(); c == '+' || c == '-' {
		return dt, p.errAt(p.pos, "signed (expanded) years are not supported: want YYYY-MM-DD")
	}
	if dt.Year, err = p.fixed(4, "year"); err != nil {
		return dt, err
	}
	if dt.Year < MinYear {
		return dt, p.errAt(yearPos, "year %04d out of range %04d-%04d", dt.Year, MinYear, MaxYear)
	}
	if p.pos < p.end && isDigit(p.s[p.pos]) {
		return dt, p.errAt(p.pos, "year: want 4 digits, got more")
	}
	if err := p.expect('-', "after the year (extended format YYYY-MM-DD)"); err != nil {
		return dt, err
	}
	monthPos := p.pos
	if dt.Month, err = p.fixed(2, "month"); err != nil {
		return dt, err
	}
	if dt.Month < 1 || dt.Month > 12 {
		return dt, p.errAt(monthPos, "month %02d out of range 01-12", dt.Month)
	}
	if err := p.expect('-', "after the month (extended format YYYY-MM-DD)"); err != nil {
		return dt, err
	}
	dayPos := p.pos
	if dt.Day, err = p.fixed(2, "day"); err != nil {
		return dt, err
	}
	if dt.Day < 1 || dt.Day > daysIn(dt.Year, dt.Month) {
		return dt, p.errAt(dayPos, "day %d out of range for %s %d", dt.Day, monthNames[dt.Month-1], dt.Year)
	}
	if p.pos == p.end {
		return dt, nil // a date alone is midnight, with no offset
	}
	switch c := p.peek(); {
	case c == 'T':
		p.pos++
	case c == 't':
		return dt, p.errAt(p.pos, "designators are upper case: want 'T'")
	case c == 'Z' || c == '+' || c == '-':
		return dt, p.errAt(p.pos, "an offset needs a time: write YYYY-MM-DDThh:mm%s", string(c))
	default:
		return dt, p.errAt(p.pos, "unexpected %s after the date: want 'T' and a time", p.describe(p.pos))
	}
	if p.pos == p.end {
		return dt, p.errAt(p.pos, "'T' without a time: want hh:mm[:ss]")
	}
	hourPos := p.pos
	if dt.Hour, err = p.fixed(2, "hour"); err != nil {
		return dt, err
	}
	if dt.Hour > 23 {
		return dt, p.errAt(hourPos, "hour %02d out of range 00-23", dt.Hour)
	}
	if err := p.expect(':', "after the hour (extended format hh:mm)"); err != nil {
		return dt, err
	}
	minPos := p.pos
	if dt.Minute, err = p.fixed(2, "minute"); err != nil {
		return dt, err
	}
	if dt.Minute > 59 {
		return dt, p.errAt(minPos, "minute %02d out of range 00-59", dt.Minute)
	}
	if p.peek() == ':' {
		p.pos++
		secPos := p.pos
		if dt.Second, err = p.fixed(2, "second"); err != nil {
			return dt, err
		}
		if dt.Second > 59 {
			return dt, p.errAt(secPos, "second %02d out of range 00-59 (leap seconds are not supported)", dt.Second)
		}
		if c := p.peek(); c == '.' || c == ',' {
			p.pos++
			if dt.Nanosecond, err = p.fraction(); err != nil {
				return dt, err
			}
		}
	} else if c := p.peek(); c == '.' || c == ',' {
		return dt, p.errAt(p.pos, "a fraction is allowed on seconds only: write hh:mm:ss%c...", c)
	}
	if p.pos == p.end {
		return dt, nil
	}
	offPos := p.pos
	switch c := p.peek(); c {
	case 'Z':
		p.pos++
		dt.HasOffset = true
	case 'z':
		return dt, p.errAt(p.pos, "designators are upper case: want 'Z'")
	case '+', '-':
		p.pos++
		oh, err := p.fixed(2, "offset hours")
		if err != nil {
			return dt, err
		}
		om := 0
		if p.peek() == ':' {
			p.pos++
			if om, err = p.fixed(2, "offset minutes"); err != nil {
				return dt, err
			}
		} else if isDigit(p.peek()) {
			return dt, p.errAt(p.pos, "offset: want ±hh:mm (extended format)")
		}
		if oh > 23 || om > 59 {
			return dt, p.errAt(offPos, "offset %s out of range", p.s[offPos:p.pos])
		}
		dt.HasOffset = true
		dt.Offset = oh*3600 + om*60
		if c == '-' {
			dt.Offset = -dt.Offset
		}
	default:
		return dt, p.errAt(p.pos, "unexpected %s after the time: want 'Z', an offset ±hh:mm or nothing", p.describe(p.pos))
	}
	if p.pos != p.end {
		return dt, p.errAt(p.pos, "unexpected %s after the %s", p.describe(p.pos), p.part)
	}
	return dt, nil
}

// fraction reads 1 to 9 fraction digits as nanoseconds.
func (p *scanner) fraction() (int, error) {
	start := p.pos
	ns, scale := 0, 100000000
	for p.pos < p.end && isDigit(p.s[p.pos]) {
		if p.pos-start == 9 {
			return 0, p.errAt(start, "fraction: more than 9 digits (nanoseconds)")
		}
		ns += int(p.s[p.pos]-'0') * scale
		scale /= 10
		p.pos++
	}
	if p.pos == start {
		return 0, p.errAt(p.pos, "fraction: want digits after the decimal sign, got %s", p.describe(p.pos))
	}
	return ns, nil
}

// period parses PnYnMnWnDTnHnMnS.
func (p *scanner) period() (Period, error) {
	var per Period
	p.pos++ // 'P'
	if p.pos == p.end {
		return per, p.errAt(p.pos, "empty: want at least one component such as P1D or PT1H")
	}
	const dateDesignators, timeDesignators = "YMWD", "HMS"
	inTime := false
	next := 0 // index of the next designator allowed in the current section
	seen := false
	for p.pos < p.end {
		c := p.s[p.pos]
		if c == 'T' {
			if inTime {
				return per, p.errAt(p.pos, "second 'T'")
			}
			inTime, next = true, 0
			p.pos++
			if p.pos == p.end {
				return per, p.errAt(p.pos, "'T' without hours, minutes or seconds")
			}
			continue
		}
		if c == '-' {
			return per, p.errAt(p.pos, "negative periods are not allowed")
		}
		if c == '+' {
			return per, p.errAt(p.pos, "signs are not allowed in periods")
		}
		numPos := p.pos
		n, ok, err := p.digits(18)
		if err != nil {
			return per, err
		}
		if !ok {
			if c >= 'a' && c <= 'z' {
				return per, p.errAt(p.pos, "designators are upper case: got %s", p.describe(p.pos))
			}
			return per, p.errAt(p.pos, "want a number, got %s", p.describe(p.pos))
		}
		frac := int64(0)
		hasFrac := false
		if c := p.peek(); c == '.' || c == ',' {
			p.pos++
			f, err := p.fraction()
			if err != nil {
				return per, err
			}
			frac, hasFrac = int64(f), true
		}
		if p.pos == p.end {
			return per, p.errAt(p.pos, "number without a designator: want one of %s", map[bool]string{false: "Y, M, W, D", true: "H, M, S"}[inTime])
		}
		dPos := p.pos
		d := p.s[p.pos]
		p.pos++
		section := dateDesignators
		if inTime {
			section = timeDesignators
		}
		idx := strings.IndexByte(section, d)
		if idx < 0 {
			switch {
			case !inTime && (d == 'H' || d == 'S'):
				return per, p.errAt(dPos, "time designator %c in the date part: write PT%d%c", d, n, d)
			case inTime && (d == 'Y' || d == 'W' || d == 'D'):
				return per, p.errAt(dPos, "date designator %c in the time part (after 'T')", d)
			case d >= 'a' && d <= 'z':
				return per, p.errAt(dPos, "designators are upper case: got %s", p.describe(dPos))
			default:
				return per, p.errAt(dPos, "unknown designator %s", p.describe(dPos))
			}
		}
		if idx < next {
			return per, p.errAt(dPos, "designator %c out of order or repeated: want P[nY][nM][nW][nD][T[nH][nM][nS]]", d)
		}
		next = idx + 1
		if hasFrac && !(inTime && d == 'S') {
			return per, p.errAt(numPos, "a fraction is allowed on seconds only")
		}
		if inTime {
			switch d {
			case 'H':
				per.Hours = n
			case 'M':
				per.Minutes = n
			case 'S':
				per.Seconds, per.Nanoseconds = n, frac
			}
		} else {
			switch d {
			case 'Y':
				per.Years = n
			case 'M':
				per.Months = n
			case 'W':
				per.Weeks = n
			case 'D':
				per.Days = n
			}
		}
		seen = true
	}
	if !seen {
		return per, p.errAt(p.base, "empty: want at least one component such as P1D or PT1H")
	}
	if per.IsZero() {
		return per, p.errAt(p.base, "zero period: it would repeat at the same moment for ever (Chronos #614)")
	}
	// Ranges: every occurrence stays within years 1-9999, so larger
	// calendar components could never occur twice.
	const years = MaxYear - MinYear + 1
	switch {
	case per.Years > years:
		return per, p.errAt(p.base, "years %d larger than %d", per.Years, years)
	case per.Months > years*12:
		return per, p.errAt(p.base, "months %d larger than %d", per.Months, years*12)
	case per.Weeks > years*53:
		return per, p.errAt(p.base, "weeks %d larger than %d", per.Weeks, years*53)
	case per.Days > years*366:
		return per, p.errAt(p.base, "days %d larger than %d", per.Days, years*366)
	case per.Hours > maxFixedSeconds/3600 || per.Minutes > maxFixedSeconds/60 || per.Seconds > maxFixedSeconds ||
		per.Hours*3600+per.Minutes*60+per.Seconds > maxFixedSeconds:
		return per, p.errAt(p.base, "hours, minutes and seconds add up to more than %d seconds (292 years)", maxFixedSeconds)
	case !per.Calendar() && per.fixedNanos() < minFixed:
		return per, p.errAt(p.base, "shorter than 1 microsecond")
	}
	return per, nil
}

var monthNames = [12]string{"January", "February", "March", "April", "May", "June",
	"July", "August", "September", "October", "November", "December"}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// cmpInstant compares two date-times as instants using their written
// offsets (UTC when none).
func cmpInstant(a, b DateTime) int {
	ua, ub := a.unixAsWritten(), b.unixAsWritten()
	switch {
	case ua < ub:
		return -1
	case ua > ub:
		return 1
	case a.Nanosecond < b.Nanosecond:
		return -1
	case a.Nanosecond > b.Nanosecond:
		return 1
	}
	return 0
}

// cmpWall compares two date-times as wall-clock readings, ignoring offsets.
func cmpWall(a, b DateTime) int {
	a.Offset, b.Offset = 0, 0
	return cmpInstant(a, b)
}

// wallSeconds is the wall-clock time as seconds since 1970-01-01T00:00
// of the same calendar, ignoring any offset.
func (d DateTime) wallSeconds() int64 {
	return daysFromCivil(int64(d.Year), d.Month, d.Day)*86400 + int64(d.Hour*3600+d.Minute*60+d.Second)
}

func (d DateTime) unixAsWritten() int64 { return d.wallSeconds() - int64(d.Offset) }

// String prints the canonical form: YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm],
// with the fraction's trailing zeros trimmed and a zero offset as Z.
func (d DateTime) String() string {
	b := make([]byte, 0, 35)
	return string(d.appendTo(b))
}

func (d DateTime) appendTo(b []byte) []byte {
	b = appendInt(b, d.Year, 4)
	b = append(b, '-')
	b = appendInt(b, d.Month, 2)
	b = append(b, '-')
	b = appendInt(b, d.Day, 2)
	b = append(b, 'T')
	b = appendInt(b, d.Hour, 2)
	b = append(b, ':')
	b = appendInt(b, d.Minute, 2)
	b = append(b, ':')
	b = appendInt(b, d.Second, 2)
	b = appendFraction(b, int64(d.Nanosecond))
	if d.HasOffset {
		off := d.Offset
		if off == 0 {
			return append(b, 'Z')
		}
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		b = append(b, sign)
		b = appendInt(b, off/3600, 2)
		b = append(b, ':')
		b = appendInt(b, off%3600/60, 2)
	}
	return b
}

func appendInt(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendFraction appends ".f" for a non-zero nanosecond count, trimmed.
func appendFraction(b []byte, ns int64) []byte {
	if ns == 0 {
		return b
	}
	digits := []byte(fmt.Sprintf("%09d", ns))
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	b = append(b, '.')
	return append(b, digits...)
}

// String prints the canonical form: zero components omitted, the order
// Y M W D T H M S, seconds with their trimmed fraction.
func (p Period) String() string {
	b := []byte{'P'}
	add := func(n int64, d byte) {
		if n != 0 {
			b = strconv.AppendInt(b, n, 10)
			b = append(b, d)
		}
	}
	add(p.Years, 'Y')
	add(p.Months, 'M')
	add(p.Weeks, 'W')
	add(p.Days, 'D')
	if p.Hours != 0 || p.Minutes != 0 || p.Seconds != 0 || p.Nanoseconds != 0 {
		b = append(b, 'T')
		add(p.Hours, 'H')
		add(p.Minutes, 'M')
		if p.Seconds != 0 || p.Nanoseconds != 0 {
			b = strconv.AppendInt(b, p.Seconds, 10)
			b = appendFraction(b, p.Nanoseconds)
			b = append(b, 'S')
		}
	}
	return string(b)
}

// String prints the canonical form of the interval; Parse of it returns an
// equal Interval.
func (i *Interval) String() string {
	b := make([]byte, 0, 64)
	b = append(b, 'R')
	if i.Repeat != Unbounded {
		b = strconv.AppendInt(b, i.Repeat, 10)
	}
	b = append(b, '/')
	if i.HasStart {
		b = i.Start.appendTo(b)
	}
	b = append(b, '/')
	if i.HasEnd {
		b = i.End.appendTo(b)
	} else {
		b = append(b, i.Period.String()...)
	}
	return string(b)
}

// Repeats returns the number of occurrences and whether it is bounded
// (false for R, which repeats for ever).
func (i *Interval) Repeats() (n int64, bounded bool) {
	return i.Repeat, i.Repeat != Unbounded
}
