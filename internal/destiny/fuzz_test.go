package destiny

import (
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/serial"
)

// The seeds follow the examples of resources-api.yaml (get-items-by-resource-type) and the patron
// status answers this client accepts; `go test` runs them, `go test -fuzz` explores from them.
var itemPageSeeds = []string{
	`{"value":[{"id":5,"guid":"C55ED083-4297-4FC3-91F8-F887C9CECB30","barcode":"00000000000001","serialNumber":"WKJA-0123-ACDE","status":"available",` +
		`"resourceType":{"id":10,"guid":"379119AC-A2FE-4565-81B6-D900A63065DB","name":"Computers"},"resource":{"id":201,"guid":"379119AC","name":"Dell Inspiron 2456"},` +
		`"site":{"internalId":187,"guid":"32ef328d-0016-4625-82fa-d497e8e942f0"},"checkout":{"patronId":100,"patronGUID":"79119AC","districtId":"ABCDEFG",` +
		`"lastName":"Doe","firstName":"John","middleName":"Edwardo","emailAddress1":"johndoe@example.com","dateOut":"2020-10-21T13:00:00.0Z","dateDue":"2020-10-27T00:00:00.0Z"},` +
		`"itemFields":[{"id":1,"name":"Barcode","value":"00000000000001"},{"id":15,"name":"Status","value":"Available"}]}],` +
		`"@nextLink":"/materials/resourcetypes/{resourcetypeid}/items?%24top=25&%24skip=100&%24orderby=id","durationMillis":42}`,
	`{"value":[{"id":6,"status":"Checked Out ","itemFields":[{"id":27,"name":"serial number","value":12345}]}]}`,
	`{"value":[]}`,
	`{"value":null}`,
	`{"value":[{"id":"7","status":"lost"}]}`,
	`{"value":[{"id":1e3,"status":"lost","site":{"internalId":-4}}]}`,
	`{"value":[{"id":99999999999999999999,"status":"lost"}]}`,
	`{"value":[{"barcode":"1"}]}`,
	`[1,2,3]`,
	`{"value":[{"id":8,"status":"available","checkout":{}}]}`,
}

func FuzzDecodeItemPage(f *testing.F) {
	for _, s := range itemPageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _, err := decodeItemPage(body, DefaultSerialField, "fuzz")
		if err != nil {
			if items != nil {
				t.Fatalf("items returned with an error: %v", err)
			}
			return
		}
		for _, it := range items {
			if it.ID <= 0 {
				t.Fatalf("item with id %d decoded without error", it.ID)
			}
			if it.Status == "" || it.Status != strings.ToLower(strings.TrimSpace(it.Status)) {
				t.Fatalf("item %d: status %q is not lower case and trimmed", it.ID, it.Status)
			}
			if it.Serial != serial.Normalize(it.RawSerial) || (it.Serial == "") != (it.SerialSource == "") {
				t.Fatalf("item %d: serial %q from %q (source %q) is not its normal form", it.ID, it.Serial, it.RawSerial, it.SerialSource)
			}
			if co := it.Checkout; co != nil && BorrowerKey(co) == "" {
				t.Fatalf("item %d: a checkout naming no patron was kept", it.ID)
			}
		}
	})
}

var patronSeeds = []string{
	`{"districtId":"S1","internalId":9,"firstName":"Ada","lastName":"Lovelace","sites":[{"internalId":101,"primarySite":true,"status":"A","patronType":{"id":1,"name":"Student"}}],"itemsOut":[]}`,
	`{"districtId":"S2","sites":[{"internalId":1,"status":"Inactive","patronType":"Teacher"},{"internalId":2,"primarySite":true,"status":{"code":"R"},"patronType":{"name":"Staff"}}]}`,
	`{"districtId":"S3","sites":[]}`,
	`{"sites":[{"status":"Z","patronType":"Student"}]}`,
	`{"sites":[{"status":["A"],"patronType":"Student"}]}`,
	`{"sites":[{"status":"a","patronType":{"id":"x","name":" "}}]}`,
	`null`,
	`"S1"`,
}

func FuzzDecodePatron(f *testing.F) {
	for _, s := range patronSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePatron(body, "S-fallback")
		if err != nil {
			if p != nil {
				t.Fatalf("patron returned with an error: %v", err)
			}
			return
		}
		if p.DistrictID == "" || p.Type == "" || len(p.Sites) == 0 {
			t.Fatalf("patron without district id, type or sites decoded without error: %+v", p)
		}
		if _, ok := ParsePatronState(string(p.Status)); !ok {
			t.Fatalf("patron status %q is not one of Active, Inactive, Restricted", p.Status)
		}
	})
}
