package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of a Spec.
const (
	DefaultTimeZone = "UTC"
	DefaultEvery    = time.Hour
	MinEvery        = 5 * time.Minute
	MaxEvery        = 24 * time.Hour
)

// DefaultDays returns the days a schedule runs when Spec.Days is empty: Monday to Friday.
func DefaultDays() []string { return []string{"Mon", "Tue", "Wed", "Thu", "Fri"} }

// Field paths used in error messages, as a district admin sees them in the policy YAML.
const (
	FieldTimeZone = "schedule.timeZone"
	FieldStart    = "schedule.window.start"
	FieldEnd      = "schedule.window.end"
	FieldEvery    = "schedule.every"
	FieldDays     = "schedule.days"
)

// Spec is the schedule part of a DeviceSyncPolicy, as written by the user.
type Spec struct {
	// TimeZone is an IANA time zone name; empty means UTC.
	TimeZone string
	// Start and End are the daily window, 24-hour "HH:MM" wall-clock times in TimeZone, End after
	// Start (the window does not cross midnight). Both required.
	Start, End string
	// Every is the interval between runs inside the window; zero means 1h.
	Every time.Duration
	// Days are the weekdays the schedule runs: "Mon".."Sun" or full names, case-insensitive; empty
	// means Monday to Friday.
	Days []string
}

// FieldError is one problem with one field of a Spec. Its message names the field and says what is
// wrong in words a district admin understands.
type FieldError struct {
	Field   string // e.g. "schedule.window.end" or "schedule.days[2]"
	Message string // the whole sentence, field included
}

func (e *FieldError) Error() string { return e.Message }

// InvalidSpecError lists every problem Parse found, so one status message shows them all.
type InvalidSpecError struct {
	Problems []*FieldError
}

func (e *InvalidSpecError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return "invalid schedule: " + strings.Join(msgs, "; ")
}

// Unwrap lets errors.As find each *FieldError.
func (e *InvalidSpecError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Schedule is a parsed, defaulted and validated Spec. It is immutable and safe for concurrent use.
type Schedule struct {
	loc        *time.Location
	zone       string
	startMin   int // minutes after local midnight
	endMin     int
	everyMin   int
	days       [7]bool // indexed by time.Weekday
	dayStrings []string
}

// Parse validates spec, applies the defaults (UTC, every 1h, Monday to Friday) and returns the
// Schedule. On failure the error is an *InvalidSpecError listing every problem.
func Parse(spec Spec) (*Schedule, error) {
	var problems []*FieldError
	add := func(field, format string, args ...any) {
		problems = append(problems, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	s := &Schedule{}

	zone := strings.TrimSpace(spec.TimeZone)
	if zone == "" {
		zone = DefaultTimeZone
	}
	switch {
	case zone == "Local" || strings.EqualFold(zone, "local"):
		add(FieldTimeZone, "%s %q is not allowed: name an IANA time zone such as \"America/New_York\", so the schedule does not depend on the machine the operator runs on", FieldTimeZone, spec.TimeZone)
	case !plausibleZoneName(zone):
		add(FieldTimeZone, "%s %q is not a known IANA time zone (for example \"America/New_York\" or \"UTC\")", FieldTimeZone, spec.TimeZone)
	default:
		loc, err := time.LoadLocation(zone)
		if err != nil {
			add(FieldTimeZone, "%s %q is not a known IANA time zone (for example \"America/New_York\" or \"UTC\")", FieldTimeZone, spec.TimeZone)
		} else {
			s.loc, s.zone = loc, zone
		}
	}

	startOK, endOK := true, true
	s.startMin, startOK = parseClock(spec.Start, FieldStart, "05:40", add)
	s.endMin, endOK = parseClock(spec.End, FieldEnd, "17:40", add)
	if startOK && endOK && s.endMin <= s.startMin {
		add(FieldEnd, "%s %s must be after %s %s: the window runs within one day and does not cross midnight",
			FieldEnd, formatClock(s.endMin), FieldStart, formatClock(s.startMin))
	}

	every := spec.Every
	switch {
	case every == 0:
		every = DefaultEvery
	case every < 0:
		add(FieldEvery, "%s %s must be a positive interval such as 1h or 30m", FieldEvery, formatDuration(every))
	case every < MinEvery:
		add(FieldEvery, "%s %s is too short: runs must be at least 5 minutes apart", FieldEvery, formatDuration(every))
	case every > MaxEvery:
		add(FieldEvery, "%s %s is longer than a day: the window runs at most daily; choose the days in %s", FieldEvery, formatDuration(every), FieldDays)
	case every%time.Minute != 0:
		add(FieldEvery, "%s %s must be a whole number of minutes", FieldEvery, formatDuration(every))
	}
	if every > 0 {
		s.everyMin = int(every / time.Minute)
	}

	days := spec.Days
	if len(days) == 0 {
		days = DefaultDays()
	}
	for i, d := range days {
		wd, ok := parseWeekday(d)
		if !ok {
			add(fmt.Sprintf("%s[%d]", FieldDays, i), "%s[%d] %q is not a weekday: use Mon, Tue, Wed, Thu, Fri, Sat or Sun", FieldDays, i, d)
			continue
		}
		s.days[wd] = true
	}
	for _, wd := range weekOrder {
		if s.days[wd] {
			s.dayStrings = append(s.dayStrings, dayAbbrev[wd])
		}
	}

	if len(problems) > 0 {
		return nil, &InvalidSpecError{Problems: problems}
	}
	return s, nil
}

// plausibleZoneName rejects strings that are certainly not zone names before they reach
// time.LoadLocation (which would otherwise read ZONEINFO paths such as "../x" or very long names).
func plausibleZoneName(z string) bool {
	if len(z) > 64 || strings.Contains(z, "..") || strings.HasPrefix(z, "/") {
		return false
	}
	for _, r := range z {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '/' || r == '_' || r == '-' || r == '+':
		default:
			return false
		}
	}
	return true
}

// parseClock parses "HH:MM" or "H:MM" (24-hour) into minutes after midnight.
func parseClock(v, field, example string, add func(field, format string, args ...any)) (int, bool) {
	t := strings.TrimSpace(v)
	if t == "" {
		add(field, "%s is required: a 24-hour time HH:MM such as %q", field, example)
		return 0, false
	}
	h, m, ok := strings.Cut(t, ":")
	if ok && allDigits(h) && allDigits(m) && len(h) >= 1 && len(h) <= 2 && len(m) == 2 {
		hh, _ := strconv.Atoi(h)
		mm, _ := strconv.Atoi(m)
		if hh <= 23 && mm <= 59 {
			return hh*60 + mm, true
		}
	}
	add(field, "%s %q is not a time of day: use 24-hour HH:MM from 00:00 to 23:59, such as %q", field, v, example)
	return 0, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func formatClock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// formatDuration writes 1h rather than 1h0m0s, and 1h30m rather than 1h30m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var weekOrder = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

var dayAbbrev = map[time.Weekday]string{
	time.Sunday: "Sun", time.Monday: "Mon", time.Tuesday: "Tue", time.Wednesday: "Wed",
	time.Thursday: "Thu", time.Friday: "Fri", time.Saturday: "Sat",
}

// parseWeekday accepts "Mon" or "Monday" in any letter case.
func parseWeekday(s string) (time.Weekday, bool) {
	t := strings.TrimSpace(s)
	for wd, abbr := range dayAbbrev {
		if strings.EqualFold(t, abbr) || strings.EqualFold(t, wd.String()) {
			return wd, true
		}
	}
	return 0, false
}

// Location is the time zone of the schedule.
func (s *Schedule) Location() *time.Location { return s.loc }

// Every is the interval between runs.
func (s *Schedule) Every() time.Duration { return time.Duration(s.everyMin) * time.Minute }

// Spec returns the normalised, defaulted spec: zone name, "HH:MM" times, the interval, and the
// days as abbreviations in Monday-to-Sunday order. Parse(s.Spec()) gives an equal schedule.
func (s *Schedule) Spec() Spec {
	return Spec{
		TimeZone: s.zone,
		Start:    formatClock(s.startMin),
		End:      formatClock(s.endMin),
		Every:    s.Every(),
		Days:     append([]string(nil), s.dayStrings...),
	}
}

// RunsOn reports whether the schedule has slots on weekday wd.
func (s *Schedule) RunsOn(wd time.Weekday) bool { return s.days[wd] }

// String describes the schedule for events and logs: "Mon-Fri 05:40-17:40 every 1h (America/New_York)".
func (s *Schedule) String() string {
	return fmt.Sprintf("%s %s-%s every %s (%s)", s.daysString(), formatClock(s.startMin), formatClock(s.endMin),
		formatDuration(s.Every()), s.zone)
}

// daysString compresses the days into runs such as "Mon-Fri" or "Mon,Wed,Fri" or "daily".
func (s *Schedule) daysString() string {
	var parts []string
	for i := 0; i < 7; {
		if !s.days[weekOrder[i]] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && s.days[weekOrder[j+1]] {
			j++
		}
		switch {
		case i == 0 && j == 6:
			return "daily"
		case j-i >= 2:
			parts = append(parts, dayAbbrev[weekOrder[i]]+"-"+dayAbbrev[weekOrder[j]])
		default:
			for k := i; k <= j; k++ {
				parts = append(parts, dayAbbrev[weekOrder[k]])
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
