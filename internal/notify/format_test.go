package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/notify"
)

const approve = "kubectl annotate syncrun -n lincoln nightly-7 devicesync.k12.dev/approve=abc123 --overwrite"

func finishedRun(phase dsv1.SyncRunPhase) *dsv1.SyncRun {
	start := metav1.NewTime(time.Date(2026, 11, 16, 5, 40, 0, 0, time.UTC))
	end := metav1.NewTime(start.Add(3 * time.Minute))
	run := &dsv1.SyncRun{ObjectMeta: metav1.ObjectMeta{Name: "nightly-7", Namespace: "lincoln"}}
	run.Status = dsv1.SyncRunStatus{
		Phase: phase, StartTime: &start, CompletionTime: &end,
		Summary: dsv1.RunSummary{DestinyItems: 900, MDMDevices: 880, Matched: 850, Changed: 40, Skipped: 12,
			ByAction: map[string]int32{"Assigned": 30, "Cleared": 10}, ByReason: map[string]int32{"NoSerial": 12}},
		Schools: []dsv1.SchoolFixes{{Site: "LHS", ToFix: 12, ByReason: map[string]int32{"NoSerial": 12}}},
		FixList: &dsv1.FixListReference{ConfigMap: "nightly-7-fixlist", Key: "fixlist.csv", Rows: 12},
	}
	switch phase {
	case dsv1.PhaseBlocked:
		run.Status.CompletionTime = nil
		run.Status.Blocked = &dsv1.BlockedDetail{Reason: "ChangeBudgetExceeded", PlanDigest: "abc123"}
		run.Status.Conditions = []metav1.Condition{{Type: dsv1.ConditionBlocked, Status: metav1.ConditionTrue, Reason: "ChangeBudgetExceeded",
			Message: "the plan changes 40 devices, over the budget of 5; nothing was written. Review status.changes, then approve this plan with: " + approve}}
	case dsv1.PhaseFailed:
		run.Status.Conditions = []metav1.Condition{{Type: dsv1.ConditionFailed, Status: metav1.ConditionTrue, Reason: "SourceUnavailable",
			Message: "Destiny answered HTTP 503 for /materials"}}
	case dsv1.PhasePartiallyFailed:
		run.Status.Conditions = []metav1.Condition{{Type: dsv1.ConditionFailed, Status: metav1.ConditionTrue, Reason: "PartiallyFailed",
			Message: "3 of 40 changes failed (see status.errors)"}}
	}
	return run
}

// lookup walks a decoded JSON value by object keys and array indexes.
func lookup(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("%v: no element %d", path, k)
			}
			v = a[k]
		}
	}
	return v
}

func TestEachFormatCarriesTheRunThePhaseAndWhatToDo(t *testing.T) {
	cases := []struct {
		name   string
		format dsv1.WebhookFormat
		phase  dsv1.SyncRunPhase
		check  func(t *testing.T, body map[string]any)
		want   []string // substrings of the whole body
		absent []string
	}{
		{
			name: "Slack: a Blocked run's text and blocks carry the run, the phase and the approve command", format: dsv1.WebhookSlack, phase: dsv1.PhaseBlocked,
			check: func(t *testing.T, b map[string]any) {
				if text, _ := b["text"].(string); !strings.Contains(text, "nightly-7") || !strings.Contains(text, "blocked") || !strings.Contains(text, approve) {
					t.Errorf("text = %q", text)
				}
				if lookup(t, b, "blocks", 0, "type") != "section" || lookup(t, b, "blocks", 0, "text", "type") != "mrkdwn" {
					t.Errorf("first block is not an mrkdwn section: %v", lookup(t, b, "blocks", 0))
				}
			},
			want: []string{"kubectl describe syncrun -n lincoln nightly-7", "```" + approve + "```", "nightly-7-fixlist", "LHS 12"},
		},
		{
			name: "Slack: a Failed run carries the reason and message and no approve command", format: dsv1.WebhookSlack, phase: dsv1.PhaseFailed,
			want:   []string{"failed", "*SourceUnavailable*: Destiny answered HTTP 503", "kubectl describe syncrun -n lincoln nightly-7"},
			absent: []string{"kubectl annotate"},
		},
		{
			name: "Teams: an Adaptive Card message with the run, the phase and the approve command", format: dsv1.WebhookTeams, phase: dsv1.PhaseBlocked,
			check: func(t *testing.T, b map[string]any) {
				if b["type"] != "message" || lookup(t, b, "attachments", 0, "contentType") != "application/vnd.microsoft.card.adaptive" ||
					lookup(t, b, "attachments", 0, "content", "type") != "AdaptiveCard" {
					t.Errorf("not a Teams Adaptive Card message: %v", b)
				}
				facts := lookup(t, b, "attachments", 0, "content", "body", 1, "facts").([]any)
				if lookup(t, facts, 0, "value") != "nightly-7" || lookup(t, facts, 1, "value") != "Blocked" {
					t.Errorf("facts = %v", facts)
				}
			},
			want: []string{approve, "kubectl describe syncrun -n lincoln nightly-7"},
		},
		{
			name: "Teams: a PartiallyFailed run carries its message and counts", format: dsv1.WebhookTeams, phase: dsv1.PhasePartiallyFailed,
			want: []string{"3 of 40 changes failed", "PartiallyFailed", "Assigned 30, Cleared 10"}, absent: []string{"kubectl annotate"},
		},
		{
			name: "Generic: the documented fields, the approve command for Blocked, the fix list and schools", format: dsv1.WebhookGeneric, phase: dsv1.PhaseBlocked,
			check: func(t *testing.T, b map[string]any) {
				for k, want := range map[string]any{"policy": "district", "namespace": "lincoln", "run": "nightly-7", "phase": "Blocked",
					"reason": "ChangeBudgetExceeded", "approveCommand": approve, "describeCommand": "kubectl describe syncrun -n lincoln nightly-7",
					"startTime": "2026-11-16T05:40:00Z"} {
					if b[k] != want {
						t.Errorf("%s = %v, want %v", k, b[k], want)
					}
				}
				if lookup(t, b, "counts", "byAction", "Assigned") != 30.0 || lookup(t, b, "counts", "byReason", "NoSerial") != 12.0 ||
					lookup(t, b, "fixList", "configMap") != "nightly-7-fixlist" || lookup(t, b, "schools", 0, "toFix") != 12.0 {
					t.Errorf("counts, fix list or schools missing: %v", b)
				}
				if _, ok := b["completionTime"]; ok {
					t.Errorf("a Blocked run has no completion time: %v", b["completionTime"])
				}
			},
		},
		{
			name: "Generic (the default, empty format): a Failed run has its reason and no approve command", format: "", phase: dsv1.PhaseFailed,
			check: func(t *testing.T, b map[string]any) {
				if b["phase"] != "Failed" || b["reason"] != "SourceUnavailable" || b["completionTime"] != "2026-11-16T05:43:00Z" {
					t.Errorf("body = %v", b)
				}
				if _, ok := b["approveCommand"]; ok {
					t.Errorf("a Failed run has no approve command")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := notify.Body(tc.format, notify.FromRun(finishedRun(tc.phase), "district"))
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("not JSON: %v: %s", err, raw)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
			// Compare against the decoded text so JSON's escaping of <, > and & does not matter.
			var text strings.Builder
			flatten(&text, body)
			for _, w := range tc.want {
				if !strings.Contains(text.String(), w) {
					t.Errorf("body lacks %q:\n%s", w, text.String())
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(text.String(), a) {
					t.Errorf("body has %q:\n%s", a, text.String())
				}
			}
		})
	}
}

func flatten(b *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			flatten(b, e)
		}
	case []any:
		for _, e := range x {
			flatten(b, e)
		}
	case string:
		b.WriteString(x + "\n")
	}
}

func TestAnUnknownFormatIsRefused(t *testing.T) {
	if _, err := notify.Body("Email", notify.FromRun(finishedRun(dsv1.PhaseFailed), "district")); err == nil || !strings.Contains(err.Error(), `"Email"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSlackControlCharactersInAMessageAreEscaped(t *testing.T) {
	run := finishedRun(dsv1.PhaseFailed)
	run.Status.Conditions[0].Message = "roster row <!channel> & <https://evil.example|click>"
	raw, err := notify.Body(dsv1.WebhookSlack, notify.FromRun(run, "district"))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	flatten(&text, lookup(t, body, "blocks"))
	if strings.Contains(text.String(), "<!channel>") || !strings.Contains(text.String(), "&lt;!channel&gt; &amp; &lt;https") {
		t.Fatalf("blocks = %s", text.String())
	}
}
