package plan

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
)

// The fixtures: one district school (LHS -> building Lincoln High), the CRD's default rules, Lost Mode
// enabled with includeStolen and disableWhenFound, Jamf Pro as the target, and Ada, an active student
// whose iPad (serial A) Jamf already shows exactly as the rules want.

const (
	serialA = "DMPXK2ABCD12"
	serialB = "F9FXK2ABCD34"
	itemA   = "1001"
	itemA2  = "1002"
	devA    = "101"
	devA2   = "102"
	nameA   = "Lovelace, Ada - " + serialA
	stdA    = "STU-" + serialA
)

func tmpl(t testing.TB, name, text string) *naming.Template {
	t.Helper()
	tp, err := naming.Compile(name, text)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func defaultPolicy(t testing.TB) Policy {
	return Policy{
		StudentPatronTypes: []string{"Student"},
		TeacherPatronTypes: []string{"Teacher", "Staff"},
		StudentDeviceTypes: []string{"iPad"},
		Schools: map[string]School{
			"LHS": {SchoolName: "Lincoln High School", Building: "Lincoln High", Location: "Lincoln"},
		},
		Naming: Naming{
			Student:         tmpl(t, "naming.student", "{{.LastName}}, {{.FirstName}} - {{.Serial}}"),
			Standard:        tmpl(t, "naming.standard", "STU-{{.Serial}}"),
			TeacherCheckout: tmpl(t, "naming.teacherCheckout", "Return to Library"),
			EnforceName:     true,
		},
		Manage: Manage{Name: true, User: true, Location: true, LostMode: true},
		User: UserRules{
			Username: tmpl(t, "fields.user.username", "{{.Username}}"),
			RealName: tmpl(t, "fields.user.realName", "{{.FullName}}"),
			Email:    tmpl(t, "fields.user.email", "{{.Email}}"),
		},
		Location: LocationRules{
			Position: tmpl(t, "fields.location.position", "{{with .Grade}}Grade {{.}}{{end}}"),
			Room:     tmpl(t, "fields.location.room", "{{.Homeroom}}"),
		},
		LostMode: LostMode{Enabled: true, Message: "This iPad belongs to the district", Phone: "555-0100",
			Footnote: "Return to the library", IncludeStolen: true, DisableWhenFound: true},
		Target: JamfPro(),
	}
}

func ada() *Borrower {
	return &Borrower{DistrictID: "100001", FirstName: "Ada", LastName: "Lovelace", Email: "ada.lovelace@example.org",
		PatronType: "Student", Status: "Active",
		Roster: &roster.Student{Key: "100001", Username: "alovelace", Grade: "09", Homeroom: "Room 101", Teachers: []string{"Alan Turing"}}}
}

func borrower(mod func(*Borrower)) *Borrower {
	b := ada()
	mod(b)
	return b
}

func item(id, raw, status string, b *Borrower) Item {
	return Item{ID: id, Barcode: "T" + id, RawSerial: raw, Status: status, ResourceType: "iPad", Site: "LHS", AssetTag: "A" + id, Borrower: b}
}

func lost(on bool) *bool { return &on }

// adaDevice is serial A as the rules want it for Ada.
func adaDevice() Device {
	return Device{Key: devA, RawSerial: serialA, Name: nameA, Managed: true, Supervised: true,
		Username: "alovelace", RealName: "Ada Lovelace", Email: "ada.lovelace@example.org",
		Position: "Grade 09", Building: "Lincoln High", Room: "Room 101", LostMode: lost(false)}
}

// blankDevice is serial A with the standard name and no user or location.
func blankDevice() Device {
	return Device{Key: devA, RawSerial: serialA, Name: stdA, Managed: true, Supervised: true, LostMode: lost(false)}
}

func device(base Device, mod func(*Device)) Device {
	mod(&base)
	return base
}

func sp(s string) *string { return &s }

func fc(field, old, new string) FieldChange { return FieldChange{Field: field, Old: old, New: new} }

type wantSkip struct{ Serial, ItemID, DeviceKey, Reason string }

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		policy  func(*Policy)
		items   []Item
		devices []Device
		changes []Change
		skips   []wantSkip
		inSync  int
	}{
		// Already as desired.
		{
			name:    "an active student's device that Jamf already shows as desired is InSync and makes no change",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{adaDevice()},
			inSync:  1,
		},
		{
			name:    "username and email differing only in case are InSync",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Username = "ALovelace"; d.Email = "Ada.Lovelace@Example.org" })},
			inSync:  1,
		},
		{
			name:    "the device's value is trimmed before comparing",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Room = "Room 101 " })},
			inSync:  1,
		},
		// Active student.
		{
			name:    "active student, stale name: rename with the student rule, counted Updated",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "iPad" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("name", "iPad", nameA)}, Set: Set{Name: sp(nameA), EnforceName: true}}},
		},
		{
			name:  "active student, name already right but another student's user: user set, counted Reassigned",
			items: []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) {
				d.Username, d.RealName, d.Email = "ghopper", "Grace Hopper", "grace.hopper@example.org"
			})},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionReassigned,
				Fields: []FieldChange{fc("username", "ghopper", "alovelace"), fc("realName", "Grace Hopper", "Ada Lovelace"),
					fc("email", "grace.hopper@example.org", "ada.lovelace@example.org")},
				Set: Set{Username: sp("alovelace"), RealName: sp("Ada Lovelace"), Email: sp("ada.lovelace@example.org")}}},
		},
		{
			name:    "active student, Jamf has no user: name, user and location set, counted Assigned",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{blankDevice()},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionAssigned,
				Fields: []FieldChange{fc("name", stdA, nameA), fc("username", "", "alovelace"), fc("realName", "", "Ada Lovelace"),
					fc("email", "", "ada.lovelace@example.org"), fc("building", "", "Lincoln High"), fc("room", "", "Room 101"),
					fc("position", "", "Grade 09")},
				Set: Set{Name: sp(nameA), EnforceName: true, Username: sp("alovelace"), RealName: sp("Ada Lovelace"),
					Email: sp("ada.lovelace@example.org"), Building: sp("Lincoln High"), Room: sp("Room 101"), Position: sp("Grade 09")}}},
		},
		{
			name:    "active student, user right but building wrong: building set from the school map, counted Updated",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Building = "Washington Middle" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("building", "Washington Middle", "Lincoln High")}, Set: Set{Building: sp("Lincoln High")}}},
		},
		{
			name:    "building compares case-insensitively, as Jamf resolves building names",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Building = "LINCOLN HIGH" })},
			inSync:  1,
		},
		{
			name:    "a restricted student still holds the device: the active student rule applies",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Status = "R" }))},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "iPad" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("name", "iPad", nameA)}, Set: Set{Name: sp(nameA), EnforceName: true}}},
		},
		{
			name:    "a patron status Destiny did not give counts as active: the checkout is the evidence",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Status = "" }))},
			devices: []Device{adaDevice()},
			inSync:  1,
		},
		{
			name:    "without a roster record the username is the email",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Roster = nil }))},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Username = "ada.lovelace@example.org"; d.Position = ""; d.Room = "" })},
			inSync:  1,
		},
		{
			name:    "an empty rendered value clears the field: no grade or homeroom without a roster",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Roster = nil }))},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Username = "ada.lovelace@example.org" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("room", "Room 101", ""), fc("position", "Grade 09", "")}, Set: Set{Room: sp(""), Position: sp("")}}},
		},
		{
			name: "the school's department rule overrides the fields rule",
			policy: func(p *Policy) {
				p.Location.Department = tmpl(t, "fields.location.department", "Students")
				s := p.Schools["LHS"]
				s.Department = tmpl(t, "schools[LHS].department", "Grade {{.Grade}}")
				p.Schools["LHS"] = s
			},
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{adaDevice()},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("department", "", "Grade 09")}, Set: Set{Department: sp("Grade 09")}}},
		},
		{
			name:    "without a department rule the department is not compared",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Department = "Science" })},
			inSync:  1,
		},
		{
			name:    "a rename sends enforceName as the policy says",
			policy:  func(p *Policy) { p.Naming.EnforceName = false },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "iPad" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("name", "iPad", nameA)}, Set: Set{Name: sp(nameA)}}},
		},
		// Field ownership.
		{
			name:    "an unmanaged field is not compared: user not managed, wrong user left alone",
			policy:  func(p *Policy) { p.Manage.User = false },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Username, d.RealName, d.Email = "ghopper", "Grace Hopper", "" })},
			inSync:  1,
		},
		{
			name:    "name not managed: a wrong name is left alone",
			policy:  func(p *Policy) { p.Manage.Name = false },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "Grace's iPad" })},
			inSync:  1,
		},
		{
			name:    "location not managed: a wrong building is left alone",
			policy:  func(p *Policy) { p.Manage.Location = false },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Building = "Elsewhere"; d.Room = "" })},
			inSync:  1,
		},
		// Teacher checkout and inactive student.
		{
			name:    "checked out to a teacher: rename to the teacher rule, user and location untouched",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.PatronType = "Teacher"; b.Roster = nil }))},
			devices: []Device{adaDevice()},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionRenamed,
				Fields: []FieldChange{fc("name", nameA, "Return to Library")}, Set: Set{Name: sp("Return to Library"), EnforceName: true}}},
		},
		{
			name:    "patron types compare case-insensitively: staff is a teacher type",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.PatronType = " staff " }))},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "Return to Library" })},
			inSync:  1,
		},
		{
			name:    "a patron type in both lists is treated as a teacher, the rule that writes less",
			policy:  func(p *Policy) { p.TeacherPatronTypes = append(p.TeacherPatronTypes, "Student") },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(blankDevice(), func(d *Device) { d.Name = "Return to Library" })},
			inSync:  1,
		},
		{
			name:    "checked out to an inactive student: rename to the standard rule, user and location untouched",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Status = "Inactive" }))},
			devices: []Device{adaDevice()},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionRenamed,
				Fields: []FieldChange{fc("name", nameA, stdA)}, Set: Set{Name: sp(stdA), EnforceName: true}}},
		},
		{
			name:    "an unknown patron status is a lookup failure, not a guess",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Status = "X" }))},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonPatronLookupFailed}},
		},
		{
			name:    "patron lookup failed: skip PatronLookupFailed",
			items:   []Item{item(itemA, serialA, "checked out", &Borrower{DistrictID: "100001", LookupError: "CODE_NOT_FOUND"})},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonPatronLookupFailed}},
		},
		{
			name:    "patron type in neither list: skip NoRuleForPatronType",
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.PatronType = "Volunteer" }))},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNoRuleForPatronType}},
		},
		{
			name:    "checked out with no borrower on the item: skip NoBorrower",
			items:   []Item{item(itemA, serialA, "checked out", nil)},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNoBorrower}},
		},
		// Available.
		{
			name:    "available student device with a user: user and location cleared, renamed standard, counted Cleared",
			items:   []Item{item(itemA, serialA, "available", nil)},
			devices: []Device{adaDevice()},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionCleared,
				Fields: []FieldChange{fc("name", nameA, stdA), fc("username", "alovelace", ""), fc("realName", "Ada Lovelace", ""),
					fc("email", "ada.lovelace@example.org", ""), fc("building", "Lincoln High", ""), fc("room", "Room 101", ""),
					fc("position", "Grade 09", "")},
				Set: Set{Name: sp(stdA), EnforceName: true, Username: sp(""), RealName: sp(""), Email: sp(""), Building: sp(""),
					Room: sp(""), Position: sp("")}}},
		},
		{
			name:    "available student device already clear and standard: InSync",
			items:   []Item{item(itemA, serialA, "available", nil)},
			devices: []Device{blankDevice()},
			inSync:  1,
		},
		{
			name:    "available student device with no user but an old name: Renamed, not Cleared",
			items:   []Item{item(itemA, serialA, "available", nil)},
			devices: []Device{device(blankDevice(), func(d *Device) { d.Name = nameA })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionRenamed,
				Fields: []FieldChange{fc("name", nameA, stdA)}, Set: Set{Name: sp(stdA), EnforceName: true}}},
		},
		{
			name:    "available device of a type not marked as a student device is left alone: NotStudentDevice",
			items:   []Item{device2item(item(itemA, serialA, "available", nil), "Staff iPad")},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNotStudentDevice}},
		},
		{
			name:    "available device of a non-student type in Lost Mode: only Lost Mode is turned off",
			items:   []Item{device2item(item(itemA, serialA, "available", nil), "Staff iPad")},
			devices: []Device{device(adaDevice(), func(d *Device) { d.LostMode = lost(true) })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionLostModeDisabled,
				Fields: []FieldChange{fc("lostMode", "on", "off")}, Set: Set{LostMode: &LostModeCommand{Enable: false}}}},
		},
		// Lost and stolen.
		{
			name:    "lost with Lost Mode off: Lost Mode enabled with the policy's texts, user and name untouched",
			items:   []Item{item(itemA, serialA, "lost", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "whatever" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionLostModeEnabled,
				Fields: []FieldChange{fc("lostMode", "off", "on")},
				Set:    Set{LostMode: &LostModeCommand{Enable: true, Message: "This iPad belongs to the district", Phone: "555-0100", Footnote: "Return to the library"}}}},
		},
		{
			name:    "lost and already in Lost Mode: InSync",
			items:   []Item{item(itemA, serialA, "lost", nil)},
			devices: []Device{device(adaDevice(), func(d *Device) { d.LostMode = lost(true) })},
			inSync:  1,
		},
		{
			name:    "lost while the target cannot say whether Lost Mode is on: enabled (the command is idempotent)",
			items:   []Item{item(itemA, serialA, "lost", nil)},
			devices: []Device{device(adaDevice(), func(d *Device) { d.LostMode = nil })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionLostModeEnabled,
				Fields: []FieldChange{fc("lostMode", "unknown", "on")},
				Set:    Set{LostMode: &LostModeCommand{Enable: true, Message: "This iPad belongs to the district", Phone: "555-0100", Footnote: "Return to the library"}}}},
		},
		{
			name:    "stolen is handled like lost when the policy includes stolen",
			items:   []Item{item(itemA, serialA, "stolen", nil)},
			devices: []Device{adaDevice()},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionLostModeEnabled,
				Fields: []FieldChange{fc("lostMode", "off", "on")},
				Set:    Set{LostMode: &LostModeCommand{Enable: true, Message: "This iPad belongs to the district", Phone: "555-0100", Footnote: "Return to the library"}}}},
		},
		{
			name:    "stolen without includeStolen: NoRuleForStatus",
			policy:  func(p *Policy) { p.LostMode.IncludeStolen = false },
			items:   []Item{item(itemA, serialA, "stolen", nil)},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNoRuleForStatus}},
		},
		{
			name:    "lost while the policy does not enable Lost Mode: NoRuleForStatus",
			policy:  func(p *Policy) { p.LostMode.Enabled = false },
			items:   []Item{item(itemA, serialA, "lost", nil)},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNoRuleForStatus}},
		},
		{
			name:    "found again: checked out with Lost Mode on and the device otherwise in sync, Lost Mode disabled",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.LostMode = lost(true) })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionLostModeDisabled,
				Fields: []FieldChange{fc("lostMode", "on", "off")}, Set: Set{LostMode: &LostModeCommand{}}}},
		},
		{
			name:    "found again and available: Lost Mode off combined with the clear, the change keeps Cleared",
			items:   []Item{item(itemA, serialA, "available", nil)},
			devices: []Device{device(adaDevice(), func(d *Device) { d.LostMode = lost(true); d.Position, d.Room, d.RealName, d.Email = "", "", "", "" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionCleared,
				Fields: []FieldChange{fc("name", nameA, stdA), fc("username", "alovelace", ""), fc("building", "Lincoln High", ""), fc("lostMode", "on", "off")},
				Set:    Set{Name: sp(stdA), EnforceName: true, Username: sp(""), Building: sp(""), LostMode: &LostModeCommand{}}}},
		},
		{
			name:    "found again while the policy does not disable Lost Mode when found: Lost Mode stays on",
			policy:  func(p *Policy) { p.LostMode.DisableWhenFound = false },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.LostMode = lost(true) })},
			inSync:  1,
		},
		// Other statuses.
		{
			name:    "in transit: no change, NoRuleForStatus",
			items:   []Item{item(itemA, serialA, "in transit", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "iPad" })},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNoRuleForStatus}},
		},
		{
			name:    "out for repairs: no change, NoRuleForStatus",
			items:   []Item{item(itemA, serialA, "out for repairs", nil)},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNoRuleForStatus}},
		},
		{
			name:    "status is compared after trimming and lower-casing",
			items:   []Item{item(itemA, serialA, " Checked Out ", ada())},
			devices: []Device{adaDevice()},
			inSync:  1,
		},
		// Matching.
		{
			name:  "an item without a serial: skip NoSerial",
			items: []Item{item(itemA, " - ", "checked out", ada())},
			skips: []wantSkip{{"", itemA, "", ReasonNoSerial}},
		},
		{
			name:    "a messy Destiny serial matches after normalising, and rules see the normalised serial",
			items:   []Item{item(itemA, " dmpx-k2ab cd12\u00a0", "available", nil)},
			devices: []Device{blankDevice()},
			inSync:  1,
		},
		{
			name:    "a serial only in the item field, passed as RawSerial by the adapter, matches",
			items:   []Item{{ID: itemA, RawSerial: "DMPX-K2AB-CD12", Status: "checked out", ResourceType: "iPad", Site: "LHS", Borrower: ada()}},
			devices: []Device{adaDevice()},
			inSync:  1,
		},
		{
			name:    "a serial on two Jamf devices: item and both devices skipped DuplicateSerial",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{blankDevice(), device(blankDevice(), func(d *Device) { d.Key = devA2; d.RawSerial = "dmpxk2abcd12" })},
			skips:   []wantSkip{{serialA, "", devA, ReasonDuplicateSerial}, {serialA, "", devA2, ReasonDuplicateSerial}, {serialA, itemA, "", ReasonDuplicateSerial}},
		},
		{
			name:    "a serial on two Destiny items: both items and the device skipped DuplicateSerial",
			items:   []Item{item(itemA, serialA, "checked out", ada()), item(itemA2, serialA+" ", "available", nil)},
			devices: []Device{blankDevice()},
			skips:   []wantSkip{{serialA, "", devA, ReasonDuplicateSerial}, {serialA, itemA, "", ReasonDuplicateSerial}, {serialA, itemA2, "", ReasonDuplicateSerial}},
		},
		{
			name:    "a serial on two Jamf devices and no item: both skipped DuplicateSerial",
			devices: []Device{blankDevice(), device(blankDevice(), func(d *Device) { d.Key = devA2 })},
			skips:   []wantSkip{{serialA, "", devA, ReasonDuplicateSerial}, {serialA, "", devA2, ReasonDuplicateSerial}},
		},
		{
			name:  "an item whose serial Jamf does not know: skip NotInJamf",
			items: []Item{item(itemA, serialA, "checked out", ada())},
			skips: []wantSkip{{serialA, itemA, "", ReasonNotInJamf}},
		},
		{
			name:    "a Jamf device with no Destiny item: reported NotInDestiny, never touched",
			devices: []Device{device(adaDevice(), func(d *Device) { d.RawSerial = serialB })},
			skips:   []wantSkip{{serialB, "", devA, ReasonNotInDestiny}},
		},
		{
			name:    "an unmanaged device: skip Unmanaged",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(blankDevice(), func(d *Device) { d.Managed = false })},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonUnmanaged}},
		},
		{
			name:    "an unsupervised device: skip Unsupervised",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(blankDevice(), func(d *Device) { d.Supervised = false })},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonUnsupervised}},
		},
		{
			name:    "a device whose data Jamf could not return: skip Unreadable",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{{Key: devA, RawSerial: serialA, Unreadable: true}},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonUnreadable}},
		},
		{
			name:    "an Apple TV (a device type the sync does not manage) checked out: skip UnsupportedDeviceType, not Unreadable",
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(blankDevice(), func(d *Device) { d.UnsupportedType = "tvOS"; d.LostMode = nil })},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonUnsupportedDeviceType}},
		},
		{
			name:    "an unreadable device without a serial: skip Unreadable",
			devices: []Device{{Key: devA, Unreadable: true}},
			skips:   []wantSkip{{"", "", devA, ReasonUnreadable}},
		},
		{
			name:    "a readable device without a serial: skip NoSerial",
			devices: []Device{device(blankDevice(), func(d *Device) { d.RawSerial = "" })},
			skips:   []wantSkip{{"", "", devA, ReasonNoSerial}},
		},
		{
			name:    "an item of a site the policy does not list: skip SiteNotInPolicy, device untouched",
			items:   []Item{func() Item { it := item(itemA, serialA, "available", nil); it.Site = "WMS"; return it }()},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonSiteNotInPolicy}},
		},
		{
			name: "a student with no username (no roster record, no email) is skipped NoUsername: the device's user is never cleared",
			items: []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) {
				b.Email, b.Roster = "", nil
			}))},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNoUsername}},
		},
		// Roster.
		{
			name:    "with a roster, an active student it has no row for is skipped NotInRoster: user, room and position are not guessed",
			policy:  func(p *Policy) { p.Roster = &Roster{Rows: 700} },
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Roster = nil }))},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNotInRoster}},
		},
		{
			name:    "with a roster, a restricted student it has no row for is skipped NotInRoster too",
			policy:  func(p *Policy) { p.Roster = &Roster{Rows: 700} },
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Roster, b.Status = nil, "R" }))},
			devices: []Device{blankDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonNotInRoster}},
		},
		{
			name:    "with a roster, a student it has a row for is planned as usual",
			policy:  func(p *Policy) { p.Roster = &Roster{Rows: 700} },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Name = "iPad" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("name", "iPad", nameA)}, Set: Set{Name: sp(nameA), EnforceName: true}}},
		},
		{
			name:    "with a roster, an inactive student it has no row for is renamed as usual: no user or location is written",
			policy:  func(p *Policy) { p.Roster = &Roster{Rows: 700} },
			items:   []Item{item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Roster, b.Status = nil, "Inactive" }))},
			devices: []Device{adaDevice()},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionRenamed,
				Fields: []FieldChange{fc("name", nameA, stdA)}, Set: Set{Name: sp(stdA), EnforceName: true}}},
		},
		// Templates.
		{
			name:    "a template that fails to render skips the device with TemplateError",
			policy:  func(p *Policy) { p.Naming.Student = tmpl(t, "naming.student", "{{index .Teachers 2}}") },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{blankDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonTemplateError}},
		},
		{
			name:    "a user or location template that fails to render skips the whole device",
			policy:  func(p *Policy) { p.Location.Room = tmpl(t, "fields.location.room", "{{index .Teachers 2}}") },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{blankDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonTemplateError}},
		},
		{
			name:    "a device name that renders empty is a TemplateError: a device always has a name",
			policy:  func(p *Policy) { p.Naming.Student = tmpl(t, "naming.student", "{{.MiddleName}}") },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{adaDevice()},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonTemplateError}},
		},
		// Targets.
		{
			name:    "Jamf School cannot rename: a name difference alone is skipped UnsupportedByTarget",
			policy:  func(p *Policy) { jamfSchool(p) },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{schoolDevice(func(d *Device) { d.Name = "iPad" })},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonUnsupportedByTarget}},
		},
		{
			name:    "Jamf School device as desired: InSync",
			policy:  func(p *Policy) { jamfSchool(p) },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{schoolDevice(func(*Device) {})},
			inSync:  1,
		},
		{
			name:   "Jamf School owner of another student: owner set by username, the name reported unsupported, real name and email follow the owner",
			policy: func(p *Policy) { jamfSchool(p) },
			items:  []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{schoolDevice(func(d *Device) {
				d.Name, d.Username, d.RealName, d.Email = "iPad", "ghopper", "Grace Hopper", "grace.hopper@example.org"
			})},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionReassigned,
				Fields: []FieldChange{fc("username", "ghopper", "alovelace")}, Set: Set{Username: sp("alovelace")}, Unsupported: []string{"name"}}},
		},
		{
			name:    "Jamf School device in another location: moved to the school's location, counted Updated",
			policy:  func(p *Policy) { jamfSchool(p) },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{schoolDevice(func(d *Device) { d.Location = "Washington" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("location", "Washington", "Lincoln")}, Set: Set{Location: sp("Lincoln")}}},
		},
		{
			name:    "Jamf School location compares case-insensitively, as the policy's location is resolved: no move every run",
			policy:  func(p *Policy) { jamfSchool(p) },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{schoolDevice(func(d *Device) { d.Location = "LINCOLN" })},
			inSync:  1,
		},
		{
			name:    "Jamf School available device: owner removed, location kept at the school, counted Cleared",
			policy:  func(p *Policy) { jamfSchool(p) },
			items:   []Item{item(itemA, serialA, "available", nil)},
			devices: []Device{schoolDevice(func(d *Device) { d.Name = stdA })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionCleared,
				Fields: []FieldChange{fc("username", "alovelace", "")}, Set: Set{Username: sp("")}}},
		},
		{
			name:    "Jamf School cannot enable Lost Mode: a lost device is skipped UnsupportedByTarget",
			policy:  func(p *Policy) { jamfSchool(p) },
			items:   []Item{item(itemA, serialA, "lost", ada())},
			devices: []Device{schoolDevice(func(*Device) {})},
			skips:   []wantSkip{{serialA, itemA, devA, ReasonUnsupportedByTarget}},
		},
		{
			name:    "a target that cannot write the position reports it and writes the rest",
			policy:  func(p *Policy) { p.Target.Position = false },
			items:   []Item{item(itemA, serialA, "checked out", ada())},
			devices: []Device{device(adaDevice(), func(d *Device) { d.Position = ""; d.Room = "" })},
			changes: []Change{{Serial: serialA, DeviceKey: devA, ItemID: itemA, Action: ActionUpdated,
				Fields: []FieldChange{fc("room", "", "Room 101")}, Set: Set{Room: sp("Room 101")}, Unsupported: []string{"position"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultPolicy(t)
			if tt.policy != nil {
				tt.policy(&p)
			}
			got := Build(p, tt.items, tt.devices)
			checkInvariants(t, got)
			if !reflect.DeepEqual(nonNil(got.Changes), nonNil(tt.changes)) {
				t.Errorf("changes:\n got  %s\n want %s", dump(got.Changes), dump(tt.changes))
			}
			var skips []wantSkip
			for _, s := range got.Skips {
				skips = append(skips, wantSkip{s.Serial, s.ItemID, s.DeviceKey, s.Reason})
				if s.Message == "" {
					t.Errorf("skip %+v has no message", s)
				}
			}
			if !reflect.DeepEqual(skips, tt.skips) {
				t.Errorf("skips:\n got  %+v\n want %+v", skips, tt.skips)
			}
			if got.Counts.InSync != tt.inSync {
				t.Errorf("InSync = %d, want %d", got.Counts.InSync, tt.inSync)
			}
		})
	}
}

func device2item(it Item, resourceType string) Item {
	it.ResourceType = resourceType
	return it
}

// jamfSchool turns the default policy into a Jamf School one: the controller leaves the rules of fields
// Jamf School devices do not have (position, room) unset.
func jamfSchool(p *Policy) {
	p.Target = JamfSchool()
	p.Location.Position, p.Location.Room = nil, nil
}

// schoolDevice is serial A on Jamf School, as the rules want it for Ada (the owner's name is Jamf
// School's user record).
func schoolDevice(mod func(*Device)) Device {
	d := Device{Key: devA, RawSerial: serialA, Name: nameA, Managed: true, Supervised: true, Username: "alovelace",
		RealName: "Ada Lovelace", Email: "ada.lovelace@example.org", Location: "Lincoln"}
	mod(&d)
	return d
}

func nonNil(c []Change) []Change {
	if c == nil {
		return []Change{}
	}
	return c
}

func dump(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "\n  {%s %s %s %s fields=%v unsupported=%v set=%s}", c.Serial, c.DeviceKey, c.ItemID, c.Action, c.Fields, c.Unsupported, setString(c.Set))
	}
	return b.String()
}

func setString(s Set) string {
	var parts []string
	add := func(k string, v *string) {
		if v != nil {
			parts = append(parts, fmt.Sprintf("%s=%q", k, *v))
		}
	}
	add("name", s.Name)
	add("username", s.Username)
	add("realName", s.RealName)
	add("email", s.Email)
	add("position", s.Position)
	add("room", s.Room)
	add("building", s.Building)
	add("department", s.Department)
	add("location", s.Location)
	if s.EnforceName {
		parts = append(parts, "enforceName")
	}
	if s.LostMode != nil {
		parts = append(parts, fmt.Sprintf("lostMode=%+v", *s.LostMode))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// checkInvariants holds for every plan.
func checkInvariants(t *testing.T, p Plan) {
	t.Helper()
	c := p.Counts
	if c.Changed != len(p.Changes) {
		t.Errorf("Changed = %d, %d changes", c.Changed, len(p.Changes))
	}
	reasons := 0
	for _, n := range c.ByReason {
		reasons += n
	}
	if reasons != len(p.Skips) {
		t.Errorf("ByReason sums to %d, %d skips", reasons, len(p.Skips))
	}
	ruleSkips := 0
	for _, s := range p.Skips {
		switch s.Reason {
		case ReasonNoRuleForStatus, ReasonNoBorrower, ReasonPatronLookupFailed, ReasonNoRuleForPatronType,
			ReasonNotStudentDevice, ReasonTemplateError, ReasonUnsupportedByTarget, ReasonNoUsername, ReasonNotInRoster:
			ruleSkips++
		}
	}
	if c.Matched != c.InSync+c.Changed+ruleSkips {
		t.Errorf("Matched %d != InSync %d + Changed %d + rule skips %d", c.Matched, c.InSync, c.Changed, ruleSkips)
	}
	clears, emptied := 0, 0
	for _, ch := range p.Changes {
		n := 0
		for _, f := range ch.Fields {
			if f.New == "" && f.Field != FieldLostMode {
				n++
			}
		}
		if ch.Action == ActionCleared && n == 0 {
			t.Errorf("Cleared change %+v empties nothing", ch)
		}
		if n > 0 {
			clears++
		}
		emptied += n
		if len(ch.Fields) == 0 {
			t.Errorf("change %+v writes nothing", ch)
		}
	}
	if c.Clears != clears || c.EmptiedFields != emptied {
		t.Errorf("Clears = %d, EmptiedFields = %d; the changes empty %d fields on %d devices", c.Clears, c.EmptiedFields, emptied, clears)
	}
	if p.Digest != Digest(p.Changes) || len(p.Digest) != 64 {
		t.Errorf("Digest %q is not the digest of the changes", p.Digest)
	}
}

// district is a mixed snapshot of n serials covering the common rows: in sync, stale names, returned
// devices, lost devices, other statuses, devices only in Jamf and items only in Destiny.
func district(n int) ([]Item, []Device) {
	items := make([]Item, 0, n)
	devices := make([]Device, 0, n)
	for i := range n {
		s := fmt.Sprintf("SER%09d", i)
		id := fmt.Sprint(i)
		b := ada()
		b.DistrictID = "P" + id
		b.FirstName = "Given" + id
		name := "Lovelace, " + b.FirstName + " - " + s
		d := Device{Key: "D" + id, RawSerial: s, Name: name, Managed: true, Supervised: true, Username: "alovelace",
			RealName: b.FirstName + " Lovelace", Email: "ada.lovelace@example.org", Position: "Grade 09", Building: "Lincoln High",
			Room: "Room 101", LostMode: lost(false)}
		it := item(id, s, "checked out", b)
		switch i % 20 {
		case 1:
			d.Name = "iPad"
		case 2:
			d.Username = "someone"
		case 3:
			it.Status, it.Borrower = "available", nil
		case 4:
			it.Status = "lost"
		case 5:
			it.Status = "in transit"
		case 6:
			it.RawSerial = strings.ToLower(s[:4]) + "-" + s[4:]
		case 7:
			d.RawSerial = "X" + s // item NotInJamf, device NotInDestiny
		case 8:
			d.LostMode = lost(true)
		case 9:
			it.Borrower.PatronType = "Teacher"
		}
		items = append(items, it)
		devices = append(devices, d)
	}
	return items, devices
}

func TestBuildIsDeterministic(t *testing.T) {
	p := defaultPolicy(t)
	items, devices := district(400)
	items = append(items, item("dup1", "DUP", "available", nil), item("dup2", "dup", "available", nil))
	devices = append(devices, Device{Key: "dupdev", RawSerial: "DUP", Managed: true, Supervised: true})
	want := Build(p, items, devices)
	if len(want.Changes) == 0 || len(want.Skips) == 0 {
		t.Fatalf("fixture too simple: %d changes, %d skips", len(want.Changes), len(want.Skips))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 5 {
		is, ds := append([]Item(nil), items...), append([]Device(nil), devices...)
		rng.Shuffle(len(is), func(i, j int) { is[i], is[j] = is[j], is[i] })
		rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		got := Build(p, is, ds)
		if got.Digest != want.Digest {
			t.Fatalf("round %d: digest %s, want %s", round, got.Digest, want.Digest)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: shuffled inputs give another plan", round)
		}
	}
}

func TestDigestNamesExactlyTheChanges(t *testing.T) {
	p := defaultPolicy(t)
	items := []Item{item(itemA, serialA, "checked out", ada())}
	base := Build(p, items, []Device{device(adaDevice(), func(d *Device) { d.Name = "iPad" })})
	other := Build(p, items, []Device{device(adaDevice(), func(d *Device) { d.Name = "iPad 2" })})
	none := Build(p, items, []Device{adaDevice()})
	if base.Digest == other.Digest {
		t.Error("a different old value gives the same digest")
	}
	if base.Digest == none.Digest || none.Digest != Digest(nil) {
		t.Errorf("empty plan digest %s, want the digest of no changes %s, distinct from %s", none.Digest, Digest(nil), base.Digest)
	}
}

func TestCounts(t *testing.T) {
	p := defaultPolicy(t)
	items, devices := district(20)
	got := Build(p, items, devices)
	checkInvariants(t, got)
	// Serial 7 is in neither system under one serial (NotInJamf + NotInDestiny); 5 is in transit;
	// 1 stale name, 2 another user, 3 returned, 4 lost, 8 found, 9 teacher change; the other 12 are in sync.
	want := Counts{
		Items: 20, Devices: 20, Matched: 19, InSync: 12, Changed: 6, Clears: 1, EmptiedFields: 6,
		ByAction: map[string]int{ActionUpdated: 1, ActionReassigned: 1, ActionCleared: 1, ActionLostModeEnabled: 1,
			ActionLostModeDisabled: 1, ActionRenamed: 1},
		ByReason: map[string]int{ReasonNoRuleForStatus: 1, ReasonNotInJamf: 1, ReasonNotInDestiny: 1},
	}
	if !reflect.DeepEqual(got.Counts, want) {
		t.Errorf("counts\n got  %+v\n want %+v", got.Counts, want)
	}
}

func TestByActionCountsLostModeDisabledAlongsideTheRuleAction(t *testing.T) {
	p := defaultPolicy(t)
	got := Build(p, []Item{item(itemA, serialA, "available", nil)}, []Device{device(adaDevice(), func(d *Device) { d.LostMode = lost(true) })})
	if got.Counts.ByAction[ActionCleared] != 1 || got.Counts.ByAction[ActionLostModeDisabled] != 1 || got.Counts.Changed != 1 {
		t.Errorf("counts %+v: want one change counted Cleared and LostModeDisabled", got.Counts)
	}
}

// TestClearsCountEveryEmptiedField: maxClears bounds every change that empties a field the device had a
// value in, not only Cleared ones.
func TestClearsCountEveryEmptiedField(t *testing.T) {
	tests := []struct {
		name        string
		item        Item
		device      Device
		wantAction  string
		wantClears  int
		wantEmptied int
	}{
		{"a returned device: one clear, every user and location field it had", item(itemA, serialA, "available", nil), adaDevice(),
			ActionCleared, 1, 6},
		{"an Updated change that empties the room counts", item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Roster.Homeroom = "" })),
			adaDevice(), ActionUpdated, 1, 1},
		{"a Reassigned change that empties the position counts",
			item(itemA, serialA, "checked out", borrower(func(b *Borrower) { b.Roster.Grade = "" })),
			device(adaDevice(), func(d *Device) { d.Username = "ghopper" }), ActionReassigned, 1, 1},
		{"a change that only sets values is not a clear", item(itemA, serialA, "checked out", ada()),
			device(adaDevice(), func(d *Device) { d.Name = "iPad" }), ActionUpdated, 0, 0},
		{"Lost Mode turned off is not a clear", item(itemA, serialA, "checked out", ada()),
			device(adaDevice(), func(d *Device) { d.LostMode = lost(true) }), ActionLostModeDisabled, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Build(defaultPolicy(t), []Item{tt.item}, []Device{tt.device})
			checkInvariants(t, got)
			if len(got.Changes) != 1 || got.Changes[0].Action != tt.wantAction {
				t.Fatalf("changes %s, want one %s", dump(got.Changes), tt.wantAction)
			}
			if got.Counts.Clears != tt.wantClears || got.Counts.EmptiedFields != tt.wantEmptied {
				t.Errorf("Clears %d, EmptiedFields %d; want %d, %d", got.Counts.Clears, got.Counts.EmptiedFields, tt.wantClears, tt.wantEmptied)
			}
			blocked := CheckBudget(got, Safety{MaxClears: budget(Count(0))}, Baseline{})
			if (blocked != nil) != (tt.wantClears > 0) {
				t.Errorf("maxClears 0: blocked %+v, want blocked %v", blocked, tt.wantClears > 0)
			}
		})
	}
}

func budget(b Budget) *Budget { return &b }

func TestCheckBudget(t *testing.T) {
	counts := func(items, devices, matched, changed, clears int) Plan {
		return Plan{Counts: Counts{Items: items, Devices: devices, Matched: matched, Changed: changed, Clears: clears}}
	}
	roster := func(pl Plan, rows int) Plan {
		pl.Counts.Roster, pl.Counts.RosterRows = true, rows
		return pl
	}
	defaults := Safety{MaxChanges: budget(Percent(25)), MaxClears: budget(Percent(10)), MaxSourceShrink: budget(Percent(20)),
		MaxRosterShrink: budget(Percent(20))}
	tests := []struct {
		name     string
		plan     Plan
		safety   Safety
		lastGood Baseline
		reasons  []string
		message  string
	}{
		{"a plan within every budget is not blocked", counts(4000, 4000, 4000, 1000, 400), defaults, Baseline{Items: 4000}, nil, ""},
		{"no items while the MDM has devices blocks SourceEmpty, whatever the budgets", counts(0, 4000, 0, 0, 0), Safety{}, Baseline{}, []string{BlockedSourceEmpty},
			"Destiny returned no items while the MDM has 4,000 devices"},
		{"no items and no devices is nothing to do, not blocked", counts(0, 0, 0, 0, 0), defaults, Baseline{}, nil, ""},
		{"fewer items than maxSourceShrink allows blocks SourceShrunk", counts(3000, 4000, 3000, 0, 0), defaults, Baseline{Items: 4000}, []string{BlockedSourceShrunk},
			"Destiny returned 3,000 items, 1,000 fewer than the 4,000 of the last successful run (25%), over safety.maxSourceShrink 20% (800 items)"},
		{"a shrink exactly at the budget is allowed", counts(3200, 4000, 3200, 0, 0), defaults, Baseline{Items: 4000}, nil, ""},
		{"a shrink as a count", counts(3900, 4000, 3900, 0, 0), Safety{MaxSourceShrink: budget(Count(50))}, Baseline{Items: 4000}, []string{BlockedSourceShrunk},
			"over safety.maxSourceShrink 50"},
		{"without a last good run the source cannot shrink", counts(10, 4000, 10, 0, 0), defaults, Baseline{}, nil, ""},
		{"more changes than maxChanges (a percentage of matched devices) blocks ChangeBudgetExceeded", counts(4000, 4000, 4000, 812, 0),
			Safety{MaxChanges: budget(Percent(10))}, Baseline{Items: 4000}, []string{BlockedChangeBudgetExceeded},
			"the plan changes 812 of 4,000 matched devices (20%), over safety.maxChanges 10% (400 devices)"},
		{"changes exactly at the budget are allowed", counts(4000, 4000, 4000, 400, 0), Safety{MaxChanges: budget(Percent(10))}, Baseline{}, nil, ""},
		{"a percentage budget rounds down", counts(19, 19, 19, 2, 0), Safety{MaxChanges: budget(Percent(10))}, Baseline{}, []string{BlockedChangeBudgetExceeded},
			"the plan changes 2 of 19 matched devices (10%), over safety.maxChanges 10% (1 devices)"},
		{"a count budget", counts(4000, 4000, 4000, 201, 0), Safety{MaxChanges: budget(Count(200))}, Baseline{}, []string{BlockedChangeBudgetExceeded},
			"the plan changes 201 of 4,000 matched devices (5%), over safety.maxChanges 200"},
		{"a zero budget blocks any change", counts(10, 10, 10, 1, 0), Safety{MaxChanges: budget(Count(0))}, Baseline{}, []string{BlockedChangeBudgetExceeded}, ""},
		{"more clears than maxClears blocks ClearBudgetExceeded", counts(4000, 4000, 4000, 500, 500), defaults, Baseline{Items: 4000}, []string{BlockedClearBudgetExceeded},
			"the plan empties fields (user, location, room, position, ...) of 500 of 4,000 matched devices (12%), 0 fields in all, over safety.maxClears 10% (400 devices)"},
		{"every violation is reported, the first one is the reason", counts(1000, 4000, 1000, 1000, 1000), defaults, Baseline{Items: 4000},
			[]string{BlockedSourceShrunk, BlockedChangeBudgetExceeded, BlockedClearBudgetExceeded}, "; the plan changes 1,000 of 1,000"},
		{"a roster with fewer students than maxRosterShrink allows blocks RosterShrunk", roster(counts(4000, 4000, 4000, 0, 0), 700), defaults,
			Baseline{Items: 4000, RosterRows: 1000}, []string{BlockedRosterShrunk},
			"the roster has 700 students, 300 fewer than the 1,000 of the last successful run (30%), over safety.maxRosterShrink 20% (200 students)"},
		{"a roster shrink exactly at the budget is allowed", roster(counts(4000, 4000, 4000, 0, 0), 800), defaults,
			Baseline{Items: 4000, RosterRows: 1000}, nil, ""},
		{"an empty roster after a good run with one blocks RosterShrunk", roster(counts(4000, 4000, 4000, 0, 0), 0), defaults,
			Baseline{Items: 4000, RosterRows: 1000}, []string{BlockedRosterShrunk}, "the roster has 0 students, 1,000 fewer"},
		{"a roster shrink as a count", roster(counts(4000, 4000, 4000, 0, 0), 949), Safety{MaxRosterShrink: budget(Count(50))},
			Baseline{RosterRows: 1000}, []string{BlockedRosterShrunk}, "over safety.maxRosterShrink 50"},
		{"without a roster in the last good run the roster cannot shrink", roster(counts(4000, 4000, 4000, 0, 0), 10), defaults,
			Baseline{Items: 4000}, nil, ""},
		{"a policy without a roster is not checked against the last good run's", counts(4000, 4000, 4000, 0, 0), defaults,
			Baseline{Items: 4000, RosterRows: 1000}, nil, ""},
		{"a shrunken source and roster are both reported", roster(counts(3000, 4000, 3000, 0, 0), 500), defaults,
			Baseline{Items: 4000, RosterRows: 1000}, []string{BlockedSourceShrunk, BlockedRosterShrunk}, "; the roster has 500 students"},
		{"an unset budget is not checked", counts(4000, 4000, 4000, 4000, 4000), Safety{}, Baseline{Items: 4000}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckBudget(tt.plan, tt.safety, tt.lastGood)
			if tt.reasons == nil {
				if got != nil {
					t.Fatalf("blocked: %+v", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("not blocked, want %v", tt.reasons)
			}
			var reasons []string
			for _, v := range got.Violations {
				reasons = append(reasons, v.Reason)
			}
			if !reflect.DeepEqual(reasons, tt.reasons) || got.Reason != tt.reasons[0] {
				t.Errorf("reasons %v (first %s), want %v", reasons, got.Reason, tt.reasons)
			}
			if !strings.Contains(got.Message, tt.message) {
				t.Errorf("message %q does not contain %q", got.Message, tt.message)
			}
		})
	}
}

func TestParseBudget(t *testing.T) {
	tests := []struct {
		in      string
		want    Budget
		wantErr bool
	}{
		{"200", Count(200), false},
		{"10%", Percent(10), false},
		{"0%", Percent(0), false},
		{"100%", Percent(100), false},
		{"101%", Budget{}, true},
		{"-1", Budget{}, true},
		{"ten", Budget{}, true},
		{"", Budget{}, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := ParseBudget(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseBudget(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err == nil && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// BenchmarkBuild100k plans a district of 100,000 items and devices with the default rules.
func BenchmarkBuild100k(b *testing.B) {
	p := defaultPolicy(b)
	items, devices := district(100000)
	b.ReportAllocs()
	for b.Loop() {
		pl := Build(p, items, devices)
		if pl.Counts.Matched == 0 {
			b.Fatal("nothing matched")
		}
	}
}
