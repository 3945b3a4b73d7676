package schedule

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAppliesDefaults(t *testing.T) {
	s := mustParse(t, Spec{Start: "05:40", End: "17:40"})
	want := Spec{TimeZone: "UTC", Start: "05:40", End: "17:40", Every: time.Hour, Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri"}}
	if got := s.Spec(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Spec() = %+v, want %+v", got, want)
	}
	if s.Location() != time.UTC {
		t.Fatalf("Location() = %v, want UTC", s.Location())
	}
}

func TestParseNormalisesTheSpec(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want Spec
	}{
		{
			name: "a one-digit hour is accepted and written with two digits",
			spec: Spec{TimeZone: "America/Chicago", Start: "5:40", End: "9:05", Every: 30 * time.Minute, Days: []string{"Mon"}},
			want: Spec{TimeZone: "America/Chicago", Start: "05:40", End: "09:05", Every: 30 * time.Minute, Days: []string{"Mon"}},
		},
		{
			name: "surrounding spaces are ignored",
			spec: Spec{TimeZone: " Europe/Berlin ", Start: " 06:00", End: "07:00 ", Every: time.Hour, Days: []string{" Tue "}},
			want: Spec{TimeZone: "Europe/Berlin", Start: "06:00", End: "07:00", Every: time.Hour, Days: []string{"Tue"}},
		},
		{
			name: "days accept abbreviations and full names in any case, repeated, and come back Monday first",
			spec: Spec{Start: "06:00", End: "07:00", Days: []string{"sunday", "MON", "Wednesday", "wed", "sAt"}},
			want: Spec{TimeZone: "UTC", Start: "06:00", End: "07:00", Every: time.Hour, Days: []string{"Mon", "Wed", "Sat", "Sun"}},
		},
		{
			name: "an interval of exactly 5 minutes is allowed",
			spec: Spec{Start: "06:00", End: "07:00", Every: 5 * time.Minute},
			want: Spec{TimeZone: "UTC", Start: "06:00", End: "07:00", Every: 5 * time.Minute, Days: DefaultDays()},
		},
		{
			name: "an interval of exactly 24 hours is allowed",
			spec: Spec{Start: "06:00", End: "07:00", Every: 24 * time.Hour},
			want: Spec{TimeZone: "UTC", Start: "06:00", End: "07:00", Every: 24 * time.Hour, Days: DefaultDays()},
		},
		{
			name: "the whole day 00:00-23:59 is a valid window",
			spec: Spec{Start: "00:00", End: "23:59"},
			want: Spec{TimeZone: "UTC", Start: "00:00", End: "23:59", Every: time.Hour, Days: DefaultDays()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.spec).Spec()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Spec() = %+v, want %+v", got, tt.want)
			}
			again := mustParse(t, got).Spec()
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("Parse(Spec()) changed the schedule: %+v then %+v", got, again)
			}
		})
	}
}

func TestParseRejectsWithAMessageNamingTheField(t *testing.T) {
	ok := Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40", Every: time.Hour}
	with := func(f func(*Spec)) Spec { s := ok; f(&s); return s }
	tests := []struct {
		name      string
		spec      Spec
		wantField string
		wantMsg   string
	}{
		{"an end before the start", with(func(s *Spec) { s.End = "05:00" }), FieldEnd,
			"schedule.window.end 05:00 must be after schedule.window.start 05:40: the window runs within one day and does not cross midnight"},
		{"an end equal to the start", with(func(s *Spec) { s.End = "05:40" }), FieldEnd,
			"schedule.window.end 05:40 must be after schedule.window.start 05:40: the window runs within one day and does not cross midnight"},
		{"a misspelt time zone", with(func(s *Spec) { s.TimeZone = "Europe/Berln" }), FieldTimeZone,
			`schedule.timeZone "Europe/Berln" is not a known IANA time zone (for example "America/New_York" or "UTC")`},
		{"a time zone that is a path", with(func(s *Spec) { s.TimeZone = "../../etc/passwd" }), FieldTimeZone,
			`schedule.timeZone "../../etc/passwd" is not a known IANA time zone (for example "America/New_York" or "UTC")`},
		{"the machine-dependent Local zone", with(func(s *Spec) { s.TimeZone = "Local" }), FieldTimeZone,
			`schedule.timeZone "Local" is not allowed: name an IANA time zone such as "America/New_York", so the schedule does not depend on the machine the operator runs on`},
		{"an interval under 5 minutes", with(func(s *Spec) { s.Every = 4 * time.Minute }), FieldEvery,
			"schedule.every 4m is too short: runs must be at least 5 minutes apart"},
		{"a negative interval", with(func(s *Spec) { s.Every = -time.Hour }), FieldEvery,
			"schedule.every -1h must be a positive interval such as 1h or 30m"},
		{"an interval longer than a day", with(func(s *Spec) { s.Every = 48 * time.Hour }), FieldEvery,
			"schedule.every 48h is longer than a day: the window runs at most daily; choose the days in schedule.days"},
		{"an interval that is not whole minutes", with(func(s *Spec) { s.Every = 5*time.Minute + 30*time.Second }), FieldEvery,
			"schedule.every 5m30s must be a whole number of minutes"},
		{"an unknown weekday", with(func(s *Spec) { s.Days = []string{"Mon", "Mnday"} }), "schedule.days[1]",
			`schedule.days[1] "Mnday" is not a weekday: use Mon, Tue, Wed, Thu, Fri, Sat or Sun`},
		{"an empty weekday", with(func(s *Spec) { s.Days = []string{""} }), "schedule.days[0]",
			`schedule.days[0] "" is not a weekday: use Mon, Tue, Wed, Thu, Fri, Sat or Sun`},
		{"a missing start", with(func(s *Spec) { s.Start = "" }), FieldStart,
			`schedule.window.start is required: a 24-hour time HH:MM such as "05:40"`},
		{"a missing end", with(func(s *Spec) { s.End = "" }), FieldEnd,
			`schedule.window.end is required: a 24-hour time HH:MM such as "17:40"`},
		{"a 12-hour time", with(func(s *Spec) { s.Start = "5:40am" }), FieldStart,
			`schedule.window.start "5:40am" is not a time of day: use 24-hour HH:MM from 00:00 to 23:59, such as "05:40"`},
		{"hour 24", with(func(s *Spec) { s.End = "24:00" }), FieldEnd,
			`schedule.window.end "24:00" is not a time of day: use 24-hour HH:MM from 00:00 to 23:59, such as "17:40"`},
		{"minute 60", with(func(s *Spec) { s.Start = "05:60" }), FieldStart,
			`schedule.window.start "05:60" is not a time of day: use 24-hour HH:MM from 00:00 to 23:59, such as "05:40"`},
		{"a one-digit minute", with(func(s *Spec) { s.Start = "05:4" }), FieldStart,
			`schedule.window.start "05:4" is not a time of day: use 24-hour HH:MM from 00:00 to 23:59, such as "05:40"`},
		{"a time with seconds", with(func(s *Spec) { s.Start = "05:40:00" }), FieldStart,
			`schedule.window.start "05:40:00" is not a time of day: use 24-hour HH:MM from 00:00 to 23:59, such as "05:40"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse accepted %+v as %v", tt.spec, s)
			}
			var inv *InvalidSpecError
			if !errors.As(err, &inv) || len(inv.Problems) != 1 {
				t.Fatalf("want one *InvalidSpecError problem, got %#v", err)
			}
			if p := inv.Problems[0]; p.Field != tt.wantField || p.Message != tt.wantMsg {
				t.Fatalf("problem = {%q, %q}\nwant      {%q, %q}", p.Field, p.Message, tt.wantField, tt.wantMsg)
			}
			if want := "invalid schedule: " + tt.wantMsg; err.Error() != want {
				t.Fatalf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Parse(Spec{TimeZone: "Mars/Olympus", Start: "25:00", End: "17:40", Every: time.Minute, Days: []string{"Funday"}})
	var inv *InvalidSpecError
	if !errors.As(err, &inv) {
		t.Fatalf("want *InvalidSpecError, got %v", err)
	}
	var fields []string
	for _, p := range inv.Problems {
		fields = append(fields, p.Field)
	}
	want := []string{FieldTimeZone, FieldStart, FieldEvery, "schedule.days[0]"}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields = %v, want %v", fields, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != FieldTimeZone {
		t.Fatalf("errors.As(*FieldError) = %v, want the time zone problem first", fe)
	}
	if strings.Count(err.Error(), "; ") != 3 {
		t.Fatalf("Error() should join the four problems with \"; \": %q", err.Error())
	}
}

func TestStringDescribesTheSchedule(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"weekdays compress to a range", Spec{TimeZone: "America/New_York", Start: "05:40", End: "17:40"},
			"Mon-Fri 05:40-17:40 every 1h (America/New_York)"},
		{"all seven days read daily", Spec{Start: "00:40", End: "04:40", Every: 30 * time.Minute, Days: allDays},
			"daily 00:40-04:40 every 30m (UTC)"},
		{"separate days are listed", Spec{Start: "06:00", End: "07:00", Every: 90 * time.Minute, Days: []string{"Fri", "Mon", "Wed", "Sat"}},
			"Mon,Wed,Fri,Sat 06:00-07:00 every 1h30m (UTC)"},
		{"a wrap from Sunday to Monday is not merged", Spec{Start: "06:00", End: "07:00", Days: []string{"Sun", "Mon"}},
			"Mon,Sun 06:00-07:00 every 1h (UTC)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.spec).String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
