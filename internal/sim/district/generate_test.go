package district

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var appleSerial = regexp.MustCompile(`^[0-9A-HJ-NP-Z]{12}$`)

func normalize(s string) string {
	// A local copy of the rule (internal/serial owns it; this package must not depend on it).
	s = strings.ToUpper(s)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, s)
}

func TestGenerateIsDeterministicForASeed(t *testing.T) {
	a := Generate(Options{Seed: 42, Devices: 500})
	b := Generate(Options{Seed: 42, Devices: 500})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two districts generated from the same options differ")
	}
	c := Generate(Options{Seed: 43, Devices: 500})
	if reflect.DeepEqual(a.Items, c.Items) {
		t.Fatal("districts generated from different seeds are identical")
	}
}

func TestGenerateThousandDevicesContainEveryCase(t *testing.T) {
	d := Generate(Options{Seed: 1, Devices: 1000})
	items, devices := d.CaseCounts()
	for _, c := range AllCases {
		if items[c]+devices[c] == 0 {
			t.Errorf("case %s missing from a 1,000-device district", c)
		}
		if _, ok := CaseExpectations[c]; !ok {
			t.Errorf("case %s has no documented expectation", c)
		}
	}
	if len(AllCases) != len(DefaultWeights) {
		t.Errorf("AllCases has %d cases, DefaultWeights %d", len(AllCases), len(DefaultWeights))
	}
}

func TestGenerateProportionsAreRealistic(t *testing.T) {
	d := Generate(Options{Seed: 7, Devices: 10000})
	items, _ := d.CaseCounts()
	if share := float64(items[CaseNormal]) / float64(len(d.Items)); share < 0.5 || share > 0.75 {
		t.Errorf("normal items are %.2f of all items, want most of them (0.5..0.75)", share)
	}
	if items[CaseDuplicateDestiny] > len(d.Items)/50 {
		t.Errorf("%d duplicate-serial items out of %d: duplicates should be rare", items[CaseDuplicateDestiny], len(d.Items))
	}
}

func TestGenerateSchools(t *testing.T) {
	d := Generate(Options{Seed: 3, Schools: 40, Devices: 100})
	if len(d.Schools) != 40 {
		t.Fatalf("got %d schools, want 40", len(d.Schools))
	}
	short := map[string]bool{}
	loc := map[int]bool{}
	for _, s := range d.Schools {
		if short[s.ShortName] {
			t.Errorf("short name %q used twice", s.ShortName)
		}
		short[s.ShortName] = true
		if loc[s.JamfSchoolLocationID] || s.JamfSchoolLocationID == 0 {
			t.Errorf("school %s: Jamf School location id %d not unique and positive", s.ShortName, s.JamfSchoolLocationID)
		}
		loc[s.JamfSchoolLocationID] = true
		if s.Building == "" || s.GUID == "" || s.InternalID == 0 || len(s.ShortName) > 8 {
			t.Errorf("school %+v incomplete", s)
		}
	}
}

// rules checks the facts every generated district promises, case by case.
func TestGenerateCasesHaveTheirShape(t *testing.T) {
	d := Generate(Options{Seed: 11, Devices: 3000})
	patrons := map[string]*Patron{}
	for i := range d.Patrons {
		p := &d.Patrons[i]
		if patrons[p.DistrictID] != nil {
			t.Fatalf("district id %s used twice", p.DistrictID)
		}
		patrons[p.DistrictID] = p
	}
	devBySerial := map[string][]*Device{}
	for i := range d.Devices {
		dv := &d.Devices[i]
		if !appleSerial.MatchString(dv.Serial) {
			t.Errorf("device %d serial %q is not in Apple's format", dv.ID, dv.Serial)
		}
		devBySerial[dv.Serial] = append(devBySerial[dv.Serial], dv)
	}
	itemsBySerial := map[string][]*Item{}
	for i := range d.Items {
		it := &d.Items[i]
		raw := it.SerialNumber
		if raw == "" {
			raw = it.SerialField
		}
		key := normalize(raw)
		if key != "" {
			itemsBySerial[key] = append(itemsBySerial[key], it)
		}
		if (it.Status == ItemCheckedOut) != (it.Borrower != "") {
			t.Errorf("item %d (%s): status %q with borrower %q", it.ID, it.Case, it.Status, it.Borrower)
		}
		if it.Borrower != "" && (patrons[it.Borrower] == nil || it.DateOut.IsZero() || !it.DateDue.After(it.DateOut)) {
			t.Errorf("item %d (%s): checkout to unknown patron %q or bad dates", it.ID, it.Case, it.Borrower)
		}
		devs := devBySerial[key]
		var p *Patron
		if it.Borrower != "" {
			p = patrons[it.Borrower]
		}
		switch it.Case {
		case CaseNoSerial:
			if key != "" {
				t.Errorf("item %d: NoSerial item has serial %q", it.ID, raw)
			}
		case CaseMessySerial:
			if it.SerialNumber == key {
				t.Errorf("item %d: MessySerial serial %q is clean", it.ID, it.SerialNumber)
			}
		case CaseSerialInField:
			if it.SerialNumber != "" || it.SerialField == "" {
				t.Errorf("item %d: SerialInField has top-level %q, field %q", it.ID, it.SerialNumber, it.SerialField)
			}
		case CaseNotInJamf:
			if len(devs) != 0 {
				t.Errorf("item %d: NotInJamf serial %s is in Jamf", it.ID, key)
			}
		case CaseDuplicateJamf:
			if len(devs) != 2 {
				t.Errorf("item %d: DuplicateJamf serial on %d devices, want 2", it.ID, len(devs))
			}
		case CaseInactiveStudent:
			if p.Status != StatusInactive || p.Type != PatronStudent {
				t.Errorf("item %d: InactiveStudent borrower is %s/%s", it.ID, p.Type, p.Status)
			}
		case CaseTeacherCheckout:
			if p.Type != PatronTeacher && p.Type != PatronStaff {
				t.Errorf("item %d: TeacherCheckout borrower is a %s", it.ID, p.Type)
			}
		case CaseLost, CaseLostAlready:
			if it.Status != ItemLost || devs[0].LostMode != (it.Case == CaseLostAlready) {
				t.Errorf("item %d (%s): status %q, Lost Mode %v", it.ID, it.Case, it.Status, devs[0].LostMode)
			}
		case CaseStolen:
			if it.Status != ItemStolen {
				t.Errorf("item %d: Stolen has status %q", it.ID, it.Status)
			}
		case CaseReturned:
			if it.Status != ItemAvailable || devs[0].Username == "" {
				t.Errorf("item %d: Returned is %q with Jamf user %q", it.ID, it.Status, devs[0].Username)
			}
		case CaseNonStudentType:
			if it.ResourceType != ResourceTypeStaffIPad || it.Status != ItemAvailable {
				t.Errorf("item %d: NonStudentType is %s/%s", it.ID, it.ResourceType, it.Status)
			}
		case CaseNormal:
			dv := devs[0]
			want := Device{ID: dv.ID, UDID: dv.UDID, ManagementID: dv.ManagementID, Serial: key,
				Name: StudentDeviceName(p, key), Model: dv.Model, Managed: true, Supervised: true,
				Username: p.Username, RealName: p.FirstName + " " + p.LastName, Email: p.Email,
				Position: "Grade " + p.Grade, Room: p.Homeroom, Building: d.School(it.SiteShortName).Building, Case: CaseNormal}
			if len(devs) != 1 || *dv != want || p.Status != StatusActive || p.Type != PatronStudent {
				t.Errorf("item %d: Normal device not in sync:\n got %+v\nwant %+v", it.ID, *dv, want)
			}
		}
	}
	for key, its := range itemsBySerial {
		if len(its) > 1 && its[0].Case != CaseDuplicateDestiny {
			t.Errorf("serial %s on %d items of case %s", key, len(its), its[0].Case)
		}
	}
	for key, devs := range devBySerial {
		if len(devs) > 1 && devs[0].Case != CaseDuplicateJamf {
			t.Errorf("serial %s on %d devices of case %s", key, len(devs), devs[0].Case)
		}
		if devs[0].Case == CaseNotInDestiny && len(itemsBySerial[key]) != 0 {
			t.Errorf("NotInDestiny serial %s has a Destiny item", key)
		}
	}
	for _, p := range d.Patrons {
		if p.Type == PatronStudent && (p.Grade == "" || p.Homeroom == "" || len(p.Teachers) == 0) {
			t.Errorf("student %s lacks grade, homeroom or teachers", p.DistrictID)
		}
		if !strings.HasSuffix(p.Email, "@"+EmailDomain) || p.Username == "" {
			t.Errorf("patron %s has email %q username %q", p.DistrictID, p.Email, p.Username)
		}
	}
}

func TestGenerateHundredThousandDevices(t *testing.T) {
	d := Generate(Options{Seed: 5, Schools: 60, Devices: 100000})
	if len(d.Devices) < 95000 || len(d.Items) < 95000 {
		t.Fatalf("got %d devices and %d items for 100,000 scenarios", len(d.Devices), len(d.Items))
	}
}

func BenchmarkGenerate100k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Generate(Options{Seed: int64(b.N), Schools: 60, Devices: 100000})
	}
}
