// Package district is the in-memory model of one school district that seeds every simulator:
// the Destiny side (schools, patrons, items and their checkouts) and the MDM side (the devices Jamf
// Pro or Jamf School hold, with realistic drift). One District seeds both, so a test that generates
// it knows the expected outcome of a run.
//
// The types here are neutral: they carry the facts, not any vendor's JSON. Each simulator renders
// them in its own wire format (internal/sim/destiny, internal/sim/jamfpro, internal/sim/jamfschool).
package district

import "time"

// District is one generated (or hand-written) district.
type District struct {
	// Seed the generator used; zero for a hand-written district.
	Seed int64
	// Schools are the Destiny sites that circulate resources, with their MDM counterparts.
	Schools []School
	// ResourceTypes are the Destiny resource types items belong to (for example "iPad", "Chromebook", "Charger").
	ResourceTypes []ResourceType
	// Patrons are the people items can be checked out to: students, teachers and staff.
	Patrons []Patron
	// Items are Destiny's copies (one physical device each), with their current checkout.
	Items []Item
	// Devices are the MDM's inventory. A device matches an item by normalised serial number;
	// some devices have no item (NotInDestiny) and some items no device (NotInJamf).
	Devices []Device
}

// School is one Destiny site and the MDM location it maps to.
type School struct {
	// InternalID is Destiny's numeric site id (site.internalId on an item).
	InternalID int
	// GUID is Destiny's site guid.
	GUID string
	// ShortName is the site short name policies refer to (for example "LHS").
	ShortName string
	// Name is the display name (for example "Lincoln High School").
	Name string
	// Building is the Jamf Pro building name this site maps to.
	Building string
	// JamfSchoolLocationID is the Jamf School location id this site maps to.
	JamfSchoolLocationID int
}

// ResourceType is a Destiny resource type. Types form a tree under one root (Destiny's "Resources"):
// ParentID is the parent's ID, 0 for the root.
type ResourceType struct {
	ID       int
	GUID     string
	Name     string
	ParentID int
	// StudentDevice marks types handed to students (cleared on return).
	StudentDevice bool
}

// Patron types the generator uses. Districts name their own; policies list which ones are teachers.
const (
	PatronStudent = "Student"
	PatronTeacher = "Teacher"
	PatronStaff   = "Staff"
)

// Patron statuses as the Destiny patron import writes them.
const (
	StatusActive     = "A"
	StatusInactive   = "I"
	StatusRestricted = "R"
)

// Patron is a Destiny patron, with the SIS facts (grade, homeroom, teachers) Destiny's API does not return
// but the roster does.
type Patron struct {
	// DistrictID is the district-wide id (checkout.districtId, the key of /circulation/patrons/{districtId}/status).
	DistrictID string
	// InternalID is Destiny's numeric patron id (checkout.patronId).
	InternalID int
	GUID       string
	Barcode    string
	FirstName  string
	MiddleName string
	LastName   string
	Email      string
	// Username is the directory account the MDM knows the person by.
	Username string
	// Type is the patron type name (PatronStudent, PatronTeacher, PatronStaff, ...).
	Type string
	// Status is the patron's status at its primary site (StatusActive, StatusInactive, StatusRestricted).
	Status string
	// SiteShortName is the patron's primary site.
	SiteShortName string
	// Grade and Homeroom come from the SIS, not from Destiny's API.
	Grade    string
	Homeroom string
	// Teachers are the display names of the student's teachers (from the roster).
	Teachers []string
}

// Destiny item statuses, lower case as the API returns them.
const (
	ItemAvailable    = "available"
	ItemCheckedOut   = "checked out"
	ItemLost         = "lost"
	ItemStolen       = "stolen"
	ItemInTransit    = "in transit"
	ItemOutForRepair = "out for repairs"
)

// Item is one Destiny copy.
type Item struct {
	ID      int
	GUID    string
	Barcode string
	// SerialNumber is the raw top-level serialNumber, as a person typed it (may be empty, padded, lower case).
	SerialNumber string
	// SerialField is the raw value of the item field named "Serial Number", used by districts that keep
	// the serial there instead; empty when absent.
	SerialField string
	// Status is the lower-case item status (ItemAvailable, ItemCheckedOut, ...).
	Status string
	// ResourceType is the ResourceType.Name of the item.
	ResourceType string
	// ResourceName is the title of the resource the copy belongs to (for example "iPad 10th gen 64GB").
	ResourceName string
	// SiteShortName is the school that owns the item.
	SiteShortName string
	// Borrower is the Patron.DistrictID of the current checkout; empty when not checked out.
	Borrower string
	DateOut  time.Time
	DateDue  time.Time
	// Case says which awkward case the generator built this item for (CaseNormal, CaseNoSerial, ...).
	Case string
}

// Device is one device in the MDM.
type Device struct {
	// ID is the Jamf Pro mobile device id.
	ID int
	// UDID is the Jamf School device key.
	UDID string
	// ManagementID is Jamf Pro's MDM command target.
	ManagementID string
	// Serial is the device's hardware serial number as the MDM reports it (upper case, clean).
	Serial     string
	Name       string
	Model      string
	AssetTag   string
	Managed    bool
	Supervised bool
	// User and location as the MDM currently holds them.
	Username   string
	RealName   string
	Email      string
	Position   string
	Phone      string
	Building   string
	Department string
	Room       string
	// LostMode is Jamf Pro's security.lostModeEnabled.
	LostMode bool
	// Case says which drift or awkward case the generator built (CaseNormal, CaseStaleName, ...).
	Case string
}

// The awkward cases the generator builds in realistic proportions. Item and device cases share this list.
const (
	CaseNormal           = "Normal"           // in sync, nothing to do
	CaseStaleName        = "StaleName"        // Jamf name is out of date
	CaseWrongUser        = "WrongUser"        // Jamf shows another student
	CaseNoUser           = "NoUser"           // checked out, Jamf has no user yet
	CaseWrongBuilding    = "WrongBuilding"    // user right, building wrong
	CaseReturned         = "Returned"         // available in Destiny, Jamf still shows a user
	CaseInactiveStudent  = "InactiveStudent"  // checked out to an inactive (in-transit) student
	CaseTeacherCheckout  = "TeacherCheckout"  // checked out to a teacher or staff patron
	CaseLost             = "Lost"             // lost in Destiny, Lost Mode off in Jamf
	CaseLostAlready      = "LostAlready"      // lost in Destiny, Lost Mode already on
	CaseStolen           = "Stolen"           // stolen in Destiny
	CaseFound            = "Found"            // back from lost, Lost Mode still on in Jamf
	CaseNoSerial         = "NoSerial"         // Destiny item without a serial
	CaseMessySerial      = "MessySerial"      // serial with spaces, dashes or lower case
	CaseSerialInField    = "SerialInField"    // serial only in the "Serial Number" item field
	CaseDuplicateDestiny = "DuplicateDestiny" // same serial on two Destiny items
	CaseDuplicateJamf    = "DuplicateJamf"    // same serial on two Jamf devices
	CaseNotInJamf        = "NotInJamf"        // Destiny item Jamf does not know
	CaseNotInDestiny     = "NotInDestiny"     // Jamf device with no Destiny item
	CaseUnmanaged        = "Unmanaged"        // in Jamf, not managed
	CaseUnsupervised     = "Unsupervised"     // in Jamf, managed but not supervised
	CaseOtherStatus      = "OtherStatus"      // in transit, out for repairs, ...
	CaseNonStudentType   = "NonStudentType"   // available, of a type not marked as a student device
)
