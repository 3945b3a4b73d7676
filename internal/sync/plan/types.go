package plan

import (
	"time"

	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
)

// Skip reasons. Every skip carries exactly one.
const (
	ReasonNoSerial        = "NoSerial"
	ReasonNotInJamf       = "NotInJamf"
	ReasonUnmanaged       = "Unmanaged"
	ReasonUnsupervised    = "Unsupervised"
	ReasonDuplicateSerial = "DuplicateSerial"
	ReasonNotInDestiny    = "NotInDestiny"
	ReasonSiteNotInPolicy = "SiteNotInPolicy"
	ReasonUnreadable      = "Unreadable"
	// ReasonUnsupportedDeviceType: the MDM device is of a type the sync does not manage (an Apple TV, a
	// watch: Jamf Pro reports no SECURITY section, no Lost Mode, for them).
	ReasonUnsupportedDeviceType = "UnsupportedDeviceType"
	ReasonNoRuleForStatus       = "NoRuleForStatus"
	ReasonNoBorrower            = "NoBorrower"
	ReasonPatronLookupFailed    = "PatronLookupFailed"
	ReasonNoRuleForPatronType   = "NoRuleForPatronType"
	ReasonNotStudentDevice      = "NotStudentDevice"
	ReasonTemplateError         = "TemplateError"
	ReasonUnsupportedByTarget   = "UnsupportedByTarget"
	ReasonNoUsername            = "NoUsername"
	ReasonNotInRoster           = "NotInRoster"
	// ReasonHeldByInactiveStudent reports (it does not skip) a device still checked out to an inactive
	// student: see Plan.Holders.
	ReasonHeldByInactiveStudent = "HeldByInactiveStudent"
)

// Change actions. Every change carries exactly one (Change.Action); Counts.ByAction also counts
// ActionLostModeDisabled for a change of another action that turns Lost Mode off too.
const (
	ActionAssigned         = "Assigned"
	ActionReassigned       = "Reassigned"
	ActionUpdated          = "Updated"
	ActionCleared          = "Cleared"
	ActionRenamed          = "Renamed"
	ActionLostModeEnabled  = "LostModeEnabled"
	ActionLostModeDisabled = "LostModeDisabled"
)

// Field names used in FieldChange.Field and Change.Unsupported.
const (
	FieldName       = "name"
	FieldUsername   = "username"
	FieldRealName   = "realName"
	FieldEmail      = "email"
	FieldBuilding   = "building"
	FieldDepartment = "department"
	FieldRoom       = "room"
	FieldPosition   = "position"
	FieldLocation   = "location"
	FieldLostMode   = "lostMode"
)

// Policy is what the planner needs of a DeviceSyncPolicy, with its templates compiled. A nil template
// means the field has no rule: it is not managed, never compared and never written.
type Policy struct {
	// StudentPatronTypes and TeacherPatronTypes are Destiny patron type names (compared case-insensitively).
	StudentPatronTypes []string
	TeacherPatronTypes []string
	// StudentDeviceTypes are the resource types cleared when available again (case-insensitive).
	StudentDeviceTypes []string
	// Schools by Destiny site short name (exact, as the CRD spells it).
	Schools  map[string]School
	Naming   Naming
	Manage   Manage
	User     UserRules
	Location LocationRules
	LostMode LostMode
	// Withdrawn is when the checkouts held by inactive students were first seen, and the run's time.
	Withdrawn Withdrawn
	Target    Capabilities
	// CreateMissingUsers says the target may create the user a change assigns when it does not exist
	// (Jamf School's createMissingUsers): each such change then carries its NewOwner.
	CreateMissingUsers bool
	// NewUserPassword renders the password of a user so created; nil: the target picks a random one. It
	// travels in NewOwner and is rendered only when a user is created.
	NewUserPassword *naming.Template
	// Roster is the policy's roster, nil when it has none. With a roster, an active student it has no row
	// for is skipped NotInRoster: a roster cut short must not turn usernames into e-mail addresses and
	// empty rooms and positions.
	Roster *Roster
	// RosterSync is spec.roster (nil: the MDM's users, groups and classes are not synced). BuildRoster
	// reads it; Build does not.
	RosterSync *RosterPolicy
}

// Roster is what the planner and the budget know of the policy's roster.
type Roster struct {
	// Rows is the number of students the roster yielded (rows with a usable key): the measure of
	// safety.maxRosterShrink.
	Rows int
}

// School is one spec.schools entry.
type School struct {
	// SchoolName is the display name (.SchoolName).
	SchoolName string
	// Building is the Jamf Pro building name.
	Building string
	// Location is the Jamf School location name.
	Location string
	// Department overrides Policy.Location.Department for this school's devices.
	Department *naming.Template
}

// Naming holds the device-name rules.
type Naming struct {
	Student, Standard, TeacherCheckout *naming.Template
	// EnforceName is sent with every rename (Jamf Pro restores the name at check-in).
	EnforceName bool
}

// Manage is field ownership (spec.fields.manage): a field group not managed is never compared or written.
type Manage struct {
	Name, User, Location, LostMode bool
	// Roster is true when the policy syncs the roster (spec.roster): the target's Check then also tests
	// the reads a roster sync needs.
	Roster bool
}

// UserRules are the user field templates.
type UserRules struct {
	Username, RealName, Email *naming.Template
}

// LocationRules are the location field templates (the building comes from the school map).
type LocationRules struct {
	Position, Room, Department *naming.Template
}

// LostMode is spec.lostMode.
type LostMode struct {
	Enabled                  bool
	Message, Phone, Footnote string
	IncludeStolen            bool
	DisableWhenFound         bool
	// WithdrawnAfter, when set, enables Lost Mode on a device still checked out to an inactive student
	// this long after it was first seen so (0: such checkouts are only reported).
	WithdrawnAfter time.Duration
}

// Withdrawn is what the planner knows of the checkouts held by inactive students: when each was first
// seen (by Destiny item id, remembered by the caller across runs) and the time of this run.
type Withdrawn struct {
	FirstSeen map[string]time.Time
	Now       time.Time
}

// Holder is a device still checked out to an inactive student (one who left, or is between schools
// with the item not marked in transit): a person should collect it.
type Holder struct {
	Serial, ItemID, DeviceKey, Site, Barcode string
	// DistrictID is the student's.
	DistrictID string
	// FirstSeen is when a run first saw the checkout held by an inactive student.
	FirstSeen time.Time
	// LostModeDue is true once lostMode.withdrawnAfter has passed (and the policy manages Lost Mode): the
	// device is in Lost Mode, or this run enables it.
	LostModeDue bool
}

// Capabilities says what the target MDM can write. The username (the device's user, or Jamf School's
// owner) is always writable.
type Capabilities struct {
	Rename       bool
	LostMode     bool
	UserRealName bool
	UserEmail    bool
	Position     bool
	Room         bool
	Department   bool
	// Building is a Jamf Pro building (from School.Building).
	Building bool
	// Location is a Jamf School location (from School.Location).
	Location bool
	// Roster is the roster sync (spec.roster): the target's users, groups and classes.
	Roster bool
}

// JamfPro can write everything but a Jamf School location.
func JamfPro() Capabilities {
	return Capabilities{Rename: true, LostMode: true, UserRealName: true, UserEmail: true, Position: true, Room: true,
		Department: true, Building: true}
}

// JamfSchool can set a device's owner (by username) and location, nothing else: no public endpoint renames
// a device or enables Lost Mode, and devices have no position, room or department. It syncs the roster's
// users, groups and classes.
func JamfSchool() Capabilities { return Capabilities{Location: true, Roster: true} }

// Item is one Destiny item, as the adapter reads it.
type Item struct {
	ID      string
	Barcode string
	// RawSerial is the serial as Destiny holds it: the top-level serialNumber, or the item field the policy
	// names when that is empty (the adapter chooses). Normalised here with serial.Normalize.
	RawSerial string
	// Status is Destiny's lower-case status (available, checked out, lost, stolen, ...).
	Status string
	// ResourceType is the resource type name.
	ResourceType string
	// Site is the owning site's short name.
	Site     string
	AssetTag string
	// Borrower is the current checkout; nil when not checked out.
	Borrower *Borrower
}

// Borrower is the patron an item is checked out to, with what the patron status lookup and the roster say.
type Borrower struct {
	DistrictID                      string
	FirstName, MiddleName, LastName string
	Email                           string
	// PatronType and Status come from /circulation/patrons/{districtId}/status. Status is Active, Inactive,
	// Restricted (or the letters A, I, R), or "" when the lookup did not say.
	PatronType string
	Status     string
	// LookupError is why the patron lookup failed ("" when it did not).
	LookupError string
	// Roster is the roster's record of the student, nil when there is no roster or no record.
	Roster *roster.Student
}

// Device is one MDM device, as the adapter reads it.
type Device struct {
	// Key is the Jamf Pro mobile device id or the Jamf School UDID.
	Key string
	// Ref is what else the target needs to write this device, opaque to the planner and copied onto the
	// device's change (Jamf Pro: the management id its MDM commands name; Jamf School: the id of the
	// location the device is in). A target keeps no state between its inventory and its writes.
	Ref                 string
	RawSerial           string
	Name                string
	Managed, Supervised bool
	Username            string
	RealName            string
	Email               string
	Position            string
	Building            string
	Department          string
	Room                string
	// Location is the Jamf School location name.
	Location string
	// LostMode is whether Lost Mode is on; nil when the target cannot say.
	LostMode *bool
	// Unreadable is set when the target could not return this device's data (Jamf Pro's LENIENT null section).
	Unreadable bool
	// UnsupportedType, when set, names the device type the target reports for a device the sync does not
	// manage (Jamf Pro's deviceType "tvOS", "watchOS", "visionOS"): such a device is skipped, never written.
	UnsupportedType string
}

// Plan is the outcome of Build.
type Plan struct {
	// Changes, sorted by serial: one per device to write.
	Changes []Change
	// Holders are the devices still checked out to inactive students (reported HeldByInactiveStudent),
	// sorted by item id.
	Holders []Holder
	// Skips, sorted by serial, item id, device key: one per item or device the run does not write.
	Skips  []Skip
	Counts Counts
	// Roster is the roster sync's plan (nil when the policy does not sync the roster). It is applied
	// before Changes, so a device's owner can be a user it creates.
	Roster *RosterPlan
	// Digest is the hex sha256 of the canonical JSON of Changes and the roster's changes: equal plans
	// have equal digests, so an approval names exactly what it approves.
	Digest string
}

// Counts summarise a plan.
type Counts struct {
	// Items and Devices are the inputs' sizes.
	Items, Devices int
	// Matched is the devices the rules were applied to: one item and one device with the serial, the
	// item's site in the policy, the device readable, managed and supervised. Every matched device is
	// InSync, Changed, or skipped by a rule (NoRuleForStatus, NoBorrower, PatronLookupFailed,
	// NoRuleForPatronType, NotStudentDevice, TemplateError, UnsupportedByTarget, NoUsername, NotInRoster).
	Matched int
	InSync  int
	Changed int
	// Clears is the number of changes that empty at least one field a device had a value in (username,
	// real name, email, building, department, room, position): every Cleared change, and any other
	// change that blanks a field (an Updated change emptying the room). safety.maxClears bounds it.
	Clears int
	// EmptiedFields is the number of fields those changes empty, in all.
	EmptiedFields int
	// Roster is set when the policy has a roster; RosterRows is then its size (Policy.Roster.Rows).
	Roster     bool
	RosterRows int
	// Unsupported is the number of matched devices with at least one difference the target cannot write
	// (changed or skipped).
	Unsupported int
	ByAction    map[string]int
	ByReason    map[string]int
}

// Change is one device to write.
type Change struct {
	// Serial is the normalised serial.
	Serial    string
	DeviceKey string
	ItemID    string
	Action    string
	// Fields are the differences the change writes, old and new, in a fixed order.
	Fields []FieldChange
	// Set is what the applier writes: nil fields are not touched.
	Set Set
	// Unsupported are the fields that differ but the target cannot write (reported, not written).
	Unsupported []string `json:",omitempty"`
	// Owner describes the student a change assigns (Set.Username non-empty) when the policy lets the
	// target create missing users (Policy.CreateMissingUsers), so that it can: it is not part of the
	// digest, the status or the log.
	Owner *NewOwner `json:"-"`
	// Ref is the device's Device.Ref (not part of the digest: it names, it does not change).
	Ref string `json:"-"`
}

// NewOwner is what a target needs to create the user a change assigns: the names and email from
// Destiny's checkout (the roster's when Destiny has none), the student's data model and the policy's
// password rule.
type NewOwner struct {
	Username, FirstName, LastName, Email string
	// Data is the student's data model, for the password rule.
	Data naming.Data
	// Password is Policy.NewUserPassword (nil: random).
	Password *naming.Template
}

// FieldChange is one written field. Lost Mode reads "on", "off" or "unknown".
type FieldChange struct {
	Field, Old, New string
}

// Set holds the values to write, only those that differ. A nil pointer is not touched; "" clears (the
// Jamf Pro client sends "" for text fields and id -1 for building and department; on Jamf School a
// Username of "" removes the owner). It maps one to one onto pro.DeviceUpdate / pro.LocationUpdate
// (Name, EnforceName, Username, RealName, Email, Position, Room, Building, Department) plus the Lost Mode
// command, and onto Jamf School's owner (Username) and migrate (Location) calls.
type Set struct {
	Name *string `json:",omitempty"`
	// EnforceName is the enforceName value to send with Name (meaningless without it).
	EnforceName bool    `json:",omitempty"`
	Username    *string `json:",omitempty"`
	RealName    *string `json:",omitempty"`
	Email       *string `json:",omitempty"`
	Position    *string `json:",omitempty"`
	Room        *string `json:",omitempty"`
	// Building and Department are Jamf Pro names (the client resolves ids).
	Building   *string `json:",omitempty"`
	Department *string `json:",omitempty"`
	// Location is the Jamf School location name.
	Location *string          `json:",omitempty"`
	LostMode *LostModeCommand `json:",omitempty"`
}

// LostModeCommand enables (with the lock-screen texts) or disables Lost Mode.
type LostModeCommand struct {
	Enable                   bool
	Message, Phone, Footnote string `json:",omitempty"`
}

// Skip is an item or device the run does not write, and why.
type Skip struct {
	// Serial is the normalised serial ("" for NoSerial).
	Serial    string
	RawSerial string
	// ItemID is set for Destiny-side skips; DeviceKey when a device is involved.
	ItemID    string
	DeviceKey string
	// Site and Barcode are the Destiny item's, when the skip concerns one: who can fix it, and how they
	// find the item (filled by locateSkips).
	Site, Barcode string
	Reason        string
	Message       string
}
