package jamfschool

import "strings"

// The wire forms below copy the keys, order and JSON types of the real replies
// (internal/jamf/school/testdata/responses). The list and single-device forms differ on purpose:
// model.type is a string in the list and {"value":..} on one device; iCloudBackupEnabled,
// iTunesStoreLoggedIn are booleans in the list and numbers on one device; iCloudBackupLatest is a
// string then a number; lastCheckin a string then {date,timezone_type,timezone}; enrollType and
// depProfile become deviceEnrollType and deviceDepProfile (null when empty); the network fields
// move from networkInformation to the top level; region.coordinates becomes null; an owner-less
// device has owner {}.

type listDevicesResponse struct {
	Code    int          `json:"code"`
	Count   int          `json:"count"`
	Devices []listDevice `json:"devices"`
}

type listDevice struct {
	UDID                string     `json:"UDID"`
	LocationID          int        `json:"locationId"`
	SerialNumber        string     `json:"serialNumber"`
	AssetTag            string     `json:"assetTag"`
	Class               string     `json:"class"`
	Model               listModel  `json:"model"`
	OS                  osInfo     `json:"os"`
	Name                string     `json:"name"`
	Owner               any        `json:"owner"`
	IsManaged           bool       `json:"isManaged"`
	IsSupervised        bool       `json:"isSupervised"`
	EnrollType          string     `json:"enrollType"`
	DepProfile          string     `json:"depProfile"`
	Groups              []string   `json:"groups"`
	BatteryLevel        float64    `json:"batteryLevel"`
	TotalCapacity       float64    `json:"totalCapacity"`
	AvailableCapacity   float64    `json:"availableCapacity"`
	ICloudBackupEnabled bool       `json:"iCloudBackupEnabled"`
	ICloudBackupLatest  string     `json:"iCloudBackupLatest"`
	ITunesStoreLoggedIn bool       `json:"iTunesStoreLoggedIn"`
	Region              listRegion `json:"region"`
	Notes               string     `json:"notes"`
	LastCheckin         string     `json:"lastCheckin"`
	Modified            string     `json:"modified"`
	NetworkInformation  netInfo    `json:"networkInformation"`
}

type listModel struct {
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	Type       string `json:"type"`
}

type osInfo struct {
	Prefix  string `json:"prefix"`
	Version string `json:"version"`
}

type listRegion struct {
	String      string `json:"string"`
	Coordinates string `json:"coordinates,omitempty"`
}

type netInfo struct {
	IPAddress              string `json:"IPAddress"`
	IsNetworkTethered      string `json:"isNetworkTethered"`
	BluetoothMAC           string `json:"BluetoothMAC"`
	WiFiMAC                string `json:"WiFiMAC"`
	VoiceRoamingEnabled    string `json:"VoiceRoamingEnabled"`
	DataRoamingEnabled     string `json:"DataRoamingEnabled"`
	PersonalHotspotEnabled string `json:"PersonalHotspotEnabled"`
}

type listOwner struct {
	ID         int    `json:"id"`
	LocationID int    `json:"locationId"`
	Username   string `json:"username"`
	Email      string `json:"email"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	Name       string `json:"name"`
	VPP        []any  `json:"vpp"`
	Notes      string `json:"notes"`
	Modified   string `json:"modified"`
}

type singleDeviceResponse struct {
	Code   int          `json:"code"`
	Device singleDevice `json:"device"`
}

type singleDevice struct {
	UDID                      string        `json:"UDID"`
	LocationID                int           `json:"locationId"`
	SerialNumber              string        `json:"serialNumber"`
	AssetTag                  string        `json:"assetTag"`
	InTrash                   bool          `json:"inTrash"`
	Class                     string        `json:"class"`
	Model                     singleModel   `json:"model"`
	OS                        osInfo        `json:"os"`
	Name                      string        `json:"name"`
	Owner                     any           `json:"owner"`
	IsManaged                 bool          `json:"isManaged"`
	IsSupervised              bool          `json:"isSupervised"`
	DeviceEnrollType          string        `json:"deviceEnrollType"`
	DeviceDepProfile          *string       `json:"deviceDepProfile"`
	BatteryLevel              float64       `json:"batteryLevel"`
	TotalCapacity             float64       `json:"totalCapacity"`
	AvailableCapacity         float64       `json:"availableCapacity"`
	HasPasscode               bool          `json:"hasPasscode"`
	PasscodeCompliant         int           `json:"passcodeCompliant"`
	HardwareEncryptionEnabled int           `json:"hardwareEncryptionEnabled"`
	ITunesStoreLoggedIn       int           `json:"iTunesStoreLoggedIn"`
	ICloudBackupEnabled       int           `json:"iCloudBackupEnabled"`
	ICloudBackupLatest        int           `json:"iCloudBackupLatest"`
	GroupIDs                  []int         `json:"groupIds"`
	Groups                    []string      `json:"groups"`
	WiFiMAC                   string        `json:"WiFiMAC"`
	BluetoothMAC              string        `json:"bluetoothMAC"`
	IPAddress                 string        `json:"IPAddress"`
	Region                    singleRegion  `json:"region"`
	Notes                     string        `json:"notes"`
	LastCheckin               singleCheckin `json:"lastCheckin"`
	Modified                  string        `json:"modified"`
}

type singleModel struct {
	Name       string    `json:"name"`
	Identifier string    `json:"identifier"`
	Type       typeValue `json:"type"`
}

type typeValue struct {
	Value string `json:"value"`
}

type singleRegion struct {
	String      string  `json:"string"`
	Coordinates *string `json:"coordinates"`
}

type singleCheckin struct {
	Date         string `json:"date"`
	TimezoneType int    `json:"timezone_type"`
	Timezone     string `json:"timezone"`
}

// singleUser is the user shape of GET /users/{id} and, with inTrash, of a device's owner.
type singleUser struct {
	ID            int      `json:"id"`
	LocationID    int      `json:"locationId"`
	Status        string   `json:"status"`
	DeviceCount   int      `json:"deviceCount"`
	Email         string   `json:"email"`
	Username      string   `json:"username"`
	Domain        string   `json:"domain"`
	FirstName     string   `json:"firstName"`
	LastName      string   `json:"lastName"`
	Name          string   `json:"name"`
	GroupIDs      []int    `json:"groupIds"`
	Groups        []string `json:"groups"`
	TeacherGroups []int    `json:"teacherGroups"`
	Children      []int    `json:"children"`
}

type singleUserFull struct {
	singleUser
	Notes    string `json:"notes"`
	Exclude  bool   `json:"exclude"`
	Modified string `json:"modified"`
}

type listUser struct {
	singleUser
	VPP      []any  `json:"vpp"`
	Notes    string `json:"notes"`
	Exclude  bool   `json:"exclude"`
	Modified string `json:"modified"`
}

type singleUserResponse struct {
	Code int            `json:"code"`
	User singleUserFull `json:"user"`
}

type listUsersResponse struct {
	Code  int        `json:"code"`
	Count int        `json:"count"`
	Users []listUser `json:"users"`
}

type singleOwner struct {
	ID            int      `json:"id"`
	LocationID    int      `json:"locationId"`
	InTrash       bool     `json:"inTrash"`
	DeviceCount   int      `json:"deviceCount"`
	Username      string   `json:"username"`
	Email         string   `json:"email"`
	FirstName     string   `json:"firstName"`
	LastName      string   `json:"lastName"`
	Name          string   `json:"name"`
	GroupIDs      []int    `json:"groupIds"`
	Groups        []string `json:"groups"`
	TeacherGroups []int    `json:"teacherGroups"`
	Children      []int    `json:"children"`
	VPP           []any    `json:"vpp"`
	Notes         string   `json:"notes"`
	Modified      string   `json:"modified"`
}

type locationsResponse struct {
	Locations []location `json:"locations"`
}

type location struct {
	ID            int     `json:"id"`
	Name          string  `json:"name"`
	IsDistrict    bool    `json:"isDistrict"`
	Street        *string `json:"street"`
	StreetNumber  *string `json:"streetNumber"`
	PostalCode    *string `json:"postalCode"`
	City          *string `json:"city"`
	Source        string  `json:"source"`
	ASMIdentifier *string `json:"asmIdentifier"`
	SchoolNumber  *string `json:"schoolNumber"`
}

type bulkMigrateResponse struct {
	Code                int      `json:"code"`
	DevicesMoved        []string `json:"devicesMoved"`
	DevicesNotFound     []string `json:"devicesNotFound"`
	DevicesLocationSame []string `json:"devicesLocationSame"`
	DevicesMoveFailed   []string `json:"devicesMoveFailed"`
}

// createUserResponse is {"code":200,"message":"UserCreated","id":1234}, the reply a public client
// (jamfsync) documents; no captured reply is in testdata.
type createUserResponse struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	ID      int    `json:"id"`
}

func macFor(udid string, salt byte) string {
	h := byte(0)
	for i := 0; i < len(udid); i++ {
		h = h*31 + udid[i]
	}
	return strings.ToLower(strings.Join([]string{"f0", "18", "98", hex2(h), hex2(h ^ salt), hex2(byte(len(udid)))}, ":"))
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func (s *Server) deviceCountLocked(userID int) int {
	n := 0
	for _, d := range s.devices {
		if d.OwnerID == userID {
			n++
		}
	}
	return n
}

func (s *Server) renderListDeviceLocked(d *DeviceState) listDevice {
	var owner any = struct{}{}
	if u, ok := s.userByID[d.OwnerID]; ok && d.OwnerID != 0 {
		owner = listOwner{ID: u.ID, LocationID: u.LocationID, Username: u.Username, Email: u.Email,
			FirstName: u.FirstName, LastName: u.LastName, Name: u.Name, VPP: []any{}, Notes: u.Notes, Modified: s.opts.Modified}
	}
	return listDevice{
		UDID: d.UDID, LocationID: d.LocationID, SerialNumber: d.Serial, AssetTag: d.AssetTag, Class: "ipad",
		Model: listModel{Name: d.Model, Identifier: d.ModelIdentifier, Type: d.ModelType},
		OS:    osInfo{Prefix: "iPadOS", Version: d.OSVersion}, Name: d.Name, Owner: owner,
		IsManaged: d.Managed, IsSupervised: d.Supervised, EnrollType: d.EnrollType, DepProfile: "Student iPads",
		Groups: []string{}, BatteryLevel: 0.8, TotalCapacity: 64, AvailableCapacity: 40,
		ICloudBackupEnabled: false, ICloudBackupLatest: "", ITunesStoreLoggedIn: false,
		Region: listRegion{String: ""}, Notes: d.Notes, LastCheckin: s.opts.Modified, Modified: s.opts.Modified,
		NetworkInformation: netInfo{IPAddress: "10.0.0.1", IsNetworkTethered: "false", BluetoothMAC: macFor(d.UDID, 1),
			WiFiMAC: macFor(d.UDID, 2), VoiceRoamingEnabled: "false", DataRoamingEnabled: "false", PersonalHotspotEnabled: "false"},
	}
}

func (s *Server) renderSingleDeviceLocked(d *DeviceState) singleDevice {
	var owner any = struct{}{}
	if u, ok := s.userByID[d.OwnerID]; ok && d.OwnerID != 0 {
		owner = singleOwner{ID: u.ID, LocationID: u.LocationID, DeviceCount: s.deviceCountLocked(u.ID),
			Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Name: u.Name,
			GroupIDs: []int{}, Groups: []string{}, TeacherGroups: []int{}, Children: []int{}, VPP: []any{},
			Notes: u.Notes, Modified: s.opts.Modified}
	}
	var dep *string
	if d.EnrollType == "dep" {
		dep = strPtr("Student iPads")
	}
	return singleDevice{
		UDID: d.UDID, LocationID: d.LocationID, SerialNumber: d.Serial, AssetTag: d.AssetTag, Class: "ipad",
		Model: singleModel{Name: d.Model, Identifier: d.ModelIdentifier, Type: typeValue{Value: d.ModelType}},
		OS:    osInfo{Prefix: "iPadOS", Version: d.OSVersion}, Name: d.Name, Owner: owner,
		IsManaged: d.Managed, IsSupervised: d.Supervised, DeviceEnrollType: d.EnrollType, DeviceDepProfile: dep,
		BatteryLevel: 0.8, TotalCapacity: 64, AvailableCapacity: 40, GroupIDs: []int{}, Groups: []string{},
		WiFiMAC: macFor(d.UDID, 2), BluetoothMAC: macFor(d.UDID, 1), IPAddress: "10.0.0.1",
		Region: singleRegion{String: ""}, Notes: d.Notes,
		LastCheckin: singleCheckin{Date: s.opts.Modified + ".000000", TimezoneType: 3, Timezone: "UTC"},
		Modified:    s.opts.Modified,
	}
}

func (s *Server) ownerCountsLocked() map[int]int {
	counts := map[int]int{}
	for _, d := range s.devices {
		if d.OwnerID != 0 {
			counts[d.OwnerID]++
		}
	}
	return counts
}

func (s *Server) renderUserLocked(u *UserState, deviceCount int) singleUser {
	return singleUser{ID: u.ID, LocationID: u.LocationID, Status: u.Status, DeviceCount: deviceCount,
		Email: u.Email, Username: u.Username, Domain: u.Domain, FirstName: u.FirstName, LastName: u.LastName, Name: u.Name,
		GroupIDs: s.groupIDsLocked(u), Groups: s.groupNamesLocked(u), TeacherGroups: []int{}, Children: []int{}}
}
