package plan

import (
	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
)

// Roster sync (spec.roster, issue 15): the MDM's users, user groups and classes kept in step with the
// roster, as Apple School Manager sync does in Jamf School. BuildRoster (roster.go) is the decision
// table; this file holds its inputs and outputs.

// Kinds of roster objects (RosterChange.Kind, RosterSkip.Kind).
const (
	KindUser  = "User"
	KindGroup = "Group"
	KindClass = "Class"
)

// Roster change actions. Every roster change carries exactly one.
const (
	ActionGroupCreated   = "GroupCreated"
	ActionUserCreated    = "UserCreated"
	ActionUserUpdated    = "UserUpdated"
	ActionClassCreated   = "ClassCreated"
	ActionClassUpdated   = "ClassUpdated"
	ActionMembersChanged = "MembersChanged"
	// ActionRemoved: a user who left the roster trashed or moved to the stale group, or a class the
	// roster no longer has deleted (removeStale only, within safety.maxRemovals).
	ActionRemoved = "Removed"
)

// Roster skip and report reasons (ReasonNoUsername and ReasonTemplateError are shared with devices).
const (
	// ReasonDuplicateUser: two roster people share a username (or two MDM users match one): neither is
	// written, and neither is put in a class.
	ReasonDuplicateUser = "DuplicateUser"
	// ReasonNoEmail: a person with no MDM user yet has no email, which creating a user needs.
	ReasonNoEmail = "NoEmail"
	// ReasonEmailTaken: the person's email belongs to another MDM user (emails are unique).
	ReasonEmailTaken = "EmailTaken"
	// ReasonUserInTrash: the person's MDM user is in the trash: a person restores it, the sync does not.
	ReasonUserInTrash = "UserInTrash"
	// ReasonManagedByASM: the MDM object is synced from Apple School Manager: never written, reported.
	ReasonManagedByASM = "ManagedByASM"
	// ReasonDuplicateClass: two roster classes render the same name in one location, or two MDM classes
	// carry one roster class's marker.
	ReasonDuplicateClass = "DuplicateClass"
	// ReasonNoMDMUser reports a class member who has no MDM user (not created: skipped, or users are not
	// synced): the class is written without that member.
	ReasonNoMDMUser = "NoMDMUser"
	// ReasonNoTeacher reports (does not skip) a class with no teacher: it is written with its students.
	ReasonNoTeacher = "NoTeacher"
)

// StaleAction is what happens to an MDM user the roster no longer has.
type StaleAction string

const (
	// StaleKeep leaves it alone (the default: users are never removed unless a policy says so).
	StaleKeep StaleAction = ""
	// StaleMoveToGroup takes it out of the policy's managed groups and puts it in RosterPolicy.Users.StaleGroup.
	StaleMoveToGroup StaleAction = "MoveToGroup"
	// StaleDelete trashes it (Jamf School's DELETE moves a user to the trash).
	StaleDelete StaleAction = "Delete"
)

// RosterPolicy is spec.roster compiled. A nil Users or Classes means that part is not synced.
type RosterPolicy struct {
	Users    *UserSync
	Classes  *ClassSync
	Teachers TeacherRule
	// Schools maps a roster school (a OneRoster org sourcedId, or the SIS CSV's site short name) to the
	// Destiny site short name of the policy school it belongs to (Policy.Schools holds its location).
	// People and classes of other schools are out of the policy's scope: never written, not skipped.
	Schools map[string]string
}

// UserSync is spec.roster.users.
type UserSync struct {
	// StudentsGroup and TeachersGroup render the name of the group a student or a teacher belongs to,
	// over the person's data model (.School, .SchoolName, .Grade, .FirstName, ...). A group is created in
	// the person's location when it does not exist there. nil: that membership is not managed.
	StudentsGroup, TeachersGroup *naming.Template
	// RemoveStale is what happens to a user who left the roster. Only users in a group this policy
	// manages (a rendered students or teachers group) in the policy's locations are candidates.
	RemoveStale StaleAction
	// StaleGroup is the group (in the user's location) StaleMoveToGroup moves users to.
	StaleGroup string
	// Password renders a new user's password (nil: the target makes a random one). It travels on the
	// change and is rendered only by the target, when it creates the user.
	Password *naming.Template
}

// ClassSync is spec.roster.classes.
type ClassSync struct {
	// Name renders a class's name over the class data model (.Title, .ClassCode, .Period, .School,
	// .SchoolCode, .SchoolName, .Grade).
	Name *naming.Template
	// RemoveStale deletes classes this policy made (they carry its marker) that the roster no longer has.
	RemoveStale bool
}

// TeacherRule says who counts as a teacher. A person is a teacher when any rule says so.
type TeacherRule struct {
	// Roles are OneRoster roles (users.csv role, enrollments.csv role), compared case-insensitively:
	// teacher by default, or a school system's own such as ROLE_TEACHER.
	Roles []string
	// PatronTypes are SIS patron types (the SIS patron CSV's PatronType), case-insensitive.
	PatronTypes []string
	// Groups are MDM user group names (case-insensitive): a person whose MDM user is a member of one is a
	// teacher, like a school server's lehrkraefte group.
	Groups []string
}

// RosterData is what the roster says: every person and class, as roster.Roster read them.
type RosterData struct {
	People  []roster.Person
	Classes []roster.Class
}

// MDMRoster is what the MDM holds, read in bulk before planning.
type MDMRoster struct {
	Users   []MDMUser
	Groups  []MDMGroup
	Classes []MDMClass
}

// MDMUser is one MDM user.
type MDMUser struct {
	// Ref is the MDM's id of the user (Jamf School's user id).
	Ref                                  string
	Username, FirstName, LastName, Email string
	// Location is the name of the user's location.
	Location string
	// Groups are the refs of the groups the user is a member of.
	Groups []string
	// Trashed is true for a user in the trash.
	Trashed bool
}

// MDMGroup is one MDM user group. A group belongs to one location.
type MDMGroup struct {
	Ref, Name, Location string
}

// MDMClass is one MDM class.
type MDMClass struct {
	// Ref is the class's id (Jamf School's uuid).
	Ref, Name, Description, Location string
	// Source is the MDM's raw source value (how the class came to be).
	Source string
	// ASM is true when the MDM marks the class as synced from Apple School Manager (the target decides
	// from Source): such a class is never written.
	ASM bool
	// Students and Teachers are user refs, sorted. MembersKnown is false when the target did not read
	// them (ASM classes, classes outside the policy's locations): such a class's members are never
	// compared or written.
	Students, Teachers []string
	MembersKnown       bool
}

// ClassMarkerPrefix starts the description of every class roster sync makes: the marker, followed by the
// roster class's sourcedId, ties the MDM class to its roster class across renames, and marks the classes
// removeStale may delete.
const ClassMarkerPrefix = "devicesync: OneRoster class "

// RosterPlan is the outcome of BuildRoster.
type RosterPlan struct {
	// Changes in apply order: groups, then users, then classes, then removals (RosterChange.Phase).
	Changes []RosterChange
	// Skips are people and classes not written, and reports (NoTeacher, NoMDMUser, ManagedByASM).
	Skips  []RosterSkip
	Counts RosterCounts
}

// RosterCounts summarise a roster plan.
type RosterCounts struct {
	// People and Classes are the roster's, in the policy's scope; Users and MDMClasses the MDM's.
	People, Classes, Users, MDMClasses int
	// InSync counts people and classes already as desired.
	InSync int
	// Changed counts changes other than removals; Removals counts removals (safety.maxRemovals).
	Changed, Removals int
	// Managed is the number of MDM users and classes removeStale may touch (the measure of a percentage
	// safety.maxRemovals).
	Managed  int
	ByAction map[string]int
	ByReason map[string]int
}

// Roster apply phases: every change of a phase is applied before the next phase starts, so a user can
// join a group created in this run and a class can name a user created in this run.
const (
	PhaseGroups = iota
	PhaseUsers
	PhaseClasses
	PhaseRemovals
)

// RosterChange is one roster object to write.
type RosterChange struct {
	Kind, Action string
	// Phase is when it is applied (PhaseGroups ... PhaseRemovals).
	Phase int
	// Name is the username, group name or class name, as reports show it.
	Name string
	// Key identifies the object in the roster: a person's or class's sourcedId ("" for groups and
	// removals of objects the roster no longer has).
	Key string
	// Ref is the MDM's id of the object ("" when this change creates it).
	Ref string
	// Location is the location name the object is (or is created) in.
	Location string
	// Fields are the differences, old and new, as status shows them. A password is never one of them.
	Fields []FieldChange
	User   *UserSet   `json:",omitempty"`
	Group  *GroupSet  `json:",omitempty"`
	Class  *ClassSet  `json:",omitempty"`
	Remove *RemoveSet `json:",omitempty"`
	// NewUser carries what creating a user needs beyond UserSet (its password rule and data); not part
	// of the digest.
	NewUser *NewRosterUser `json:"-"`
}

// UserSet is what a user change writes: nil fields are not touched.
type UserSet struct {
	Username                   string  `json:",omitempty"` // for a creation
	FirstName, LastName, Email *string `json:",omitempty"`
	// Location, when set, moves the user (without its devices).
	Location *string `json:",omitempty"`
	// Groups, when not nil, is the complete new membership list (it replaces the old one): the groups the
	// user keeps plus the managed ones it joins.
	Groups []GroupRef `json:",omitempty"`
}

// GroupRef names a group: by Ref when it exists, else by location and name (created earlier in the run).
type GroupRef struct {
	Ref            string `json:",omitempty"`
	Location, Name string `json:",omitempty"`
}

// UserRef names a user: by Ref when it exists, else by username (created earlier in the run).
type UserRef struct {
	Ref      string `json:",omitempty"`
	Username string `json:",omitempty"`
}

// GroupSet is a group to create in RosterChange.Location.
type GroupSet struct {
	Name string
	// Teacher grants the group Jamf School's teacher permission (acl.teacher allow): the teachers group.
	Teacher bool `json:",omitempty"`
}

// ClassSet is what a class change writes: nil fields are not touched. A creation sets Name and
// Description and, when it has members, Students and Teachers.
type ClassSet struct {
	Name, Description *string `json:",omitempty"`
	// Students and Teachers, when not nil, replace the class's member lists (both are always sent
	// together: Jamf School's PUT /classes/{uuid}/users sets both).
	Students, Teachers []UserRef `json:",omitempty"`
	SetMembers         bool      `json:",omitempty"`
}

// RemoveSet is a removal: a user trashed or moved to a group, or a class deleted.
type RemoveSet struct {
	// MoveTo, for a user, is the group it is moved to (its managed memberships are dropped); nil trashes
	// the user (or deletes the class).
	MoveTo *GroupRef `json:",omitempty"`
	// Groups is the user's complete new membership list when MoveTo is set.
	Groups []GroupRef `json:",omitempty"`
}

// NewRosterUser is what a target needs to create a user: the password rule and the data it renders.
type NewRosterUser struct {
	Password *naming.Template
	Data     naming.Data
}

// RosterSkip is a person or class the run does not write, or a report about one, and why.
type RosterSkip struct {
	Kind string
	// Name is the username or class name (or the roster's sourcedId when there is none); Key the sourcedId.
	Name, Key string
	Reason    string
	Message   string
}
