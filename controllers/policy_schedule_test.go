package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

var allDays = []dsv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// TestScheduledRunsFallExactlyOnTheSlotsOfTheDay steps a 05:40-17:40 hourly policy in America/Chicago
// through whole days, 20 minutes at a time, and after every step compares the policy's runs with the
// slots that have come: one run per slot, created at the slot, none outside the window or on days the
// schedule excludes, and the DST change days keep their wall-clock slots.
func TestScheduledRunsFallExactlyOnTheSlotsOfTheDay(t *testing.T) {
	loc := chicago(t)
	spring, fall := dstChangeDays(t, loc, testYear)
	hourly := func(day time.Time) []time.Time {
		var slots []time.Time
		for h := 5; h <= 17; h++ {
			slots = append(slots, at(day, h, 40))
		}
		return slots
	}
	tests := []struct {
		name      string
		days      []dsv1.Weekday // nil: the default, Monday to Friday
		day       time.Time
		wantSlots []time.Time
	}{
		{name: "a normal weekday has a run at every slot from 05:40 to 17:40",
			day: dayOn(loc, testYear, time.June, 8, time.Tuesday), wantSlots: hourly(dayOn(loc, testYear, time.June, 8, time.Tuesday))},
		{name: "the spring-forward Sunday keeps its 05:40 to 17:40 wall-clock slots", days: allDays,
			day: spring, wantSlots: hourly(spring)},
		{name: "the fall-back Sunday keeps its 05:40 to 17:40 wall-clock slots", days: allDays,
			day: fall, wantSlots: hourly(fall)},
		{name: "a Saturday excluded by the days has no runs",
			day: dayOn(loc, testYear, time.June, 8, time.Saturday)},
		{name: "a Sunday excluded by the days has no runs", days: []dsv1.Weekday{"Mon", "Sat"},
			day: dayOn(loc, testYear, time.June, 8, time.Sunday)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPolicy(fmt.Sprintf("slots-%d", i))
			p.Spec.Schedule.Days = tt.days
			p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600)) // the days before the test day are not caught up
			p.Spec.SuccessfulRunsHistoryLimit = ptr(int32(20))        // keep the whole day to compare
			createPolicy(t, p)

			end := tt.day.AddDate(0, 0, 1)
			for now := tt.day; now.Before(end); now = now.Add(20 * time.Minute) {
				reconcileAt(t, p, now)
				var want []string
				for _, slot := range tt.wantSlots {
					if !slot.After(now) {
						want = append(want, schedule.RunName(p.Name, slot))
					}
				}
				if got := names(runsOf(t, p)); !equalStrings(got, want) {
					t.Fatalf("at %s the runs are %v, want %v", now.Format("Mon 15:04 MST"), got, want)
				}
				finishRuns(t, p, now.Add(5*time.Minute)) // each run ends well before the next slot
			}
		})
	}
}

func TestScheduledRunCarriesThePolicyLabelAndOwnerAndNothingElseOfThePolicy(t *testing.T) {
	loc := chicago(t)
	day := dayOn(loc, testYear, time.June, 8, time.Wednesday)
	p := newPolicy("argo-tracked")
	p.Labels = map[string]string{"argocd.argoproj.io/instance": "district-sync", "team": "it"}
	p.Annotations = map[string]string{"argocd.argoproj.io/tracking-id": "district-sync:devicesync.k12.dev/DeviceSyncPolicy:default/argo-tracked"}
	p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600))
	createPolicy(t, p)
	slot := at(day, 6, 40)
	reconcileAt(t, p, at(day, 6, 0)) // the slots before the day (05:40 included) are past the deadline
	reconcileAt(t, p, slot)

	runs := runsOf(t, p)
	if len(runs) != 1 {
		t.Fatalf("runs %v, want one", names(runs))
	}
	run := runs[0]
	if want := schedule.RunName(p.Name, slot); run.Name != want {
		t.Errorf("name %s, want %s", run.Name, want)
	}
	if want := map[string]string{dsv1.PolicyLabel: p.Name}; fmt.Sprint(run.Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want exactly %v", run.Labels, want)
	}
	if len(run.Annotations) != 0 {
		t.Errorf("annotations %v, want none", run.Annotations)
	}
	if owner := metav1.GetControllerOf(&run); owner == nil || owner.UID != p.UID || owner.Kind != "DeviceSyncPolicy" {
		t.Errorf("controller %+v, want the policy (uid %s)", owner, p.UID)
	}
	if run.Spec.Trigger != dsv1.TriggerScheduled || run.Spec.PolicyRef.Name != p.Name ||
		run.Spec.ScheduledTime == nil || !run.Spec.ScheduledTime.Equal(&metav1.Time{Time: slot}) {
		t.Errorf("spec %+v, want trigger Scheduled, policyRef %s, scheduledTime %s", run.Spec, p.Name, slot)
	}
	got := getPolicy(t, p)
	if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(slot) {
		t.Errorf("lastScheduleTime %v, want %s", got.Status.LastScheduleTime, slot)
	}
	if want := at(day, 7, 40); got.Status.NextScheduleTime == nil || !got.Status.NextScheduleTime.Time.Equal(want) {
		t.Errorf("nextScheduleTime %v, want %s", got.Status.NextScheduleTime, want)
	}
	if n := len(recorded.withReason(p.Name, "RunCreated")); n != 1 {
		t.Errorf("%d RunCreated events, want 1", n)
	}
}

func TestReconcileRequeuesForTheNextSlotAndExportsIt(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Thursday)
	p := newPolicy("requeue")
	p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600))
	createPolicy(t, p)
	res := reconcileAt(t, p, at(day, 6, 10))
	if want := 30 * time.Minute; res.RequeueAfter != want {
		t.Errorf("RequeueAfter %s at 06:10, want %s (the 06:40 slot)", res.RequeueAfter, want)
	}
	if v, ok := gauge(t, "devicesync_next_run_timestamp_seconds", p.Namespace, p.Name); !ok || v != float64(at(day, 6, 40).Unix()) {
		t.Errorf("next run gauge %v (present %v), want %d", v, ok, at(day, 6, 40).Unix())
	}
	if v, ok := gauge(t, "devicesync_policy_ready", p.Namespace, p.Name); !ok || v != 1 {
		t.Errorf("ready gauge %v (present %v), want 1", v, ok)
	}
}

func TestSuspendedPolicyCreatesNoScheduledRunsAndHasNoNextRun(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Monday)
	p := newPolicy("suspended")
	p.Spec.Suspend = true
	createPolicy(t, p)
	for _, now := range []time.Time{at(day, 5, 40), at(day, 6, 40), at(day, 12, 40)} {
		if res := reconcileAt(t, p, now); res.RequeueAfter != 0 {
			t.Errorf("a suspended policy requeues after %s, want no timed requeue", res.RequeueAfter)
		}
	}
	if runs := runsOf(t, p); len(runs) != 0 {
		t.Fatalf("runs %v, want none while suspended", names(runs))
	}
	got := getPolicy(t, p)
	if got.Status.NextScheduleTime != nil || got.Status.LastScheduleTime != nil {
		t.Errorf("nextScheduleTime %v, lastScheduleTime %v, want both unset", got.Status.NextScheduleTime, got.Status.LastScheduleTime)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, dsv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "suspended") {
		t.Errorf("Ready %+v, want True saying it is suspended", c)
	}
	if v, ok := gauge(t, "devicesync_next_run_timestamp_seconds", p.Namespace, p.Name); !ok || v != 0 {
		t.Errorf("next run gauge %v (present %v), want 0", v, ok)
	}
}

func TestResumedPolicyRunsOnlyTheLatestSlotWithinTheDeadline(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Monday)
	p := newPolicy("resumed")
	p.Spec.Suspend = true
	p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600))
	createPolicy(t, p)
	reconcileAt(t, p, at(day, 5, 40))

	p = getPolicy(t, p)
	p.Spec.Suspend = false
	// The clock moves before the update: the background manager reconciles the update too, and must not
	// see the clock still at 05:40 (it would run that slot).
	clk.Set(at(day, 7, 45))
	if err := k8s.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	reconcileAt(t, p, at(day, 7, 45))
	want := []string{schedule.RunName(p.Name, at(day, 7, 40))}
	if got := names(runsOf(t, p)); !equalStrings(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
}

func TestAfterAnOutageOnlyTheLatestMissedSlotWithinTheDeadlineRuns(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Tuesday)
	p := newPolicy("outage")
	p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(900))
	createPolicy(t, p)
	reconcileAt(t, p, at(day, 5, 40))
	finishRuns(t, p, at(day, 5, 45))
	before := len(recorded.withReason(p.Name, "MissedSchedule"))

	// The operator is down from just after 05:40 to 08:45: 06:40 and 07:40 are missed, 08:40 is 5 minutes late.
	reconcileAt(t, p, at(day, 8, 45))
	want := []string{schedule.RunName(p.Name, at(day, 5, 40)), schedule.RunName(p.Name, at(day, 8, 40))}
	if got := names(runsOf(t, p)); !equalStrings(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	missed := recorded.withReason(p.Name, "MissedSchedule")
	if len(missed) != before+1 {
		t.Fatalf("%d new MissedSchedule events, want 1", len(missed)-before)
	}
	note := missed[len(missed)-1].Note
	for _, s := range []string{"missed 2 slots", "06:40 CDT", "07:40 CDT", "running only the latest slot", "08:40 CDT"} {
		if !strings.Contains(note, s) {
			t.Errorf("MissedSchedule %q does not say %q", note, s)
		}
	}

	// Reconciling again at the same time neither runs nor reports anything again.
	reconcileAt(t, p, at(day, 8, 46))
	if got := names(runsOf(t, p)); !equalStrings(got, want) {
		t.Fatalf("after a second reconcile runs %v, want %v", got, want)
	}
	if n := len(recorded.withReason(p.Name, "MissedSchedule")); n != before+1 {
		t.Errorf("%d MissedSchedule events after a second reconcile, want %d", n, before+1)
	}
}

func TestAMissedSlotPastTheDeadlineDoesNotRunAndIsReportedOnce(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Tuesday)
	p := newPolicy("outage-past-deadline")
	p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(900))
	createPolicy(t, p)
	reconcileAt(t, p, at(day, 5, 40))
	before := len(recorded.withReason(p.Name, "MissedSchedule"))

	reconcileAt(t, p, at(day, 7, 0)) // 06:40 is 20 minutes late, past the 15-minute deadline
	reconcileAt(t, p, at(day, 7, 1))
	want := []string{schedule.RunName(p.Name, at(day, 5, 40))}
	if got := names(runsOf(t, p)); !equalStrings(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	missed := recorded.withReason(p.Name, "MissedSchedule")
	if len(missed) != before+1 {
		t.Fatalf("%d new MissedSchedule events, want exactly 1", len(missed)-before)
	}
	if note := missed[len(missed)-1].Note; !strings.Contains(note, "so none runs") || !strings.Contains(note, "07:40 CDT") {
		t.Errorf("MissedSchedule %q does not say none runs and the next slot is 07:40", note)
	}
	if got := getPolicy(t, p); !got.Status.LastScheduleTime.Time.Equal(at(day, 6, 40)) {
		t.Errorf("lastScheduleTime %s, want the missed 06:40 slot", got.Status.LastScheduleTime)
	}
}

func TestTooManyMissedSlotsGiveAWarning(t *testing.T) {
	// The policy was created today; the clock says next year: hundreds of slots have passed.
	day := dayOn(chicago(t), testYear, time.June, 8, time.Tuesday)
	p := newPolicy("too-many-missed")
	createPolicy(t, p)
	reconcileAt(t, p, at(day, 9, 0))
	w := recorded.withReason(p.Name, "TooManyMissedTimes")
	if len(w) != 1 || w[0].Type != "Warning" || !strings.Contains(w[0].Note, "startingDeadlineSeconds") {
		t.Fatalf("TooManyMissedTimes events %+v, want one Warning pointing at startingDeadlineSeconds", w)
	}
	// With no deadline, the latest slot runs however late it is, as documented.
	want := []string{schedule.RunName(p.Name, at(day, 8, 40))}
	if got := names(runsOf(t, p)); !equalStrings(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
}

func TestConcurrencyPolicy(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Wednesday)
	first, second := at(day, 5, 40), at(day, 6, 40)
	tests := []struct {
		name        string
		policy      dsv1.ConcurrencyPolicy
		firstPhase  dsv1.SyncRunPhase
		wantRuns    func(p string) []string
		wantEvent   string
		wantRelated func(p string) string
	}{
		{
			name: "Forbid skips a slot while the previous run is still running", policy: dsv1.ForbidConcurrent, firstPhase: dsv1.PhaseRunning,
			wantRuns:  func(p string) []string { return []string{schedule.RunName(p, first)} },
			wantEvent: "RunSkipped", wantRelated: func(p string) string { return schedule.RunName(p, first) },
		},
		{
			name: "Forbid counts a Pending run as active", policy: dsv1.ForbidConcurrent, firstPhase: dsv1.PhasePending,
			wantRuns:  func(p string) []string { return []string{schedule.RunName(p, first)} },
			wantEvent: "RunSkipped", wantRelated: func(p string) string { return schedule.RunName(p, first) },
		},
		{
			name: "Forbid does not let a Blocked run hold the schedule up", policy: dsv1.ForbidConcurrent, firstPhase: dsv1.PhaseBlocked,
			wantRuns:  func(p string) []string { return []string{schedule.RunName(p, first), schedule.RunName(p, second)} },
			wantEvent: "RunCreated", wantRelated: func(p string) string { return schedule.RunName(p, second) },
		},
		{
			name: "Replace deletes the running run and starts the slot", policy: dsv1.ReplaceConcurrent, firstPhase: dsv1.PhaseRunning,
			wantRuns:  func(p string) []string { return []string{schedule.RunName(p, second)} },
			wantEvent: "RunReplaced", wantRelated: func(p string) string { return schedule.RunName(p, first) },
		},
		{
			name: "Replace leaves a finished run alone", policy: dsv1.ReplaceConcurrent, firstPhase: dsv1.PhaseSucceeded,
			wantRuns:  func(p string) []string { return []string{schedule.RunName(p, first), schedule.RunName(p, second)} },
			wantEvent: "RunCreated", wantRelated: func(p string) string { return schedule.RunName(p, second) },
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPolicy(fmt.Sprintf("concurrency-%d", i))
			p.Spec.ConcurrencyPolicy = tt.policy
			p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600))
			createPolicy(t, p)
			reconcileAt(t, p, first)
			var completed time.Time
			if tt.firstPhase == dsv1.PhaseSucceeded {
				completed = first.Add(10 * time.Minute)
			}
			setRunStatus(t, schedule.RunName(p.Name, first), tt.firstPhase, completed)

			reconcileAt(t, p, second)
			if got, want := names(runsOf(t, p)), tt.wantRuns(p.Name); !equalStrings(got, want) {
				t.Fatalf("runs %v, want %v", got, want)
			}
			found := false
			for _, e := range recorded.withReason(p.Name, tt.wantEvent) {
				found = found || e.Related == tt.wantRelated(p.Name)
			}
			if !found {
				t.Errorf("no %s event about run %s; events: %+v", tt.wantEvent, tt.wantRelated(p.Name), recorded.about(p.Name))
			}
			if got := getPolicy(t, p); !got.Status.LastScheduleTime.Time.Equal(second) {
				t.Errorf("lastScheduleTime %s, want the %s slot dealt with", got.Status.LastScheduleTime, second)
			}
		})
	}
}

func TestForbidSkippedSlotStaysSkippedAndTheNextSlotRuns(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Thursday)
	p := newPolicy("forbid-next")
	p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(3600))
	createPolicy(t, p)
	reconcileAt(t, p, at(day, 5, 40))
	firstRun := schedule.RunName(p.Name, at(day, 5, 40))
	setRunStatus(t, firstRun, dsv1.PhaseRunning, time.Time{})
	reconcileAt(t, p, at(day, 6, 40)) // skipped

	// The long run ends within the skipped slot's deadline: the skipped slot does not run late.
	setRunStatus(t, firstRun, dsv1.PhaseSucceeded, at(day, 6, 50))
	reconcileAt(t, p, at(day, 6, 55))
	want := []string{firstRun}
	if got := names(runsOf(t, p)); !equalStrings(got, want) {
		t.Fatalf("after the active run finished, runs %v, want %v", got, want)
	}
	reconcileAt(t, p, at(day, 7, 40))
	want = append(want, schedule.RunName(p.Name, at(day, 7, 40)))
	if got := names(runsOf(t, p)); !equalStrings(got, want) {
		t.Fatalf("at the next slot, runs %v, want %v", got, want)
	}
}

func TestPolicyThatIsNotReadyCreatesNoScheduledRuns(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Friday)
	tests := []struct {
		name        string
		checks      staticValidator
		wantReason  string
		wantStalled bool
		wantRequeue time.Duration
	}{
		{
			name:       "a check that needs a person makes the policy Stalled, checked again on the slow interval",
			checks:     staticValidator{{Name: "Secrets", Reason: "SecretNotFound", Message: `Secret "destiny" not found`}},
			wantReason: "SecretNotFound", wantStalled: true, wantRequeue: 20 * time.Minute,
		},
		{
			name:       "a transient failure is retried and not Stalled",
			checks:     staticValidator{{Name: "Connection", Reason: "DestinyUnreachable", Message: "Destiny answered 503", Transient: true}},
			wantReason: "DestinyUnreachable", wantRequeue: 2 * time.Minute,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPolicy(fmt.Sprintf("not-ready-%d", i))
			p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600))
			createPolicy(t, p)
			r := directReconciler(tt.checks)
			r.RetryInterval, r.StalledInterval = 2*time.Minute, 20*time.Minute
			res := reconcileWith(t, r, p, at(day, 6, 40))
			if runs := runsOf(t, p); len(runs) != 0 {
				t.Fatalf("runs %v, want none", names(runs))
			}
			if res.RequeueAfter != tt.wantRequeue {
				t.Errorf("RequeueAfter %s, want %s", res.RequeueAfter, tt.wantRequeue)
			}
			got := getPolicy(t, p)
			ready := meta.FindStatusCondition(got.Status.Conditions, dsv1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != tt.wantReason || ready.Message != tt.checks[0].Message {
				t.Errorf("Ready %+v, want False %s %q", ready, tt.wantReason, tt.checks[0].Message)
			}
			if stalled := meta.IsStatusConditionTrue(got.Status.Conditions, dsv1.ConditionStalled); stalled != tt.wantStalled {
				t.Errorf("Stalled %v, want %v", stalled, tt.wantStalled)
			}
			if got.Status.NextScheduleTime != nil {
				t.Errorf("nextScheduleTime %s, want unset while not Ready", got.Status.NextScheduleTime)
			}
			if v, ok := gauge(t, "devicesync_policy_ready", p.Namespace, p.Name); !ok || v != 0 {
				t.Errorf("ready gauge %v (present %v), want 0", v, ok)
			}
		})
	}
}

func TestPolicyWithUnknownTimeZoneIsStalledAndSchedulesNothing(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 8, time.Friday)
	p := newPolicy("bad-zone-stalled")
	p.Spec.Schedule.TimeZone = "America/Chicgo"
	createPolicy(t, p)
	reconcileAt(t, p, at(day, 6, 40))
	if runs := runsOf(t, p); len(runs) != 0 {
		t.Fatalf("runs %v, want none", names(runs))
	}
	got := getPolicy(t, p)
	stalled := meta.FindStatusCondition(got.Status.Conditions, dsv1.ConditionStalled)
	if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != "InvalidSchedule" {
		t.Errorf("Stalled %+v, want True InvalidSchedule", stalled)
	}
	if meta.FindStatusCondition(got.Status.Conditions, dsv1.ConditionReconciling) != nil {
		t.Errorf("a Reconciling condition is left on a synchronously reconciled policy")
	}

	// Fixing the zone clears Stalled.
	got.Spec.Schedule.TimeZone = "America/Chicago"
	if err := k8s.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	reconcileAt(t, p, at(day, 6, 50))
	if c := meta.FindStatusCondition(getPolicy(t, p).Status.Conditions, dsv1.ConditionStalled); c != nil {
		t.Errorf("Stalled %+v after the fix, want no Stalled condition", c)
	}
}

func TestDeletedPolicyDropsItsMetrics(t *testing.T) {
	p := newPolicy("deleted")
	createPolicy(t, p)
	eventually(t, "the policy's ready gauge is exported", func() (bool, error) {
		_, ok := gauge(t, "devicesync_policy_ready", p.Namespace, p.Name)
		return ok, fmt.Errorf("no series")
	})
	if err := k8s.Delete(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the policy's series are gone", func() (bool, error) {
		_, ok := gauge(t, "devicesync_policy_ready", p.Namespace, p.Name)
		return !ok, fmt.Errorf("the ready series is still exported")
	})
}

func ptr[T any](v T) *T { return &v }
