package school

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFlexScalarsAcceptEveryShapeSeen(t *testing.T) {
	ints := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{`12`, 12, false}, {`"12"`, 12, false}, {`" 7 "`, 7, false}, {`""`, 0, false}, {`null`, 0, false},
		{`3.0`, 3, false}, {`3.5`, 0, true}, {`"abc"`, 0, true}, {`true`, 0, true},
	}
	for _, tt := range ints {
		var f flexInt
		err := json.Unmarshal([]byte(tt.in), &f)
		if (err != nil) != tt.wantErr || (!tt.wantErr && int(f) != tt.want) {
			t.Errorf("flexInt(%s) = %d, %v", tt.in, f, err)
		}
	}
	bools := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{`true`, true, false}, {`false`, false, false}, {`1`, true, false}, {`0`, false, false},
		{`"1"`, true, false}, {`"true"`, true, false}, {`""`, false, false}, {`null`, false, false}, {`"perhaps"`, false, true},
	}
	for _, tt := range bools {
		var f flexBool
		err := json.Unmarshal([]byte(tt.in), &f)
		if (err != nil) != tt.wantErr || (!tt.wantErr && bool(f) != tt.want) {
			t.Errorf("flexBool(%s) = %v, %v", tt.in, f, err)
		}
	}
	strs := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`"a"`, "a", false}, {`null`, "", false}, {`0`, "0", false}, {`false`, "false", false}, {`{}`, "", true}, {`[]`, "", true},
	}
	for _, tt := range strs {
		var f flexString
		err := json.Unmarshal([]byte(tt.in), &f)
		if (err != nil) != tt.wantErr || (!tt.wantErr && string(f) != tt.want) {
			t.Errorf("flexString(%s) = %q, %v", tt.in, f, err)
		}
	}
}

func TestFieldsThatChangeTypeBetweenListAndSingleDevice(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(d Device) bool
	}{
		{"model.type as a string (list)", `{"model":{"type":"iPad"}}`, func(d Device) bool { return d.ModelType == "iPad" }},
		{"model.type as {value} (single)", `{"model":{"type":{"value":"iPad"}}}`, func(d Device) bool { return d.ModelType == "iPad" }},
		{"lastCheckin as a string (list)", `{"lastCheckin":"2026-01-01 10:00:00"}`, func(d Device) bool { return d.LastCheckin == "2026-01-01 10:00:00" }},
		{"lastCheckin as {date} (single)", `{"lastCheckin":{"date":"2026-01-01 10:00:00.000000","timezone_type":3,"timezone":"UTC"}}`,
			func(d Device) bool { return d.LastCheckin == "2026-01-01 10:00:00.000000" }},
		{"enrollType (list)", `{"enrollType":"dep"}`, func(d Device) bool { return d.EnrollType == "dep" }},
		{"deviceEnrollType (single)", `{"deviceEnrollType":"ac2"}`, func(d Device) bool { return d.EnrollType == "ac2" }},
		{"locationId as a string", `{"locationId":"4"}`, func(d Device) bool { return d.LocationID == 4 }},
		{"isManaged as 1, isSupervised as \"0\"", `{"isManaged":1,"isSupervised":"0"}`, func(d Device) bool { return d.Managed && !d.Supervised }},
		{"null assetTag and notes", `{"assetTag":null,"notes":null}`, func(d Device) bool { return d.AssetTag == "" && d.Notes == "" }},
		{"owner {} is no owner", `{"owner":{}}`, func(d Device) bool { return d.Owner == nil }},
		{"owner [] is no owner", `{"owner":[]}`, func(d Device) bool { return d.Owner == nil }},
		{"owner null is no owner", `{"owner":null}`, func(d Device) bool { return d.Owner == nil }},
		{"owner false is no owner", `{"owner":false}`, func(d Device) bool { return d.Owner == nil }},
		{"owner with id 0 and no username is no owner", `{"owner":{"id":0,"username":""}}`, func(d Device) bool { return d.Owner == nil }},
		{"owner with id as string", `{"owner":{"id":"9","username":"x","locationId":"2"}}`,
			func(d Device) bool { return d.Owner != nil && d.Owner.ID == 9 && d.Owner.LocationID == 2 }},
		{"missing owner is no owner", `{}`, func(d Device) bool { return d.Owner == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w wireDevice
			if err := json.Unmarshal([]byte(tt.json), &w); err != nil {
				t.Fatal(err)
			}
			if d := w.toDevice(); !tt.check(d) {
				t.Errorf("decoded %+v (owner %+v)", d, d.Owner)
			}
		})
	}
}

func TestOwnerShapesThatAreErrors(t *testing.T) {
	for _, in := range []string{`[{"id":1}]`, `"someone"`, `{"id":"x"}`} {
		var w wireOwner
		if err := json.Unmarshal([]byte(in), &w); err == nil {
			t.Errorf("owner %s: want an error", in)
		}
	}
}

// Fuzz the device decoders (the list read as it arrives, and one device): any input either decodes or
// errors, never panics.
func FuzzDeviceDecoding(f *testing.F) {
	for _, s := range []string{`{"code":200,"device":{"owner":{}}}`, `{"devices":[{"model":{"type":{"value":1}}}]}`, `{"owner":[1]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var env envelope
		l := &listSpec{key: "devices", start: func() {}, elem: func(dec *json.Decoder) error {
			var w wireDevice
			if err := dec.Decode(&w); err != nil {
				return err
			}
			_ = w.toDevice()
			return nil
		}}
		_ = l.decode(strings.NewReader(in), &env)
		var b wireDeviceResponse
		if json.Unmarshal([]byte(in), &b) == nil && b.Device != nil {
			_ = b.Device.toDevice()
		}
	})
}
