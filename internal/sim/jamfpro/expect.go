package jamfpro

import (
	"fmt"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// State is what district.ExpectedJamfPro describes, read off the simulator's device.
func (s *Server) State(d Device) district.JamfProState {
	return district.JamfProState{Name: d.Name, Username: d.Username, RealName: d.RealName, Email: d.Email, Position: d.Position,
		Building: s.BuildingName(d.BuildingID), Department: s.DepartmentName(d.DepartmentID), Room: d.Room, LostMode: d.LostMode}
}

// Differences compares every device of the district with the oracle, district.ExpectedJamfPro: one line per
// device that is not in its expected state (nil when all are).
func (s *Server) Differences(d *district.District) []string {
	var wrong []string
	for i := range d.Devices {
		dev := &d.Devices[i]
		got, ok := s.Device(dev.ID)
		if !ok {
			wrong = append(wrong, fmt.Sprintf("%s device %d (%s): gone from Jamf Pro", dev.Case, dev.ID, dev.Serial))
			continue
		}
		if want, have := d.ExpectedJamfPro(dev), s.State(got); want != have {
			wrong = append(wrong, fmt.Sprintf("%s device %d (%s):\n  want %+v\n  got  %+v", dev.Case, dev.ID, dev.Serial, want, have))
		}
	}
	return wrong
}

// WriteCalls counts the calls that change devices: PATCHes and MDM commands (token requests are not
// writes).
func (s *Server) WriteCalls() int {
	n := 0
	for pattern, c := range s.http.Calls() {
		if strings.HasPrefix(pattern, "PATCH ") || pattern == "POST /api/v2/mdm/commands" {
			n += c
		}
	}
	return n
}
