package district

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Options drive Generate. The zero value (plus a seed) gives a 5-school district of 1,000 devices.
type Options struct {
	// Seed makes the district repeatable: the same Options always give the same District.
	Seed int64
	// Schools is the number of schools (default 5).
	Schools int
	// Devices is the number of physical devices (scenarios) to build (default 1000). Every scenario
	// owns one serial number; most give one Destiny item and one Jamf device, some give two items
	// (CaseDuplicateDestiny), two devices (CaseDuplicateJamf), an item only (CaseNoSerial,
	// CaseNotInJamf) or a device only (CaseNotInDestiny).
	Devices int
	// Weights are the relative frequencies of the cases; nil uses DefaultWeights. A case with weight 0
	// is never drawn, except that every case with a positive weight appears at least once when
	// Devices is at least the number of such cases.
	Weights map[string]int
	// Now is the reference time checkouts are dated against (default 2026-09-14 08:00 UTC).
	Now time.Time
}

// DefaultWeights are realistic proportions (per roughly 1,000 devices): most devices are in sync or
// have simple drift, the awkward cases are a few each.
var DefaultWeights = map[string]int{
	CaseNormal:           600,
	CaseStaleName:        60,
	CaseWrongUser:        30,
	CaseNoUser:           40,
	CaseWrongBuilding:    15,
	CaseReturned:         40,
	CaseInactiveStudent:  10,
	CaseTeacherCheckout:  15,
	CaseLost:             8,
	CaseLostAlready:      4,
	CaseStolen:           3,
	CaseFound:            3,
	CaseNoSerial:         10,
	CaseMessySerial:      25,
	CaseSerialInField:    10,
	CaseDuplicateDestiny: 3,
	CaseDuplicateJamf:    3,
	CaseNotInJamf:        20,
	CaseNotInDestiny:     20,
	CaseUnmanaged:        10,
	CaseUnsupervised:     10,
	CaseOtherStatus:      15,
	CaseNonStudentType:   10,
}

// AllCases lists every Case* constant, in a stable order.
var AllCases = []string{
	CaseNormal, CaseStaleName, CaseWrongUser, CaseNoUser, CaseWrongBuilding, CaseReturned,
	CaseInactiveStudent, CaseTeacherCheckout, CaseLost, CaseLostAlready, CaseStolen, CaseFound,
	CaseNoSerial, CaseMessySerial, CaseSerialInField, CaseDuplicateDestiny, CaseDuplicateJamf,
	CaseNotInJamf, CaseNotInDestiny, CaseUnmanaged, CaseUnsupervised, CaseOtherStatus, CaseNonStudentType,
}

// Names the generator assumes for a device that is in sync. A policy that uses the same rules
// (DefaultStudentNameTemplate, the DESIGN.md defaults for the standard and teacher names, building
// from School.Building, position "Grade N", room = homeroom: the CRD's defaults) sees every
// CaseNormal device as InSync.
const (
	// DefaultStudentNameTemplate is the naming.student template the generated in-sync names follow:
	// the CRD's default (api/v1alpha1 Naming.Student).
	DefaultStudentNameTemplate = "{{.LastName}}, {{.FirstName}} - {{.Serial}}"
	// DefaultStandardName is the standard (unassigned) name prefix: STU-{serial}.
	DefaultStandardNamePrefix = "STU-"
	// DefaultTeacherCheckoutName is the name of a device checked out to a teacher or staff patron.
	DefaultTeacherCheckoutName = "Return to Library"
	// EmailDomain is the domain of generated e-mail addresses.
	EmailDomain = "example-k12.org"
	// ResourceTypeIPad and ResourceTypeStaffIPad are the generated resource types.
	ResourceTypeIPad      = "iPad"
	ResourceTypeStaffIPad = "Staff iPad"
	// ResourceTypeRoot and ResourceTypeTechnology are the containers above them: the full path of
	// the iPad type is "Resources/Technology/iPad".
	ResourceTypeRoot       = "Resources"
	ResourceTypeTechnology = "Technology"
)

// StudentDeviceName is DefaultStudentNameTemplate rendered in Go.
func StudentDeviceName(p *Patron, serial string) string {
	return p.LastName + ", " + p.FirstName + " - " + serial
}

// DevicePosition is the CRD's default position rule, {{with .Grade}}Grade {{.}}{{end}}, rendered in Go.
func DevicePosition(grade string) string {
	if grade == "" {
		return ""
	}
	return "Grade " + grade
}

// StandardDeviceName is the DESIGN.md default standard name, STU-{serial}.
func StandardDeviceName(serial string) string { return DefaultStandardNamePrefix + serial }

// CaseExpectations says, for each case, what a run with the default rules (see the constants above,
// teacher patron types Teacher and Staff, student device type "iPad", Lost Mode enabled with
// includeStolen and disableWhenFound) is expected to do. Tests use it as documentation and as a
// checklist; the engine's own table tests are the specification.
var CaseExpectations = map[string]string{
	CaseNormal:           "InSync: no call",
	CaseStaleName:        "Updated: rename to the student name",
	CaseWrongUser:        "Reassigned: name, user and location set to the borrower",
	CaseNoUser:           "Assigned: name, user and location set to the borrower",
	CaseWrongBuilding:    "Updated: building set from the school map",
	CaseReturned:         "cleared: user and location cleared, renamed STU-{serial}",
	CaseInactiveStudent:  "renamed STU-{serial}; user and location untouched",
	CaseTeacherCheckout:  "renamed \"Return to Library\"; user and location untouched",
	CaseLost:             "Lost Mode enabled",
	CaseLostAlready:      "InSync: Lost Mode already on",
	CaseStolen:           "Lost Mode enabled when the policy includes stolen, else NoRuleForStatus",
	CaseFound:            "Lost Mode disabled (checked out again, device otherwise in sync)",
	CaseNoSerial:         "skipped NoSerial (no Jamf device is generated)",
	CaseMessySerial:      "InSync: the messy Destiny serial matches after normalising",
	CaseSerialInField:    "InSync: the serial is read from the \"Serial Number\" item field",
	CaseDuplicateDestiny: "skipped DuplicateSerial (two items, one device)",
	CaseDuplicateJamf:    "skipped DuplicateSerial (one item, two devices)",
	CaseNotInJamf:        "skipped NotInJamf (no Jamf device)",
	CaseNotInDestiny:     "reported NotInDestiny, never touched (no Destiny item)",
	CaseUnmanaged:        "skipped Unmanaged",
	CaseUnsupervised:     "skipped Unsupervised",
	CaseOtherStatus:      "no change, NoRuleForStatus (in transit or out for repairs)",
	CaseNonStudentType:   "skip NotStudentDevice: available, but the type is not a student device, so nothing is cleared",
}

var (
	schoolNames = []string{"Lincoln", "Washington", "Jefferson", "Roosevelt", "Madison", "Franklin", "Adams",
		"Jackson", "Monroe", "Kennedy", "Hamilton", "Garfield", "Grant", "Hoover", "Wilson", "Truman",
		"Eisenhower", "Carver", "Edison", "Whitman", "Riverside", "Lakeview", "Hillcrest", "Oakwood",
		"Maplewood", "Cedar Ridge", "Pine Valley", "Sunnyside", "Westfield", "Eastbrook"}
	levels = []struct {
		name, letter, typ string
		grades            []string
	}{
		{"Elementary School", "E", "Elementary Schools", []string{"K", "1", "2", "3", "4", "5"}},
		{"Middle School", "M", "Middle Schools", []string{"6", "7", "8"}},
		{"High School", "H", "High Schools", []string{"9", "10", "11", "12"}},
	}
	firstNames = []string{"Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella",
		"Lucas", "Mia", "Mateo", "Amelia", "Benjamin", "Harper", "Levi", "Evelyn", "Henry", "Camila",
		"Sebastian", "Aaliyah", "Jayden", "Priya", "Wei", "Fatima", "Diego", "Chloe", "Omar", "Zoe",
		"Jose", "Nora", "Malik", "Hana", "Luis", "Grace", "Ethan", "Layla", "Carter", "Ximena", "Kai"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
		"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
		"Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Nguyen",
		"Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
		"Kim", "Patel", "O'Brien", "Van der Berg"}
	serialPrefixes = []string{"DMP", "DLX", "F9F", "GG7", "DMQ", "F4K", "H4T", "J7K"}
	models         = []string{"iPad (9th generation)", "iPad (10th generation)", "iPad Air (5th generation)"}
	resourceNames  = []string{"iPad 9th gen 64GB", "iPad 10th gen 64GB", "iPad Air 5th gen 64GB"}
)

var userReplacer = strings.NewReplacer(" ", "", "'", "")

// serialAlphabet is Apple's serial alphabet: digits and upper-case letters without O and I.
const serialAlphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

type gen struct {
	rnd      *rand.Rand
	d        *District
	now      time.Time
	serials  map[string]struct{}
	teachers [][]int // per school: indexes of teacher/staff patrons
	nextPat  int
	nextItem int
	nextDev  int
	users    map[string]int
}

// Generate builds a district deterministically from opts.
func Generate(opts Options) *District {
	if opts.Schools <= 0 {
		opts.Schools = 5
	}
	if opts.Devices <= 0 {
		opts.Devices = 1000
	}
	if opts.Now.IsZero() {
		opts.Now = time.Date(2026, 9, 14, 8, 0, 0, 0, time.UTC)
	}
	weights := opts.Weights
	if weights == nil {
		weights = DefaultWeights
	}
	seed := uint64(opts.Seed)
	g := &gen{
		rnd:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:     opts.Now.UTC(),
		serials: make(map[string]struct{}, opts.Devices+opts.Devices/50),
		users:   map[string]int{},
		d: &District{
			Seed:    opts.Seed,
			Items:   make([]Item, 0, opts.Devices+opts.Devices/100),
			Devices: make([]Device, 0, opts.Devices+opts.Devices/100),
			Patrons: make([]Patron, 0, opts.Devices+opts.Devices/10),
		},
		nextPat:  1000,
		nextItem: 1,
		nextDev:  1,
	}
	g.schools(opts.Schools)
	// Destiny's resource types are a tree: Resources > Technology > iPad, Staff iPad. The containers'
	// GUIDs are fixed so the random stream (and every generated district) stays as it was.
	g.d.ResourceTypes = []ResourceType{
		{ID: 1, GUID: "F7449399-97F4-4780-9EFD-136E16871CCA", Name: ResourceTypeRoot},
		{ID: 2, GUID: "3B1C2D4E-5F60-4A7B-8C9D-0E1F2A3B4C5D", Name: ResourceTypeTechnology, ParentID: 1},
		{ID: 10, GUID: g.guid(), Name: ResourceTypeIPad, StudentDevice: true, ParentID: 2},
		{ID: 11, GUID: g.guid(), Name: ResourceTypeStaffIPad, StudentDevice: false, ParentID: 2},
	}
	// Teachers and staff first: every school has a few, students list them as teachers.
	g.teachers = make([][]int, opts.Schools)
	perSchool := max(3, opts.Devices/opts.Schools/25)
	for s := range g.d.Schools {
		for k := range perSchool {
			typ := PatronTeacher
			if k%5 == 4 {
				typ = PatronStaff
			}
			g.teachers[s] = append(g.teachers[s], g.patron(s, typ, StatusActive))
		}
	}
	for _, c := range g.caseSequence(opts.Devices, weights) {
		g.scenario(c)
	}
	return g.d
}

// caseSequence draws n cases by weight, with every positive-weight case at least once when n allows,
// in a shuffled order.
func (g *gen) caseSequence(n int, weights map[string]int) []string {
	var names []string
	total := 0
	for _, c := range AllCases {
		if w := weights[c]; w > 0 {
			names = append(names, c)
			total += w
		}
	}
	seq := make([]string, 0, n)
	if len(names) == 0 {
		for range n {
			seq = append(seq, CaseNormal)
		}
		return seq
	}
	if n >= len(names) {
		seq = append(seq, names...)
	}
	for len(seq) < n {
		x := g.rnd.IntN(total)
		for _, c := range names {
			x -= weights[c]
			if x < 0 {
				seq = append(seq, c)
				break
			}
		}
	}
	g.rnd.Shuffle(len(seq), func(i, j int) { seq[i], seq[j] = seq[j], seq[i] })
	return seq
}

func (g *gen) schools(n int) {
	used := map[string]int{}
	for i := range n {
		base := schoolNames[i%len(schoolNames)]
		lv := levels[i%len(levels)]
		name := base + " " + lv.name
		if round := i / len(schoolNames); round > 0 {
			name = fmt.Sprintf("%s %s %d", base, lv.name, round+1)
		}
		short := strings.ToUpper(strings.ReplaceAll(base, " ", ""))[:3] + lv.letter + "S"
		used[short]++
		if used[short] > 1 {
			short += strconv.Itoa(used[short])
		}
		g.d.Schools = append(g.d.Schools, School{
			InternalID:           100 + i,
			GUID:                 g.guid(),
			ShortName:            short,
			Name:                 name,
			Building:             name,
			JamfSchoolLocationID: i + 1,
		})
	}
}

func (g *gen) level(school int) int { return school % len(levels) }

// patron appends a patron of school s and returns its index.
func (g *gen) patron(s int, typ, status string) int {
	sc := &g.d.Schools[s]
	first := firstNames[g.rnd.IntN(len(firstNames))]
	last := lastNames[g.rnd.IntN(len(lastNames))]
	id := g.nextPat
	g.nextPat++
	userBase := strings.ToLower(first[:1] + userReplacer.Replace(last))
	g.users[userBase]++
	username := userBase
	if k := g.users[userBase]; k > 1 {
		username = userBase + strconv.Itoa(k)
	}
	p := Patron{
		DistrictID:    fmt.Sprintf("%c%06d", typ[0], id),
		InternalID:    id,
		GUID:          g.guid(),
		Barcode:       fmt.Sprintf("P%08d", id),
		FirstName:     first,
		LastName:      last,
		Email:         username + "@" + EmailDomain,
		Username:      username,
		Type:          typ,
		Status:        status,
		SiteShortName: sc.ShortName,
	}
	if g.rnd.IntN(3) == 0 {
		p.MiddleName = firstNames[g.rnd.IntN(len(firstNames))]
	}
	if typ == PatronStudent {
		lv := levels[g.level(s)]
		p.Grade = lv.grades[g.rnd.IntN(len(lv.grades))]
		ts := g.teachers[s]
		hr := ts[g.rnd.IntN(len(ts))]
		p.Homeroom = "Room " + strconv.Itoa(100+hr%60)
		p.Teachers = []string{g.displayName(hr), g.displayName(ts[g.rnd.IntN(len(ts))])}
		if p.Teachers[0] == p.Teachers[1] {
			p.Teachers = p.Teachers[:1]
		}
	}
	g.d.Patrons = append(g.d.Patrons, p)
	return len(g.d.Patrons) - 1
}

func (g *gen) displayName(i int) string {
	p := &g.d.Patrons[i]
	return p.FirstName + " " + p.LastName
}

// serial returns a new unique Apple-format serial: 12 characters, a factory prefix then 9 from
// Apple's alphabet.
func (g *gen) serial() string {
	for {
		var b [12]byte
		copy(b[:3], serialPrefixes[g.rnd.IntN(len(serialPrefixes))])
		for i := 3; i < 12; i++ {
			b[i] = serialAlphabet[g.rnd.IntN(len(serialAlphabet))]
		}
		s := string(b[:])
		if _, dup := g.serials[s]; !dup {
			g.serials[s] = struct{}{}
			return s
		}
	}
}

// guid returns a random upper-case 8-4-4-4-12 identifier, as Destiny prints them.
func (g *gen) guid() string {
	var b [36]byte
	x, y := g.rnd.Uint64(), g.rnd.Uint64()
	j := 0
	for i := range 36 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		var nib uint64
		if j < 16 {
			nib = x >> (4 * j) & 0xf
		} else {
			nib = y >> (4 * (j - 16)) & 0xf
		}
		j++
		b[i] = "0123456789ABCDEF"[nib]
	}
	return string(b[:])
}

func (g *gen) udid() string {
	// Modern iPad UDIDs: 8 hex, dash, 16 hex.
	x, y := g.rnd.Uint64(), g.rnd.Uint64()
	return fmt.Sprintf("%08X-%016X", uint32(x), y)
}

// messy returns serial as a person might have typed it into Destiny.
func (g *gen) messy(s string) string {
	switch g.rnd.IntN(5) {
	case 0:
		return " " + s + " "
	case 1:
		return strings.ToLower(s)
	case 2:
		return s[:4] + "-" + s[4:8] + "-" + s[8:]
	case 3:
		return s + "\u00a0"
	default:
		return strings.ToLower(s[:6]) + " " + s[6:]
	}
}

// scenario builds one case.
func (g *gen) scenario(c string) {
	s := g.rnd.IntN(len(g.d.Schools))
	school := &g.d.Schools[s]
	serial := g.serial()
	model := g.rnd.IntN(len(models))

	newItem := func(status, typ string) *Item {
		id := g.nextItem
		g.nextItem++
		g.d.Items = append(g.d.Items, Item{
			ID:            id,
			GUID:          g.guid(),
			Barcode:       fmt.Sprintf("T%08d", 20000000+id),
			SerialNumber:  serial,
			Status:        status,
			ResourceType:  typ,
			ResourceName:  resourceNames[model],
			SiteShortName: school.ShortName,
			Case:          c,
		})
		return &g.d.Items[len(g.d.Items)-1]
	}
	checkout := func(it *Item, p int) {
		it.Status = ItemCheckedOut
		it.Borrower = g.d.Patrons[p].DistrictID
		days := 1 + g.rnd.IntN(200)
		it.DateOut = g.now.Add(-time.Duration(days)*24*time.Hour + time.Duration(g.rnd.IntN(8*3600))*time.Second).Truncate(time.Second)
		it.DateDue = time.Date(2027, 6, 15, 0, 0, 0, 0, time.UTC)
	}
	newDevice := func() *Device {
		id := g.nextDev
		g.nextDev++
		g.d.Devices = append(g.d.Devices, Device{
			ID:           id,
			UDID:         g.udid(),
			ManagementID: strings.ToLower(g.guid()),
			Serial:       serial,
			Name:         StandardDeviceName(serial),
			Model:        models[model],
			Managed:      true,
			Supervised:   true,
			Case:         c,
		})
		return &g.d.Devices[len(g.d.Devices)-1]
	}
	assign := func(dev *Device, p int, sc *School) {
		pt := &g.d.Patrons[p]
		dev.Name = StudentDeviceName(pt, serial)
		dev.Username = pt.Username
		dev.RealName = pt.FirstName + " " + pt.LastName
		dev.Email = pt.Email
		dev.Building = sc.Building
		dev.Position = DevicePosition(pt.Grade)
		dev.Room = pt.Homeroom
	}
	student := func(status string) int { return g.patron(s, PatronStudent, status) }

	switch c {
	case CaseNormal, CaseStaleName, CaseWrongUser, CaseNoUser, CaseWrongBuilding, CaseFound,
		CaseMessySerial, CaseSerialInField, CaseUnmanaged, CaseUnsupervised, CaseDuplicateJamf:
		it := newItem(ItemCheckedOut, ResourceTypeIPad)
		p := student(StatusActive)
		checkout(it, p)
		dev := newDevice()
		assign(dev, p, school)
		switch c {
		case CaseStaleName:
			dev.Name = "iPad (" + strconv.Itoa(1+g.rnd.IntN(40)) + ")"
		case CaseWrongUser:
			assign(dev, student(StatusActive), school)
		case CaseNoUser:
			*dev = Device{ID: dev.ID, UDID: dev.UDID, ManagementID: dev.ManagementID, Serial: serial,
				Name: StandardDeviceName(serial), Model: dev.Model, Managed: true, Supervised: true, Case: c}
		case CaseWrongBuilding:
			other := &g.d.Schools[(s+1)%len(g.d.Schools)]
			if other == school {
				dev.Building = "District Office"
			} else {
				dev.Building = other.Building
			}
		case CaseFound:
			dev.LostMode = true
		case CaseMessySerial:
			it.SerialNumber = g.messy(serial)
		case CaseSerialInField:
			it.SerialNumber = ""
			it.SerialField = serial
			if g.rnd.IntN(2) == 0 {
				it.SerialField = strings.ToLower(serial)
			}
		case CaseUnmanaged:
			dev.Managed, dev.Supervised = false, false
		case CaseUnsupervised:
			dev.Supervised = false
		case CaseDuplicateJamf:
			twin := newDevice()
			twin.Name = "iPad"
			twin.Model = dev.Model
		}
	case CaseReturned:
		newItem(ItemAvailable, ResourceTypeIPad)
		assign(newDevice(), student(StatusActive), school)
	case CaseInactiveStudent:
		it := newItem(ItemCheckedOut, ResourceTypeIPad)
		p := student(StatusInactive)
		checkout(it, p)
		assign(newDevice(), p, school)
	case CaseTeacherCheckout:
		it := newItem(ItemCheckedOut, ResourceTypeIPad)
		ts := g.teachers[s]
		checkout(it, ts[g.rnd.IntN(len(ts))])
		assign(newDevice(), student(StatusActive), school)
	case CaseLost, CaseLostAlready, CaseStolen:
		status := ItemLost
		if c == CaseStolen {
			status = ItemStolen
		}
		newItem(status, ResourceTypeIPad)
		dev := newDevice()
		assign(dev, student(StatusActive), school)
		dev.LostMode = c == CaseLostAlready
	case CaseNoSerial:
		it := newItem(ItemCheckedOut, ResourceTypeIPad)
		it.SerialNumber = ""
		checkout(it, student(StatusActive))
		delete(g.serials, serial)
	case CaseDuplicateDestiny:
		it := newItem(ItemCheckedOut, ResourceTypeIPad)
		p := student(StatusActive)
		checkout(it, p)
		newItem(ItemAvailable, ResourceTypeIPad)
		assign(newDevice(), p, school)
	case CaseNotInJamf:
		it := newItem(ItemCheckedOut, ResourceTypeIPad)
		checkout(it, student(StatusActive))
	case CaseNotInDestiny:
		assign(newDevice(), student(StatusActive), school)
	case CaseOtherStatus:
		status := ItemInTransit
		if g.rnd.IntN(2) == 0 {
			status = ItemOutForRepair
		}
		newItem(status, ResourceTypeIPad)
		newDevice()
	case CaseNonStudentType:
		newItem(ItemAvailable, ResourceTypeStaffIPad)
		dev := newDevice()
		ts := g.teachers[s]
		t := &g.d.Patrons[ts[g.rnd.IntN(len(ts))]]
		dev.Name = t.FirstName + " " + t.LastName + " iPad"
		dev.Username, dev.RealName, dev.Email = t.Username, t.FirstName+" "+t.LastName, t.Email
		dev.Building = school.Building
	}
}

// CaseCounts counts items and devices per case, for tests and benchmark output.
func (d *District) CaseCounts() (items, devices map[string]int) {
	items, devices = map[string]int{}, map[string]int{}
	for i := range d.Items {
		items[d.Items[i].Case]++
	}
	for i := range d.Devices {
		devices[d.Devices[i].Case]++
	}
	return items, devices
}

// Patron returns the patron with the given district id, or nil.
func (d *District) Patron(districtID string) *Patron {
	for i := range d.Patrons {
		if d.Patrons[i].DistrictID == districtID {
			return &d.Patrons[i]
		}
	}
	return nil
}

// School returns the school with the given short name, or nil.
func (d *District) School(shortName string) *School {
	for i := range d.Schools {
		if d.Schools[i].ShortName == shortName {
			return &d.Schools[i]
		}
	}
	return nil
}
