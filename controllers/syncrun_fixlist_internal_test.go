package controllers

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

func TestTheFixListGroupsWhatAPersonCanFixBySchool(t *testing.T) {
	skips := []plan.Skip{
		{RawSerial: "", ItemID: "7", Site: "WMS", Barcode: "T7", Reason: plan.ReasonNoSerial, Message: "the Destiny item has no serial number"},
		{Serial: "DLXB", ItemID: "8", Site: "LHS", Barcode: "T8", Reason: plan.ReasonNotInJamf, Message: "not in Jamf"},
		{Serial: "DLXA", ItemID: "9", Site: "LHS", Barcode: "T9", DeviceKey: "41", Reason: plan.ReasonUnsupervised, Message: "unsupervised"},
		{Serial: "DLXC", DeviceKey: "55", Reason: plan.ReasonNotInDestiny, Message: "no Destiny item"},
		{Serial: "DLXD", ItemID: "10", Site: "LHS", Reason: plan.ReasonSiteNotInPolicy, Message: "by design"},
		{Serial: "DLXE", ItemID: "11", Site: "LHS", Reason: plan.ReasonNoRuleForStatus, Message: "in transit"},
	}
	schools, body, rows, omitted := fixList(skips, nil)

	t.Run("counts per school and reason, only for what a person can fix", func(t *testing.T) {
		got := map[string]map[string]int32{}
		for _, s := range schools {
			got[s.Site] = s.ByReason
			var sum int32
			for _, n := range s.ByReason {
				sum += n
			}
			if sum != s.ToFix {
				t.Errorf("site %s: toFix %d, but its reasons add up to %d", s.Site, s.ToFix, sum)
			}
		}
		want := map[string]map[string]int32{
			"LHS": {plan.ReasonNotInJamf: 1, plan.ReasonUnsupervised: 1},
			"WMS": {plan.ReasonNoSerial: 1},
			"-":   {plan.ReasonNotInDestiny: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("schools %v, want %v", got, want)
		}
		for site, reasons := range want {
			for reason, n := range reasons {
				if got[site][reason] != n {
					t.Errorf("site %s reason %s: %d, want %d (all: %v)", site, reason, got[site][reason], n, got)
				}
			}
		}
	})
	t.Run("the CSV lists every row with what to do, sorted by school and reason", func(t *testing.T) {
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if rows != 4 || omitted != 0 || len(recs) != 5 {
			t.Fatalf("rows %d, omitted %d, records %d; want 4 rows and a header", rows, omitted, len(recs))
		}
		if strings.Join(recs[0], ",") != "site,serial,barcode,item,device,reason,problem,what to do" {
			t.Errorf("header %v", recs[0])
		}
		var order []string
		for _, r := range recs[1:] {
			order = append(order, r[0]+"/"+r[5])
			if r[7] == "" {
				t.Errorf("row %v has no 'what to do'", r)
			}
		}
		if got := strings.Join(order, " "); got != "-/NotInDestiny LHS/NotInJamf LHS/Unsupervised WMS/NoSerial" {
			t.Errorf("order %s", got)
		}
		if recs[4][2] != "T7" {
			t.Errorf("the item with no serial must be findable by its barcode: %v", recs[4])
		}
	})
}

func TestTheFixListStaysUnderTheConfigMapLimit(t *testing.T) {
	var skips []plan.Skip
	for i := range 20000 {
		skips = append(skips, plan.Skip{Serial: strings.Repeat("X", 12) + string(rune('A'+i%26)), ItemID: "i", Site: "LHS", Barcode: "T",
			Reason: plan.ReasonNotInJamf, Message: strings.Repeat("m", 200)})
	}
	schools, body, rows, omitted := fixList(skips, nil)
	if len(body) > 950<<10 {
		t.Errorf("the CSV is %d bytes, want under 950 KiB", len(body))
	}
	if omitted == 0 || rows+omitted != 20000 || schools[0].ToFix != 20000 {
		t.Errorf("rows %d + omitted %d, counted %d; want 20000 counted and the overflow omitted", rows, omitted, schools[0].ToFix)
	}
}
