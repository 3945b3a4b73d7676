package v1alpha1_test

// These tests install the generated CRDs into a real kube-apiserver and etcd (envtest with the control
// plane built by hack/build-control-plane.sh) and check what the API server itself accepts and rejects:
// the OpenAPI schema, defaults and CEL rules an admin meets with `kubectl apply`.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/testenv"
)

var (
	k8s     client.Client
	restCfg *rest.Config
)

func TestMain(m *testing.M) {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	restCfg = cfg
	k8s, err = client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = env.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// readSample decodes a file of config/samples into obj.
func readSample(t *testing.T, name string, obj any) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("config/samples/%s: %v", name, err)
	}
}

// validPolicy is the smallest policy the API server accepts.
func validPolicy(name string) *dsv1.DeviceSyncPolicy {
	return &dsv1.DeviceSyncPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: dsv1.DeviceSyncPolicySpec{
			Source: dsv1.Source{Destiny: dsv1.DestinySource{
				URL:                  "https://destiny.example.org",
				CredentialsSecretRef: dsv1.SecretReference{Name: "destiny"},
				ResourceTypes:        []string{"iPad"},
			}},
			Target: dsv1.Target{JamfPro: &dsv1.JamfProTarget{
				URL:                  "https://example.jamfcloud.com",
				CredentialsSecretRef: dsv1.SecretReference{Name: "jamf"},
			}},
			Schools: []dsv1.SchoolMapping{{Site: "LHS", Building: "Lincoln High School"}},
		},
	}
}

func TestSamplesAreAccepted(t *testing.T) {
	var policy dsv1.DeviceSyncPolicy
	readSample(t, "devicesync_v1alpha1_devicesyncpolicy.yaml", &policy)
	policy.Namespace = "default"
	if err := k8s.Create(ctx(t), &policy); err != nil {
		t.Fatalf("the sample policy is rejected: %v", err)
	}
	if got := len(policy.Spec.Schools); got != 3 {
		t.Errorf("the sample policy maps %d schools, want a district with three", got)
	}

	var run dsv1.SyncRun
	readSample(t, "devicesync_v1alpha1_syncrun.yaml", &run)
	run.Namespace = "default"
	if err := k8s.Create(ctx(t), &run); err != nil {
		t.Fatalf("the sample run is rejected: %v", err)
	}
	if run.Spec.PolicyRef.Name != policy.Name {
		t.Errorf("the sample run refers to policy %q, want the sample policy %q", run.Spec.PolicyRef.Name, policy.Name)
	}

	var school dsv1.DeviceSyncPolicy
	readSample(t, "devicesync_v1alpha1_devicesyncpolicy_jamfschool.yaml", &school)
	school.Namespace = "default"
	if err := k8s.Create(ctx(t), &school); err != nil {
		t.Fatalf("the Jamf School sample policy is rejected: %v", err)
	}
	if school.Spec.Target.JamfSchool == nil || school.Spec.Roster == nil || school.Spec.Roster.Users == nil || school.Spec.Roster.Classes == nil {
		t.Errorf("the Jamf School sample must target Jamf School and sync users and classes: target %+v, roster %+v", school.Spec.Target, school.Spec.Roster)
	}

	var bundle corev1.ConfigMap
	readSample(t, "oneroster_configmap.yaml", &bundle)
	if src := school.Spec.Source.Destiny.Roster; src == nil || src.ConfigMapRef == nil || src.ConfigMapRef.Name != bundle.Name {
		t.Errorf("the Jamf School sample's roster %+v does not name the sample ConfigMap %q", src, bundle.Name)
	}
	ros, err := roster.ReadOneRoster(fstest.MapFS{
		roster.UsersFile:       {Data: []byte(bundle.Data[roster.UsersFile])},
		roster.ClassesFile:     {Data: []byte(bundle.Data[roster.ClassesFile])},
		roster.EnrollmentsFile: {Data: []byte(bundle.Data[roster.EnrollmentsFile])},
	}, roster.Options{KeyField: roster.KeyField(school.Spec.Source.Destiny.Roster.KeyField), People: true})
	if err != nil {
		t.Fatalf("the sample OneRoster ConfigMap does not read: %v", err)
	}
	if len(ros.Problems) > 0 || len(ros.Classes) == 0 {
		t.Errorf("the sample OneRoster ConfigMap reads with problems %v and %d classes, want none and some", ros.Problems, len(ros.Classes))
	}
	orgs := map[string]bool{}
	for _, p := range ros.People {
		for _, o := range p.Orgs {
			orgs[o] = true
		}
	}
	if !orgs[school.Spec.Schools[0].RosterSchool] {
		t.Errorf("the sample roster's users name orgs %v, none of them the Jamf School sample's first rosterSchool %q", orgs, school.Spec.Schools[0].RosterSchool)
	}
}

func TestDefaultsFillAMinimalPolicy(t *testing.T) {
	p := validPolicy("defaults")
	if err := k8s.Create(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	var got dsv1.DeviceSyncPolicy
	if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(p), &got); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	checks := []struct {
		field     string
		got, want any
	}{
		{"schedule.timeZone", s.Schedule.TimeZone, "UTC"},
		{"schedule.window.start", s.Schedule.Window.Start, "05:40"},
		{"schedule.window.end", s.Schedule.Window.End, "17:40"},
		{"schedule.every", s.Schedule.Every, "1h"},
		{"schedule.days", fmt.Sprint(s.Schedule.Days), "[Mon Tue Wed Thu Fri]"},
		{"mode", s.Mode, dsv1.ModeEnforce},
		{"concurrencyPolicy", s.ConcurrencyPolicy, dsv1.ForbidConcurrent},
		{"successfulRunsHistoryLimit", deref(s.SuccessfulRunsHistoryLimit), int32(10)},
		{"failedRunsHistoryLimit", deref(s.FailedRunsHistoryLimit), int32(5)},
		{"source.destiny.context", s.Source.Destiny.Context, "destiny"},
		{"source.destiny.serialNumberField", s.Source.Destiny.SerialNumberField, "Serial Number"},
		{"source.destiny.teacherPatronTypes", fmt.Sprint(s.Source.Destiny.TeacherPatronTypes), "[Teacher Staff]"},
		{"target.jamfPro.maxConcurrency", s.Target.JamfPro.MaxConcurrency, int32(5)},
		{"naming.standard", s.Naming.Standard, "STU-{{.Serial}}"},
		{"naming.teacherCheckout", s.Naming.TeacherCheckout, "Return to Library"},
		{"naming.enforceName", deref(s.Naming.EnforceName), true},
		{"fields.manage", fmt.Sprint(s.Fields.Manage), "[name user location lostMode]"},
		{"lostMode.enabled", s.LostMode.Enabled, false},
		{"lostMode.disableWhenFound", deref(s.LostMode.DisableWhenFound), true},
		{"safety.maxChanges", s.Safety.MaxChanges.String(), "25%"},
		{"safety.maxClears", s.Safety.MaxClears.String(), "10%"},
		{"safety.maxSourceShrink", s.Safety.MaxSourceShrink.String(), "20%"},
		{"runTimeout", s.RunTimeout.Duration, time.Hour},
		{"source.destiny.insecure", s.Source.Destiny.Insecure, false},
		{"safety.maxRosterShrink", fmt.Sprint(s.Safety.MaxRosterShrink), "20%"},
		{"safety.maxRemovals", fmt.Sprint(s.Safety.MaxRemovals), "5%"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default of spec.%s = %v, want %v", c.field, c.got, c.want)
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func intOrString(s string) *intstr.IntOrString { v := intstr.Parse(s); return &v }

// TestPolicyValidation is the list of mistakes an admin can make in a policy, each rejected by the API
// server with a message that names the field.
func TestPolicyValidation(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*dsv1.DeviceSyncPolicy)
		// want are substrings of the API server's error: the field path and the message.
		want []string
	}{
		{
			name:   "window end before start is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Window = dsv1.Window{Start: "17:40", End: "05:40"} },
			want:   []string{"spec.schedule.window", "schedule.window.end must be later than schedule.window.start"},
		},
		{
			name:   "window end equal to start is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Window = dsv1.Window{Start: "08:00", End: "08:00"} },
			want:   []string{"spec.schedule.window", "schedule.window.end must be later than schedule.window.start"},
		},
		{
			name:   "window start that is not a time of day is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Window = dsv1.Window{Start: "5:40", End: "17:40"} },
			want:   []string{"spec.schedule.window.start", "must be a time of day as HH:MM"},
		},
		{
			name:   "window end past midnight is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Window = dsv1.Window{Start: "05:40", End: "24:10"} },
			want:   []string{"spec.schedule.window.end", "must be a time of day as HH:MM"},
		},
		{
			name:   "every that is not a duration is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Every = "hourly" },
			want:   []string{"spec.schedule", "schedule.every must be a duration such as 30m, 1h or 1h30m"},
		},
		{
			name:   "every under five minutes is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Every = "4m59s" },
			want:   []string{"spec.schedule", "schedule.every must be at least 5m"},
		},
		{
			name:   "an unknown weekday is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Days = []dsv1.Weekday{"Mon", "Funday"} },
			want:   []string{"spec.schedule.days[1]", `Unsupported value: "Funday"`},
		},
		{
			name: "both jamfPro and jamfSchool set is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Target.JamfSchool = &dsv1.JamfSchoolTarget{URL: "https://example.jamfcloud.com/api", CredentialsSecretRef: dsv1.SecretReference{Name: "school"}}
				p.Spec.Schools[0].Location = "Lincoln High"
			},
			want: []string{"spec.target", "target.jamfPro and target.jamfSchool are mutually exclusive"},
		},
		{
			name:   "neither jamfPro nor jamfSchool set is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Target = dsv1.Target{} },
			want:   []string{"spec.target", "a target is required: set target.jamfPro or target.jamfSchool"},
		},
		{
			name:   "a negative change budget is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Safety.MaxChanges = intOrString("-5") },
			want:   []string{"spec.safety.maxChanges", "safety.maxChanges must be a count of 0 or more"},
		},
		{
			name:   "a change budget over 100 percent is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Safety.MaxChanges = intOrString("150%") },
			want:   []string{"spec.safety.maxChanges", "a percentage from 0% to 100%"},
		},
		{
			name:   "a negative percentage clear budget is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Safety.MaxClears = intOrString("-1%") },
			want:   []string{"spec.safety.maxClears", "safety.maxClears must be a count of 0 or more"},
		},
		{
			name:   "a clear budget over 100 percent is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Safety.MaxClears = intOrString("101%") },
			want:   []string{"spec.safety.maxClears", "a percentage from 0% to 100%"},
		},
		{
			name:   "a roster shrink budget over 100 percent is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Safety.MaxRosterShrink = intOrString("120%") },
			want:   []string{"spec.safety.maxRosterShrink", "safety.maxRosterShrink must be a count of 0 or more or a percentage from 0% to 100%"},
		},
		{
			name:   "a removal budget over 100 percent is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Safety.MaxRemovals = intOrString("150%") },
			want:   []string{"spec.safety.maxRemovals", "safety.maxRemovals must be a count of 0 or more"},
		},
		{
			name:   "a roster sync without a roster is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Roster = &dsv1.RosterSync{Users: &dsv1.RosterUsers{}} },
			want:   []string{"spec", "spec.roster needs spec.source.destiny.roster"},
		},
		{
			name: "classes from a SIS patron CSV are rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterSISPatronCSV, Path: "/roster"}
				p.Spec.Roster = &dsv1.RosterSync{Classes: &dsv1.RosterClasses{}}
			},
			want: []string{"spec", "spec.roster.classes needs a OneRoster roster"},
		},
		{
			name: "moving stale users to a group without naming it is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterOneRoster, Path: "/roster"}
				p.Spec.Roster = &dsv1.RosterSync{Users: &dsv1.RosterUsers{RemoveStale: &dsv1.RemoveStaleUsers{Action: dsv1.StaleMoveToGroup}}}
			},
			want: []string{"spec.roster.users", "roster.users.removeStale.group is required when the action is MoveToGroup"},
		},
		{
			name: "an unknown stale-user action is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterOneRoster, Path: "/roster"}
				p.Spec.Roster = &dsv1.RosterSync{Users: &dsv1.RosterUsers{RemoveStale: &dsv1.RemoveStaleUsers{Action: "Archive"}}}
			},
			want: []string{"spec.roster.users.removeStale.action", "Unsupported value"},
		},
		{
			name:   "an empty school map is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schools = []dsv1.SchoolMapping{} },
			want:   []string{"spec", "spec.schools must map at least one Destiny site"},
		},
		{
			name: "a Jamf Pro policy with a school without building is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Schools = append(p.Spec.Schools, dsv1.SchoolMapping{Site: "LMS"})
			},
			want: []string{"spec", "every entry of spec.schools needs a building when the target is Jamf Pro"},
		},
		{
			name: "a Jamf School policy with a school without location is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Target = dsv1.Target{JamfSchool: &dsv1.JamfSchoolTarget{URL: "https://example.jamfcloud.com/api", CredentialsSecretRef: dsv1.SecretReference{Name: "school"}}}
			},
			want: []string{"spec", "every entry of spec.schools needs a location when the target is Jamf School"},
		},
		{
			name:   "the same site mapped twice is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schools = append(p.Spec.Schools, p.Spec.Schools[0]) },
			want:   []string{"spec.schools[1]", "Duplicate value"},
		},
		{
			name:   "a Destiny URL that is not http(s) is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Source.Destiny.URL = "destiny.example.org" },
			want:   []string{"spec.source.destiny.url", "source.destiny.url must be an http(s) URL"},
		},
		{
			name:   "no resource types is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Source.Destiny.ResourceTypes = []string{} },
			want:   []string{"spec.source.destiny.resourceTypes", "should have at least 1 items"},
		},
		{
			name:   "Lost Mode enabled without message or phone is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.LostMode.Enabled = true },
			want:   []string{"spec.lostMode", "lostMode.message or lostMode.phone is required"},
		},
		{
			name: "a roster from two places at once is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterOneRoster, Path: "/roster", ConfigMapRef: &dsv1.LocalObjectReference{Name: "roster"}}
			},
			want: []string{"spec.source.destiny.roster", "needs exactly one of configMapRef, secretRef or path"},
		},
		{
			name:   "an unknown mode is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Mode = "Sometimes" },
			want:   []string{"spec.mode", `Unsupported value: "Sometimes"`},
		},
		{
			name:   "a Destiny URL over plain http without insecure is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Source.Destiny.URL = "http://destiny.example.org" },
			want:   []string{"source.destiny.url must use https://", "insecure: true only for a lab server"},
		},
		{
			name:   "a Jamf Pro URL over plain http without insecure is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Target.JamfPro.URL = "http://district.jamfcloud.com" },
			want:   []string{"target.jamfPro.url must use https://"},
		},
		{
			name: "a CA bundle naming both a ConfigMap and a Secret is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) {
				p.Spec.Source.Destiny.CABundle = &dsv1.CABundleSource{ConfigMapRef: &dsv1.KeyReference{Name: "ca"}, SecretRef: &dsv1.KeyReference{Name: "ca"}}
			},
			want: []string{"caBundle needs exactly one of configMapRef or secretRef"},
		},
		{
			name:   "a run timeout under a minute is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.RunTimeout = &metav1.Duration{Duration: 30 * time.Second} },
			want:   []string{"spec.runTimeout must be a duration of at least 1m"},
		},
		{
			name:   "Jamf Pro concurrency above 20 is rejected",
			mutate: func(p *dsv1.DeviceSyncPolicy) { p.Spec.Target.JamfPro.MaxConcurrency = 50 },
			want:   []string{"spec.target.jamfPro.maxConcurrency", "less than or equal to 20"},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validPolicy(fmt.Sprintf("invalid-%d", i))
			tc.mutate(p)
			err := k8s.Create(ctx(t), p)
			if err == nil {
				t.Fatalf("accepted, want rejection naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestPolicyValidationAcceptsEdges makes sure the rules above do not reject what they should allow.
func TestPolicyValidationAcceptsEdges(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*dsv1.DeviceSyncPolicy)
	}{
		{"every of exactly five minutes", func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Every = "5m" }},
		{"every as hours and minutes", func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Every = "1h30m" }},
		{"a window to one minute before midnight", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Schedule.Window = dsv1.Window{Start: "00:00", End: "23:59"}
		}},
		{"weekend days", func(p *dsv1.DeviceSyncPolicy) { p.Spec.Schedule.Days = []dsv1.Weekday{"Sat", "Sun"} }},
		{"budgets of zero", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Safety = dsv1.Safety{MaxChanges: intOrString("0"), MaxClears: intOrString("0%")}
		}},
		{"budgets of 100 percent and a large count", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Safety = dsv1.Safety{MaxChanges: intOrString("100%"), MaxClears: intOrString("50000")}
		}},
		{"a Jamf School target with locations", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Target = dsv1.Target{JamfSchool: &dsv1.JamfSchoolTarget{URL: "https://example.jamfcloud.com/api", CredentialsSecretRef: dsv1.SecretReference{Name: "school"}}}
			p.Spec.Schools[0].Location = "Lincoln High"
		}},
		{"Lost Mode with a phone only", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.LostMode = dsv1.LostMode{Enabled: true, Phone: "+1 555 0100"}
		}},
		{"plain http for a lab server, with insecure set", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Source.Destiny.URL, p.Spec.Source.Destiny.Insecure = "http://destiny.lab.local", true
		}},
		{"a private CA bundle from a ConfigMap", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Target.JamfPro.CABundle = &dsv1.CABundleSource{ConfigMapRef: &dsv1.KeyReference{Name: "district-ca"}}
		}},
		{"a run timeout of two hours", func(p *dsv1.DeviceSyncPolicy) { p.Spec.RunTimeout = &metav1.Duration{Duration: 2 * time.Hour} }},
		{"a roster from a path", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterSISPatronCSV, Path: "/roster", KeyField: "DistrictID"}
		}},
		{"a roster sync of users, teachers by role and group, and classes from OneRoster", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterOneRoster, Path: "/roster"}
			p.Spec.Roster = &dsv1.RosterSync{
				Users:    &dsv1.RosterUsers{StudentsGroup: "{{.SchoolName}} Students", RemoveStale: &dsv1.RemoveStaleUsers{Action: dsv1.StaleMoveToGroup, Group: "Former students"}},
				Teachers: dsv1.RosterTeachers{Roles: []string{"teacher", "ROLE_TEACHER"}, Groups: []string{"lehrkraefte"}},
				Classes:  &dsv1.RosterClasses{Name: "{{.SchoolCode}} {{.Title}} {{.Period}}", RemoveStale: true},
			}
			p.Spec.Safety.MaxRemovals = intOrString("20")
		}},
		{"a roster sync of users only from the SIS patron CSV", func(p *dsv1.DeviceSyncPolicy) {
			p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterSISPatronCSV, Path: "/roster"}
			p.Spec.Roster = &dsv1.RosterSync{Users: &dsv1.RosterUsers{RemoveStale: &dsv1.RemoveStaleUsers{Action: dsv1.StaleDelete}}}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validPolicy(fmt.Sprintf("valid-%d", i))
			tc.mutate(p)
			if err := k8s.Create(ctx(t), p); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

func TestSyncRunValidation(t *testing.T) {
	t.Run("a scheduled run without scheduledTime is rejected", func(t *testing.T) {
		run := &dsv1.SyncRun{
			ObjectMeta: metav1.ObjectMeta{Name: "scheduled-without-time", Namespace: "default"},
			Spec:       dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: "p"}, Trigger: dsv1.TriggerScheduled},
		}
		err := k8s.Create(ctx(t), run)
		if err == nil || !strings.Contains(err.Error(), "spec.scheduledTime is required when spec.trigger is Scheduled") {
			t.Fatalf("want rejection naming spec.scheduledTime, got %v", err)
		}
	})

	t.Run("a manual run defaults its trigger", func(t *testing.T) {
		run := &dsv1.SyncRun{
			ObjectMeta: metav1.ObjectMeta{Name: "manual-default", Namespace: "default"},
			Spec:       dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: "p"}},
		}
		if err := k8s.Create(ctx(t), run); err != nil {
			t.Fatal(err)
		}
		if run.Spec.Trigger != dsv1.TriggerManual {
			t.Fatalf("trigger defaulted to %q, want Manual", run.Spec.Trigger)
		}
	})

	mutations := []struct {
		name   string
		mutate func(*dsv1.SyncRun)
	}{
		{"changing the policy of a run is rejected", func(r *dsv1.SyncRun) { r.Spec.PolicyRef.Name = "other" }},
		{"changing the mode of a run is rejected", func(r *dsv1.SyncRun) { r.Spec.Mode = dsv1.ModeEnforce }},
		{"changing the slot of a run is rejected", func(r *dsv1.SyncRun) {
			r.Spec.ScheduledTime = &metav1.Time{Time: r.Spec.ScheduledTime.Add(time.Hour)}
		}},
	}
	for i, tc := range mutations {
		t.Run(tc.name, func(t *testing.T) {
			slot := metav1.NewTime(time.Date(2026, 3, 10, 10, 40, 0, 0, time.UTC))
			run := &dsv1.SyncRun{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("immutable-%d", i), Namespace: "default"},
				Spec: dsv1.SyncRunSpec{
					PolicyRef: dsv1.LocalObjectReference{Name: "p"}, Trigger: dsv1.TriggerScheduled,
					ScheduledTime: &slot, Mode: dsv1.ModeDryRun,
				},
			}
			if err := k8s.Create(ctx(t), run); err != nil {
				t.Fatal(err)
			}
			tc.mutate(run)
			err := k8s.Update(ctx(t), run)
			if err == nil {
				t.Fatal("update accepted, want the spec to be immutable")
			}
			for _, w := range []string{"spec", "SyncRun spec is immutable"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q: %v", w, err)
				}
			}
		})
	}

	t.Run("a run's metadata and status can still change", func(t *testing.T) {
		run := &dsv1.SyncRun{
			ObjectMeta: metav1.ObjectMeta{Name: "mutable-parts", Namespace: "default"},
			Spec:       dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: "p"}},
		}
		if err := k8s.Create(ctx(t), run); err != nil {
			t.Fatal(err)
		}
		run.Annotations = map[string]string{dsv1.ApproveAnnotation: "sha256:abc"}
		if err := k8s.Update(ctx(t), run); err != nil {
			t.Fatalf("annotating a run: %v", err)
		}
		run.Status.Phase = dsv1.PhaseBlocked
		if err := k8s.Status().Update(ctx(t), run); err != nil {
			t.Fatalf("updating a run's status: %v", err)
		}
	})
}

// TestPrinterColumns reads the installed CRDs and asks the API server for the table kubectl get prints.
func TestPrinterColumns(t *testing.T) {
	cases := []struct {
		crd      string
		resource string
		want     []string
	}{
		{"devicesyncpolicies.devicesync.k12.dev", "devicesyncpolicies", []string{"Name", "Schedule", "Suspended", "Last Result", "Next Run", "Ready", "Age"}},
		{"syncruns.devicesync.k12.dev", "syncruns", []string{"Name", "Policy", "Phase", "Progress", "Changed", "Failed", "Age"}},
	}
	for _, tc := range cases {
		t.Run(tc.resource, func(t *testing.T) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := k8s.Get(ctx(t), client.ObjectKey{Name: tc.crd}, &crd); err != nil {
				t.Fatal(err)
			}
			declared := map[string]bool{"Name": true}
			for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				declared[c.Name] = true
			}
			for _, w := range tc.want {
				if !declared[w] {
					t.Errorf("CRD %s has no printer column %q", tc.crd, w)
				}
			}

			// What `kubectl get` receives: the server-side table (columns of priority 0 are the default view).
			rc, err := rest.HTTPClientFor(restCfg)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.JoinPath(restCfg.Host, restCfg.APIPath, "/apis/devicesync.k12.dev/v1alpha1/namespaces/default", tc.resource)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, u, nil)
			req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
			resp, err := rc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			var table metav1.Table
			if err := json.Unmarshal(body, &table); err != nil {
				t.Fatalf("decoding the table from %s: %v\n%s", u, err, body)
			}
			var shown []string
			for _, c := range table.ColumnDefinitions {
				if c.Priority == 0 {
					shown = append(shown, c.Name)
				}
			}
			if strings.Join(shown, ",") != strings.Join(tc.want, ",") {
				t.Errorf("kubectl get %s shows columns %v, want %v", tc.resource, shown, tc.want)
			}
		})
	}
}

func TestRosterSyncDefaults(t *testing.T) {
	p := validPolicy("roster-defaults")
	p.Spec.Source.Destiny.Roster = &dsv1.RosterSource{Format: dsv1.RosterOneRoster, Path: "/roster"}
	p.Spec.Roster = &dsv1.RosterSync{Users: &dsv1.RosterUsers{}, Classes: &dsv1.RosterClasses{}}
	if err := k8s.Create(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	var got dsv1.DeviceSyncPolicy
	if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(p), &got); err != nil {
		t.Fatal(err)
	}
	r := got.Spec.Roster
	checks := []struct {
		field     string
		got, want any
	}{
		{"roster.users.studentsGroup", r.Users.StudentsGroup, "Students"},
		{"roster.users.teachersGroup", r.Users.TeachersGroup, "Teachers"},
		{"roster.users.removeStale", r.Users.RemoveStale == nil, true},
		{"roster.teachers.roles", fmt.Sprint(r.Teachers.Roles), "[teacher]"},
		{"roster.classes.name", r.Classes.Name, "{{.Title}}"},
		{"roster.classes.removeStale", r.Classes.RemoveStale, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default of spec.%s = %v, want %v", c.field, c.got, c.want)
		}
	}
}
