package plan

import "testing"

func TestSkipsOfDestinyItemsNameTheSchoolThatCanFixThem(t *testing.T) {
	p := defaultPolicy(t)
	noSerial := item("7", "", "checked out", ada())
	noSerial.Site, noSerial.Barcode = "WMS", "T7-WMS"
	items := []Item{noSerial, item("8", "DLXNOTINJAMF", "available", nil)}
	devices := []Device{device(blankDevice(), func(d *Device) { d.RawSerial, d.Key = "DLXONLYINJAMF", "55" })}

	got := map[string]Skip{}
	for _, s := range Build(p, items, devices).Skips {
		got[s.Reason] = s
	}
	cases := []struct {
		reason, site, barcode string
	}{
		{ReasonNoSerial, "WMS", "T7-WMS"},
		{ReasonNotInJamf, "LHS", "T8"},
		{ReasonNotInDestiny, "", ""}, // an MDM device with no Destiny item belongs to no school
	}
	for _, tc := range cases {
		s, ok := got[tc.reason]
		if !ok {
			t.Errorf("no %s skip in %+v", tc.reason, got)
			continue
		}
		if s.Site != tc.site || s.Barcode != tc.barcode {
			t.Errorf("%s skip: site %q barcode %q, want %q and %q", tc.reason, s.Site, s.Barcode, tc.site, tc.barcode)
		}
	}
}
