package jamfschool

import (
	"fmt"
	"strings"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// DeviceState is the simulator's record of one device.
type DeviceState struct {
	UDID            string
	Serial          string
	Name            string
	AssetTag        string
	Notes           string
	LocationID      int
	OwnerID         int // 0: no owner
	Managed         bool
	Supervised      bool
	Model           string
	ModelIdentifier string
	ModelType       string
	OSVersion       string
	EnrollType      string
	// Case is the district generator's case for this device, for test diagnostics.
	Case string
}

// UserState is the simulator's record of one user.
type UserState struct {
	ID         int
	LocationID int
	Username   string
	Email      string
	FirstName  string
	LastName   string
	Name       string
	Domain     string
	Notes      string
	Status     string
	// GroupIDs are the user groups the user is a member of (written with memberOf).
	GroupIDs []int
	// Password is what POST /users was sent (the simulator keeps it so tests can check the rule that
	// chose it; Jamf School never returns a password). Users loaded from a district have none.
	Password string
}

// LocationState is one location (a district School).
type LocationState struct {
	ID   int
	Name string
}

// Write is one change the simulator applied, for tests and audits.
type Write struct {
	// Pattern is the route ("PUT /api/devices/{udid}/owner").
	Pattern string
	// Target is the device UDID, or the username for a created user.
	Target string
	// Field is "owner", "location", "notes", "assetTag" or "user".
	Field string
	Old   string
	New   string
}

// load builds the state from a district: locations from Schools, users from Patrons plus the device
// owners no patron accounts for, devices from Devices.
func (s *Server) load(d *district.District) {
	if d == nil {
		return
	}
	buildingLoc := map[string]int{}
	siteLoc := map[string]int{}
	seenLoc := map[int]bool{}
	for _, sc := range d.Schools {
		if sc.Building != "" {
			buildingLoc[strings.ToLower(sc.Building)] = sc.JamfSchoolLocationID
		}
		siteLoc[strings.ToLower(sc.ShortName)] = sc.JamfSchoolLocationID
		if !seenLoc[sc.JamfSchoolLocationID] {
			seenLoc[sc.JamfSchoolLocationID] = true
			name := sc.Name
			if name == "" {
				name = sc.ShortName
			}
			s.locations = append(s.locations, LocationState{ID: sc.JamfSchoolLocationID, Name: name})
		}
	}
	// Users by lower-cased username, as userByUsernameLocked finds them: an index for the bulk load (a
	// scan per lookup made seeding 50,000 devices take minutes).
	byName := s.usernameIndexLocked()
	add := func(u UserState) *UserState {
		p := s.addUserLocked(u)
		if k := strings.ToLower(p.Username); byName[k] == nil {
			byName[k] = p
		}
		return p
	}
	lookup := func(username string) *UserState { return byName[strings.ToLower(strings.TrimSpace(username))] }
	for _, p := range d.Patrons {
		if p.Username == "" && p.Email == "" {
			continue
		}
		if p.Username != "" && lookup(p.Username) != nil {
			continue
		}
		add(UserState{
			LocationID: siteLoc[strings.ToLower(p.SiteShortName)],
			Username:   p.Username, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName,
			Name: strings.TrimSpace(p.FirstName + " " + p.LastName),
		})
	}
	for i, dv := range d.Devices {
		st := &DeviceState{
			UDID: dv.UDID, Serial: dv.Serial, Name: dv.Name, AssetTag: dv.AssetTag,
			LocationID: buildingLoc[strings.ToLower(dv.Building)],
			Managed:    dv.Managed, Supervised: dv.Supervised,
			Model: dv.Model, ModelIdentifier: "iPad12,1", ModelType: "iPad", OSVersion: "17.5", EnrollType: "dep",
			Case: dv.Case,
		}
		if st.UDID == "" {
			st.UDID = fmt.Sprintf("00008101-%016X", i+1)
		}
		if st.Model == "" {
			st.Model = "iPad"
		}
		if dv.Username != "" {
			u := lookup(dv.Username)
			if u == nil {
				first, last, _ := strings.Cut(dv.RealName, " ")
				u = add(UserState{LocationID: st.LocationID, Username: dv.Username, Email: dv.Email,
					FirstName: first, LastName: last, Name: dv.RealName})
			}
			st.OwnerID = u.ID
		}
		s.addDeviceLocked(st)
	}
}

func (s *Server) addUserLocked(u UserState) *UserState {
	if u.ID == 0 {
		s.nextUserID++
		u.ID = s.nextUserID
	} else if u.ID > s.nextUserID {
		s.nextUserID = u.ID
	}
	if u.Status == "" {
		u.Status = "Active"
	}
	if u.Name == "" {
		u.Name = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	p := &u
	s.users = append(s.users, p)
	s.userByID[u.ID] = p
	return p
}

func (s *Server) addDeviceLocked(d *DeviceState) {
	s.devices = append(s.devices, d)
	s.deviceByUDID[d.UDID] = d
}

// usernameIndexLocked maps each lower-cased username to its first user, as userByUsernameLocked
// finds it, for bulk lookups.
func (s *Server) usernameIndexLocked() map[string]*UserState {
	m := make(map[string]*UserState, len(s.users))
	for _, u := range s.users {
		if k := strings.ToLower(u.Username); m[k] == nil {
			m[k] = u
		}
	}
	return m
}

func (s *Server) userByUsernameLocked(username string) *UserState {
	k := strings.ToLower(strings.TrimSpace(username))
	for _, u := range s.users {
		if strings.ToLower(u.Username) == k {
			return u
		}
	}
	return nil
}

func (s *Server) userByEmailLocked(email string) *UserState {
	k := strings.ToLower(strings.TrimSpace(email))
	for _, u := range s.users {
		if k != "" && strings.ToLower(u.Email) == k {
			return u
		}
	}
	return nil
}

func (s *Server) locationExistsLocked(id int) bool {
	for _, l := range s.locations {
		if l.ID == id {
			return true
		}
	}
	return false
}

// Device returns a copy of the device with that UDID.
func (s *Server) Device(udid string) (DeviceState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deviceByUDID[udid]
	if !ok {
		return DeviceState{}, false
	}
	return *d, true
}

// DeviceBySerial returns a copy of the first device whose serial equals serial (case-insensitive).
func (s *Server) DeviceBySerial(serial string) (DeviceState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if strings.EqualFold(d.Serial, serial) {
			return *d, true
		}
	}
	return DeviceState{}, false
}

// Devices returns copies of every device, in listing order.
func (s *Server) Devices() []DeviceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeviceState, 0, len(s.devices))
	for _, d := range s.devices {
		out = append(out, *d)
	}
	return out
}

// User returns a copy of the user with that id.
func (s *Server) User(id int) (UserState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.userByID[id]
	if !ok {
		return UserState{}, false
	}
	return *u, true
}

// UserByUsername returns a copy of the user with that username (case-insensitive).
func (s *Server) UserByUsername(username string) (UserState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByUsernameLocked(username)
	if u == nil {
		return UserState{}, false
	}
	return *u, true
}

// Users returns copies of every user, in listing order.
func (s *Server) Users() []UserState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]UserState, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, *u)
	}
	return out
}

// Locations returns the locations.
func (s *Server) Locations() []LocationState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LocationState(nil), s.locations...)
}

// AddUser adds a user (ID 0: the next free id) and returns its id.
func (s *Server) AddUser(u UserState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(u).ID
}

// RemoveUser deletes a user, as if it had never been made: devices it owned lose their owner, and
// classes it sat in lose it as a member (class writes are not counted: this is seeding).
func (s *Server) RemoveUser(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.userByID, id)
	for _, c := range s.roster.classes {
		c.Students, c.Teachers = without(c.Students, id), without(c.Teachers, id)
	}
	for i, u := range s.users {
		if u.ID == id {
			s.users = append(s.users[:i], s.users[i+1:]...)
			break
		}
	}
	for _, d := range s.devices {
		if d.OwnerID == id {
			d.OwnerID = 0
		}
	}
}

// AddDevice adds a device (it replaces nothing: UDIDs must be new).
func (s *Server) AddDevice(d DeviceState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := d
	s.addDeviceLocked(&cp)
}

// Writes returns the changes applied so far, in order.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Write(nil), s.writes...)
}

// ResetWrites clears the write log.
func (s *Server) ResetWrites() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = nil
}

// without returns ids without id (a new slice; nil stays nil).
func without(ids []int, id int) []int {
	if ids == nil {
		return nil
	}
	out := []int{}
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
