package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

func TestCompilePolicy(t *testing.T) {
	base := func() *dsv1.DeviceSyncPolicySpec {
		return &dsv1.DeviceSyncPolicySpec{
			Source:  dsv1.Source{Destiny: dsv1.DestinySource{ResourceTypes: []string{"iPad"}}},
			Target:  dsv1.Target{JamfPro: &dsv1.JamfProTarget{URL: "https://lincoln.jamfcloud.com"}},
			Schools: []dsv1.SchoolMapping{{Site: "LHS", Building: "Lincoln High School"}},
			Naming:  dsv1.Naming{Student: "{{.LastName}} - {{.Serial}}", Standard: "STU-{{.Serial}}"},
		}
	}
	cases := []struct {
		name    string
		mutate  func(*dsv1.DeviceSyncPolicySpec)
		wantErr []string // substrings; none means the spec compiles
		check   func(*testing.T, *compiled)
	}{
		{
			name: "an empty optional template is no rule: the field is not written",
			check: func(t *testing.T, c *compiled) {
				if c.Policy.Naming.TeacherCheckout != nil || c.Policy.Location.Department != nil || c.Policy.Naming.Student == nil {
					t.Errorf("templates: %+v", c.Policy.Naming)
				}
			},
		},
		{
			name: "a template that does not parse names its field",
			mutate: func(s *dsv1.DeviceSyncPolicySpec) {
				s.Naming.Student = "{{.LastName"
				s.Schools[0].Department = "{{nope}}"
			},
			wantErr: []string{"spec.naming.student:", "spec.schools[0].department:"},
		},
		{
			name:    "a template using an unknown field names it",
			mutate:  func(s *dsv1.DeviceSyncPolicySpec) { s.Fields.User.Username = "{{.Login}}" },
			wantErr: []string{"spec.fields.user.username:", "Login"},
		},
		{
			name: "no manage list manages every field, and student device types default to the resource types",
			check: func(t *testing.T, c *compiled) {
				m := c.Policy.Manage
				if !m.Name || !m.User || !m.Location || !m.LostMode || strings.Join(c.Policy.StudentDeviceTypes, ",") != "iPad" {
					t.Errorf("manage %+v, student device types %v", m, c.Policy.StudentDeviceTypes)
				}
			},
		},
		{
			name: "a manage list owns only its fields",
			mutate: func(s *dsv1.DeviceSyncPolicySpec) {
				s.Fields.Manage = []dsv1.ManagedField{dsv1.FieldUser}
			},
			check: func(t *testing.T, c *compiled) {
				if m := c.Policy.Manage; m.Name || !m.User || m.Location || m.LostMode {
					t.Errorf("manage %+v", m)
				}
			},
		},
		{
			name: "budgets are counts or percentages",
			mutate: func(s *dsv1.DeviceSyncPolicySpec) {
				n, pct := intstr.FromInt32(200), intstr.FromString("10%")
				s.Safety.MaxChanges, s.Safety.MaxClears = &n, &pct
			},
			check: func(t *testing.T, c *compiled) {
				if c.Safety.MaxChanges.String() != "200" || c.Safety.MaxClears.String() != "10%" || c.Safety.MaxSourceShrink != nil {
					t.Errorf("safety %+v", c.Safety)
				}
			},
		},
		{
			name: "the roster shrink budget is compiled like the others",
			mutate: func(s *dsv1.DeviceSyncPolicySpec) {
				pct := intstr.FromString("15%")
				s.Safety.MaxRosterShrink = &pct
			},
			check: func(t *testing.T, c *compiled) {
				if c.Safety.MaxRosterShrink == nil || c.Safety.MaxRosterShrink.String() != "15%" {
					t.Errorf("safety.maxRosterShrink %v, want 15%%", c.Safety.MaxRosterShrink)
				}
			},
		},
		{
			name: "the Destiny query names the policy's resource types and sites",
			check: func(t *testing.T, c *compiled) {
				if strings.Join(c.Query.SiteShortNames, ",") != "LHS" || strings.Join(c.Query.ResourceTypes, ",") != "iPad" {
					t.Errorf("query %+v", c.Query)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := base()
			if tc.mutate != nil {
				tc.mutate(spec)
			}
			c, err := compileSpec(spec)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("compiled; want an error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// compileSpec compiles spec for the target kind it selects among the default kinds.
func compileSpec(spec *dsv1.DeviceSyncPolicySpec) (*compiled, error) {
	kind, _, err := targetKind(nil, &spec.Target)
	if err != nil {
		return nil, err
	}
	return compilePolicy(spec, kind)
}
