package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// TestPolicyReadiness runs the manager's validator (templates, Secrets, connections, schools) against the
// simulators: each case breaks one thing, and the Ready condition must name it.
func TestPolicyReadiness(t *testing.T) {
	e := newRunEnv(t, 60)
	ctx := context.Background()
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "jamf-no-secret", Namespace: e.ns}, StringData: map[string]string{"client-id": "sync"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "destiny-wrong", Namespace: e.ns}, StringData: map[string]string{"client-id": "sync", "client-secret": "wrong"}},
	} {
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// A second "Tablet" elsewhere in the hierarchy makes that name ambiguous.
	for _, rt := range []district.ResourceType{
		{ID: 60, GUID: "AAAAAAAA-0000-0000-0000-000000000060", Name: "Tablet", ParentID: 2},
		{ID: 61, GUID: "AAAAAAAA-0000-0000-0000-000000000061", Name: "Library", ParentID: 1},
		{ID: 62, GUID: "AAAAAAAA-0000-0000-0000-000000000062", Name: "Tablet", ParentID: 61},
	} {
		e.destiny.AddResourceType(rt)
	}
	cases := []struct {
		name        string
		school      bool
		mutate      func(*dsv1.DeviceSyncPolicy)
		wantReady   bool
		wantReason  string
		wantMessage []string
		wantStalled bool
	}{
		{name: "a policy whose Secrets, templates, systems and schools are all right is Ready", wantReady: true, wantReason: "Ready"},
		{
			name:        "a missing Secret is named",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Target.JamfPro.CredentialsSecretRef.Name = "jamf-typo" },
			wantReason:  controllers.ReasonSecretNotFound,
			wantMessage: []string{"spec.target.jamfPro.credentialsSecretRef", "Secret " + e.ns + "/jamf-typo not found"},
			wantStalled: true,
		},
		{
			name:        "a Secret without a key it needs names the key",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Target.JamfPro.CredentialsSecretRef.Name = "jamf-no-secret" },
			wantReason:  controllers.ReasonSecretKeyMissing,
			wantMessage: []string{"jamf-no-secret", "client-id and client-secret", "username and password"},
			wantStalled: true,
		},
		{
			name:        "a template that does not parse names its field",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Naming.Student = "{{.LastName" },
			wantReason:  controllers.ReasonInvalidTemplate,
			wantMessage: []string{"spec.naming.student"},
			wantStalled: true,
		},
		{
			name:        "a school mapped to a building Jamf Pro does not have is named",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schools[0].Building = "Lincon High" },
			wantReason:  controllers.ReasonUnknownBuilding,
			wantMessage: []string{`spec.schools[0].building "Lincon High"`, "no such Jamf Pro building"},
			wantStalled: true,
		},
		{
			name:        "Destiny refusing the credentials is an authentication failure, not an outage",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Source.Destiny.CredentialsSecretRef.Name = "destiny-wrong" },
			wantReason:  controllers.ReasonDestinyAuthFailed,
			wantMessage: []string{"source.destiny"},
			wantStalled: true,
		},
		{
			name:        "a resource type Destiny does not have is named, with the known paths",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Source.Destiny.ResourceTypes = []string{"iPad", "Toasters"} },
			wantReason:  controllers.ReasonInvalidResourceType,
			wantMessage: []string{`spec.source.destiny.resourceTypes[1] "Toasters"`, "not found", "Resources/Technology/iPad"},
			wantStalled: true,
		},
		{
			name:        "a resource type name found twice in the hierarchy is named, with both paths",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Source.Destiny.ResourceTypes = []string{"iPad", "Tablet"} },
			wantReason:  controllers.ReasonInvalidResourceType,
			wantMessage: []string{`spec.source.destiny.resourceTypes[1] "Tablet"`, "ambiguous", "Resources/Library/Tablet", "Resources/Technology/Tablet", "write the full path"},
			wantStalled: true,
		},
		{
			name: "full paths in both lists are Ready",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.ResourceTypes = []string{"Resources/Technology/iPad", "Resources/Library/Tablet"}
				p.Spec.Source.Destiny.StudentDeviceResourceTypes = []string{"resources/technology/ipad"}
			},
			wantReady:  true,
			wantReason: "Ready",
		},
		{
			name: "a student device type spelt differently from resourceTypes is named",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.ResourceTypes = []string{"Resources/Technology/iPad"}
				p.Spec.Source.Destiny.StudentDeviceResourceTypes = []string{"iPad"}
			},
			wantReason:  controllers.ReasonInvalidResourceType,
			wantMessage: []string{`spec.source.destiny.studentDeviceResourceTypes[0] "iPad"`, "write it the same way"},
			wantStalled: true,
		},
		{
			name:        "a policy allowing plain http is Ready and warns, naming the flag",
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Target.JamfPro.Insecure = true },
			wantReady:   true,
			wantReason:  "Ready",
			wantMessage: []string{"warning", "spec.target.jamfPro.insecure", "in clear"},
		},
		{
			name:        "a Jamf School policy is Ready and warns about the fields Jamf School cannot write",
			school:      true,
			wantReady:   true,
			wantReason:  "Ready",
			wantMessage: []string{"warning", "name (Jamf School's API has no endpoint to rename a device)", "lostMode", "position, room and department"},
		},
		{
			name: "a Jamf Pro policy with roster classes is Ready and says the roster sync is not supported for Jamf Pro",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.Roster = oneRosterSource()
				p.Spec.Roster = &dsv1.RosterSync{Classes: &dsv1.RosterClasses{Name: "{{.Title}}"}}
			},
			wantReady:   true,
			wantReason:  "Ready",
			wantMessage: []string{"warning", "spec.roster.classes is not supported for Jamf Pro", "runs sync devices only"},
		},
		{
			name:   "a roster class name using a device field names the field and the class data model",
			school: true,
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.Roster = oneRosterSource()
				p.Spec.Roster = &dsv1.RosterSync{Classes: &dsv1.RosterClasses{Name: "{{.Title}} {{.Serial}}"}}
			},
			wantReason:  controllers.ReasonInvalidTemplate,
			wantMessage: []string{"spec.roster.classes.name", "Serial", "Title"},
			wantStalled: true,
		},
		{
			name:        "a school mapped to a location Jamf School does not have is named",
			school:      true,
			mutate:      func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schools[1].Location = "Nowhere Elementary" },
			wantReason:  controllers.ReasonUnknownBuilding,
			wantMessage: []string{`spec.schools[1].location "Nowhere Elementary"`, "no such Jamf School location"},
			wantStalled: true,
		},
	}
	v := &controllers.ConnectionValidator{Connector: &controllers.Connector{Reader: k8s, Transport: e.transport}}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := e.policy("ready-"+string(rune('a'+i)), tc.school)
			if tc.mutate != nil {
				tc.mutate(p)
			}
			if err := k8s.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			reconcileWith(t, directReconciler(v), p, time.Now())
			got := getPolicy(t, p)
			ready := meta.FindStatusCondition(got.Status.Conditions, dsv1.ConditionReady)
			if ready == nil || (ready.Status == metav1.ConditionTrue) != tc.wantReady || ready.Reason != tc.wantReason {
				t.Fatalf("Ready condition %+v; want ready=%v reason %s", ready, tc.wantReady, tc.wantReason)
			}
			for _, w := range tc.wantMessage {
				if !strings.Contains(ready.Message, w) {
					t.Errorf("Ready message %q does not mention %q", ready.Message, w)
				}
			}
			if stalled := meta.IsStatusConditionTrue(got.Status.Conditions, dsv1.ConditionStalled); stalled != tc.wantStalled {
				t.Errorf("Stalled=%v, want %v", stalled, tc.wantStalled)
			}
			if strings.Contains(ready.Message, "destiny-secret") || strings.Contains(ready.Message, "jamf-secret") {
				t.Errorf("the Ready message leaks a secret: %q", ready.Message)
			}
		})
	}
}
