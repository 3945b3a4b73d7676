package pro

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"unique"
)

const inventoryPath = "/api/v2/mobile-devices/detail"

// DeviceTypeIOS is the deviceType of iPhones and iPads, the devices the sync manages.
const DeviceTypeIOS = "iOS"

// InventorySections are the sections the engine needs.
var InventorySections = []string{"GENERAL", "HARDWARE", "USER_AND_LOCATION", "SECURITY"}

// MobileDevice is the engine's view of one Jamf Pro mobile device.
type MobileDevice struct {
	// ID is the Jamf Pro mobile device id (mobileDeviceId).
	ID int
	// DeviceType is the schema's deviceType: "iOS" for iPhones and iPads, "tvOS" (Apple TV), "watchOS",
	// "visionOS". Only iOS devices have a SECURITY section (Lost Mode); the others are not Unreadable for
	// lacking one.
	DeviceType string
	// ManagementID is the MDM command target (general.managementId).
	ManagementID string
	// Serial is hardware.serialNumber, raw (normalising is the engine's job).
	Serial     string
	Name       string
	Managed    bool
	Supervised bool
	Username   string
	RealName   string
	Email      string
	Position   string
	Phone      string
	// BuildingID and DepartmentID are Jamf ids ("" when none; Jamf's "-1" is mapped to ""). Building and
	// Department are their names, "" when none or when the id is unknown (the id is kept).
	BuildingID   string
	Building     string
	DepartmentID string
	Department   string
	Room         string
	// LostModeEnabled is security.lostModeEnabled.
	LostModeEnabled bool
	// EnforceName is only known from a PATCH response (the inventory does not carry it).
	EnforceName bool
	// Unreadable is true when Jamf could not read one of the requested sections (exception-handling=LENIENT
	// answered null for it): the fields of that section are zero and must not be trusted.
	Unreadable bool
}

// inventoryDevice is one row of an inventory page (the schema's MobileDeviceResponse, the sections read).
type inventoryDevice struct {
	MobileDeviceID string `json:"mobileDeviceId"`
	DeviceType     string `json:"deviceType"`
	General        *struct {
		DisplayName  string `json:"displayName"`
		Managed      bool   `json:"managed"`
		Supervised   bool   `json:"supervised"`
		ManagementID string `json:"managementId"`
	} `json:"general"`
	Hardware *struct {
		SerialNumber string `json:"serialNumber"`
	} `json:"hardware"`
	UserAndLocation *struct {
		Username     string `json:"username"`
		RealName     string `json:"realName"`
		EmailAddress string `json:"emailAddress"`
		Position     string `json:"position"`
		PhoneNumber  string `json:"phoneNumber"`
		DepartmentID string `json:"departmentId"`
		BuildingID   string `json:"buildingId"`
		Room         string `json:"room"`
		Building     string `json:"building"`
		Department   string `json:"department"`
	} `json:"userAndLocation"`
	Security *struct {
		LostModeEnabled bool `json:"lostModeEnabled"`
	} `json:"security"`
}

func normID(id string) string {
	if id == "-1" || id == "0" {
		return ""
	}
	return id
}

// intern returns the canonical copy of a value many devices share (a building, a department, a room,
// a position, a device type): a 50,000-device inventory then holds each such name once.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

func (d inventoryDevice) toDevice() (MobileDevice, error) {
	id, err := strconv.Atoi(d.MobileDeviceID)
	if err != nil {
		return MobileDevice{}, fmt.Errorf("mobileDeviceId %q is not a number", d.MobileDeviceID)
	}
	m := MobileDevice{ID: id, DeviceType: intern(d.DeviceType)}
	if m.DeviceType == "" {
		m.DeviceType = DeviceTypeIOS // the schema requires deviceType; a server leaving it out lists iOS devices
	}
	if g := d.General; g != nil {
		m.Name, m.Managed, m.Supervised, m.ManagementID = g.DisplayName, g.Managed, g.Supervised, g.ManagementID
	} else {
		m.Unreadable = true
	}
	if h := d.Hardware; h != nil {
		m.Serial = h.SerialNumber
	} else {
		m.Unreadable = true
	}
	if u := d.UserAndLocation; u != nil {
		m.Username, m.RealName, m.Email, m.Phone = u.Username, u.RealName, u.EmailAddress, u.PhoneNumber
		m.Position, m.Room = intern(u.Position), intern(u.Room)
		m.BuildingID, m.Building = intern(normID(u.BuildingID)), intern(u.Building)
		m.DepartmentID, m.Department = intern(normID(u.DepartmentID)), intern(u.Department)
		if m.BuildingID == "" {
			m.Building = ""
		}
		if m.DepartmentID == "" {
			m.Department = ""
		}
	} else {
		m.Unreadable = true
	}
	if s := d.Security; s != nil {
		m.LostModeEnabled = s.LostModeEnabled
	} else if m.DeviceType == DeviceTypeIOS {
		m.Unreadable = true // only iOS devices have a security section
	}
	return m, nil
}

// Inventory lists every mobile device with the sections GENERAL, HARDWARE, USER_AND_LOCATION and
// SECURITY, sorted by id, with exception-handling=LENIENT (Jamf Pro 11.29+; older servers ignore the
// parameter). Calls: one token request when needed, then about totalCount / PageSize pages, never a
// per-device GET. See lister for how pages are sized, shrunk and checked.
func (c *Client) Inventory(ctx context.Context) ([]MobileDevice, error) {
	return listInventory(ctx, c, "", func(m *MobileDevice) MobileDevice { return *m })
}

// InventoryAs is Inventory with each device converted by conv as its page arrives: only conv's results
// are kept (sorted by id, each device once), so a caller holding its own compact form of a device never
// holds the inventory twice. conv must not keep m.
func InventoryAs[T any](ctx context.Context, c *Client, conv func(m *MobileDevice) T) ([]T, error) {
	return listInventory(ctx, c, "", conv)
}

func inventoryQuery(filter string, page, size int) url.Values {
	q := url.Values{
		"section":            InventorySections,
		"page":               {strconv.Itoa(page)},
		"page-size":          {strconv.Itoa(size)},
		"sort":               {"mobileDeviceId:asc"},
		"exception-handling": {"LENIENT"},
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	return q
}
