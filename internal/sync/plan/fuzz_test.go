package plan

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/roster"
)

// FuzzBuild plans random snapshots of both systems, drawn from the fuzz input: serials that collide,
// are messy or empty, every status and patron type, borrowers with and without roster rows, devices
// unmanaged or unreadable, on Jamf Pro or Jamf School, with or without a roster. Whatever the input,
// Build must not panic, its plan must hold checkInvariants, it must not depend on the order of the
// inputs, and it must never clear a device, or empty its user, unless Destiny says the item is available,
// nor, with a roster, give a device a user the roster has no row for.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{})
	// Policy bytes: Jamf School, roster, 4 x not managed, Lost Mode off, includeStolen, not disableWhenFound.
	// Then the item count and each item (barcode, serial, status, resource type, site, asset tag, borrower?
	// district id, first, middle, last name, email, patron type, status, lookup error, roster row? username,
	// grade, homeroom, email), the device count and each device (serial, name, unmanaged, unsupervised,
	// unreadable, username, real name, email, position, building, department, room, location, Lost Mode).
	f.Add([]byte{ // an active student with no username anywhere, holding a device with a user: NoUsername
		0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 0,
		1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2})
	f.Add([]byte{ // the same student missing from a configured roster: NotInRoster
		0, 1, 200, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0,
		1, 0, 1, 0, 0, 0, 3, 3, 8, 5, 6, 0, 4, 0, 2})
	f.Add([]byte{ // a returned iPad, a lost one and a stolen one, with users: only the returned one is cleared
		0, 0, 0, 0, 0, 0, 0, 1, 0,
		3, 0, 0, 0, 0, 0, 0, 0,
		0, 3, 2, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0,
		0, 4, 3, 0, 0, 0, 1, 2, 2, 0, 1, 0, 0, 0, 0, 1, 2, 1, 1, 0,
		3, 0, 1, 0, 0, 0, 2, 7, 8, 5, 6, 0, 4, 0, 2,
		3, 1, 0, 0, 0, 3, 7, 8, 5, 6, 0, 4, 0, 2,
		4, 1, 0, 0, 0, 3, 7, 8, 5, 6, 0, 4, 0, 1})
	f.Add([]byte(strings.Repeat("\x01\x02\x03\x04\x05\x06\x07", 40)))
	f.Add([]byte(strings.Repeat("\x10\x00\xff\x01\x7f\x02", 50)))
	base := defaultPolicy(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data: data}
		p := base
		if in.bit() {
			jamfSchool(&p)
		}
		if in.bit() {
			p.Roster = &Roster{Rows: in.n(1000)}
		}
		p.Manage = Manage{Name: !in.bit(), User: !in.bit(), Location: !in.bit(), LostMode: !in.bit()}
		p.LostMode.Enabled, p.LostMode.IncludeStolen, p.LostMode.DisableWhenFound = !in.bit(), in.bit(), !in.bit()
		items := make([]Item, in.n(12))
		for i := range items {
			items[i] = in.item(i)
		}
		devices := make([]Device, in.n(12))
		for i := range devices {
			devices[i] = in.device(i)
		}

		pl := Build(p, items, devices)
		checkInvariants(t, pl)
		byID := map[string]*Item{}
		for i := range items {
			byID[items[i].ID] = &items[i]
		}
		for _, c := range pl.Changes {
			it := byID[c.ItemID]
			if it == nil {
				t.Fatalf("change %+v names no item", c)
			}
			available := strings.ToLower(strings.TrimSpace(it.Status)) == "available"
			if c.Action == ActionCleared && !available {
				t.Errorf("device %s Cleared while its item is %q", c.DeviceKey, it.Status)
			}
			if c.Set.Username != nil && *c.Set.Username == "" && !available {
				t.Errorf("device %s has its user emptied while its item is %q: %+v", c.DeviceKey, it.Status, c.Fields)
			}
			if c.Set.Username != nil && *c.Set.Username != "" && p.Roster != nil && (it.Borrower == nil || it.Borrower.Roster == nil) {
				t.Errorf("device %s is given user %q although the roster has no row for its borrower", c.DeviceKey, *c.Set.Username)
			}
		}
		slices.Reverse(items)
		slices.Reverse(devices)
		if again := Build(p, items, devices); again.Digest != pl.Digest || len(again.Skips) != len(pl.Skips) {
			t.Errorf("the same snapshot in another order gives another plan: %d changes, %d skips, then %d, %d",
				len(pl.Changes), len(pl.Skips), len(again.Changes), len(again.Skips))
		}
	})
}

// fuzzInput draws choices from the fuzz input; an exhausted input reads as zeros.
type fuzzInput struct {
	data []byte
	pos  int
}

func (in *fuzzInput) byte() byte {
	if in.pos >= len(in.data) {
		return 0
	}
	b := in.data[in.pos]
	in.pos++
	return b
}

func (in *fuzzInput) n(max int) int { return int(in.byte()) % (max + 1) }
func (in *fuzzInput) bit() bool     { return in.byte()&1 == 1 }

// pick is one of the choices.
func (in *fuzzInput) pick(choices ...string) string { return choices[int(in.byte())%len(choices)] }

// Serials that collide once normalised, messy ones and empty ones.
func (in *fuzzInput) serial() string {
	return in.pick(serialA, strings.ToLower(serialA), " "+serialA[:4]+"-"+serialA[4:], serialB, "C0FFEE", "", " ", "\u00a0")
}

func (in *fuzzInput) text() string {
	return in.pick("", " ", "alovelace", "ghopper", "Room 101", "Grade 09", "Lincoln High", "Ada Lovelace", "ada.lovelace@example.org", "\t")
}

func (in *fuzzInput) item(i int) Item {
	it := Item{ID: strconv.Itoa(i), Barcode: in.pick("", "T1"), RawSerial: in.serial(),
		Status:       in.pick("available", "checked out", "lost", "stolen", "in transit", " Available ", "CHECKED OUT", "", "out for repairs"),
		ResourceType: in.pick("iPad", "IPAD ", "Staff iPad", ""), Site: in.pick("LHS", "LHS", "WMS", ""), AssetTag: in.pick("", "A1")}
	if in.bit() {
		b := &Borrower{DistrictID: in.pick("", "100001", "100002"), FirstName: in.pick("", "Ada", "Grace"), MiddleName: in.pick("", "B"),
			LastName: in.pick("", "Lovelace"), Email: in.pick("", "ada.lovelace@example.org", " "),
			PatronType: in.pick("Student", "student ", "Teacher", "Staff", "Parent", ""), Status: in.pick("Active", "A", "Inactive", "i", "R", "", "Suspended"),
			LookupError: in.pick("", "", "", "HTTP 500")}
		if in.bit() {
			b.Roster = &roster.Student{Key: b.DistrictID, Username: in.pick("", "alovelace", "ghopper", " "), Grade: in.pick("", "09"),
				Homeroom: in.pick("", "Room 101"), Email: in.pick("", "ada@example.org"), Teachers: []string{"Alan Turing"}}
		}
		it.Borrower = b
	}
	return it
}

func (in *fuzzInput) device(i int) Device {
	d := Device{Key: "D" + strconv.Itoa(i), RawSerial: in.serial(), Name: in.pick("", "iPad", nameA, stdA),
		Managed: !in.bit(), Supervised: !in.bit(), Unreadable: in.n(7) == 7,
		Username: in.text(), RealName: in.text(), Email: in.text(), Position: in.text(), Building: in.text(),
		Department: in.text(), Room: in.text(), Location: in.pick("", "Lincoln", "Washington")}
	switch in.n(2) {
	case 1:
		d.LostMode = lost(true)
	case 2:
		d.LostMode = lost(false)
	}
	return d
}
