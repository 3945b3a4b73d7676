package controllers

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

func TestTheChangeLogKeepsStudentDataOutOfTheDefaultVerbosity(t *testing.T) {
	s := &runScope{
		run:    &dsv1.SyncRun{ObjectMeta: metav1.ObjectMeta{Name: "lincoln-now"}},
		policy: &dsv1.DeviceSyncPolicy{ObjectMeta: metav1.ObjectMeta{Name: "lincoln"}},
		mode:   dsv1.ModeEnforce,
		report: &engine.Report{Outcome: engine.Succeeded, Plan: plan.Plan{Changes: []plan.Change{{
			Serial: "DLXQ1234ABCD", DeviceKey: "17", ItemID: "900", Action: "Reassigned",
			Fields: []plan.FieldChange{{Field: "username", Old: "jyoung2", New: "aobrien"}, {Field: "email", Old: "jyoung2@example-k12.org", New: "aobrien@example-k12.org"}},
		}}}},
		attempted: map[string]error{"17": nil},
	}
	student := []string{"jyoung2", "aobrien", "example-k12.org"}
	cases := []struct {
		name        string
		verbosity   int
		wantStudent bool
		wantInEvery []string
	}{
		{"at the default verbosity a change is its serial, action, result and field names", 0, false, []string{"DLXQ1234ABCD", "Reassigned", "Applied", "username,email"}},
		{"at verbosity 1 the old and new values are logged too", 1, true, []string{"DLXQ1234ABCD", "jyoung2 -> aobrien"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			logger := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: tc.verbosity})
			logChanges(log.IntoContext(context.Background(), logger), s)
			out := strings.Join(lines, "\n")
			if len(lines) != 1 {
				t.Fatalf("want one line per change, got %d:\n%s", len(lines), out)
			}
			for _, w := range tc.wantInEvery {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			for _, w := range student {
				if strings.Contains(out, w) != tc.wantStudent {
					t.Errorf("student data %q in the log = %v, want %v:\n%s", w, !tc.wantStudent, tc.wantStudent, out)
				}
			}
		})
	}
}
