package plan

import "testing"

func TestAChangeCarriesItsDevicesRefOutsideTheDigest(t *testing.T) {
	dev := device(blankDevice(), func(d *Device) { d.Ref = "mgmt-0001" })
	pl := Build(defaultPolicy(t), []Item{item("1", serialA, "checked out", ada())}, []Device{dev})
	if len(pl.Changes) != 1 || pl.Changes[0].Ref != "mgmt-0001" {
		t.Fatalf("changes %+v, want one carrying the device's ref", pl.Changes)
	}
	without := pl.Changes[0]
	without.Ref = ""
	if Digest([]Change{without}) != pl.Digest {
		t.Error("the digest changes with the ref: an approval would not survive a device re-enrolled under a new management id")
	}
}
