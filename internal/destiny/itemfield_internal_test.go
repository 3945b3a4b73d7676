package destiny

import "testing"

// The serial kept in an item field (when serialNumber is empty) is read whether Destiny sends the field's
// value as a string or as a number.
func TestSerialFromItemField(t *testing.T) {
	cases := []struct {
		name, value, wantRaw string
	}{
		{"a string value", `"DMPX12345"`, "DMPX12345"},
		{"a number value", `12345`, "12345"},
		{"no value", `null`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"value":[{"id":6,"status":"available","itemFields":[{"id":27,"name":"Serial Number","value":` + tc.value + `}]}]}`
			items, _, err := decodeItemPage([]byte(body), DefaultSerialField, "test")
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 || items[0].RawSerial != tc.wantRaw {
				t.Fatalf("items %+v, want one with raw serial %q", items, tc.wantRaw)
			}
		})
	}
}
