package district

import "github.com/k12dev/devicesync-operator/internal/serial"

// JamfProState is the part of a Jamf Pro device a run may write.
type JamfProState struct {
	Name, Username, RealName, Email, Position, Building, Department, Room string
	LostMode                                                              bool
}

// ExpectedJamfPro is the oracle of the end-to-end tests and the demo: the state DESIGN.md's decision
// table says dev must be in after one run of the default policy (CRD defaults, every school mapped to
// its Building, the district's roster, Lost Mode enabled with includeStolen and disableWhenFound),
// worked out from the generator's cases, not from the planner.
func (d *District) ExpectedJamfPro(dev *Device) JamfProState {
	st := JamfProState{Name: dev.Name, Username: dev.Username, RealName: dev.RealName, Email: dev.Email, Position: dev.Position,
		Building: dev.Building, Department: dev.Department, Room: dev.Room, LostMode: dev.LostMode}
	s := serial.Normalize(dev.Serial)
	item := d.ItemBySerial(s)
	switch dev.Case {
	case CaseNormal, CaseStaleName, CaseWrongUser, CaseNoUser, CaseWrongBuilding, CaseMessySerial, CaseSerialInField, CaseFound:
		p := d.Patron(item.Borrower)
		st = JamfProState{Name: StudentDeviceName(p, s), Username: p.Username, RealName: p.FirstName + " " + p.LastName,
			Email: p.Email, Position: DevicePosition(p.Grade), Building: d.School(item.SiteShortName).Building,
			Department: dev.Department, Room: p.Homeroom}
	case CaseReturned:
		st = JamfProState{Name: StandardDeviceName(s)}
	case CaseInactiveStudent:
		st.Name = StandardDeviceName(s)
	case CaseTeacherCheckout:
		st.Name = DefaultTeacherCheckoutName
	case CaseLost, CaseStolen:
		st.LostMode = true
	}
	return st
}

// ItemBySerial returns the first item whose serial (top-level or in the serial field) normalises to s, or nil.
func (d *District) ItemBySerial(s string) *Item {
	for i := range d.Items {
		if serial.Normalize(d.Items[i].SerialNumber+d.Items[i].SerialField) == s {
			return &d.Items[i]
		}
	}
	return nil
}
