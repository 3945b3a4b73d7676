package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/event"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/schedule"
)

func TestComputeReadiness(t *testing.T) {
	tests := []struct {
		name   string
		checks []Check
		want   readiness
	}{
		{
			name:   "every check passing makes the policy Ready",
			checks: []Check{{Name: "Schedule", OK: true}, {Name: "Secrets", OK: true}},
			want:   readiness{ready: true, reason: ReasonReady},
		},
		{
			name: "the first failed check gives the reason and every failed check its message",
			checks: []Check{{Name: "Schedule", OK: true},
				{Name: "Secrets", Reason: "SecretNotFound", Message: `Secret "destiny" not found`},
				{Name: "Templates", Reason: "InvalidTemplate", Message: "naming.student: unclosed action"}},
			want: readiness{reason: "SecretNotFound", message: `Secret "destiny" not found; naming.student: unclosed action`,
				stalled: true, stalledReason: "SecretNotFound", stalledMessage: `Secret "destiny" not found; naming.student: unclosed action`},
		},
		{
			name:   "only transient failures are not Stalled",
			checks: []Check{{Name: "Connection", Reason: "JamfUnreachable", Message: "timeout", Transient: true}},
			want:   readiness{reason: "JamfUnreachable", message: "timeout"},
		},
		{
			name: "Stalled names only the failures that need a person",
			checks: []Check{{Name: "Connection", Reason: "JamfUnreachable", Message: "timeout", Transient: true},
				{Name: "Schedule", Reason: ReasonInvalidSchedule, Message: "bad zone"}},
			want: readiness{reason: "JamfUnreachable", message: "timeout; bad zone",
				stalled: true, stalledReason: ReasonInvalidSchedule, stalledMessage: "bad zone"},
		},
		{
			name:   "a failed check without a message still says which check failed",
			checks: []Check{{Name: "Buildings", Reason: "UnknownBuilding"}},
			want: readiness{reason: "UnknownBuilding", message: "Buildings check failed",
				stalled: true, stalledReason: "UnknownBuilding", stalledMessage: "Buildings check failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := computeReadiness(tt.checks); got != tt.want {
				t.Errorf("computeReadiness = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestManualRunName(t *testing.T) {
	long := strings.Repeat("district-ipads-", 5) // 75 characters
	tests := []struct {
		name          string
		policy, value string
		want          string // "" to check only the bounds
	}{
		{name: "a short policy name is kept whole with the value's hash", policy: "ipads", value: "now",
			want: "ipads-now-" + hash8("now")},
		{name: "a long policy name is shortened to fit 63 characters", policy: long, value: "now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := manualRunName(tt.policy, tt.value)
			if tt.want != "" && got != tt.want {
				t.Errorf("manualRunName = %q, want %q", got, tt.want)
			}
			if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
				t.Errorf("manualRunName = %q is not a DNS-1123 label: %v", got, errs)
			}
			if again := manualRunName(tt.policy, tt.value); again != got {
				t.Errorf("manualRunName is not deterministic: %q then %q", got, again)
			}
		})
	}
	if a, b := manualRunName(long+"a", "now"), manualRunName(long+"b", "now"); a == b {
		t.Errorf("two long policy names sharing a prefix give the same run name %q", a)
	}
	if a, b := manualRunName("ipads", "one"), manualRunName("ipads", "two"); a == b {
		t.Errorf("two run-now values give the same run name %q", a)
	}
}

// hash8 is 8 hex characters of the SHA-256 of s.
func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

func TestPolicyLabelValue(t *testing.T) {
	long := strings.Repeat("a", 60) + ".example.district-ipads"
	tests := []struct{ name, policy, want string }{
		{name: "a policy name that fits is the label value", policy: "ipads", want: "ipads"},
		{name: "a 63-character name fits", policy: strings.Repeat("b", 63), want: strings.Repeat("b", 63)},
		{name: "a longer name is shortened and hashed", policy: long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policyLabelValue(tt.policy)
			if tt.want != "" && got != tt.want {
				t.Errorf("policyLabelValue = %q, want %q", got, tt.want)
			}
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
				t.Errorf("policyLabelValue = %q is not a label value: %v", got, errs)
			}
		})
	}
	if policyLabelValue(long+"x") == policyLabelValue(long+"y") {
		t.Errorf("two long names sharing a prefix give the same label value")
	}
}

func TestTruncateKeepsValidUTF8WithinTheBound(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{name: "a short message is unchanged", in: "ok", n: 10, want: "ok"},
		{name: "a long message is cut with an ellipsis", in: "abcdefghijkl", n: 8, want: "abcde..."},
		{name: "a cut never splits a character", in: "ééééé", n: 8, want: "éé..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncate(tt.in, tt.n)
			if got != tt.want || len(got) > tt.n || !utf8.ValidString(got) {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestMissedNoteListsTheLatestMissedSlots(t *testing.T) {
	sched, err := schedule.Parse(schedule.Spec{TimeZone: "America/Chicago", Start: "05:40", End: "17:40", Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := &policyScope{sched: sched}
	r := &DeviceSyncPolicyReconciler{}
	loc := sched.Location()
	slot := func(h int) time.Time { return time.Date(2027, 6, 8, h, 40, 0, 0, loc) }
	deadline := 15 * time.Minute
	tests := []struct {
		name string
		dec  schedule.Decision
		want string
	}{
		{
			name: "one missed slot and the latest running",
			dec:  schedule.Decision{Missed: []time.Time{slot(6)}, Due: slot(7), Next: slot(8)},
			want: "missed 1 slot: Tue 2027-06-08 06:40 CDT; running only the latest slot, Tue 2027-06-08 07:40 CDT",
		},
		{
			name: "more than five missed slots list the five latest",
			dec:  schedule.Decision{Missed: []time.Time{slot(6), slot(7), slot(8), slot(9), slot(10), slot(11), slot(12)}, Next: slot(13)},
			want: "missed 7 slots: 2 earlier, then Tue 2027-06-08 08:40 CDT, Tue 2027-06-08 09:40 CDT, Tue 2027-06-08 10:40 CDT, " +
				"Tue 2027-06-08 11:40 CDT, Tue 2027-06-08 12:40 CDT; the latest is more than startingDeadlineSeconds (900s) late, " +
				"so none runs; next slot Tue 2027-06-08 13:40 CDT",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := missedNote(s, tt.dec, &deadline, r.formatSlot); got != tt.want {
				t.Errorf("missedNote =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestRunUpdatesThatReachThePolicy(t *testing.T) {
	base := dsv1.SyncRun{Status: dsv1.SyncRunStatus{Phase: dsv1.PhaseRunning, Progress: dsv1.Progress{Total: 10, Done: 1}}}
	tests := []struct {
		name   string
		change func(*dsv1.SyncRun)
		want   bool
	}{
		{name: "a progress write does not reconcile the policy", change: func(r *dsv1.SyncRun) { r.Status.Progress.Done = 5 }},
		{name: "a phase change does", want: true, change: func(r *dsv1.SyncRun) { r.Status.Phase = dsv1.PhaseSucceeded }},
		{name: "a count change does", want: true, change: func(r *dsv1.SyncRun) { r.Status.Summary.Changed = 3 }},
		{name: "an adoption does", want: true, change: func(r *dsv1.SyncRun) {
			r.OwnerReferences = []metav1.OwnerReference{{Name: "p", UID: "u"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := base.DeepCopy()
			tt.change(after)
			if got := runSummaryChanged().Update(event.UpdateEvent{ObjectOld: base.DeepCopy(), ObjectNew: after}); got != tt.want {
				t.Errorf("update passes = %v, want %v", got, tt.want)
			}
		})
	}
}
