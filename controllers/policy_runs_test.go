package controllers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

// manualName is the documented name of the run of a run-now value.
func manualName(policy, value string) string {
	sum := sha256.Sum256([]byte(value))
	return policy + "-now-" + hex.EncodeToString(sum[:4])
}

func annotateRunNow(t *testing.T, p *dsv1.DeviceSyncPolicy, value string) {
	t.Helper()
	patch := client.MergeFrom(p.DeepCopy())
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[dsv1.RunNowAnnotation] = value
	if err := k8s.Patch(context.Background(), p, patch); err != nil {
		t.Fatal(err)
	}
}

func manualRuns(t *testing.T, p *dsv1.DeviceSyncPolicy) []dsv1.SyncRun {
	t.Helper()
	var out []dsv1.SyncRun
	for _, run := range runsOf(t, p) {
		if run.Spec.Trigger == dsv1.TriggerManual {
			out = append(out, run)
		}
	}
	return out
}

func TestRunNowAnnotationCreatesOneManualRunAndIsEchoedInStatus(t *testing.T) {
	p := newPolicy("run-now")
	createPolicy(t, p)
	const value = "2026-11-21T10:00:00Z by jdoe"
	annotateRunNow(t, p, value)
	eventually(t, "the manager echoes the run-now value in status", func() (bool, error) {
		got := getPolicy(t, p)
		return got.Status.LastHandledRunNow == value, fmt.Errorf("lastHandledRunNow %q", got.Status.LastHandledRunNow)
	})

	// Reconciled twice more: still one run.
	reconcileAt(t, p, clk.Now())
	reconcileAt(t, p, clk.Now())
	runs := manualRuns(t, p)
	if got, want := names(runs), []string{manualName(p.Name, value)}; !equalStrings(got, want) {
		t.Fatalf("manual runs %v, want %v", got, want)
	}
	run := runs[0]
	if run.Spec.ScheduledTime != nil || run.Spec.PolicyRef.Name != p.Name {
		t.Errorf("spec %+v, want policyRef %s and no scheduledTime", run.Spec, p.Name)
	}
	if owner := metav1.GetControllerOf(&run); owner == nil || owner.UID != p.UID {
		t.Errorf("controller %+v, want the policy", owner)
	}
	if n := len(recorded.withReason(p.Name, "RunCreated")); n != 1 {
		t.Errorf("%d RunCreated events, want 1", n)
	}

	// A new value is a new request.
	annotateRunNow(t, p, "again")
	reconcileAt(t, p, clk.Now())
	if got, want := names(manualRuns(t, p)), sortedCopy([]string{manualName(p.Name, "again"), manualName(p.Name, value)}); !equalStrings(got, want) {
		t.Fatalf("after a new value, manual runs %v, want %v", got, want)
	}
}

func TestRunNowStartsWhateverSuspendAndConcurrencySay(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 9, time.Tuesday)
	tests := []struct {
		name    string
		suspend bool
		active  bool
	}{
		{name: "a suspended policy still runs on request", suspend: true},
		{name: "a Forbid policy with an active run still runs on request", active: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPolicy(fmt.Sprintf("run-now-%d", i))
			p.Spec.Suspend = tt.suspend
			p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600))
			createPolicy(t, p)
			if tt.active {
				reconcileAt(t, p, at(day, 5, 40))
				setRunStatus(t, schedule.RunName(p.Name, at(day, 5, 40)), dsv1.PhaseRunning, time.Time{})
			}
			annotateRunNow(t, p, "please")
			reconcileAt(t, p, at(day, 5, 50))
			if got, want := names(manualRuns(t, p)), []string{manualName(p.Name, "please")}; !equalStrings(got, want) {
				t.Fatalf("manual runs %v, want %v", got, want)
			}
		})
	}
}

func TestHistoryLimitsPruneTheOldestFinishedRunsOfThePolicyOnly(t *testing.T) {
	ctx := context.Background()
	p := newPolicy("history")
	p.Spec.SuccessfulRunsHistoryLimit = ptr(int32(2))
	p.Spec.FailedRunsHistoryLimit = ptr(int32(1))
	createPolicy(t, p)
	other := newPolicy("history-other")
	createPolicy(t, other)

	base := time.Now().Add(-10 * time.Hour).Truncate(time.Second)
	runs := []struct {
		name      string
		owner     *dsv1.DeviceSyncPolicy
		phase     dsv1.SyncRunPhase
		completed time.Time
	}{
		{"history-s1", p, dsv1.PhaseSucceeded, base.Add(1 * time.Hour)},
		{"history-f1", p, dsv1.PhaseFailed, base.Add(2 * time.Hour)},
		{"history-s2", p, dsv1.PhaseSucceeded, base.Add(3 * time.Hour)},
		{"history-f2", p, dsv1.PhasePartiallyFailed, base.Add(4 * time.Hour)},
		{"history-s3", p, dsv1.PhaseSucceeded, base.Add(5 * time.Hour)},
		{"history-b1", p, dsv1.PhaseBlocked, time.Time{}},
		// Runs that are not the policy's, though old and finished: never pruned by it.
		{"history-unowned", nil, dsv1.PhaseSucceeded, base},
		{"history-other-s1", other, dsv1.PhaseSucceeded, base},
	}
	for _, r := range runs {
		policyName := p.Name
		if r.owner == other {
			policyName = other.Name
		}
		createRun(t, r.name, policyName, r.owner)
		setRunStatus(t, r.name, r.phase, r.completed, func(s *dsv1.SyncRunStatus) {
			s.Summary.Changed = 3
			if r.phase == dsv1.PhaseBlocked {
				s.Blocked = &dsv1.BlockedDetail{Reason: "ChangeBudgetExceeded", Message: "412 changes over the budget of 50", PlanDigest: "abc"}
			}
		})
	}
	reconcileAt(t, p, time.Now())

	var list dsv1.SyncRunList
	if err := k8s.List(ctx, &list, client.InNamespace(policyNS)); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, run := range list.Items {
		for _, r := range runs {
			if run.Name == r.name {
				left = append(left, run.Name)
			}
		}
	}
	want := []string{"history-b1", "history-f2", "history-other-s1", "history-s2", "history-s3", "history-unowned"}
	if got := sortedCopy(left); !equalStrings(got, want) {
		t.Fatalf("runs left %v, want %v", got, want)
	}

	st := getPolicy(t, p).Status
	var history []string
	for _, h := range st.History {
		history = append(history, fmt.Sprintf("%s %s %d", h.Name, h.Phase, h.Changed))
	}
	wantHistory := []string{"history-b1 Blocked 3", "history-s3 Succeeded 3", "history-f2 PartiallyFailed 3", "history-s2 Succeeded 3"}
	if !equalStrings(history, wantHistory) {
		t.Errorf("history %v, want newest first %v", history, wantHistory)
	}
	if len(st.History) > 0 && st.History[0].Message != "412 changes over the budget of 50" {
		t.Errorf("the blocked run's history message is %q, want its blocked message", st.History[0].Message)
	}
	if st.LastSuccessfulTime == nil || !st.LastSuccessfulTime.Time.Equal(base.Add(5*time.Hour)) {
		t.Errorf("lastSuccessfulTime %v, want %s", st.LastSuccessfulTime, base.Add(5*time.Hour))
	}
	if st.LastFailureTime == nil || !st.LastFailureTime.Time.Equal(base.Add(4*time.Hour)) {
		t.Errorf("lastFailureTime %v, want %s", st.LastFailureTime, base.Add(4*time.Hour))
	}
	if st.LastRunResult != dsv1.PhaseBlocked {
		t.Errorf("lastRunResult %q, want Blocked (the newest run)", st.LastRunResult)
	}
	if v, ok := gauge(t, "devicesync_blocked_runs", p.Namespace, p.Name); !ok || v != 1 {
		t.Errorf("blocked runs gauge %v (present %v), want 1", v, ok)
	}
}

func TestPolicyStatusFollowsItsRunsPhases(t *testing.T) {
	day := dayOn(chicago(t), testYear, time.June, 9, time.Wednesday)
	p := newPolicy("follows")
	p.Spec.Schedule.StartingDeadlineSeconds = ptr(int64(600))
	createPolicy(t, p)
	slot := at(day, 5, 40)
	name := schedule.RunName(p.Name, slot)
	reconcileAt(t, p, slot)
	if st := getPolicy(t, p).Status; len(st.Active) != 1 || st.Active[0].Name != name || !st.Active[0].ScheduledTime.Time.Equal(slot) {
		t.Fatalf("active %+v, want the %s run with its slot", st.Active, name)
	}

	// The manager sees the run finish (it owns runs) and updates the policy without any tick.
	setRunStatus(t, name, dsv1.PhaseSucceeded, slot.Add(7*time.Minute), func(s *dsv1.SyncRunStatus) { s.Summary.Changed = 12 })
	eventually(t, "the policy's status shows the finished run", func() (bool, error) {
		st := getPolicy(t, p).Status
		ok := len(st.Active) == 0 && len(st.History) == 1 && st.History[0].Name == name &&
			st.History[0].Phase == dsv1.PhaseSucceeded && st.History[0].Changed == 12 &&
			st.LastRunResult == dsv1.PhaseSucceeded && st.LastSuccessfulTime != nil && st.LastSuccessfulTime.Time.Equal(slot.Add(7*time.Minute))
		return ok, fmt.Errorf("active %v, history %+v, lastRunResult %q, lastSuccessfulTime %v", st.Active, st.History, st.LastRunResult, st.LastSuccessfulTime)
	})
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
