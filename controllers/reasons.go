package controllers

// Every condition and event reason the controllers set, in one place. Reasons are part of the API: alerts,
// Argo CD health checks and people's scripts match on them, so a reason is renamed only with a release note.

// Ready condition reasons of a policy, from its checks (validate.go, connect.go). A check that fails for
// a reason a person must fix makes the policy Stalled; one that may pass on retry keeps it Reconciling.
const (
	// ReasonReady: every check passed.
	ReasonReady = "Ready"
	// ReasonInvalidSchedule: the schedule does not parse (an unknown time zone, an interval CEL let through).
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonProgressingWithRetry (Reconciling=True, Flux's reason): a transient failure is being retried.
	ReasonProgressingWithRetry = "ProgressingWithRetry"

	ReasonSecretNotFound   = "SecretNotFound"
	ReasonSecretKeyMissing = "SecretKeyMissing"
	ReasonInvalidTemplate  = "InvalidTemplate"
	ReasonInvalidRoster    = "InvalidRoster"
	ReasonInvalidURL       = "InvalidURL"
	// ReasonSecretNotLabelled: the manager requires the credentials label and the Secret lacks it.
	ReasonSecretNotLabelled = "SecretNotLabelled"
	// ReasonHostNotAllowed: a policy's URL is refused by the manager: not https (without insecure), or not
	// in --allowed-hosts.
	ReasonHostNotAllowed = "HostNotAllowed"
	// ReasonInvalidCABundle: a policy's caBundle cannot be read or holds no certificate.
	ReasonInvalidCABundle = "InvalidCABundle"

	ReasonDestinyUnreachable = "DestinyUnreachable"
	ReasonDestinyAuthFailed  = "DestinyAuthFailed"
	ReasonTargetUnreachable  = "TargetUnreachable"
	ReasonTargetAuthFailed   = "TargetAuthFailed"
	ReasonUnknownBuilding    = "UnknownBuilding"
	// ReasonInvalidResourceType: a resource type name matches no type of Destiny's hierarchy, or more than one.
	ReasonInvalidResourceType = "InvalidResourceType"

	// Warnings: passing checks with a message.

	// ReasonUnsupportedByTarget: the policy manages fields its target's API cannot write.
	ReasonUnsupportedByTarget = "UnsupportedByTarget"
	// ReasonInsecureConnection: a policy allows plain http to one of its systems.
	ReasonInsecureConnection = "InsecureConnection"
)

// Condition reasons of a run (Complete, Failed), beyond the engine's Blocked reasons (plan.Blocked).
const (
	ReasonSucceeded       = "Succeeded"
	ReasonDryRun          = "DryRun"
	ReasonPartiallyFailed = "PartiallyFailed"
	ReasonRunFailed       = "RunFailed"
	// ReasonDeadlineExceeded fails a run that passed spec.runTimeout.
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonSuperseded ends a Blocked run that a newer run of its policy made out of date.
	ReasonSuperseded = "Superseded"
)

// Event reasons of the policy controller.
const (
	// ReasonRunCreated: a SyncRun was created for a slot or a run-now request.
	ReasonRunCreated = "RunCreated"
	// ReasonMissedSchedule: slots passed while the operator was down (or the policy suspended or not
	// Ready); only the latest within startingDeadlineSeconds runs.
	ReasonMissedSchedule = "MissedSchedule"
	// ReasonTooManyMissedTimes (Warning, as CronJob's): more slots were missed than are listed.
	ReasonTooManyMissedTimes = "TooManyMissedTimes"
	// ReasonRunSkipped: concurrencyPolicy Forbid skipped a slot because a run was still active.
	ReasonRunSkipped = "RunSkipped"
	// ReasonRunReplaced: concurrencyPolicy Replace deleted an active run to start a slot.
	ReasonRunReplaced = "RunReplaced"
	// ReasonRunNameTaken (Warning): a SyncRun with the deterministic name exists and is not the policy's.
	ReasonRunNameTaken = "RunNameTaken"
)

// Event reasons of the run controller, recorded on the run and on its policy.
const (
	EventRunStarted         = "RunStarted"
	EventRunTakenOver       = "RunTakenOver"
	EventRunApproved        = "RunApproved"
	EventRunSucceeded       = "RunSucceeded"
	EventRunPartiallyFailed = "RunPartiallyFailed"
	EventRunFailed          = "RunFailed"
	EventRunBlocked         = "RunBlocked"
	// EventFixListNotWritten (Warning): the run's fix-list ConfigMap could not be written.
	EventFixListNotWritten = "FixListNotWritten"
)
