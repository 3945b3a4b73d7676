package notify

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// Result is what one message reports about a finished run. Its JSON is the Generic format's body.
type Result struct {
	// Policy, Namespace and Run name the run.
	Policy    string `json:"policy"`
	Namespace string `json:"namespace"`
	Run       string `json:"run"`
	// Phase is Failed, PartiallyFailed, Blocked or Succeeded.
	Phase string `json:"phase"`
	// Reason and Message are those of the run's Failed, Blocked or Complete condition.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// ApproveCommand is, for a Blocked run, the command (from its Blocked condition) that approves its plan.
	ApproveCommand string `json:"approveCommand,omitempty"`
	// DescribeCommand shows the whole run.
	DescribeCommand string `json:"describeCommand"`
	// Counts are the run's status.summary.
	Counts dsv1.RunSummary `json:"counts"`
	// FixList names the ConfigMap holding the per-school fix list (status.fixList), if any.
	FixList *dsv1.FixListReference `json:"fixList,omitempty"`
	// Schools are the per-school counts of what must be fixed (status.schools).
	Schools []dsv1.SchoolFixes `json:"schools,omitempty"`
	// StartTime and CompletionTime are the run's (a Blocked run has no completion time).
	StartTime      *time.Time `json:"startTime,omitempty"`
	CompletionTime *time.Time `json:"completionTime,omitempty"`
}

// FromRun describes a finished run.
func FromRun(run *dsv1.SyncRun, policy string) Result {
	st := run.Status
	r := Result{
		Policy: policy, Namespace: run.Namespace, Run: run.Name, Phase: string(st.Phase),
		DescribeCommand: fmt.Sprintf("kubectl describe syncrun -n %s %s", run.Namespace, run.Name),
		Counts:          st.Summary, FixList: st.FixList, Schools: st.Schools,
	}
	for _, t := range []string{dsv1.ConditionBlocked, dsv1.ConditionFailed, dsv1.ConditionComplete} {
		if c := meta.FindStatusCondition(st.Conditions, t); c != nil && c.Status == "True" {
			r.Reason, r.Message = c.Reason, c.Message
			break
		}
	}
	if st.Phase == dsv1.PhaseBlocked {
		if i := strings.Index(r.Message, "kubectl annotate "); i >= 0 {
			r.ApproveCommand = r.Message[i:]
		} else if st.Blocked != nil {
			r.ApproveCommand = fmt.Sprintf("kubectl annotate syncrun -n %s %s %s=%s --overwrite",
				run.Namespace, run.Name, dsv1.ApproveAnnotation, st.Blocked.PlanDigest)
		}
	}
	if st.StartTime != nil {
		t := st.StartTime.UTC()
		r.StartTime = &t
	}
	if st.CompletionTime != nil {
		t := st.CompletionTime.UTC()
		r.CompletionTime = &t
	}
	return r
}

// Title is the one-line headline of a message.
func (r Result) Title() string {
	what := map[string]string{
		string(dsv1.PhaseFailed):          "failed",
		string(dsv1.PhasePartiallyFailed): "partly failed",
		string(dsv1.PhaseBlocked):         "is blocked: nothing was written",
		string(dsv1.PhaseSucceeded):       "succeeded",
	}[r.Phase]
	if what == "" {
		what = "ended " + r.Phase
	}
	return fmt.Sprintf("Device sync %s/%s: run %s %s", r.Namespace, r.Policy, r.Run, what)
}

// ToDo says what a person does next.
func (r Result) ToDo() string {
	switch r.Phase {
	case string(dsv1.PhaseBlocked):
		return "Review the planned changes (" + r.DescribeCommand + "), then approve the plan with: " + r.ApproveCommand
	case string(dsv1.PhaseFailed):
		return "Nothing more was written after the failure. Fix the cause, then look at the run: " + r.DescribeCommand
	case string(dsv1.PhasePartiallyFailed):
		return "Some device changes failed (status.errors); the next run retries them. Details: " + r.DescribeCommand
	}
	return "Details: " + r.DescribeCommand
}

// CountsText is the run's counts in one line, actions and reasons sorted by name.
func (r Result) CountsText() string {
	c := r.Counts
	s := fmt.Sprintf("%d Destiny items, %d MDM devices, %d matched, %d in sync, %d changed, %d failed, %d skipped",
		c.DestinyItems, c.MDMDevices, c.Matched, c.InSync, c.Changed, c.Failed, c.Skipped)
	if a := mapText(c.ByAction); a != "" {
		s += "; by action: " + a
	}
	if b := mapText(c.ByReason); b != "" {
		s += "; by reason: " + b
	}
	return s
}

// FixText names the fix list and the schools with the most to fix, or is empty.
func (r Result) FixText() string {
	if r.FixList == nil && len(r.Schools) == 0 {
		return ""
	}
	var parts []string
	for _, s := range r.Schools {
		parts = append(parts, fmt.Sprintf("%s %d", s.Site, s.ToFix))
	}
	s := ""
	if len(parts) > 0 {
		s = "To fix by school: " + strings.Join(parts, ", ") + "."
	}
	if r.FixList != nil {
		s = strings.TrimSpace(s + fmt.Sprintf(" Fix list (%d rows): kubectl get configmap -n %s %s -o jsonpath='{.data.%s}'",
			r.FixList.Rows, r.Namespace, r.FixList.ConfigMap, strings.ReplaceAll(r.FixList.Key, ".", `\.`)))
	}
	return s
}

func mapText(m map[string]int32) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
