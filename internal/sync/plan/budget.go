package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Reasons a plan is blocked (the SyncRun ends Blocked until approved or the data is fixed).
const (
	BlockedSourceEmpty          = "SourceEmpty"
	BlockedSourceShrunk         = "SourceShrunk"
	BlockedRosterShrunk         = "RosterShrunk"
	BlockedChangeBudgetExceeded = "ChangeBudgetExceeded"
	BlockedClearBudgetExceeded  = "ClearBudgetExceeded"
	// BlockedRemovalBudgetExceeded: the roster plan removes more users and classes than safety.maxRemovals.
	BlockedRemovalBudgetExceeded = "RemovalBudgetExceeded"
)

// Budget is a count or a percentage (spec.safety: 200 or "10%").
type Budget struct {
	Value   int
	Percent bool
}

// Count is a budget of n.
func Count(n int) Budget { return Budget{Value: n} }

// Percent is a budget of p percent.
func Percent(p int) Budget { return Budget{Value: p, Percent: true} }

// ParseBudget reads "200" or "10%" (the string form of the CRD's int-or-string). Counts are 0 or more,
// percentages 0 to 100.
func ParseBudget(s string) (Budget, error) {
	v := strings.TrimSpace(s)
	pct := strings.HasSuffix(v, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
	switch {
	case err != nil || n < 0:
		return Budget{}, fmt.Errorf("budget %q: want a count of 0 or more (like 200) or a percentage (like 10%%)", s)
	case pct && n > 100:
		return Budget{}, fmt.Errorf("budget %q: a percentage is 0%% to 100%%", s)
	}
	return Budget{Value: n, Percent: pct}, nil
}

// String is "200" or "10%".
func (b Budget) String() string {
	if b.Percent {
		return strconv.Itoa(b.Value) + "%"
	}
	return strconv.Itoa(b.Value)
}

// Limit is the budget in devices (or items): the count, or the percentage of `of` rounded down; never
// below 0.
func (b Budget) Limit(of int) int {
	n := b.Value
	if b.Percent {
		n = of * b.Value / 100
	}
	return max(n, 0)
}

// Safety is spec.safety. A nil budget is not checked (the CRD defaults all four).
type Safety struct {
	MaxChanges      *Budget
	MaxClears       *Budget
	MaxSourceShrink *Budget
	MaxRosterShrink *Budget
	// MaxRemovals bounds the roster sync's removals (users trashed or moved away, classes deleted): a
	// count, or a percentage of the MDM users and classes removeStale may touch.
	MaxRemovals *Budget
}

// Baseline is what the last successful run read: the measure of the shrink guards. A zero field means
// there is none (no good run yet, or it had no roster): that guard is not checked.
type Baseline struct {
	// Items is the number of Destiny items it read (safety.maxSourceShrink).
	Items int
	// RosterRows is the number of students its roster had (safety.maxRosterShrink).
	RosterRows int
}

// Blocked says why a plan must not be applied.
type Blocked struct {
	// Reason is the first violation's reason.
	Reason string
	// Message is every violation's message, joined with "; ".
	Message    string
	Violations []Violation
}

// Violation is one broken safety rule.
type Violation struct {
	Reason, Message string
}

// CheckBudget returns why a plan must not be applied, or nil. last is what the last successful run read.
// Checks, in order:
//
//   - SourceEmpty: Destiny returned no items while the MDM has devices (always, whatever the budgets).
//   - SourceShrunk: Destiny returned more fewer items than maxSourceShrink allows (a percentage is of
//     last.Items).
//   - RosterShrunk: the policy's roster has more fewer students than maxRosterShrink allows (a percentage
//     is of last.RosterRows). Not checked when the policy has no roster or the last good run had none.
//   - ChangeBudgetExceeded: more changes than maxChanges (a percentage is of matched devices, rounded down).
//   - ClearBudgetExceeded: more clearing changes than maxClears (likewise). A change counts once when it
//     empties at least one field the device had a value in, whatever its action: a returned device
//     whose user and location are removed (Cleared), and equally an Updated or Reassigned change that
//     blanks the room, position, building, department, real name or email (Counts.Clears). Lost Mode
//     turned off and the device name (never empty) are not clears.
//   - ChangeBudgetExceeded (roster): the roster plan's users and classes created or updated (not
//     removals, not groups created) over maxChanges; a percentage is of the in-scope roster people plus
//     classes (RosterCounts.People + Classes).
//   - RemovalBudgetExceeded: the roster plan's removals over maxRemovals; a percentage is of the MDM users
//     and classes removeStale may touch (RosterCounts.Managed).
func CheckBudget(pl Plan, s Safety, last Baseline) *Blocked {
	c := pl.Counts
	lastGoodItems := last.Items
	var vs []Violation
	add := func(reason, format string, args ...any) {
		vs = append(vs, Violation{Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case c.Items == 0 && c.Devices > 0:
		add(BlockedSourceEmpty, "Destiny returned no items while the MDM has %s devices: a Destiny outage must not clear a district", num(c.Devices))
	case s.MaxSourceShrink != nil && lastGoodItems > c.Items:
		shrink := lastGoodItems - c.Items
		if shrink > s.MaxSourceShrink.Limit(lastGoodItems) {
			add(BlockedSourceShrunk, "Destiny returned %s items, %s fewer than the %s of the last successful run (%d%%), over safety.maxSourceShrink %s",
				num(c.Items), num(shrink), num(lastGoodItems), shrink*100/lastGoodItems, limitText(*s.MaxSourceShrink, lastGoodItems, "items"))
		}
	}
	if s.MaxRosterShrink != nil && c.Roster && last.RosterRows > c.RosterRows {
		shrink := last.RosterRows - c.RosterRows
		if shrink > s.MaxRosterShrink.Limit(last.RosterRows) {
			add(BlockedRosterShrunk, "the roster has %s students, %s fewer than the %s of the last successful run (%d%%), over safety.maxRosterShrink %s: "+
				"a roster cut short must not reassign devices",
				num(c.RosterRows), num(shrink), num(last.RosterRows), shrink*100/last.RosterRows, limitText(*s.MaxRosterShrink, last.RosterRows, "students"))
		}
	}
	if s.MaxChanges != nil && c.Changed > s.MaxChanges.Limit(c.Matched) {
		add(BlockedChangeBudgetExceeded, "the plan changes %s of %s matched devices%s, over safety.maxChanges %s",
			num(c.Changed), num(c.Matched), share(c.Changed, c.Matched), limitText(*s.MaxChanges, c.Matched, "devices"))
	}
	if s.MaxClears != nil && c.Clears > s.MaxClears.Limit(c.Matched) {
		add(BlockedClearBudgetExceeded, "the plan empties fields (user, location, room, position, ...) of %s of %s matched devices%s, %s fields in all, over safety.maxClears %s",
			num(c.Clears), num(c.Matched), share(c.Clears, c.Matched), num(c.EmptiedFields), limitText(*s.MaxClears, c.Matched, "devices"))
	}
	if r := pl.Roster; r != nil {
		// Groups created are not counted: they only add a place for users (a handful per school), and
		// the budget's measure is the roster's people and classes.
		of := r.Counts.People + r.Counts.Classes
		a := r.Counts.ByAction
		changed := r.Counts.Changed - a[ActionGroupCreated]
		if s.MaxChanges != nil && changed > s.MaxChanges.Limit(of) {
			add(BlockedChangeBudgetExceeded, "the roster plan changes %s users and classes (%s users created, %s users updated, %s classes created, %s classes updated) "+
				"of %s people and %s classes in the roster%s, over safety.maxChanges %s",
				num(changed), num(a[ActionUserCreated]), num(a[ActionUserUpdated]), num(a[ActionClassCreated]),
				num(a[ActionClassUpdated]+a[ActionMembersChanged]),
				num(r.Counts.People), num(r.Counts.Classes), share(changed, of), limitText(*s.MaxChanges, of, "people and classes"))
		}
		if s.MaxRemovals != nil && r.Counts.Removals > s.MaxRemovals.Limit(r.Counts.Managed) {
			users, classes := 0, 0
			for _, c := range r.Changes {
				switch {
				case c.Action != ActionRemoved:
				case c.Kind == KindClass:
					classes++
				default:
					users++
				}
			}
			add(BlockedRemovalBudgetExceeded, "the roster plan removes %s users and %s classes, %s of the %s the policy manages%s, over safety.maxRemovals %s",
				num(users), num(classes), num(r.Counts.Removals), num(r.Counts.Managed), share(r.Counts.Removals, r.Counts.Managed),
				limitText(*s.MaxRemovals, r.Counts.Managed, "users and classes"))
		}
	}
	if len(vs) == 0 {
		return nil
	}
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.Message
	}
	return &Blocked{Reason: vs[0].Reason, Message: strings.Join(msgs, "; "), Violations: vs}
}

// share is " (20%)" of n in total, rounded down; "" when total is 0.
func share(n, total int) string {
	if total <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%d%%)", n*100/total)
}

// limitText is "10% (400 devices)" or "200".
func limitText(b Budget, of int, unit string) string {
	if b.Percent {
		return fmt.Sprintf("%s (%s %s)", b, num(b.Limit(of)), unit)
	}
	return b.String()
}

// num formats n with thousands separators: 4000 -> "4,000".
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
