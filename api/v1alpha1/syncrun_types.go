package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations and labels of this API.
const (
	// RunNowAnnotation on a DeviceSyncPolicy requests a manual run; any new value triggers one, and the
	// value handled last is echoed in status.lastHandledRunNow.
	RunNowAnnotation = "devicesync.k12.dev/run-now"
	// ApproveAnnotation on a Blocked SyncRun lets its plan proceed past the change budget. Its value must
	// be the run's status.blocked.planDigest, so an approval covers exactly the plan that was reviewed.
	ApproveAnnotation = "devicesync.k12.dev/approve"
	// PolicyLabel on a SyncRun names its DeviceSyncPolicy. Runs never copy the policy's own labels
	// (an Argo CD tracking label on the policy must not make Argo CD adopt or prune runs).
	PolicyLabel = "devicesync.k12.dev/policy"
	// CredentialsLabel, set to "true" on a Secret, marks it as one policies may use. A manager started with
	// --require-credentials-label reads no other Secret, so a policy author cannot point the manager at
	// an unrelated Secret of the namespace that happens to have the right keys.
	CredentialsLabel = "devicesync.k12.dev/credentials"
)

// SyncRunSpec says which policy runs, why, and for which slot. It is immutable.
//
// +kubebuilder:validation:XValidation:rule="self.trigger != 'Scheduled' || has(self.scheduledTime)",message="spec.scheduledTime is required when spec.trigger is Scheduled"
type SyncRunSpec struct {
	// PolicyRef names the DeviceSyncPolicy in the same namespace.
	PolicyRef LocalObjectReference `json:"policyRef"`

	// Trigger is Scheduled (created by the policy for a slot) or Manual (created by a person or the run-now
	// annotation). Default Manual.
	// +kubebuilder:default=Manual
	// +optional
	Trigger Trigger `json:"trigger,omitempty"`

	// ScheduledTime is the slot a scheduled run belongs to.
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`

	// Mode overrides the policy's mode for this run only, for example DryRun to preview a plan.
	// +optional
	Mode SyncMode `json:"mode,omitempty"`
}

// Trigger says why a run exists.
// +kubebuilder:validation:Enum=Scheduled;Manual
type Trigger string

const (
	// TriggerScheduled is a run the policy created for a schedule slot.
	TriggerScheduled Trigger = "Scheduled"
	// TriggerManual is a run someone asked for.
	TriggerManual Trigger = "Manual"
)

// SyncRunPhase is where a run is in its life.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;PartiallyFailed;Failed;Blocked
type SyncRunPhase string

const (
	// PhasePending: created, not started.
	PhasePending SyncRunPhase = "Pending"
	// PhaseRunning: reading, planning or applying.
	PhaseRunning SyncRunPhase = "Running"
	// PhaseSucceeded: every planned change applied (or, in a dry run, the plan recorded).
	PhaseSucceeded SyncRunPhase = "Succeeded"
	// PhasePartiallyFailed: finished, some device changes failed.
	PhasePartiallyFailed SyncRunPhase = "PartiallyFailed"
	// PhaseFailed: the run could not complete (a source unreadable, a bad roster, credentials refused).
	PhaseFailed SyncRunPhase = "Failed"
	// PhaseBlocked: the plan is over the change budget or the source looks wrong; nothing was written.
	// Approve it with the devicesync.k12.dev/approve annotation, or fix the data.
	PhaseBlocked SyncRunPhase = "Blocked"
)

// Condition types and reasons.
const (
	// ConditionReady on a policy: configuration valid, Secrets present, both systems reachable and authorised.
	ConditionReady = "Ready"
	// ConditionReconciling (kstatus) is true while the controller works towards the desired state.
	ConditionReconciling = "Reconciling"
	// ConditionStalled (kstatus) is true when the controller cannot progress without a change from a person.
	ConditionStalled = "Stalled"
	// ConditionComplete on a run is true when it Succeeded (reason Succeeded) or a dry run planned (reason
	// DryRun), as for Jobs: `kubectl wait --for=condition=Complete` returns.
	ConditionComplete = "Complete"
	// ConditionFailed on a run is true when it Failed, or PartiallyFailed (reason PartiallyFailed: some
	// devices were written, some failed), or was Superseded while Blocked.
	ConditionFailed = "Failed"
	// ConditionBlocked on a run is true while it waits for approval.
	ConditionBlocked = "Blocked"
)

// SyncRunStatus is the progress and result of a run.
type SyncRunStatus struct {
	// ObservedGeneration is the generation of the run this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is where the run is: Pending, Running, Succeeded, PartiallyFailed, Failed or Blocked.
	// +optional
	Phase SyncRunPhase `json:"phase,omitempty"`

	// Mode is the mode the run used (the run's override, or the policy's).
	// +optional
	Mode SyncMode `json:"mode,omitempty"`

	// PolicyGeneration is the generation of the policy the run started with.
	// +optional
	PolicyGeneration int64 `json:"policyGeneration,omitempty"`

	// StartTime is when the run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the run finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Progress counts the planned changes applied so far.
	// +optional
	Progress Progress `json:"progress,omitempty"`

	// Summary counts devices by outcome.
	// +optional
	Summary RunSummary `json:"summary,omitempty"`

	// Blocked explains why a Blocked run was not applied and what approving it means.
	// +optional
	Blocked *BlockedDetail `json:"blocked,omitempty"`

	// Changes lists changes with old and new values (planned, applied or failed), at most 200; the complete
	// list is in the manager's structured logs.
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	Changes []Change `json:"changes,omitempty"`

	// ChangesOmitted is how many changes are not listed in changes.
	// +optional
	ChangesOmitted int32 `json:"changesOmitted,omitempty"`

	// Schools counts, per Destiny site, the items and devices a person must fix before the run can sync
	// them (no serial, duplicate serial, not in Jamf, unsupervised, ...), by reason. "-" holds MDM devices
	// that belong to no Destiny item (NotInDestiny).
	// +kubebuilder:validation:MaxItems=500
	// +listType=map
	// +listMapKey=site
	// +optional
	Schools []SchoolFixes `json:"schools,omitempty"`

	// FixList names the ConfigMap (owned by this run, deleted with it) that holds the complete fix list as
	// CSV: site, serial, barcode, item, device, reason, problem, what to do. Read it with
	// kubectl get configmap -n NAMESPACE NAME -o jsonpath='{.data.fixlist\.csv}'
	// +optional
	FixList *FixListReference `json:"fixList,omitempty"`

	// Roster is what the roster sync (the policy's spec.roster) planned and did: users, groups and
	// classes. Absent when the policy does not sync the roster.
	// +optional
	Roster *RosterRunStatus `json:"roster,omitempty"`

	// Errors lists run-level and device errors, at most 50.
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	Errors []RunError `json:"errors,omitempty"`

	// Conditions: Complete and Failed (as for Jobs, so `kubectl wait --for=condition=Complete` works),
	// Blocked, and Reconciling / Stalled (kstatus).
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// SchoolFixes counts what one school's librarian or technician must fix.
type SchoolFixes struct {
	// Site is the Destiny site short name ("-" for devices that belong to no Destiny item).
	Site string `json:"site"`
	// ToFix is the number of items and devices to fix.
	ToFix int32 `json:"toFix"`
	// ByReason counts them by skip reason.
	// +optional
	ByReason map[string]int32 `json:"byReason,omitempty"`
}

// FixListReference names a run's fix list.
type FixListReference struct {
	// ConfigMap is the name of the ConfigMap in the run's namespace.
	ConfigMap string `json:"configMap"`
	// Key is the data key holding the CSV (fixlist.csv).
	Key string `json:"key"`
	// Rows is the number of rows in the CSV (without the header).
	Rows int32 `json:"rows"`
	// Omitted is the number of rows left out to keep the ConfigMap under its size limit (the counts in
	// status.schools still include them).
	// +optional
	Omitted int32 `json:"omitted,omitempty"`
}

// Progress counts applied changes.
type Progress struct {
	// Total is the number of planned changes.
	// +optional
	Total int32 `json:"total,omitempty"`
	// Done is the number of planned changes attempted.
	// +optional
	Done int32 `json:"done,omitempty"`
	// Ratio is done/total for kubectl get, for example 120/400.
	// +optional
	Ratio string `json:"ratio,omitempty"`
}

// RunSummary counts a run's devices by outcome.
type RunSummary struct {
	// DestinyItems is the number of Destiny items read.
	// +optional
	DestinyItems int32 `json:"destinyItems,omitempty"`
	// RosterRows is the number of students the policy's roster had (absent without a roster).
	// +optional
	RosterRows int32 `json:"rosterRows,omitempty"`
	// MDMDevices is the number of MDM devices read.
	// +optional
	MDMDevices int32 `json:"mdmDevices,omitempty"`
	// Matched is the number of items matched to exactly one managed device.
	// +optional
	Matched int32 `json:"matched,omitempty"`
	// InSync is the number of matched devices already as desired.
	// +optional
	InSync int32 `json:"inSync,omitempty"`
	// Changed is the number of devices changed (or, in a dry run, that would be).
	// +optional
	Changed int32 `json:"changed,omitempty"`
	// Failed is the number of devices whose change failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Skipped is the number of items or devices skipped, by reason in byReason.
	// +optional
	Skipped int32 `json:"skipped,omitempty"`
	// ByAction counts changes by action: Assigned, Reassigned, Updated, Cleared, Renamed, LostModeEnabled,
	// LostModeDisabled.
	// +optional
	ByAction map[string]int32 `json:"byAction,omitempty"`
	// ByReason counts skips and reports by reason: NoSerial, NotInJamf, Unmanaged, Unsupervised,
	// DuplicateSerial, NoRuleForStatus, TemplateError, NotInDestiny, UnsupportedByTarget, NoUsername,
	// NotInRoster (an active student the policy's roster has no row for: the device is not touched), ...
	// +optional
	ByReason map[string]int32 `json:"byReason,omitempty"`
}

// RosterRunStatus counts a run's roster sync and lists its changes.
type RosterRunStatus struct {
	// People and Classes are the roster's students, teachers and classes in the policy's schools.
	// +optional
	People int32 `json:"people,omitempty"`
	// +optional
	Classes int32 `json:"classes,omitempty"`
	// Users and MDMClasses are the users and classes the MDM had.
	// +optional
	Users int32 `json:"users,omitempty"`
	// +optional
	MDMClasses int32 `json:"mdmClasses,omitempty"`
	// InSync is the number of people and classes already as the roster says.
	// +optional
	InSync int32 `json:"inSync,omitempty"`
	// Changed is the number of users, groups and classes created or updated (or, in a dry run, that
	// would be); Removed the number removed.
	// +optional
	Changed int32 `json:"changed,omitempty"`
	// +optional
	Removed int32 `json:"removed,omitempty"`
	// Failed is the number of roster changes that failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Skipped is the number of people and classes skipped or reported, by reason in byReason.
	// +optional
	Skipped int32 `json:"skipped,omitempty"`
	// ByAction counts changes by action: GroupCreated, UserCreated, UserUpdated, ClassCreated,
	// ClassUpdated, MembersChanged, Removed.
	// +optional
	ByAction map[string]int32 `json:"byAction,omitempty"`
	// ByReason counts skips and reports by reason: NoUsername, DuplicateUser, NoEmail, EmailTaken,
	// UserInTrash, ManagedByASM, DuplicateClass, NoMDMUser, NoTeacher, TemplateError.
	// +optional
	ByReason map[string]int32 `json:"byReason,omitempty"`
	// Changes lists roster changes with old and new values, at most 200.
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	Changes []RosterChange `json:"changes,omitempty"`
	// ChangesOmitted is how many roster changes are not listed in changes.
	// +optional
	ChangesOmitted int32 `json:"changesOmitted,omitempty"`
}

// RosterChange is one user, group or class change with its old and new values.
type RosterChange struct {
	// Kind is User, Group or Class.
	Kind string `json:"kind"`
	// Name is the username, group name or class name.
	Name string `json:"name"`
	// Location is the Jamf School location.
	// +optional
	Location string `json:"location,omitempty"`
	// Action is GroupCreated, UserCreated, UserUpdated, ClassCreated, ClassUpdated, MembersChanged or Removed.
	Action string `json:"action"`
	// Fields are the values changed (firstName, lastName, email, location, groups, name, students,
	// teachers). A password never is.
	// +listType=atomic
	// +optional
	Fields []FieldChange `json:"fields,omitempty"`
	// Result is Applied, Failed, NotAttempted or Planned, as for device changes.
	Result string `json:"result"`
	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
}

// BlockedDetail says why a run is blocked.
type BlockedDetail struct {
	// Reason is ChangeBudgetExceeded, ClearBudgetExceeded, RemovalBudgetExceeded, SourceEmpty, SourceShrunk
	// or RosterShrunk.
	Reason string `json:"reason"`
	// Message says what the plan would do and which budget it exceeds.
	Message string `json:"message"`
	// PlanDigest identifies the plan; approve it by setting the devicesync.k12.dev/approve annotation to this value.
	PlanDigest string `json:"planDigest"`
}

// Change is one device change with its old and new values.
type Change struct {
	// Serial is the device's normalised serial number.
	Serial string `json:"serial"`
	// Device is the MDM's id of the device (Jamf Pro id or Jamf School UDID).
	// +optional
	Device string `json:"device,omitempty"`
	// Action is Assigned, Reassigned, Updated, Cleared, Renamed, LostModeEnabled or LostModeDisabled.
	Action string `json:"action"`
	// Fields are the values changed.
	// +listType=atomic
	// +optional
	Fields []FieldChange `json:"fields,omitempty"`
	// Result is Applied, Failed, NotAttempted (the run was cancelled first) or, in a dry run or a
	// blocked plan, Planned. Differences the target cannot write are named in Message.
	Result string `json:"result"`
	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
}

// FieldChange is one field's old and new value.
type FieldChange struct {
	// Field is name, username, realName, email, building, department, room, position or lostMode.
	Field string `json:"field"`
	// Old value.
	// +optional
	Old string `json:"old,omitempty"`
	// New value.
	// +optional
	New string `json:"new,omitempty"`
}

// RunError is an error of a run, for one device or for the whole run.
type RunError struct {
	// Serial of the device, empty for a run-level error.
	// +optional
	Serial string `json:"serial,omitempty"`
	// Reason is a short machine-readable cause.
	Reason string `json:"reason"`
	// Message says what went wrong.
	Message string `json:"message"`
}

// SyncRun is one execution of a DeviceSyncPolicy: which devices it read, what it changed, what failed.
// Create one with trigger: Manual to run a policy now.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sr,categories=devicesync
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policyRef.name`
// +kubebuilder:printcolumn:name="Trigger",type=string,JSONPath=`.spec.trigger`,priority=1
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress.ratio`
// +kubebuilder:printcolumn:name="Changed",type=integer,JSONPath=`.status.summary.changed`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.summary.failed`
// +kubebuilder:printcolumn:name="Skipped",type=integer,JSONPath=`.status.summary.skipped`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SyncRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is immutable once created.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="SyncRun spec is immutable: create a new SyncRun instead of changing this one"
	Spec   SyncRunSpec   `json:"spec"`
	Status SyncRunStatus `json:"status,omitempty"`
}

// SyncRunList is a list of SyncRun.
//
// +kubebuilder:object:root=true
type SyncRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SyncRun `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SyncRun{}, &SyncRunList{})
}
