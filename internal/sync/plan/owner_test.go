package plan

import (
	"reflect"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/roster"
)

// A change that assigns a student carries the student (names, email, data model, password rule) when
// the policy lets the target create missing users, so Jamf School can create the user with everything
// POST /users needs; otherwise, and for changes that assign nobody, it carries nothing.
func TestAChangeAssigningAStudentCarriesTheStudentForUserCreation(t *testing.T) {
	password := tmpl(t, "target.jamfSchool.newUserPassword", "{{.DistrictID}}-{{lower .LastName}}")
	ghopper := func(d *Device) {
		d.Username, d.RealName, d.Email = "ghopper", "Grace Hopper", "grace.hopper@example.org"
	}
	tests := []struct {
		name   string
		create bool
		b      *Borrower
		status string
		dev    Device
		want   *NewOwner
	}{
		{"Destiny's names and email", true, ada(), "checked out", schoolDevice(ghopper),
			&NewOwner{Username: "alovelace", FirstName: "Ada", LastName: "Lovelace", Email: "ada.lovelace@example.org"}},
		{"the roster's names when Destiny has none", true, borrower(func(b *Borrower) {
			b.FirstName, b.LastName = " ", ""
			b.Roster = &roster.Student{Key: "100001", Username: "alovelace", GivenName: "Augusta", FamilyName: "King"}
		}), "checked out", schoolDevice(ghopper),
			&NewOwner{Username: "alovelace", FirstName: "Augusta", LastName: "King", Email: "ada.lovelace@example.org"}},
		{"the roster's email when Destiny has none", true, borrower(func(b *Borrower) {
			b.Email = ""
			b.Roster = &roster.Student{Key: "100001", Username: "alovelace", Email: "ada@roster.example.org"}
		}), "checked out", schoolDevice(ghopper),
			&NewOwner{Username: "alovelace", FirstName: "Ada", LastName: "Lovelace", Email: "ada@roster.example.org"}},
		{"nothing when the policy does not create users", false, ada(), "checked out", schoolDevice(ghopper), nil},
		{"nothing when the user does not change", true, ada(), "checked out", schoolDevice(func(d *Device) { d.Location = "Elsewhere" }), nil},
		{"nothing when the device is cleared", true, nil, "available", schoolDevice(func(*Device) {}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultPolicy(t)
			jamfSchool(&p)
			p.CreateMissingUsers, p.NewUserPassword = tt.create, password
			pl := Build(p, []Item{item("1001", serialA, tt.status, tt.b)}, []Device{tt.dev})
			if len(pl.Changes) != 1 {
				t.Fatalf("%d changes, want 1; skips %+v", len(pl.Changes), pl.Skips)
			}
			got := pl.Changes[0].Owner
			if tt.want == nil {
				if got != nil {
					t.Errorf("owner %+v, want none", got)
				}
				return
			}
			if got == nil {
				t.Fatal("no owner")
			}
			if got.Password != password {
				t.Errorf("password rule %v, want the policy's", got.Password)
			}
			if got.Data.DistrictID != "100001" || got.Data.Serial != serialA {
				t.Errorf("data model %+v, want the student's", got.Data)
			}
			got.Password, got.Data = nil, tt.want.Data
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("owner %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The owner is not part of the digest: approving a plan does not depend on it.
func TestTheOwnerIsNotPartOfTheDigest(t *testing.T) {
	ch := Change{Serial: serialA, DeviceKey: devA, Action: ActionAssigned, Set: Set{Username: sp("alovelace")}}
	with := ch
	with.Owner = &NewOwner{Username: "alovelace", FirstName: "Ada"}
	if Digest([]Change{ch}) != Digest([]Change{with}) {
		t.Error("the digest changes with the owner")
	}
}
