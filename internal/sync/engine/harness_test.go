package engine_test

import (
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"

	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/jamf/pro"
	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/roster"
	destinysim "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfprosim "github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

var genNow = time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC)

// newDistrict generates a district with every awkward case.
func newDistrict(tb testing.TB, devices int) *district.District {
	tb.Helper()
	return district.Generate(district.Options{Seed: 7, Schools: 4, Devices: devices, Now: genNow})
}

// fastBackoff keeps the clients' retries quick in tests.
var fastBackoff = httpx.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}

// destinySide starts the Destiny simulator and returns it with a source reading it through the roster the
// district would mount (its SIS patron CSV).
func destinySide(tb testing.TB, d *district.District) (*destinysim.Server, *engine.DestinySource) {
	tb.Helper()
	return destinySideN(tb, d, 8)
}

// destinySideN is destinySide with concurrency requests in flight at most.
func destinySideN(tb testing.TB, d *district.District, concurrency int) (*destinysim.Server, *engine.DestinySource) {
	tb.Helper()
	sim := destinysim.New(d, destinysim.Options{ClientID: "sync", ClientSecret: "destiny-secret"})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	cl, err := destiny.New(destiny.Config{
		BaseURL:     srv.URL + sim.BasePath(),
		Credentials: destiny.Credentials{ClientID: "sync", ClientSecret: "destiny-secret"},
		Backoff:     fastBackoff, Concurrency: concurrency,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return sim, destinySourceOf(tb, d, cl)
}

// destinySourceOf is the district's Destiny source over cl: its iPad resource types, every school, a
// fresh patron cache and the district's SIS roster.
func destinySourceOf(tb testing.TB, d *district.District, cl *destiny.Client) *engine.DestinySource {
	tb.Helper()
	ros, err := roster.Read(fstest.MapFS{"patrons.csv": {Data: d.SISPatronCSV()}}, roster.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	var sites []string
	for _, s := range d.Schools {
		sites = append(sites, s.ShortName)
	}
	return &engine.DestinySource{
		Client:  cl,
		Query:   destiny.ItemQuery{ResourceTypes: []string{district.ResourceTypeIPad, district.ResourceTypeStaffIPad}, SiteShortNames: sites},
		Patrons: destiny.NewPatronCache(24 * time.Hour),
		Roster:  ros,
	}
}

// jamfProSide starts the Jamf Pro simulator and returns it with a target writing to it.
func jamfProSide(tb testing.TB, d *district.District, maxConcurrency int) (*jamfprosim.Server, *engine.JamfPro) {
	tb.Helper()
	sim := jamfprosim.New(d, jamfprosim.Options{ClientID: "sync", ClientSecret: "jamf-secret"})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	cl, err := pro.New(pro.Config{BaseURL: srv.URL, Auth: pro.OAuth{ClientID: "sync", ClientSecret: "jamf-secret"},
		MaxConcurrency: maxConcurrency, Backoff: fastBackoff, PaceStep: time.Microsecond, PaceMax: time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	return sim, &engine.JamfPro{Client: cl, MaxConcurrency: maxConcurrency}
}

// jamfSchoolSide starts the Jamf School simulator and returns it with a target writing to it.
func jamfSchoolSide(tb testing.TB, d *district.District) (*jamfschoolsim.Server, *engine.JamfSchool) {
	tb.Helper()
	sim := jamfschoolsim.New(d, jamfschoolsim.Options{})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	cl, err := school.New(school.Config{BaseURL: srv.URL + "/api", NetworkID: jamfschoolsim.DefaultNetworkID,
		APIKey: jamfschoolsim.DefaultAPIKey, Backoff: fastBackoff})
	if err != nil {
		tb.Fatal(err)
	}
	return sim, &engine.JamfSchool{Client: cl}
}

func mustTemplate(tb testing.TB, name, text string) *naming.Template {
	tb.Helper()
	t, err := naming.Compile(name, text)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// defaultPolicy is the policy the CRD's defaults make for the district: every school mapped to its
// building (Jamf Pro) or location (Jamf School, named after the school), Lost Mode on with stolen.
func defaultPolicy(tb testing.TB, d *district.District) plan.Policy {
	tb.Helper()
	schools := map[string]plan.School{}
	for _, s := range d.Schools {
		schools[s.ShortName] = plan.School{SchoolName: s.Name, Building: s.Building, Location: s.Name}
	}
	return plan.Policy{
		StudentPatronTypes: []string{district.PatronStudent},
		TeacherPatronTypes: []string{district.PatronTeacher, district.PatronStaff},
		StudentDeviceTypes: []string{district.ResourceTypeIPad},
		Schools:            schools,
		Naming: plan.Naming{
			Student:         mustTemplate(tb, "naming.student", district.DefaultStudentNameTemplate),
			Standard:        mustTemplate(tb, "naming.standard", "STU-{{.Serial}}"),
			TeacherCheckout: mustTemplate(tb, "naming.teacherCheckout", district.DefaultTeacherCheckoutName),
			EnforceName:     true,
		},
		Manage: plan.Manage{Name: true, User: true, Location: true, LostMode: true},
		User: plan.UserRules{
			Username: mustTemplate(tb, "fields.user.username", "{{.Username}}"),
			RealName: mustTemplate(tb, "fields.user.realName", "{{.FullName}}"),
			Email:    mustTemplate(tb, "fields.user.email", "{{.Email}}"),
		},
		Location: plan.LocationRules{
			Position: mustTemplate(tb, "fields.location.position", "{{with .Grade}}Grade {{.}}{{end}}"),
			Room:     mustTemplate(tb, "fields.location.room", "{{.Homeroom}}"),
		},
		LostMode: plan.LostMode{Enabled: true, Message: "This iPad belongs to the district. Please return it.",
			Phone: "555-0100", IncludeStolen: true, DisableWhenFound: true},
	}
}

// defaultSafety is the CRD's default budget.
func defaultSafety() plan.Safety {
	ch, cl, sh := plan.Percent(25), plan.Percent(10), plan.Percent(20)
	return plan.Safety{MaxChanges: &ch, MaxClears: &cl, MaxSourceShrink: &sh}
}
