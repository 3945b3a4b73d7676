package district

import (
	"bytes"
	"encoding/csv"
)

// SISPatronCSV is the district's SIS patron file, the CSV districts feed to Destiny's Patron Import
// Converter (columns as internal/roster reads them), with every patron: it gives a run the usernames,
// grades and homerooms Destiny's API does not return.
func (d *District) SISPatronCSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"SiteShortName", "Barcode", "DistrictID", "LastName", "FirstName", "MiddleName", "PatronType",
		"Status", "GradeLevel", "Homeroom", "Email", "Username"})
	for i := range d.Patrons {
		p := &d.Patrons[i]
		_ = w.Write([]string{p.SiteShortName, p.Barcode, p.DistrictID, p.LastName, p.FirstName, p.MiddleName, p.Type,
			p.Status, p.Grade, p.Homeroom, p.Email, p.Username})
	}
	w.Flush()
	return b.Bytes()
}
