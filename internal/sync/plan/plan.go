// Package plan is the pure planner of the sync engine: given a policy, Destiny's items and the MDM's
// devices, Build returns what a run writes (Changes) and what it does not (Skips), deterministically.
// It does no I/O; a later adapter fills Item and Device from the clients, and the applier writes Set.
//
// # Decision table
//
// Matching (serials normalised with serial.Normalize; nothing else about a serial is ever assumed):
//
//	item serial empty                                   -> skip NoSerial (item)
//	device serial empty                                 -> skip Unreadable if the device is unreadable, else NoSerial (device)
//	serial on 2+ items or on 2+ devices                 -> skip DuplicateSerial, one skip per item and per device involved; never guess
//	item site not in spec.schools                       -> skip SiteNotInPolicy (the device, if any, is named and not touched)
//	no device with the serial                           -> skip NotInJamf
//	device of a type the sync does not manage (tvOS)    -> skip UnsupportedDeviceType
//	device unreadable                                   -> skip Unreadable
//	device not managed                                  -> skip Unmanaged
//	device not supervised                               -> skip Unsupervised
//	device with no item                                 -> skip NotInDestiny, never touched
//	otherwise the pair is Matched and the status rules below apply (status trimmed, lower-cased)
//
// Status rules:
//
//	checked out, no borrower on the item                -> skip NoBorrower
//	checked out, patron lookup failed                   -> skip PatronLookupFailed (with the lookup's message)
//	checked out, patron type in teacherPatronTypes      -> name = naming.teacherCheckout; user and location untouched (Renamed)
//	                                                       (a type in both lists is treated as a teacher: the safer rule)
//	checked out, patron type in studentPatronTypes:
//	  status Active, Restricted or ""                   -> active student: name = naming.student; user = username, realName,
//	                                                       email rules; location = building (or Jamf School location) from
//	                                                       the school map, department (school rule, else fields rule),
//	                                                       room, position rules. Reassigned when the device had another
//	                                                       username, Assigned when it had none, Updated otherwise (a device
//	                                                       with the right user but the wrong building is Updated).
//	                                                       Restricted students still hold the device; "" means Destiny did
//	                                                       not say, and the checkout itself is the evidence.
//	                                                       The username rendering empty (no roster username and no email)
//	                                                       skips the device NoUsername: a device a student holds never
//	                                                       has its user cleared.
//	    the policy has a roster with no row for the     -> skip NotInRoster: nothing of the device is written. A roster
//	    student                                            cut short (a partial SIS export) must not turn usernames into
//	                                                       e-mail addresses or empty rooms and positions (Reassigned).
//	  status Inactive                                   -> name = naming.standard; user and location untouched (Renamed).
//	                                                       Reported HeldByInactiveStudent (Plan.Holders: a student who
//	                                                       left still holds the device; an item between schools is
//	                                                       "in transit", not checked out). With lostMode.withdrawnAfter,
//	                                                       Lost Mode on (LostModeEnabled) once that long has passed since
//	                                                       a run first saw it (Policy.Withdrawn.FirstSeen), and never
//	                                                       turned off by disableWhenFound while the student is inactive.
//	  any other status                                  -> skip PatronLookupFailed ("unknown patron status")
//	checked out, patron type in neither list            -> skip NoRuleForPatronType
//	available, resource type in studentDeviceTypes      -> name = naming.standard; user and location cleared (Cleared when
//	                                                       anything of user or location was set, else Renamed). On Jamf
//	                                                       School the device is moved to (kept in) its school's location:
//	                                                       a device there always has a location.
//	available, other resource type                      -> skip NotStudentDevice (left alone), unless Lost Mode is to be disabled
//	lost, or stolen with lostMode.includeStolen         -> Lost Mode on with message, phone, footnote (LostModeEnabled);
//	                                                       name, user and location untouched (a lost device keeps its user,
//	                                                       so the district knows who had it). Lost Mode already on: InSync.
//	                                                       Lost Mode state unknown (nil): enabled (the command is idempotent).
//	lost / stolen, lostMode not enabled or not managed  -> skip NoRuleForStatus
//	stolen without includeStolen                        -> skip NoRuleForStatus
//	available or checked out, Lost Mode on              -> Lost Mode off (LostModeDisabled) when lostMode.enabled and
//	                                                       disableWhenFound, combined with that status's other rule (the
//	                                                       change keeps the other rule's action; ByAction counts both)
//	any other status (in transit, out for repairs, ...) -> skip NoRuleForStatus
//	nothing differs                                     -> InSync, no change
//
// Fields and comparison:
//
//   - Ownership: a field is compared and written only when its group is in spec.fields.manage (name, user,
//     location, lostMode) and it has a rule (a non-nil template; the building or location from the school map).
//   - Username, email, building, department and Jamf School location compare case-insensitively
//     (directories and Jamf's name lookups ignore case, so a case-only difference would be rewritten every
//     run); name, real name, room and position compare exactly. The device's value is trimmed before comparing.
//   - An empty rendered value clears the field ("" is written). An empty device name is a TemplateError:
//     a device always has a name. A change that empties a field the device had a value in counts
//     towards Counts.Clears (safety.maxClears), whatever its action.
//   - Any template that fails to render skips the device with TemplateError (nothing of it is written).
//   - A field that differs but that the target cannot write (Capabilities) is never written: it is listed
//     in Change.Unsupported, or, when nothing else differs, the device is skipped UnsupportedByTarget.
//     Real name and email on a target that cannot write them (Jamf School, where they belong to the owner
//     record) are not compared when the username changes: they follow the new owner.
//   - Only differing fields are set; EnforceName goes with every rename.
//   - With Policy.CreateMissingUsers, a change that assigns a student (a non-empty username written)
//     carries Change.Owner: Destiny's first and last name and email (the roster's when Destiny has
//     none), the data model and the password rule, for a target that must create the user. It is not
//     part of the digest.
//
// Output: Changes sorted by serial; Skips by serial, item id, device key, reason; Digest is the sha256
// of the canonical JSON of Changes. The same inputs, in any order, give the same Plan.
package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/serial"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
)

// Build applies the decision table (see the package doc) to one snapshot of both systems.
func Build(p Policy, items []Item, devices []Device) Plan {
	b := &builder{
		p:           p,
		students:    foldSet(p.StudentPatronTypes),
		teachers:    foldSet(p.TeacherPatronTypes),
		deviceTypes: foldSet(p.StudentDeviceTypes),
		plan: Plan{Counts: Counts{
			Items: len(items), Devices: len(devices),
			ByAction: map[string]int{}, ByReason: map[string]int{},
		}},
	}
	if p.Roster != nil {
		b.plan.Counts.Roster, b.plan.Counts.RosterRows = true, p.Roster.Rows
	}

	// Serials are indexed by their first holder; the (rare) later holders of a serial go to the dup maps.
	devBySerial := make(map[string]int, len(devices))
	devDups := map[string][]int{}
	for i := range devices {
		d := &devices[i]
		s := serial.Normalize(d.RawSerial)
		if s == "" {
			if d.Unreadable {
				b.skip(Skip{RawSerial: d.RawSerial, DeviceKey: d.Key, Reason: ReasonUnreadable,
					Message: "the MDM could not return this device's data, serial number included"})
			} else {
				b.skip(Skip{RawSerial: d.RawSerial, DeviceKey: d.Key, Reason: ReasonNoSerial,
					Message: "the MDM reports no serial number for this device"})
			}
			continue
		}
		if first, ok := devBySerial[s]; ok {
			if devDups[s] == nil {
				devDups[s] = []int{first}
			}
			devDups[s] = append(devDups[s], i)
			continue
		}
		devBySerial[s] = i
	}
	itemBySerial := make(map[string]int, len(items))
	itemDups := map[string][]int{}
	serials := make([]string, len(items))
	for i := range items {
		it := &items[i]
		s := serial.Normalize(it.RawSerial)
		if s == "" {
			b.skip(Skip{RawSerial: it.RawSerial, ItemID: it.ID, Reason: ReasonNoSerial,
				Message: "the Destiny item has no serial number"})
			continue
		}
		serials[i] = s
		if first, ok := itemBySerial[s]; ok {
			if itemDups[s] == nil {
				itemDups[s] = []int{first}
			}
			itemDups[s] = append(itemDups[s], i)
			continue
		}
		itemBySerial[s] = i
	}

	for i := range items {
		s := serials[i]
		if s == "" || itemBySerial[s] != i {
			continue // no serial, or a later holder of a duplicate serial (handled with the first)
		}
		di, hasDev := devBySerial[s]
		if itemDups[s] != nil || devDups[s] != nil {
			b.duplicate(s, orOne(itemDups[s], i, true), orOne(devDups[s], di, hasDev), items, devices)
			continue
		}
		var dev *Device
		if hasDev {
			dev = &devices[di]
		}
		b.pair(s, &items[i], dev)
	}
	for s, di := range devBySerial {
		if _, ok := itemBySerial[s]; ok {
			continue
		}
		if dups := devDups[s]; dups != nil {
			b.duplicate(s, nil, dups, items, devices)
			continue
		}
		d := &devices[di]
		b.skip(Skip{Serial: s, RawSerial: d.RawSerial, DeviceKey: d.Key, Reason: ReasonNotInDestiny,
			Message: "no Destiny item of the policy's resource types and schools has this serial; the device is not touched"})
	}
	locateSkips(b.plan.Skips, items)
	return b.finish()
}

// orOne is dups, or the single index i when there are none (nil when !ok).
func orOne(dups []int, i int, ok bool) []int {
	switch {
	case dups != nil:
		return dups
	case ok:
		return []int{i}
	}
	return nil
}

type builder struct {
	p                               Policy
	students, teachers, deviceTypes map[string]bool
	plan                            Plan
}

func foldSet(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[strings.ToLower(strings.TrimSpace(s))] = true
	}
	return m
}

func (b *builder) skip(s Skip) {
	b.plan.Skips = append(b.plan.Skips, s)
	b.plan.Counts.ByReason[s.Reason]++
}

func (b *builder) duplicate(s string, its, devs []int, items []Item, devices []Device) {
	msg := fmt.Sprintf("serial %s is on %d Destiny items and %d MDM devices; none of them is touched until only one of each remains", s, len(its), len(devs))
	for _, i := range its {
		b.skip(Skip{Serial: s, RawSerial: items[i].RawSerial, ItemID: items[i].ID, Reason: ReasonDuplicateSerial, Message: msg})
	}
	for _, i := range devs {
		b.skip(Skip{Serial: s, RawSerial: devices[i].RawSerial, DeviceKey: devices[i].Key, Reason: ReasonDuplicateSerial, Message: msg})
	}
}

// pair applies the matching rules to one item and its device (nil when the MDM has none).
func (b *builder) pair(s string, it *Item, dev *Device) {
	sk := Skip{Serial: s, RawSerial: it.RawSerial, ItemID: it.ID}
	if dev != nil {
		sk.DeviceKey = dev.Key
	}
	school, ok := b.p.Schools[it.Site]
	switch {
	case !ok:
		sk.Reason, sk.Message = ReasonSiteNotInPolicy, fmt.Sprintf("the item belongs to site %q, which spec.schools does not list", it.Site)
	case dev == nil:
		sk.Reason, sk.Message = ReasonNotInJamf, "no MDM device has this serial"
	case dev.UnsupportedType != "":
		sk.Reason, sk.Message = ReasonUnsupportedDeviceType, fmt.Sprintf("the MDM reports a %s device: the sync manages iOS and iPadOS devices only", dev.UnsupportedType)
	case dev.Unreadable:
		sk.Reason, sk.Message = ReasonUnreadable, "the MDM could not return this device's data"
	case !dev.Managed:
		sk.Reason, sk.Message = ReasonUnmanaged, "the device is not managed"
	case !dev.Supervised:
		sk.Reason, sk.Message = ReasonUnsupervised, "the device is not supervised"
	}
	if sk.Reason != "" {
		b.skip(sk)
		return
	}
	b.plan.Counts.Matched++
	r := rule{b: b, s: s, it: it, dev: dev, school: school, sk: sk}
	r.apply()
}

// rule is the evaluation of the status rules for one matched pair.
type rule struct {
	b      *builder
	s      string
	it     *Item
	dev    *Device
	school School
	sk     Skip

	data    naming.Data
	fields  []FieldChange
	set     Set
	unsup   []string
	userSet bool // the username is written
	kind    int
	err     error
	// noUser: the student's username rendered empty (no roster username, no email).
	noUser bool
	// emptied counts the fields the change empties (a value on the device, "" wanted).
	emptied int
}

func (r *rule) skip(reason, msg string) {
	r.sk.Reason, r.sk.Message = reason, msg
	r.b.skip(r.sk)
}

func (r *rule) apply() {
	p := &r.b.p
	switch status := strings.ToLower(strings.TrimSpace(r.it.Status)); status {
	case "checked out":
		r.checkedOut()
	case "available":
		if !r.b.deviceTypes[strings.ToLower(strings.TrimSpace(r.it.ResourceType))] {
			r.found()
			if len(r.fields) == 0 && len(r.unsup) == 0 {
				r.skip(ReasonNotStudentDevice, fmt.Sprintf("resource type %q is not a student device type: an available device of it is left alone", r.it.ResourceType))
				return
			}
			r.finish()
			return
		}
		r.kind = kindClear
		r.data = r.b.itemData(r.s, r.it, r.school)
		r.name(p.Naming.Standard)
		r.clearUserAndLocation()
		r.found()
		r.finish()
	case "lost", "stolen":
		switch {
		case status == "stolen" && !p.LostMode.IncludeStolen:
			r.skip(ReasonNoRuleForStatus, `status "stolen": the policy does not include stolen items (lostMode.includeStolen)`)
		case !p.LostMode.Enabled || !p.Manage.LostMode:
			r.skip(ReasonNoRuleForStatus, fmt.Sprintf("status %q: the policy does not manage Lost Mode", status))
		default:
			r.lostMode(true)
			r.finish()
		}
	default:
		r.skip(ReasonNoRuleForStatus, fmt.Sprintf("status %q: no rule changes a device in this status", status))
	}
}

func (r *rule) checkedOut() {
	p := &r.b.p
	br := r.it.Borrower
	switch {
	case br == nil:
		r.skip(ReasonNoBorrower, "the item is checked out but Destiny returned no borrower")
		return
	case br.LookupError != "":
		r.skip(ReasonPatronLookupFailed, "patron lookup failed: "+br.LookupError)
		return
	}
	ptype := strings.ToLower(strings.TrimSpace(br.PatronType))
	switch {
	case r.b.teachers[ptype]:
		r.kind = kindRename
		r.data = r.b.borrowerData(r.s, r.it, r.school)
		r.name(p.Naming.TeacherCheckout)
	case r.b.students[ptype]:
		switch strings.ToLower(strings.TrimSpace(br.Status)) {
		case "", "a", "active", "r", "restricted":
			if p.Roster != nil && br.Roster == nil {
				r.skip(ReasonNotInRoster, fmt.Sprintf("the roster has no row for student %s: the device is left as it is rather than "+
					"have its user, room and position guessed (a roster cut short must not reassign devices); add the student to the roster",
					cmp.Or(br.DistrictID, br.Email, "(no district id)")))
				return
			}
			r.kind = kindStudent
			r.data = r.b.borrowerData(r.s, r.it, r.school)
			r.name(p.Naming.Student)
			r.assign()
		case "i", "inactive":
			r.kind = kindRename
			r.data = r.b.borrowerData(r.s, r.it, r.school)
			r.name(p.Naming.Standard)
			if r.heldByInactiveStudent() {
				r.lostMode(true)
				r.finish()
				return
			}
		default:
			r.skip(ReasonPatronLookupFailed, fmt.Sprintf("unknown patron status %q (want Active, Inactive or Restricted)", br.Status))
			return
		}
	default:
		r.skip(ReasonNoRuleForPatronType, fmt.Sprintf("patron type %q is in neither studentPatronTypes nor teacherPatronTypes", br.PatronType))
		return
	}
	r.found()
	r.finish()
}

// heldByInactiveStudent reports the device (still checked out, not in transit, to a student Destiny
// says is inactive) and says whether its Lost Mode is now due: lostMode.withdrawnAfter set, Lost Mode
// managed and enabled, and that long since a run first saw the checkout so.
func (r *rule) heldByInactiveStudent() bool {
	p := &r.b.p
	w := p.Withdrawn
	first, seen := w.FirstSeen[r.it.ID]
	if !seen || first.After(w.Now) {
		first = w.Now
	}
	h := Holder{Serial: r.s, ItemID: r.it.ID, DeviceKey: r.dev.Key, Site: r.it.Site, Barcode: r.it.Barcode,
		DistrictID: r.it.Borrower.DistrictID, FirstSeen: first}
	after := p.LostMode.WithdrawnAfter
	h.LostModeDue = after > 0 && p.LostMode.Enabled && p.Manage.LostMode && !w.Now.Before(first.Add(after))
	r.b.plan.Holders = append(r.b.plan.Holders, h)
	return h.LostModeDue
}

// found turns Lost Mode off when the policy allows it.
func (r *rule) found() {
	lm := &r.b.p.LostMode
	if r.b.p.Manage.LostMode && lm.Enabled && lm.DisableWhenFound {
		r.lostMode(false)
	}
}

func (r *rule) render(t *naming.Template) (string, bool) {
	if r.err != nil {
		return "", false
	}
	v, err := t.RenderPtr(&r.data)
	if err != nil {
		r.err = err
		return "", false
	}
	return v, true
}

func (r *rule) name(t *naming.Template) {
	if !r.b.p.Manage.Name || t == nil {
		return
	}
	v, ok := r.render(t)
	if !ok {
		return
	}
	if v == "" {
		r.err = fmt.Errorf("%s: rendered an empty device name", t.Name())
		return
	}
	r.want(FieldName, r.dev.Name, v, false, r.b.p.Target.Rename, &r.set.Name)
	if r.set.Name != nil {
		r.set.EnforceName = r.b.p.Naming.EnforceName
	}
}

// assign sets user and location for an active student.
func (r *rule) assign() {
	p := &r.b.p
	if p.Manage.User {
		if t := p.User.Username; t != nil {
			if v, ok := r.render(t); ok {
				if strings.TrimSpace(v) == "" {
					r.noUser = true // never clear the user of a device a student holds
					return
				}
				r.want(FieldUsername, r.dev.Username, v, true, true, &r.set.Username)
			}
		}
		r.userText(FieldRealName, p.User.RealName, r.dev.RealName, false, p.Target.UserRealName, &r.set.RealName)
		r.userText(FieldEmail, p.User.Email, r.dev.Email, true, p.Target.UserEmail, &r.set.Email)
	}
	if p.Manage.Location {
		r.place()
		if t := r.department(); t != nil {
			if v, ok := r.render(t); ok {
				r.want(FieldDepartment, r.dev.Department, v, true, p.Target.Department, &r.set.Department)
			}
		}
		if t := p.Location.Room; t != nil {
			if v, ok := r.render(t); ok {
				r.want(FieldRoom, r.dev.Room, v, false, p.Target.Room, &r.set.Room)
			}
		}
		if t := p.Location.Position; t != nil {
			if v, ok := r.render(t); ok {
				r.want(FieldPosition, r.dev.Position, v, false, p.Target.Position, &r.set.Position)
			}
		}
	}
}

// userText is real name or email: on a target that cannot write it, it follows the owner record and is
// not compared when the username changes.
func (r *rule) userText(field string, t *naming.Template, cur string, fold, supported bool, dst **string) {
	if t == nil {
		return
	}
	v, ok := r.render(t)
	if !ok || (!supported && r.userSet) {
		return
	}
	r.want(field, cur, v, fold, supported, dst)
}

// place is the building (Jamf Pro) or location (Jamf School) from the school map.
func (r *rule) place() {
	tg := &r.b.p.Target
	if tg.Building && r.school.Building != "" {
		r.want(FieldBuilding, r.dev.Building, r.school.Building, true, true, &r.set.Building)
	}
	if tg.Location && r.school.Location != "" {
		// Like a building, a location is resolved by name in any case (the target and Ready both do).
		r.want(FieldLocation, r.dev.Location, r.school.Location, true, true, &r.set.Location)
	}
}

func (r *rule) department() *naming.Template {
	if r.school.Department != nil {
		return r.school.Department
	}
	return r.b.p.Location.Department
}

// clearUserAndLocation empties every owned user and location field (the Jamf School location stays the school's).
func (r *rule) clearUserAndLocation() {
	p := &r.b.p
	tg := &p.Target
	if p.Manage.User {
		if p.User.Username != nil {
			r.want(FieldUsername, r.dev.Username, "", true, true, &r.set.Username)
		}
		if p.User.RealName != nil && (tg.UserRealName || !r.userSet) {
			r.want(FieldRealName, r.dev.RealName, "", false, tg.UserRealName, &r.set.RealName)
		}
		if p.User.Email != nil && (tg.UserEmail || !r.userSet) {
			r.want(FieldEmail, r.dev.Email, "", true, tg.UserEmail, &r.set.Email)
		}
	}
	if p.Manage.Location {
		if tg.Building && r.school.Building != "" {
			r.want(FieldBuilding, r.dev.Building, "", true, true, &r.set.Building)
		}
		if tg.Location && r.school.Location != "" {
			// Like a building, a location is resolved by name in any case (the target and Ready both do).
			r.want(FieldLocation, r.dev.Location, r.school.Location, true, true, &r.set.Location)
		}
		if r.department() != nil {
			r.want(FieldDepartment, r.dev.Department, "", true, tg.Department, &r.set.Department)
		}
		if p.Location.Room != nil {
			r.want(FieldRoom, r.dev.Room, "", false, tg.Room, &r.set.Room)
		}
		if p.Location.Position != nil {
			r.want(FieldPosition, r.dev.Position, "", false, tg.Position, &r.set.Position)
		}
	}
}

// want records one field: nothing when the device already has the value, an unsupported part when the
// target cannot write it, else a field change and the value to set.
func (r *rule) want(field, cur, desired string, fold, supported bool, dst **string) {
	have := strings.TrimSpace(cur)
	if have == desired || (fold && strings.EqualFold(have, desired)) {
		return
	}
	if !supported {
		r.unsup = append(r.unsup, field)
		return
	}
	if field == FieldUsername {
		r.userSet = true
	}
	if desired == "" {
		r.emptied++ // have is not empty here
	}
	r.fields = append(r.fields, FieldChange{Field: field, Old: cur, New: desired})
	v := desired
	*dst = &v
}

func lostState(b *bool) string {
	switch {
	case b == nil:
		return "unknown"
	case *b:
		return "on"
	}
	return "off"
}

// lostMode asks for Lost Mode on (enable) or off.
func (r *rule) lostMode(enable bool) {
	cur := r.dev.LostMode
	var differs bool
	if enable {
		differs = cur == nil || !*cur
	} else {
		differs = cur != nil && *cur
	}
	if !differs {
		return
	}
	if !r.b.p.Target.LostMode {
		if enable || cur != nil {
			r.unsup = append(r.unsup, FieldLostMode)
		}
		return
	}
	want := "off"
	cmd := &LostModeCommand{Enable: enable}
	if enable {
		want = "on"
		lm := &r.b.p.LostMode
		cmd.Message, cmd.Phone, cmd.Footnote = lm.Message, lm.Phone, lm.Footnote
	}
	r.fields = append(r.fields, FieldChange{Field: FieldLostMode, Old: lostState(cur), New: want})
	r.set.LostMode = cmd
}

// finish turns the rule's differences into InSync, a skip or a change.
func (r *rule) finish() {
	c := &r.b.plan.Counts
	if r.err != nil {
		r.skip(ReasonTemplateError, r.err.Error())
		return
	}
	if r.noUser {
		r.skip(ReasonNoUsername, "the student has no username: no roster record with one and no email in Destiny; "+
			"the device is left as it is rather than have its user cleared (fix the roster or the patron's email)")
		return
	}
	if len(r.unsup) > 0 {
		c.Unsupported++
	}
	if len(r.fields) == 0 {
		if len(r.unsup) > 0 {
			r.skip(ReasonUnsupportedByTarget, "the target cannot write "+strings.Join(r.unsup, ", ")+"; nothing else differs")
			return
		}
		c.InSync++
		return
	}
	action := r.action()
	ch := Change{Serial: r.s, DeviceKey: r.dev.Key, Ref: r.dev.Ref, ItemID: r.it.ID, Action: action, Fields: r.fields, Set: r.set, Unsupported: r.unsup}
	if r.b.p.CreateMissingUsers && r.kind == kindStudent && r.set.Username != nil && *r.set.Username != "" {
		ch.Owner = r.newOwner(*r.set.Username)
	}
	r.b.plan.Changes = append(r.b.plan.Changes, ch)
	c.Changed++
	c.ByAction[action]++
	if r.emptied > 0 {
		c.Clears++
		c.EmptiedFields += r.emptied
	}
	if r.set.LostMode != nil && !r.set.LostMode.Enable && action != ActionLostModeDisabled {
		c.ByAction[ActionLostModeDisabled]++
	}
}

// action names a change after its rule and what it writes.
func (r *rule) action() string {
	lostOnly := true
	for _, f := range r.fields {
		if f.Field != FieldLostMode {
			lostOnly = false
		}
	}
	if lostOnly {
		if r.set.LostMode.Enable {
			return ActionLostModeEnabled
		}
		return ActionLostModeDisabled
	}
	switch r.kind {
	case kindStudent:
		if r.set.Username != nil {
			if strings.TrimSpace(r.dev.Username) == "" {
				return ActionAssigned
			}
			return ActionReassigned
		}
		return ActionUpdated
	case kindClear:
		for _, f := range r.fields {
			if f.Field != FieldName && f.Field != FieldLostMode && f.Field != FieldLocation {
				return ActionCleared
			}
		}
	}
	return ActionRenamed
}

// newOwner describes the student a change assigns: Destiny's names and email, else the roster's.
func (r *rule) newOwner(username string) *NewOwner {
	o := &NewOwner{Username: username, FirstName: strings.TrimSpace(r.data.FirstName), LastName: strings.TrimSpace(r.data.LastName),
		Email: strings.TrimSpace(r.data.Email), Data: r.data, Password: r.b.p.NewUserPassword}
	if st := r.it.Borrower.Roster; st != nil {
		o.FirstName = cmp.Or(o.FirstName, strings.TrimSpace(st.GivenName))
		o.LastName = cmp.Or(o.LastName, strings.TrimSpace(st.FamilyName))
	}
	return o
}

// The rules a matched pair can take, for naming the change.
const (
	kindNone = iota
	kindStudent
	kindRename
	kindClear
)

// itemData is the data model of a device nobody holds.
func (b *builder) itemData(s string, it *Item, school School) naming.Data {
	d := naming.Data{Serial: s, AssetTag: it.AssetTag, Barcode: it.Barcode, School: it.Site, SchoolName: school.SchoolName, Building: school.Building}
	if d.Building == "" {
		d.Building = school.Location
	}
	return d
}

// borrowerData adds the borrower and the roster to itemData.
func (b *builder) borrowerData(s string, it *Item, school School) naming.Data {
	d := b.itemData(s, it, school)
	br := it.Borrower
	d.FirstName, d.MiddleName, d.LastName = br.FirstName, br.MiddleName, br.LastName
	d.FullName = naming.FullName(br.FirstName, br.LastName)
	d.DistrictID = br.DistrictID
	d.Email = br.Email
	if st := br.Roster; st != nil {
		if d.Email == "" {
			d.Email = st.Email
		}
		d.Username = st.Username
		d.Grade, d.Homeroom, d.Teachers = st.Grade, st.Homeroom, st.Teachers
	}
	if d.Username == "" {
		d.Username = d.Email
	}
	return d
}

func (b *builder) finish() Plan {
	pl := b.plan
	slices.SortFunc(pl.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Serial, b.Serial), cmp.Compare(a.DeviceKey, b.DeviceKey))
	})
	slices.SortFunc(pl.Skips, func(a, b Skip) int {
		return cmp.Or(cmp.Compare(a.Serial, b.Serial), cmp.Compare(a.ItemID, b.ItemID), cmp.Compare(a.DeviceKey, b.DeviceKey),
			cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.RawSerial, b.RawSerial), cmp.Compare(a.Message, b.Message))
	})
	slices.SortFunc(pl.Holders, func(a, b Holder) int { return cmp.Compare(a.ItemID, b.ItemID) })
	pl.Digest = Digest(pl.Changes)
	return pl
}

// ShortDigest is the first 12 characters of a digest, for messages.
func ShortDigest(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// Digest is the hex sha256 of the canonical JSON of changes (as Build sorts them).
func Digest(changes []Change) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	if changes == nil {
		changes = []Change{}
	}
	if err := enc.Encode(changes); err != nil {
		// Change holds only strings, bools and slices of them: encoding cannot fail.
		panic(fmt.Sprintf("plan: encoding changes: %v", err))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DigestWithRoster is the plan digest when the plan may have a roster part: the device changes' Digest
// when there is none (or it changes nothing), else the hex sha256 of the canonical JSON of both change
// lists, so approving a plan approves its roster changes too. A new user's password rule is not part of
// it (RosterChange.NewUser is not encoded).
func DigestWithRoster(changes []Change, rp *RosterPlan) string {
	if rp == nil || len(rp.Changes) == 0 {
		return Digest(changes)
	}
	if changes == nil {
		changes = []Change{}
	}
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(struct {
		Devices []Change
		Roster  []RosterChange
	}{changes, rp.Changes}); err != nil {
		panic(fmt.Sprintf("plan: encoding changes: %v", err))
	}
	return hex.EncodeToString(h.Sum(nil))
}
