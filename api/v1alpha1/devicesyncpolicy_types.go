package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DeviceSyncPolicySpec says when Jamf is reconciled against Destiny, for which schools, and with which rules.
//
// +kubebuilder:validation:XValidation:rule="size(self.schools) > 0",message="spec.schools must map at least one Destiny site to a Jamf building or Jamf School location"
// +kubebuilder:validation:XValidation:rule="!has(self.target.jamfPro) || self.schools.all(s, has(s.building) && size(s.building) > 0)",message="every entry of spec.schools needs a building when the target is Jamf Pro"
// +kubebuilder:validation:XValidation:rule="!has(self.target.jamfSchool) || self.schools.all(s, has(s.location) && size(s.location) > 0)",message="every entry of spec.schools needs a location when the target is Jamf School"
// +kubebuilder:validation:XValidation:rule="!has(self.roster) || has(self.source.destiny.roster)",message="spec.roster needs spec.source.destiny.roster: the people and classes it syncs come from that roster"
// +kubebuilder:validation:XValidation:rule="!has(self.roster) || !has(self.roster.classes) || !has(self.source.destiny.roster) || self.source.destiny.roster.format == 'OneRoster'",message="spec.roster.classes needs a OneRoster roster (classes.csv and enrollments.csv): the SIS patron CSV has no classes"
type DeviceSyncPolicySpec struct {
	// Schedule is when runs happen: every interval inside a daily window, on some weekdays, in one time zone.
	// +kubebuilder:default={}
	Schedule Schedule `json:"schedule"`

	// Suspend stops scheduled runs. A manual run (the run-now annotation or a SyncRun created with
	// trigger: Manual) still executes, as `kubectl create job --from=cronjob/...` does for a suspended CronJob.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Mode is Enforce (plan and write) or DryRun (plan, record the full plan, write nothing).
	// A SyncRun may override it for one run.
	// +kubebuilder:default=Enforce
	// +optional
	Mode SyncMode `json:"mode,omitempty"`

	// ConcurrencyPolicy says what happens when a slot comes while a run is still active:
	// Forbid skips the new slot (with an event), Replace cancels the active run and starts the new one.
	// +kubebuilder:default=Forbid
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// SuccessfulRunsHistoryLimit is how many finished successful SyncRuns are kept (oldest deleted first).
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`

	// FailedRunsHistoryLimit is how many Failed and PartiallyFailed SyncRuns are kept (oldest deleted
	// first). Blocked runs wait for a person and are never deleted by the history limits.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`

	// Source is where circulation facts come from. Destiny is the source of truth and is never written to.
	Source Source `json:"source"`

	// Target is the MDM the run writes to: exactly one of jamfPro or jamfSchool.
	Target Target `json:"target"`

	// Schools maps each Destiny site the policy covers to its place in the MDM. Items of other sites are
	// not read.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=500
	// +listType=map
	// +listMapKey=site
	Schools []SchoolMapping `json:"schools"`

	// Naming holds the device-name rules.
	// +kubebuilder:default={}
	// +optional
	Naming Naming `json:"naming,omitempty"`

	// Fields says which device fields the policy manages and how user and location values are built.
	// +kubebuilder:default={}
	// +optional
	Fields Fields `json:"fields,omitempty"`

	// LostMode says whether lost (and optionally stolen) devices are put in Lost Mode, and with which message.
	// +kubebuilder:default={}
	// +optional
	LostMode LostMode `json:"lostMode,omitempty"`

	// Safety is the change budget that keeps a bad source from rewriting a district.
	// +kubebuilder:default={}
	// +optional
	Safety Safety `json:"safety,omitempty"`

	// RunTimeout bounds one run from its start: reading, planning and writing. A run still going then
	// stops, keeps what it had applied, and ends Failed with reason DeadlineExceeded, so a hung server
	// never holds a policy's runs. Default 1h; at least 1m.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('1m')",message="spec.runTimeout must be a duration of at least 1m, such as 45m or 2h"
	// +optional
	RunTimeout *metav1.Duration `json:"runTimeout,omitempty"`

	// Roster keeps the MDM's users, user groups and classes in step with the roster
	// (spec.source.destiny.roster), in the same run as the devices and within the same safety budget, as
	// Apple School Manager sync does. Jamf School only: on Jamf Pro the Ready condition says it is not
	// supported and runs sync devices only. Absent: users and classes are not touched.
	// +optional
	Roster *RosterSync `json:"roster,omitempty"`

	// Notifications posts a message to a chat or alerting webhook when a run ends Failed,
	// PartiallyFailed or Blocked (Events and the Prometheus alerts report them too).
	// +optional
	Notifications *Notifications `json:"notifications,omitempty"`
}

// RosterSync says which users, groups and classes a run keeps in step with the roster.
type RosterSync struct {
	// Users creates and updates a user for every student and teacher of the policy's schools in the
	// roster: username, first and last name, email, location (the school's, from spec.schools), and
	// membership of the students or teachers group. New users get their password from
	// target.jamfSchool.newUserPassword, or a random one; it is never logged or stored in status.
	// A person with no username, no email (for a new user) or a username another person also has is
	// skipped and reported (NoUsername, NoEmail, DuplicateUser). Absent: users are not created or changed
	// (classes then use the users that exist).
	// +optional
	Users *RosterUsers `json:"users,omitempty"`

	// Teachers says who counts as a teacher: a person matching any rule gets the teachers group, and
	// sits as a teacher in classes.
	// +kubebuilder:default={}
	// +optional
	Teachers RosterTeachers `json:"teachers,omitempty"`

	// Classes creates and updates one class per roster class (OneRoster classes.csv with
	// enrollments.csv) of the policy's schools, with its teachers and students as members (the member
	// lists are replaced as a whole), in its school's location. A class it creates carries
	// "devicesync: OneRoster class <sourcedId>" in its description, so a renamed roster class renames
	// it; an existing class of the same name in that location without that marker is adopted. A member
	// with no user is left out (NoMDMUser); a class with no teacher is written with its students
	// (NoTeacher). Classes synced from Apple School Manager are never touched, and are reported
	// ManagedByASM. Absent: classes are not touched.
	// +optional
	Classes *RosterClasses `json:"classes,omitempty"`
}

// RosterUsers is the user part of a roster sync.
//
// +kubebuilder:validation:XValidation:rule="!has(self.removeStale) || self.removeStale.action != 'MoveToGroup' || (has(self.removeStale.group) && size(self.removeStale.group) > 0)",message="roster.users.removeStale.group is required when the action is MoveToGroup"
type RosterUsers struct {
	// StudentsGroup is the name of the group students belong to, a template over the person
	// (.School, .SchoolCode, .SchoolName, .Grade, .FirstName, .LastName, .Username, .DistrictID), for
	// example "Students {{.Grade}}". The group is created in the student's location when missing.
	// Memberships of other groups are kept. Default "Students".
	// +kubebuilder:default="Students"
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	StudentsGroup string `json:"studentsGroup,omitempty"`

	// TeachersGroup is the name of the group teachers belong to (same data model). It is created with
	// Jamf School's teacher permission. Default "Teachers".
	// +kubebuilder:default="Teachers"
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	TeachersGroup string `json:"teachersGroup,omitempty"`

	// RemoveStale says what happens to a user who left the roster. Absent: nothing; users are never
	// removed by default. Only users in a group this policy manages (its students or teachers groups)
	// in the policy's locations are candidates, and safety.maxRemovals bounds each run.
	// +optional
	RemoveStale *RemoveStaleUsers `json:"removeStale,omitempty"`
}

// StaleUserAction is what happens to a user who left the roster.
// +kubebuilder:validation:Enum=MoveToGroup;Delete
type StaleUserAction string

const (
	// StaleMoveToGroup takes the user out of the policy's groups and puts it in removeStale.group.
	StaleMoveToGroup StaleUserAction = "MoveToGroup"
	// StaleDelete moves the user to Jamf School's trash (restorable there).
	StaleDelete StaleUserAction = "Delete"
)

// RemoveStaleUsers is spec.roster.users.removeStale.
type RemoveStaleUsers struct {
	// Action is MoveToGroup (out of the students and teachers groups, into group) or Delete (to the trash).
	Action StaleUserAction `json:"action"`

	// Group is the group (in the user's location) MoveToGroup puts the user in, for example "Former students".
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Group string `json:"group,omitempty"`
}

// RosterTeachers says who counts as a teacher.
type RosterTeachers struct {
	// Roles are OneRoster roles (users.csv and enrollments.csv role) of teachers, compared without
	// case: teacher, or a school system's own such as ROLE_TEACHER. Default teacher.
	// +kubebuilder:default={teacher}
	// +kubebuilder:validation:MaxItems=20
	// +listType=set
	// +optional
	Roles []string `json:"roles,omitempty"`

	// PatronTypes are the SIS patron types (SIS patron CSV PatronType) of teachers. Default: the
	// policy's source.destiny.teacherPatronTypes.
	// +kubebuilder:validation:MaxItems=20
	// +listType=set
	// +optional
	PatronTypes []string `json:"patronTypes,omitempty"`

	// Groups are Jamf School group names whose members are teachers, for example lehrkraefte, for
	// districts where a school server puts teachers in a group.
	// +kubebuilder:validation:MaxItems=20
	// +listType=set
	// +optional
	Groups []string `json:"groups,omitempty"`
}

// RosterClasses is the class part of a roster sync.
type RosterClasses struct {
	// Name is the class name, a template over the roster class: .Title, .ClassCode, .Period (the first of
	// periods), .School and .SchoolCode (the Destiny site short name of its school), .SchoolName,
	// .Grade, .Location (classes.csv location). For example "{{.SchoolCode}} {{.Title}} {{.Period}}".
	// Names must differ within a location: roster classes rendering one name there are all skipped
	// (DuplicateClass), so add .ClassCode or .Period where titles repeat. Default "{{.Title}}".
	// +kubebuilder:default="{{.Title}}"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Name string `json:"name,omitempty"`

	// RemoveStale deletes the classes of the policy's locations that roster sync created or adopted
	// (their description carries the marker) whose roster class is gone, within safety.maxRemovals.
	// Default false: such classes are left alone.
	// +optional
	RemoveStale bool `json:"removeStale,omitempty"`
}

// Notifications says where a run's result is reported.
type Notifications struct {
	// Webhook posts one message per run result to a URL read from a Secret.
	// +optional
	Webhook *WebhookNotification `json:"webhook,omitempty"`
}

// WebhookFormat is the body a webhook receives.
// +kubebuilder:validation:Enum=Slack;Teams;Generic
type WebhookFormat string

const (
	// WebhookSlack: a Slack incoming webhook message (text and mrkdwn blocks).
	WebhookSlack WebhookFormat = "Slack"
	// WebhookTeams: a Microsoft Teams Workflows message carrying an Adaptive Card.
	WebhookTeams WebhookFormat = "Teams"
	// WebhookGeneric: the operator's own JSON object (see the README's Notifications section).
	WebhookGeneric WebhookFormat = "Generic"
)

// WebhookNotification is one webhook.
type WebhookNotification struct {
	// URLSecretRef names the Secret key holding the webhook URL. The URL is a secret (Slack and Teams
	// URLs carry a token): it is read at send time and never logged or written to status or events.
	URLSecretRef SecretKeyReference `json:"urlSecretRef"`

	// Format of the body: Slack, Teams or Generic (default Generic).
	// +kubebuilder:default=Generic
	// +optional
	Format WebhookFormat `json:"format,omitempty"`

	// On lists the run phases that are reported (default Failed, PartiallyFailed and Blocked;
	// Succeeded may be added).
	// +kubebuilder:default={Failed,PartiallyFailed,Blocked}
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	On []NotifyPhase `json:"on,omitempty"`
}

// NotifyPhase is a final run phase a webhook may report.
// +kubebuilder:validation:Enum=Succeeded;PartiallyFailed;Failed;Blocked
type NotifyPhase string

// SecretKeyReference names one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key holding the value (default url).
	// +kubebuilder:default="url"
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// Schedule is a daily window of runs. Runs fall at window.start, start+every, start+2*every, ... up to
// window.end inclusive, in the wall-clock time of timeZone (so 05:40 stays 05:40 across daylight saving
// changes), on the listed days.
//
// +kubebuilder:validation:XValidation:rule="!has(self.every) || self.every.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$')",message="schedule.every must be a duration such as 30m, 1h or 1h30m"
// +kubebuilder:validation:XValidation:rule="!has(self.every) || !self.every.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') || duration(self.every) >= duration('5m')",message="schedule.every must be at least 5m: Destiny and Jamf are shared systems and a full run reads every device"
type Schedule struct {
	// TimeZone is the IANA time zone of the window, for example America/Chicago. Default UTC.
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// Window is the daily period in which runs are scheduled.
	// +kubebuilder:default={}
	// +optional
	Window Window `json:"window,omitempty"`

	// Every is the interval between runs inside the window, as a duration (30m, 1h, 2h). At least 5m. Default 1h.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Every string `json:"every,omitempty"`

	// Days are the weekdays with runs. Default Monday to Friday.
	// +kubebuilder:default={Mon,Tue,Wed,Thu,Fri}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=7
	// +listType=set
	// +optional
	Days []Weekday `json:"days,omitempty"`

	// StartingDeadlineSeconds bounds how late a missed slot may still run after the operator was down.
	// Only the latest missed slot runs; older ones are reported as missed. Unset means the latest missed
	// slot runs however late it is.
	// +kubebuilder:validation:Minimum=0
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
}

// Window is a daily period in 24-hour local time. It does not cross midnight: end is after start.
//
// +kubebuilder:validation:XValidation:rule="!has(self.start) || !has(self.end) || self.end > self.start",message="schedule.window.end must be later than schedule.window.start (a window cannot cross midnight)"
type Window struct {
	// Start is the first slot of the day, HH:MM in 24-hour time. Default 05:40.
	// +kubebuilder:default="05:40"
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="schedule.window.start must be a time of day as HH:MM, from 00:00 to 23:59"
	// +optional
	Start string `json:"start,omitempty"`

	// End is the latest time a slot may fall, HH:MM in 24-hour time, inclusive. Default 17:40.
	// +kubebuilder:default="17:40"
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="schedule.window.end must be a time of day as HH:MM, from 00:00 to 23:59"
	// +optional
	End string `json:"end,omitempty"`
}

// Weekday is a three-letter English day name.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// SyncMode says whether a run writes.
// +kubebuilder:validation:Enum=Enforce;DryRun
type SyncMode string

const (
	// ModeEnforce plans and writes.
	ModeEnforce SyncMode = "Enforce"
	// ModeDryRun plans, records the full plan and writes nothing.
	ModeDryRun SyncMode = "DryRun"
)

// ConcurrencyPolicy says what happens to a new slot while a run is active.
// +kubebuilder:validation:Enum=Forbid;Replace
type ConcurrencyPolicy string

const (
	// ForbidConcurrent skips the new slot.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent cancels the active run and starts the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// Source holds the source of truth.
type Source struct {
	// Destiny is the Follett Destiny server the policy reads.
	Destiny DestinySource `json:"destiny"`
}

// DestinySource is a Follett Destiny server and what to read from it.
//
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('https://') || (has(self.insecure) && self.insecure)",message="source.destiny.url must use https:// (set source.destiny.insecure: true only for a lab server: credentials would cross the network in clear)"
type DestinySource struct {
	// URL is the Destiny server, for example https://destiny.district.org. The API base becomes
	// {url}/api/v1/rest/context/{context}.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+(/.*)?$')",message="source.destiny.url must be an http(s) URL such as https://destiny.district.org"
	URL string `json:"url"`

	// Context is the Destiny context name: destiny on single-district servers, or the hosted context
	// such as destiny-1234-5678 or saas012_3456789.
	// +kubebuilder:default=destiny
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]+$`
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Context string `json:"context,omitempty"`

	// CredentialsSecretRef names a Secret in the policy's namespace with the keys client-id and
	// client-secret of a Destiny API account that has the Resources and Patron Info services.
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// Insecure allows an http:// URL, for a lab or test server only: credentials then cross the network
	// in clear. The policy's Ready condition warns while it is set. TLS certificates are always verified.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// CABundle names the PEM certificates of a private certificate authority that signed this server's
	// certificate (added to the system's roots), for a district whose server sits behind its own CA.
	// +optional
	CABundle *CABundleSource `json:"caBundle,omitempty"`

	// ResourceTypes are the Destiny resource types whose items are synchronised, for example iPad.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	ResourceTypes []string `json:"resourceTypes"`

	// SerialNumberField is the name of the item field that holds the serial number in districts that do not
	// use Destiny's serialNumber. The top-level serialNumber is used when present. Default "Serial Number".
	// +kubebuilder:default="Serial Number"
	// +kubebuilder:validation:MaxLength=128
	// +optional
	SerialNumberField string `json:"serialNumberField,omitempty"`

	// StudentPatronTypes are the patron types whose checkouts assign the device to the student. Default Student.
	// +kubebuilder:default={Student}
	// +listType=set
	// +optional
	StudentPatronTypes []string `json:"studentPatronTypes,omitempty"`

	// TeacherPatronTypes are the patron types whose checkouts rename the device to naming.teacherCheckout
	// and leave user and location untouched. Default Teacher and Staff.
	// +kubebuilder:default={Teacher,Staff}
	// +listType=set
	// +optional
	TeacherPatronTypes []string `json:"teacherPatronTypes,omitempty"`

	// StudentDeviceResourceTypes are the resource types handed to students: when such an item is
	// available again its device's user and location are cleared. Devices of other types are never cleared.
	// +listType=set
	// +optional
	StudentDeviceResourceTypes []string `json:"studentDeviceResourceTypes,omitempty"`

	// Roster optionally supplies grade, homeroom and teachers, which Destiny's API does not return.
	// +optional
	Roster *RosterSource `json:"roster,omitempty"`
}

// RosterFormat is the format of a roster.
// +kubebuilder:validation:Enum=OneRoster;SISPatronCSV
type RosterFormat string

const (
	// RosterOneRoster is a OneRoster 1.1 CSV bundle (users.csv, enrollments.csv, classes.csv).
	RosterOneRoster RosterFormat = "OneRoster"
	// RosterSISPatronCSV is the patron CSV a district imports into Destiny from its SIS.
	RosterSISPatronCSV RosterFormat = "SISPatronCSV"
)

// RosterSource is a roster mounted from exactly one of a ConfigMap, a Secret or a path in the manager's file system.
//
// +kubebuilder:validation:XValidation:rule="[has(self.configMapRef), has(self.secretRef), has(self.path)].filter(x, x).size() == 1",message="source.destiny.roster needs exactly one of configMapRef, secretRef or path"
type RosterSource struct {
	// Format is OneRoster (a 1.1 CSV bundle) or SISPatronCSV (the patron import file sent to Destiny).
	Format RosterFormat `json:"format"`

	// ConfigMapRef names a ConfigMap in the policy's namespace whose keys are the CSV file names.
	// +optional
	ConfigMapRef *LocalObjectReference `json:"configMapRef,omitempty"`

	// SecretRef names a Secret in the policy's namespace whose keys are the CSV file names.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// Path is a directory mounted into the manager (for example from a volume) that holds the CSV files.
	// It must lie under the manager's --roster-root (no path is allowed when the flag is not set), so a
	// policy author cannot read other files of the manager.
	// +kubebuilder:validation:Pattern=`^/`
	// +optional
	Path string `json:"path,omitempty"`

	// KeyField is the roster field matched against Destiny's patron district id: for OneRoster one of
	// identifier (default), sourcedId, username or email; for the SIS CSV DistrictID (default) or Barcode.
	// +kubebuilder:validation:Enum=identifier;sourcedId;username;email;DistrictID;Barcode
	// +optional
	KeyField string `json:"keyField,omitempty"`
}

// Target is the MDM a policy writes to.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.jamfPro) && has(self.jamfSchool))",message="target.jamfPro and target.jamfSchool are mutually exclusive: a policy writes to one MDM"
// +kubebuilder:validation:XValidation:rule="has(self.jamfPro) || has(self.jamfSchool)",message="a target is required: set target.jamfPro or target.jamfSchool"
type Target struct {
	// JamfPro is a Jamf Pro server.
	// +optional
	JamfPro *JamfProTarget `json:"jamfPro,omitempty"`

	// JamfSchool is a Jamf School instance. Its API cannot rename devices or enable Lost Mode: such
	// changes are reported as UnsupportedByTarget.
	// +optional
	JamfSchool *JamfSchoolTarget `json:"jamfSchool,omitempty"`
}

// JamfProTarget is a Jamf Pro server.
//
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('https://') || (has(self.insecure) && self.insecure)",message="target.jamfPro.url must use https:// (set target.jamfPro.insecure: true only for a lab server: credentials would cross the network in clear)"
type JamfProTarget struct {
	// URL is the Jamf Pro server, for example https://district.jamfcloud.com.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+(/.*)?$')",message="target.jamfPro.url must be an http(s) URL such as https://district.jamfcloud.com"
	URL string `json:"url"`

	// CredentialsSecretRef names a Secret in the policy's namespace with either client-id and client-secret
	// of a Jamf Pro API client (preferred), or username and password for the bearer-token flow.
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// MaxConcurrency is the most requests in flight to Jamf Pro. Jamf's guidance is 5.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	MaxConcurrency int32 `json:"maxConcurrency,omitempty"`

	// Insecure allows an http:// URL, for a lab or test server only: credentials then cross the network
	// in clear. The policy's Ready condition warns while it is set. TLS certificates are always verified.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// CABundle names the PEM certificates of a private certificate authority that signed this server's
	// certificate (added to the system's roots), for a district whose server sits behind its own CA.
	// +optional
	CABundle *CABundleSource `json:"caBundle,omitempty"`
}

// JamfSchoolTarget is a Jamf School instance.
//
// +kubebuilder:validation:XValidation:rule="self.url.startsWith('https://') || (has(self.insecure) && self.insecure)",message="target.jamfSchool.url must use https:// (set target.jamfSchool.insecure: true only for a lab server: credentials would cross the network in clear)"
type JamfSchoolTarget struct {
	// URL is the Jamf School API, for example https://district.jamfcloud.com/api.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+(/.*)?$')",message="target.jamfSchool.url must be an http(s) URL such as https://district.jamfcloud.com/api"
	URL string `json:"url"`

	// CredentialsSecretRef names a Secret in the policy's namespace with the keys network-id and api-key.
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// CreateMissingUsers creates a Jamf School user for a student who has none, instead of skipping the device.
	// The user gets the student's username, first and last name and email (from Destiny's checkout, else the
	// roster) and a password from newUserPassword, or a random one.
	// +optional
	CreateMissingUsers bool `json:"createMissingUsers,omitempty"`

	// NewUserPassword is the password rule of users created by createMissingUsers: a Go template over the
	// same data model as the naming rules (.DistrictID, .FirstName, .LastName, .Grade, ...), for example
	// "{{.DistrictID}}{{initial .FirstName}}{{initial .LastName}}". Empty: each user gets a random password of
	// 20 characters (upper and lower case letters, digits, symbols), which nobody sees: reset it in Jamf School
	// when a student needs to sign in. The rendered password is never logged, stored in status or events, or
	// put in an error.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	NewUserPassword string `json:"newUserPassword,omitempty"`

	// Insecure allows an http:// URL, for a lab or test server only: credentials then cross the network
	// in clear. The policy's Ready condition warns while it is set. TLS certificates are always verified.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// CABundle names the PEM certificates of a private certificate authority that signed this server's
	// certificate (added to the system's roots), for a district whose server sits behind its own CA.
	// +optional
	CABundle *CABundleSource `json:"caBundle,omitempty"`
}

// CABundleSource names PEM certificates in exactly one of a ConfigMap or a Secret of the policy's namespace.
//
// +kubebuilder:validation:XValidation:rule="has(self.configMapRef) != has(self.secretRef)",message="caBundle needs exactly one of configMapRef or secretRef"
type CABundleSource struct {
	// ConfigMapRef names a ConfigMap holding the bundle.
	// +optional
	ConfigMapRef *KeyReference `json:"configMapRef,omitempty"`

	// SecretRef names a Secret holding the bundle.
	// +optional
	SecretRef *KeyReference `json:"secretRef,omitempty"`
}

// KeyReference names one key of an object in the same namespace.
type KeyReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key holding the PEM certificates (default ca.crt).
	// +kubebuilder:default="ca.crt"
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// SecretReference names a Secret in the same namespace.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SchoolMapping maps one Destiny site to its place in the MDM.
type SchoolMapping struct {
	// Site is the Destiny site short name, for example LHS.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Site string `json:"site"`

	// Building is the Jamf Pro building name devices of this site are placed in. Required for Jamf Pro.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Building string `json:"building,omitempty"`

	// Location is the Jamf School location name devices of this site are placed in. Required for Jamf School.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Location string `json:"location,omitempty"`

	// RosterSchool is the roster's id of this school: the OneRoster org sourcedId (users.csv
	// orgSourcedIds, classes.csv schoolSourcedId) or the SIS CSV's SiteShortName. Default: the site short
	// name. spec.roster syncs the people and classes of the mapped schools only.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	RosterSchool string `json:"rosterSchool,omitempty"`

	// Department is a template for the Jamf Pro department of this site's devices (see naming for the
	// data model), overriding fields.location.department, for example "Grade {{.Grade}}".
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Department string `json:"department,omitempty"`
}

// Naming holds the device-name rules. Each is a Go template over the device data model:
// .Serial, .AssetTag, .Barcode, .FirstName, .MiddleName, .LastName, .FullName, .DistrictID, .Username,
// .Email, .Grade, .Homeroom, .Teachers (a list), .School (site short name), .SchoolName, .Building.
// Only safe functions are available: upper, lower, title, trim, trunc, replace, default, initial, join.
type Naming struct {
	// Student names a device checked out to an active student.
	// +kubebuilder:default="{{.LastName}}, {{.FirstName}} - {{.Serial}}"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Student string `json:"student,omitempty"`

	// Standard names a device nobody holds: available, or checked out to an inactive (in-transit) student.
	// +kubebuilder:default="STU-{{.Serial}}"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Standard string `json:"standard,omitempty"`

	// TeacherCheckout names a student device checked out to a teacher or staff patron.
	// +kubebuilder:default="Return to Library"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	TeacherCheckout string `json:"teacherCheckout,omitempty"`

	// EnforceName asks Jamf Pro to restore the name at each check-in if a user changes it.
	// +kubebuilder:default=true
	// +optional
	EnforceName *bool `json:"enforceName,omitempty"`
}

// ManagedField is a device field a policy may own.
// +kubebuilder:validation:Enum=name;user;location;lostMode
type ManagedField string

const (
	// FieldName is the device name.
	FieldName ManagedField = "name"
	// FieldUser is username, real name and email.
	FieldUser ManagedField = "user"
	// FieldLocation is building, department, room and position.
	FieldLocation ManagedField = "location"
	// FieldLostMode is Lost Mode.
	FieldLostMode ManagedField = "lostMode"
)

// Fields says which device fields the policy owns and how user and location values are built.
// Fields the policy does not manage are never compared or written.
type Fields struct {
	// Manage lists the fields the policy owns. Default all four.
	// +kubebuilder:default={name,user,location,lostMode}
	// +listType=set
	// +optional
	Manage []ManagedField `json:"manage,omitempty"`

	// User holds the templates of the user fields.
	// +kubebuilder:default={}
	// +optional
	User UserRules `json:"user,omitempty"`

	// Location holds the templates of the location fields. The building comes from spec.schools.
	// +kubebuilder:default={}
	// +optional
	Location LocationRules `json:"location,omitempty"`
}

// UserRules are templates (see naming for the data model) for the user fields.
type UserRules struct {
	// Username in Jamf. Default {{.Username}} (the roster username, or the email when there is none).
	// +kubebuilder:default="{{.Username}}"
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Username string `json:"username,omitempty"`

	// RealName in Jamf. Default {{.FullName}}.
	// +kubebuilder:default="{{.FullName}}"
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	RealName string `json:"realName,omitempty"`

	// Email in Jamf. Default {{.Email}}.
	// +kubebuilder:default="{{.Email}}"
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Email string `json:"email,omitempty"`
}

// LocationRules are templates (see naming for the data model) for the location fields.
type LocationRules struct {
	// Position in Jamf. Default: "Grade N" when the grade is known.
	// +kubebuilder:default="{{with .Grade}}Grade {{.}}{{end}}"
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Position string `json:"position,omitempty"`

	// Room in Jamf. Default the homeroom.
	// +kubebuilder:default="{{.Homeroom}}"
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Room string `json:"room,omitempty"`

	// Department in Jamf, unless the school sets its own. Empty leaves the department untouched.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Department string `json:"department,omitempty"`
}

// LostMode says how lost devices are handled.
//
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || !self.enabled || (has(self.message) && size(self.message) > 0) || (has(self.phone) && size(self.phone) > 0)",message="lostMode.message or lostMode.phone is required when Lost Mode is enabled: Jamf refuses a Lost Mode command without one"
type LostMode struct {
	// Enabled puts devices Destiny marks lost in Lost Mode.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// Message shown on the lock screen.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`

	// Phone number shown on the lock screen.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Phone string `json:"phone,omitempty"`

	// Footnote shown on the lock screen.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Footnote string `json:"footnote,omitempty"`

	// IncludeStolen treats stolen items like lost ones.
	// +optional
	IncludeStolen bool `json:"includeStolen,omitempty"`

	// DisableWhenFound turns Lost Mode off when Destiny shows the item available or checked out again.
	// +kubebuilder:default=true
	// +optional
	DisableWhenFound *bool `json:"disableWhenFound,omitempty"`

	// WithdrawnAfter puts a device in Lost Mode once it has been checked out to an inactive student (one
	// who left the district; an item moving between schools is "in transit" instead) for this long since
	// a run first saw it so, for example 72h. Every run reports such devices (HeldByInactiveStudent, in
	// the run's fix list) whether or not this is set; the operator remembers when it first saw each one,
	// across restarts, in the ConfigMap <policy>-withdrawn. Needs enabled and lostMode in fields.manage.
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('1h')",message="lostMode.withdrawnAfter must be a duration of at least 1h, such as 72h"
	// +optional
	WithdrawnAfter *metav1.Duration `json:"withdrawnAfter,omitempty"`
}

// Safety is the change budget. A plan over budget is not applied: the run ends Blocked, with the plan
// summary in its status, until someone approves that run or the data is fixed.
type Safety struct {
	// MaxChanges is the most devices one run may change, as a count (200) or a percentage of matched
	// devices ("10%"). Default 25%.
	// +kubebuilder:default="25%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="safety.maxChanges must be a count of 0 or more (like 200) or a percentage from 0% to 100% (like \"10%\")"
	// +optional
	MaxChanges *intstr.IntOrString `json:"maxChanges,omitempty"`

	// MaxClears is the most devices one run may clear (user and location removed), as a count or a
	// percentage of matched devices. Default 10%.
	// +kubebuilder:default="10%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="safety.maxClears must be a count of 0 or more (like 50) or a percentage from 0% to 100% (like \"5%\")"
	// +optional
	MaxClears *intstr.IntOrString `json:"maxClears,omitempty"`

	// MaxSourceShrink blocks a run when Destiny returns this much fewer items than the last successful
	// run saw, as a count or a percentage. A Destiny answer with no items always blocks. Default 20%.
	// +kubebuilder:default="20%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="safety.maxSourceShrink must be a count of 0 or more or a percentage from 0% to 100% (like \"20%\")"
	// +optional
	MaxSourceShrink *intstr.IntOrString `json:"maxSourceShrink,omitempty"`

	// MaxRosterShrink blocks a run when the roster (spec.source.roster) has this much fewer students than
	// the last successful run's roster had, as a count or a percentage: a roster cut short (a partial SIS
	// export) must not reassign devices. Not checked without a roster. Default 20%.
	// +kubebuilder:default="20%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="safety.maxRosterShrink must be a count of 0 or more or a percentage from 0% to 100% (like \"20%\")"
	// +optional
	MaxRosterShrink *intstr.IntOrString `json:"maxRosterShrink,omitempty"`

	// MaxRemovals is the most users and classes one run may remove (spec.roster removeStale), as a count
	// or a percentage of the users and classes the policy manages. Roster creations and updates count
	// against maxChanges (a percentage is then of the roster's people and classes). Default 5%.
	// +kubebuilder:default="5%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="safety.maxRemovals must be a count of 0 or more (like 20) or a percentage from 0% to 100% (like \"5%\")"
	// +optional
	MaxRemovals *intstr.IntOrString `json:"maxRemovals,omitempty"`
}

// DeviceSyncPolicyStatus is what the controllers observed of a policy and its runs.
type DeviceSyncPolicyStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (configuration valid, Secrets present, Destiny and the MDM reachable and
	// authorised), and Reconciling / Stalled (kstatus) while they are true.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// Schedule is the schedule in words, for example "Mon-Fri 05:40-17:40 every 1h (America/Chicago)".
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// LastScheduleTime is the slot of the latest scheduled run.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// NextScheduleTime is the next slot.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// LastSuccessfulTime is when the latest successful run completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// LastFailureTime is when the latest failed run completed.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`

	// LastRunResult is the phase of the latest finished run.
	// +optional
	LastRunResult SyncRunPhase `json:"lastRunResult,omitempty"`

	// Active are the runs not yet finished.
	// +listType=atomic
	// +optional
	Active []RunReference `json:"active,omitempty"`

	// History summarises the latest finished runs, newest first.
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	History []RunResult `json:"history,omitempty"`

	// LastHandledRunNow is the value of the devicesync.k12.dev/run-now annotation last acted on.
	// +optional
	LastHandledRunNow string `json:"lastHandledRunNow,omitempty"`

	// LastGoodSource is how many Destiny items (and roster students) the latest Enforce run that read
	// Destiny successfully (Succeeded or PartiallyFailed) saw: the baseline of safety.maxSourceShrink and
	// safety.maxRosterShrink. It outlives the history limits, so the guards never switch themselves off.
	// +optional
	LastGoodSource *SourceBaseline `json:"lastGoodSource,omitempty"`
}

// SourceBaseline is what one good run read from Destiny.
type SourceBaseline struct {
	// Items is the number of Destiny items the run read.
	Items int32 `json:"items"`
	// RosterRows is the number of students the run's roster had (absent when the policy had no roster).
	// +optional
	RosterRows int32 `json:"rosterRows,omitempty"`
	// Run is the SyncRun's name.
	Run string `json:"run"`
	// Time is when the run completed.
	Time metav1.Time `json:"time"`
}

// RunReference names a SyncRun of the policy.
type RunReference struct {
	// Name of the SyncRun.
	Name string `json:"name"`
	// ScheduledTime of the run, for scheduled runs.
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`
}

// RunResult is a one-line summary of a finished run.
type RunResult struct {
	// Name of the SyncRun.
	Name string `json:"name"`
	// Phase it ended in.
	Phase SyncRunPhase `json:"phase"`
	// CompletionTime of the run.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Changed is the number of devices changed.
	// +optional
	Changed int32 `json:"changed,omitempty"`
	// Failed is the number of devices whose change failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Message explains a failed or blocked run.
	// +optional
	Message string `json:"message,omitempty"`
}

// DeviceSyncPolicy declares when and how an MDM (Jamf Pro or Jamf School) is reconciled against
// Follett Destiny. Each run is recorded as a SyncRun.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dsp,categories=devicesync
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.status.schedule`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`,priority=1
// +kubebuilder:printcolumn:name="Last Result",type=string,JSONPath=`.status.lastRunResult`
// +kubebuilder:printcolumn:name="Last Run",type=date,JSONPath=`.status.lastScheduleTime`,priority=1
// +kubebuilder:printcolumn:name="Next Run",type=string,format=date-time,JSONPath=`.status.nextScheduleTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DeviceSyncPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DeviceSyncPolicySpec   `json:"spec,omitempty"`
	Status DeviceSyncPolicyStatus `json:"status,omitempty"`
}

// DeviceSyncPolicyList is a list of DeviceSyncPolicy.
//
// +kubebuilder:object:root=true
type DeviceSyncPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeviceSyncPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DeviceSyncPolicy{}, &DeviceSyncPolicyList{})
}
