package school

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Device is one device as the engine needs it, from GET /devices or GET /devices/{udid}.
type Device struct {
	UDID string
	// Serial is the serial number exactly as Jamf School reports it; the engine normalises it.
	Serial     string
	Name       string
	AssetTag   string
	Notes      string
	LocationID int
	// Owner is nil when the device has no owner (an empty object, array, null or id 0 on the wire).
	Owner      *Owner
	Managed    bool
	Supervised bool
	// Model is the model name ("iPad (9th generation)"); ModelIdentifier ("iPad12,1") and ModelType
	// ("iPad": a string in the list, {"value":...} in the single-device answer).
	Model           string
	ModelIdentifier string
	ModelType       string
	OSVersion       string
	// EnrollType is "dep", "ac2", ... (enrollType in the list, deviceEnrollType on one device).
	EnrollType string
	// LastCheckin as Jamf School wrote it (a string in the list, {"date":...} on one device).
	LastCheckin string
	InTrash     bool
}

// Owner is the user a device is assigned to.
type Owner struct {
	ID         int
	Username   string
	Email      string
	FirstName  string
	LastName   string
	Name       string
	LocationID int
}

// User is a Jamf School user (GET /users, GET /users/{id}).
type User struct {
	ID          int
	LocationID  int
	Status      string
	DeviceCount int
	Username    string
	Email       string
	Domain      string
	FirstName   string
	LastName    string
	Name        string
	Notes       string
	GroupIDs    []int
	// GroupIDsListed: the answer carried groupIds (an empty list included), so GroupIDs are the user's
	// groups; false when it was left out or null.
	GroupIDsListed bool
	Groups         []string
	// TeacherGroups are the user groups this user manages in the Jamf Teacher app.
	TeacherGroups []int
	Exclude       bool
}

// Location is a Jamf School location (a school), GET /locations.
type Location struct {
	ID            int
	Name          string
	IsDistrict    bool
	SchoolNumber  string
	ASMIdentifier string
	Source        string
}

// --- wire types -----------------------------------------------------------------------------

// envelope is the "code" every Jamf School answer but GET /locations carries; a 2xx whose code is an
// error is treated as that error.
type envelope struct {
	Code    flexInt    `json:"code"`
	Message flexString `json:"message"`
}

type wireDeviceResponse struct {
	envelope
	Device *wireDevice `json:"device"`
}

type wireDevice struct {
	UDID             flexString  `json:"UDID"`
	LocationID       flexInt     `json:"locationId"`
	SerialNumber     flexString  `json:"serialNumber"`
	AssetTag         flexString  `json:"assetTag"`
	InTrash          flexBool    `json:"inTrash"`
	Model            wireModel   `json:"model"`
	OS               wireOS      `json:"os"`
	Name             flexString  `json:"name"`
	Owner            wireOwner   `json:"owner"`
	IsManaged        flexBool    `json:"isManaged"`
	IsSupervised     flexBool    `json:"isSupervised"`
	EnrollType       flexString  `json:"enrollType"`
	DeviceEnrollType flexString  `json:"deviceEnrollType"`
	Notes            flexString  `json:"notes"`
	LastCheckin      flexCheckin `json:"lastCheckin"`
}

func (w *wireDevice) toDevice() Device {
	d := Device{
		UDID:            string(w.UDID),
		Serial:          string(w.SerialNumber),
		Name:            string(w.Name),
		AssetTag:        string(w.AssetTag),
		Notes:           string(w.Notes),
		LocationID:      int(w.LocationID),
		Managed:         bool(w.IsManaged),
		Supervised:      bool(w.IsSupervised),
		Model:           string(w.Model.Name),
		ModelIdentifier: string(w.Model.Identifier),
		ModelType:       string(w.Model.Type),
		OSVersion:       string(w.OS.Version),
		EnrollType:      string(w.EnrollType),
		LastCheckin:     string(w.LastCheckin),
		InTrash:         bool(w.InTrash),
	}
	if d.EnrollType == "" {
		d.EnrollType = string(w.DeviceEnrollType)
	}
	if w.Owner.present {
		o := w.Owner.o
		d.Owner = &o
	}
	return d
}

type wireModel struct {
	Name       flexString    `json:"name"`
	Identifier flexString    `json:"identifier"`
	Type       flexModelType `json:"type"`
}

type wireOS struct {
	Prefix  flexString `json:"prefix"`
	Version flexString `json:"version"`
}

// wireOwner decodes the owner in all its forms: a full object (list and single device), {} (no
// owner on one device), and, defensively, null, [] or false. An object without an id and username
// is no owner.
type wireOwner struct {
	present bool
	o       Owner
}

func (w *wireOwner) UnmarshalJSON(b []byte) error {
	*w = wireOwner{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		switch string(b) {
		case "null", "false", "0", `""`:
			return nil
		}
		if b[0] == '[' {
			var arr []json.RawMessage
			if err := json.Unmarshal(b, &arr); err != nil {
				return err
			}
			if len(arr) == 0 {
				return nil
			}
			return fmt.Errorf("owner: unexpected non-empty array")
		}
		return fmt.Errorf("owner: unexpected JSON %s", snippetBytes(b))
	}
	var raw struct {
		ID         flexInt    `json:"id"`
		LocationID flexInt    `json:"locationId"`
		Username   flexString `json:"username"`
		Email      flexString `json:"email"`
		FirstName  flexString `json:"firstName"`
		LastName   flexString `json:"lastName"`
		Name       flexString `json:"name"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	if raw.ID == 0 && raw.Username == "" {
		return nil
	}
	w.present = true
	w.o = Owner{
		ID: int(raw.ID), LocationID: int(raw.LocationID), Username: string(raw.Username), Email: string(raw.Email),
		FirstName: string(raw.FirstName), LastName: string(raw.LastName), Name: string(raw.Name),
	}
	return nil
}

type wireUserResponse struct {
	envelope
	User *wireUser `json:"user"`
}

type wireUser struct {
	ID            flexInt      `json:"id"`
	LocationID    flexInt      `json:"locationId"`
	Status        flexString   `json:"status"`
	DeviceCount   flexInt      `json:"deviceCount"`
	Email         flexString   `json:"email"`
	Username      flexString   `json:"username"`
	Domain        flexString   `json:"domain"`
	FirstName     flexString   `json:"firstName"`
	LastName      flexString   `json:"lastName"`
	Name          flexString   `json:"name"`
	GroupIDs      []flexInt    `json:"groupIds"`
	Groups        []flexString `json:"groups"`
	TeacherGroups []flexInt    `json:"teacherGroups"`
	Notes         flexString   `json:"notes"`
	Exclude       flexBool     `json:"exclude"`
}

func (w *wireUser) toUser() User {
	u := User{
		ID: int(w.ID), LocationID: int(w.LocationID), Status: string(w.Status), DeviceCount: int(w.DeviceCount),
		Username: string(w.Username), Email: string(w.Email), Domain: string(w.Domain),
		FirstName: string(w.FirstName), LastName: string(w.LastName), Name: string(w.Name),
		Notes: string(w.Notes), Exclude: bool(w.Exclude),
	}
	u.GroupIDsListed = w.GroupIDs != nil
	for _, g := range w.GroupIDs {
		u.GroupIDs = append(u.GroupIDs, int(g))
	}
	for _, g := range w.Groups {
		u.Groups = append(u.Groups, string(g))
	}
	for _, g := range w.TeacherGroups {
		u.TeacherGroups = append(u.TeacherGroups, int(g))
	}
	return u
}

type wireLocationsResponse struct {
	envelope
	Locations []wireLocation `json:"locations"`
}

type wireLocation struct {
	ID            flexInt    `json:"id"`
	Name          flexString `json:"name"`
	IsDistrict    flexBool   `json:"isDistrict"`
	Source        flexString `json:"source"`
	ASMIdentifier flexString `json:"asmIdentifier"`
	SchoolNumber  flexString `json:"schoolNumber"`
}

// wireCreateUserResponse accepts the created user's id at the top level or inside "user"; the
// reference files hold no POST /users answer, so both are tolerated.
type wireCreateUserResponse struct {
	envelope
	ID   flexInt   `json:"id"`
	User *wireUser `json:"user"`
}

// wireError is the union of the two documented JSON error shapes.
type wireError struct {
	Code    *flexInt   `json:"code"`
	Message flexString `json:"message"`
	Error   *struct {
		Code    flexInt    `json:"code"`
		Message flexString `json:"message"`
	} `json:"error"`
}

// --- tolerant scalars ------------------------------------------------------------------------

// flexInt accepts a number, a numeric string, "" and null (0).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if s == "null" || s == `""` {
		*f = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fl != float64(int64(fl)) {
			return fmt.Errorf("expected an integer, got %s", snippetBytes(b))
		}
		n = int64(fl)
	}
	*f = flexInt(n)
	return nil
}

// flexBool accepts true/false, 0/1, "0"/"1"/"true"/"false"/"" and null (false).
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		*f = true
	case "false", "0", "no", "", "null":
		*f = false
	default:
		return fmt.Errorf("expected a boolean, got %s", snippetBytes(b))
	}
	return nil
}

// flexString accepts a string, null (""), a number or a boolean (their JSON text).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*f = ""
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	case '{', '[':
		return fmt.Errorf("expected a string, got %s", snippetBytes(b))
	}
	*f = flexString(b)
	return nil
}

// flexModelType is model.type: a string in GET /devices, {"value": "iPad"} in GET /devices/{udid}.
type flexModelType string

func (f *flexModelType) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			Value flexString `json:"value"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = flexModelType(v.Value)
		return nil
	}
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*f = flexModelType(s)
	return nil
}

// flexCheckin is lastCheckin: a string in GET /devices, {"date":..,"timezone_type":..,"timezone":..}
// in GET /devices/{udid}; the date text is kept as is.
type flexCheckin string

func (f *flexCheckin) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			Date flexString `json:"date"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = flexCheckin(v.Date)
		return nil
	}
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*f = flexCheckin(s)
	return nil
}

func snippetBytes(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// --- request bodies --------------------------------------------------------------------------

type setOwnerBody struct {
	User int `json:"user"`
}

type migrateBody struct {
	LocationID int  `json:"locationId"`
	OnlyDevice bool `json:"onlyDevice"`
}

// NewUser is what CreateUser sends to POST /users. Username, Password, Email, FirstName and LastName
// are all required: Jamf's own clients (its Go SDK and Terraform provider) always send the five.
// String and GoString redact the password, so printing a NewUser never shows it.
type NewUser struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	Email      string `json:"email"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	LocationID int    `json:"locationId"`
	Notes      string `json:"notes,omitempty"`
	// MemberOf, when not empty, are the user's groups, as group ids (int) or names (string): the vendor
	// spec documents memberOf on POST /users (an unknown name makes Jamf School create that group).
	MemberOf []any `json:"memberOf,omitempty"`
}

// String shows the new user with the password redacted.
func (nu NewUser) String() string {
	pw := ""
	if nu.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("jamfschool.NewUser{Username:%q Password:%s Email:%q FirstName:%q LastName:%q LocationID:%d Notes:%q MemberOf:%v}",
		nu.Username, pw, nu.Email, nu.FirstName, nu.LastName, nu.LocationID, nu.Notes, nu.MemberOf)
}

// GoString redacts too.
func (nu NewUser) GoString() string { return nu.String() }

// missing names the required fields that are empty or blank, in the order of the body.
func (nu NewUser) missing() []string {
	var out []string
	for _, f := range []struct{ name, value string }{
		{"username", nu.Username}, {"password", nu.Password}, {"email", nu.Email},
		{"firstName", nu.FirstName}, {"lastName", nu.LastName},
	} {
		if strings.TrimSpace(f.value) == "" {
			out = append(out, f.name)
		}
	}
	return out
}
