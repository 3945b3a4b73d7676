package controllers

import (
	"strings"
	"testing"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
)

// target.jamfSchool.createMissingUsers and newUserPassword reach the planner: the plan then carries
// each assigned student, and the password rule, to the Jamf School target.
func TestCompileJamfSchoolUserCreation(t *testing.T) {
	spec := func(create bool, password string) *dsv1.DeviceSyncPolicySpec {
		return &dsv1.DeviceSyncPolicySpec{
			Source:  dsv1.Source{Destiny: dsv1.DestinySource{ResourceTypes: []string{"iPad"}}},
			Target:  dsv1.Target{JamfSchool: &dsv1.JamfSchoolTarget{URL: "https://d.jamfcloud.com/api", CreateMissingUsers: create, NewUserPassword: password}},
			Schools: []dsv1.SchoolMapping{{Site: "LHS", Location: "Lincoln"}},
			Naming:  dsv1.Naming{Student: "{{.LastName}} - {{.Serial}}", Standard: "STU-{{.Serial}}"},
		}
	}
	tests := []struct {
		name       string
		spec       *dsv1.DeviceSyncPolicySpec
		wantErr    string
		wantCreate bool
		wantRule   string // rendered for DistrictID S1, "" for no rule
	}{
		{"off by default: no user is created", spec(false, ""), "", false, ""},
		{"a password rule without createMissingUsers is not used", spec(false, "{{.DistrictID}}"), "", false, ""},
		{"on without a rule: random passwords", spec(true, ""), "", true, ""},
		{"on with a rule: the rule renders the password", spec(true, "pw-{{.DistrictID}}"), "", true, "pw-S1"},
		{"a rule that does not parse names its field", spec(true, "{{.DistrictID"), "spec.target.jamfSchool.newUserPassword:", false, ""},
		{"a rule with an unknown field names its field", spec(true, "{{.Password}}"), "spec.target.jamfSchool.newUserPassword:", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := compileSpec(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := c.Policy
			if p.CreateMissingUsers != tt.wantCreate {
				t.Errorf("CreateMissingUsers %v, want %v", p.CreateMissingUsers, tt.wantCreate)
			}
			switch {
			case tt.wantRule == "" && p.NewUserPassword != nil:
				t.Errorf("password rule %v, want none", p.NewUserPassword)
			case tt.wantRule != "":
				if p.NewUserPassword == nil {
					t.Fatal("no password rule")
				}
				if got, err := p.NewUserPassword.Render(naming.Data{DistrictID: "S1"}); err != nil || got != tt.wantRule {
					t.Errorf("rule renders %q, %v; want %q", got, err, tt.wantRule)
				}
			}
		})
	}
}
