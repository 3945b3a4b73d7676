package jamfpro

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// Sections this simulator renders (the schema's MobileDeviceSection enum lists more; asking for one of
// those is answered with 400, so a test notices a client asking for data nobody simulated).
var renderedSections = map[string]bool{"GENERAL": true, "HARDWARE": true, "USER_AND_LOCATION": true, "SECURITY": true}

var allSections = map[string]bool{
	"GENERAL": true, "HARDWARE": true, "USER_AND_LOCATION": true, "PURCHASING": true, "SECURITY": true,
	"APPLICATIONS": true, "EBOOKS": true, "NETWORK": true, "SERVICE_SUBSCRIPTIONS": true, "CERTIFICATES": true,
	"PROFILES": true, "USER_PROFILES": true, "PROVISIONING_PROFILES": true, "SHARED_USERS": true, "GROUPS": true,
	"EXTENSION_ATTRIBUTES": true,
}

func (s *Server) handleInventory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sections := map[string]bool{}
	for _, v := range q["section"] {
		for _, sec := range strings.Split(v, ",") {
			sec = strings.TrimSpace(sec)
			if !allSections[sec] {
				writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Unknown section "+sec, "section")
				return
			}
			if !renderedSections[sec] {
				writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Section "+sec+" is not simulated", "section")
				return
			}
			sections[sec] = true
		}
	}
	if len(sections) == 0 {
		sections["GENERAL"] = true
	}
	lenient := false
	if v := q.Get("exception-handling"); v != "" && s.opts.ExceptionHandling {
		switch v {
		case "LENIENT":
			lenient = true
		case "STRICT":
		default:
			writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "exception-handling must be STRICT or LENIENT", "exception-handling")
			return
		}
	}
	page, size, err := pageParams(r, 100, s.opts.MaxPageSize)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "page")
		return
	}
	if asked, _ := strconv.Atoi(q.Get("page-size")); s.opts.MaxHealthyPageSize > 0 && asked > s.opts.MaxHealthyPageSize {
		s.mu.Lock()
		s.faults++
		s.mu.Unlock()
		simhttp.WriteFault(w, r, simhttp.FaultHTML504) // the gateway gave up on a heavy page
		return
	}
	pred, err := parseRSQL(q.Get("filter"))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_RSQL_FILTER", err.Error(), "filter")
		return
	}
	less, err := parseSort(q["sort"])
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_SORT_FIELD", err.Error(), "sort")
		return
	}

	type row struct {
		d      *Device
		fields map[string]string
	}
	s.mu.Lock()
	var matched []row
	// Fast path for the listing clients make (no filter, sorted by id): devices are already in id order.
	byID := strings.TrimSpace(q.Get("filter")) == "" && (strings.Join(q["sort"], ",") == "mobileDeviceId:asc" || strings.Join(q["sort"], ",") == "mobileDeviceId")
	for _, d := range s.sortedDevices() {
		if byID {
			matched = append(matched, row{d: d})
		} else if f := s.fieldsOf(d); pred(f) {
			matched = append(matched, row{d, f})
		}
	}
	if !byID {
		sort.SliceStable(matched, func(i, j int) bool { return less(matched[i].fields, matched[j].fields) })
	}
	pageRows := pageOf(matched, page, size)
	results := make([]any, 0, len(pageRows))
	for _, pr := range pageRows {
		d := pr.d
		for sec := range sections {
			if d.Unreadable[sec] && !lenient {
				s.mu.Unlock()
				writeAPIError(w, http.StatusInternalServerError, "UNEXPECTED_ERROR",
					fmt.Sprintf("Unable to read section %s of mobile device %d", sec, d.ID), "")
				return
			}
		}
		results = append(results, s.renderInventory(d, sections))
	}
	total := int64(len(matched))
	if s.inventoryTotal != 0 {
		total = s.inventoryTotal
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"totalCount": total, "results": results})
}

// fieldsOf returns the RSQL / sort view of a device (names as the schema's filter and sort lists).
func (s *Server) fieldsOf(d *Device) map[string]string {
	b, _ := nameOf(s.buildings, d.BuildingID)
	dep, _ := nameOf(s.departments, d.DepartmentID)
	return map[string]string{
		"mobileDeviceId":  strconv.Itoa(d.ID),
		"serialNumber":    d.Serial,
		"managementId":    d.ManagementID,
		"udid":            d.UDID,
		"displayName":     d.Name,
		"username":        d.Username,
		"emailAddress":    d.Email,
		"building":        b,
		"department":      dep,
		"room":            d.Room,
		"managed":         strconv.FormatBool(d.Managed),
		"supervised":      strconv.FormatBool(d.Supervised),
		"lostModeEnabled": strconv.FormatBool(d.LostMode),
	}
}

const simTimestamp = "2026-01-05T07:30:00.000Z"

func (s *Server) renderInventory(d *Device, sections map[string]bool) map[string]any {
	out := map[string]any{"mobileDeviceId": strconv.Itoa(d.ID), "deviceType": d.DeviceType}
	section := func(name, key string, render func() map[string]any) {
		if !sections[name] {
			return
		}
		if d.Unreadable[name] {
			out[key] = nil // LENIENT: the section that cannot be read is null
			return
		}
		out[key] = render()
	}
	section("GENERAL", "general", func() map[string]any {
		g := map[string]any{
			"udid": d.UDID, "displayName": d.Name, "assetTag": d.AssetTag, "siteId": "-1",
			"lastInventoryUpdateDate": simTimestamp, "managed": d.Managed, "supervised": d.Supervised,
			"deviceOwnershipType": "Institutional", "managementId": d.ManagementID,
		}
		if d.DeviceType == "iOS" {
			g["sharedIpad"] = false // MobileDeviceIosGeneral only
		}
		return g
	})
	section("HARDWARE", "hardware", func() map[string]any {
		return map[string]any{"serialNumber": d.Serial, "model": d.Model, "batteryHealth": "NORMAL", "capacityMb": 65536}
	})
	section("USER_AND_LOCATION", "userAndLocation", func() map[string]any {
		b, _ := nameOf(s.buildings, d.BuildingID)
		dep, _ := nameOf(s.departments, d.DepartmentID)
		return map[string]any{
			"username": d.Username, "realName": d.RealName, "emailAddress": d.Email, "position": d.Position,
			"phoneNumber": d.Phone, "departmentId": idString(d.DepartmentID), "buildingId": idString(d.BuildingID),
			"room": d.Room, "building": b, "department": dep,
		}
	})
	if d.DeviceType != "iOS" {
		return out // tvOS, watchOS, visionOS inventories have no security section (schema: iOS only)
	}
	section("SECURITY", "security", func() map[string]any {
		return map[string]any{
			"lostModeEnabled": d.LostMode, "lostModeMessage": d.LostMessage, "lostModePhoneNumber": d.LostPhone,
			"lostModeFootnote": d.LostFootnote, "activationLockEnabled": false, "bootstrapTokenEscrowed": "NOT_SUPPORTED",
		}
	})
	return out
}

// ---- RSQL subset ----

// rsqlFields are the filter fields this simulator supports (all in the schema's allowed list).
var rsqlFields = map[string]bool{
	"mobileDeviceId": true, "serialNumber": true, "managementId": true, "udid": true, "displayName": true,
	"username": true, "emailAddress": true, "building": true, "department": true, "room": true,
	"managed": true, "supervised": true, "lostModeEnabled": true,
}

// parseRSQL supports: field==value, field!=value, field=in=(v1,v2,...), joined by ';' (and). Values may
// be double-quoted. Anything else (',' or 'or', wildcards, other operators, other fields) is an error.
func parseRSQL(filter string) (func(map[string]string) bool, error) {
	return parseRSQLWith(filter, rsqlFields)
}

func parseRSQLWith(filter string, fields map[string]bool) (func(map[string]string) bool, error) {
	filter = strings.TrimSpace(filter)
	if filter == "" {
		return func(map[string]string) bool { return true }, nil
	}
	terms, err := splitTerms(filter)
	if err != nil {
		return nil, err
	}
	type cond struct {
		field string
		neg   bool
		vals  map[string]bool
	}
	var conds []cond
	for _, t := range terms {
		var c cond
		var rest string
		switch {
		case strings.Contains(t, "=in="):
			i := strings.Index(t, "=in=")
			c.field, rest = t[:i], strings.TrimSpace(t[i+4:])
			if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
				return nil, fmt.Errorf("=in= needs a parenthesised list in %q", t)
			}
			vals, err := splitList(rest[1 : len(rest)-1])
			if err != nil {
				return nil, err
			}
			c.vals = vals
		case strings.Contains(t, "!="):
			i := strings.Index(t, "!=")
			c.field, rest, c.neg = t[:i], t[i+2:], true
		case strings.Contains(t, "=="):
			i := strings.Index(t, "==")
			c.field, rest = t[:i], t[i+2:]
		default:
			return nil, fmt.Errorf("unsupported RSQL expression %q", t)
		}
		c.field = strings.TrimSpace(c.field)
		if !fields[c.field] {
			return nil, fmt.Errorf("unsupported filter field %q", c.field)
		}
		if c.vals == nil {
			v, err := unquote(strings.TrimSpace(rest))
			if err != nil {
				return nil, err
			}
			c.vals = map[string]bool{v: true}
		}
		conds = append(conds, c)
	}
	return func(f map[string]string) bool {
		for _, c := range conds {
			if c.vals[f[c.field]] == c.neg {
				return false
			}
		}
		return true
	}, nil
}

// splitTerms splits on ';' outside quotes and parentheses and rejects the 'or' operator ',' at top level.
func splitTerms(s string) ([]string, error) {
	var terms []string
	depth, inQ, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQ = !inQ
		case inQ:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			return nil, fmt.Errorf("the or operator is not supported")
		case c == ';' && depth == 0:
			terms = append(terms, s[start:i])
			start = i + 1
		}
	}
	if inQ || depth != 0 {
		return nil, fmt.Errorf("unbalanced quotes or parentheses")
	}
	terms = append(terms, s[start:])
	for _, t := range terms {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Errorf("empty RSQL expression")
		}
	}
	return terms, nil
}

func splitList(s string) (map[string]bool, error) {
	out := map[string]bool{}
	inQ, start := false, 0
	add := func(part string) error {
		v, err := unquote(strings.TrimSpace(part))
		if err != nil {
			return err
		}
		out[v] = true
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				if err := add(s[start:i]); err != nil {
					return nil, err
				}
				start = i + 1
			}
		}
	}
	if err := add(s[start:]); err != nil {
		return nil, err
	}
	return out, nil
}

func unquote(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		if strings.Contains(v, `"`) {
			return "", fmt.Errorf("unsupported quoting in %q", v)
		}
		return v, nil
	}
	if v == "" {
		return "", fmt.Errorf("empty value")
	}
	if strings.ContainsAny(v, `*"()`) {
		return "", fmt.Errorf("unsupported value %q (wildcards are not simulated)", v)
	}
	return v, nil
}

// ---- sort ----

var sortFields = map[string]bool{"mobileDeviceId": true, "displayName": true, "serialNumber": true, "username": true, "managementId": true}

// parseSort supports "field:asc|desc" criteria, comma-separated or repeated; default displayName:asc (as
// documented), ties broken by id.
func parseSort(vals []string) (func(a, b map[string]string) bool, error) {
	type key struct {
		field string
		desc  bool
	}
	var keys []key
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			f, dir, _ := strings.Cut(part, ":")
			if !sortFields[f] {
				return nil, fmt.Errorf("unsupported sort field %q", f)
			}
			switch strings.ToLower(dir) {
			case "", "asc":
				keys = append(keys, key{field: f})
			case "desc":
				keys = append(keys, key{field: f, desc: true})
			default:
				return nil, fmt.Errorf("sort direction must be asc or desc, got %q", dir)
			}
		}
	}
	if len(keys) == 0 {
		keys = []key{{field: "displayName"}}
	}
	keys = append(keys, key{field: "mobileDeviceId"})
	return func(a, b map[string]string) bool {
		for _, k := range keys {
			x, y := a[k.field], b[k.field]
			var c int
			if k.field == "mobileDeviceId" {
				xi, _ := strconv.Atoi(x)
				yi, _ := strconv.Atoi(y)
				c = xi - yi
			} else {
				c = strings.Compare(x, y)
			}
			if c != 0 {
				if k.desc {
					return c > 0
				}
				return c < 0
			}
		}
		return false
	}, nil
}
