package school

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Users lists every user (GET /users). It does not touch the FindUser cache.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	return listRows(ctx, c, request{op: "Users", method: "GET", path: "/users", idempotent: true}, "users",
		func(w *wireUser) (User, bool) { return w.toUser(), true })
}

// User reads one user (GET /users/{id}); errors.Is(err, ErrNotFound) when it does not exist.
func (c *Client) User(ctx context.Context, id int) (User, error) {
	var resp wireUserResponse
	path := "/users/" + strconv.Itoa(id)
	if err := c.do(ctx, request{op: "User", method: "GET", path: path, idempotent: true}, &resp); err != nil {
		return User{}, err
	}
	if resp.User == nil {
		return User{}, &DecodeError{Op: "User", Method: "GET", Path: path, Status: 200, Err: errors.New(`no "user" object in the answer`)}
	}
	return resp.User.toUser(), nil
}

// Locations lists every location (GET /locations).
func (c *Client) Locations(ctx context.Context) ([]Location, error) {
	var resp wireLocationsResponse
	if err := c.do(ctx, request{op: "Locations", method: "GET", path: "/locations", idempotent: true}, &resp); err != nil {
		return nil, err
	}
	out := make([]Location, 0, len(resp.Locations))
	for _, l := range resp.Locations {
		out = append(out, Location{ID: int(l.ID), Name: string(l.Name), IsDistrict: bool(l.IsDistrict),
			SchoolNumber: string(l.SchoolNumber), ASMIdentifier: string(l.ASMIdentifier), Source: string(l.Source)})
	}
	return out, nil
}

// userIndex is one GET /users listing, indexed by lower-cased username and email.
type userIndex struct {
	byUsername map[string][]int // key -> indexes into users
	byEmail    map[string][]int
	users      []User
}

func newUserIndex(users []User) *userIndex {
	ix := &userIndex{byUsername: map[string][]int{}, byEmail: map[string][]int{}}
	for _, u := range users {
		ix.add(u)
	}
	return ix
}

func (ix *userIndex) add(u User) {
	i := len(ix.users)
	ix.users = append(ix.users, u)
	if k := userKey(u.Username); k != "" {
		ix.byUsername[k] = append(ix.byUsername[k], i)
	}
	if k := userKey(u.Email); k != "" {
		ix.byEmail[k] = append(ix.byEmail[k], i)
	}
}

func userKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (ix *userIndex) find(key string) (User, error) {
	k := userKey(key)
	if k == "" {
		return User{}, fmt.Errorf("jamfschool: FindUser: empty username or email: %w", ErrUserNotFound)
	}
	for _, m := range []map[string][]int{ix.byUsername, ix.byEmail} {
		switch hits := m[k]; len(hits) {
		case 0:
			continue
		case 1:
			return ix.users[hits[0]], nil
		default:
			ids := make([]string, 0, len(hits))
			for _, h := range hits {
				ids = append(ids, strconv.Itoa(ix.users[h].ID))
			}
			return User{}, fmt.Errorf("jamfschool: FindUser %q: users %s: %w", key, strings.Join(ids, ", "), ErrAmbiguousUser)
		}
	}
	return User{}, fmt.Errorf("jamfschool: FindUser %q: %w", key, ErrUserNotFound)
}

// FindUser returns the user whose username, or failing that email, equals usernameOrEmail
// (case-insensitive, trimmed). The first call lists GET /users once and caches the result until
// ResetUserCache, so a run costs one listing, not one call per device. Errors: ErrUserNotFound,
// ErrAmbiguousUser (wrapped), or the listing's error.
func (c *Client) FindUser(ctx context.Context, usernameOrEmail string) (User, error) {
	ix, err := c.userIndex(ctx)
	if err != nil {
		return User{}, err
	}
	c.usersMu.Lock()
	defer c.usersMu.Unlock()
	return ix.find(usernameOrEmail)
}

// ResetUserCache forgets the cached user listing; call it at the start of each run. Users passed as
// keep are added to the next listing when it lacks them (matched by id): Jamf School runs on several
// pods and may answer a listing right after a write without the users just created.
func (c *Client) ResetUserCache(keep ...User) {
	c.usersMu.Lock()
	defer c.usersMu.Unlock()
	c.users = nil
	c.keep = append([]User(nil), keep...)
}

// userIndex loads the listing once; concurrent callers wait for the same load. A failed load is not
// cached.
func (c *Client) userIndex(ctx context.Context) (*userIndex, error) {
	c.usersMu.Lock()
	defer c.usersMu.Unlock()
	if c.users != nil {
		return c.users, nil
	}
	users, err := c.Users(ctx)
	if err != nil {
		return nil, err
	}
	listed := make(map[int]bool, len(users))
	for _, u := range users {
		listed[u.ID] = true
	}
	for _, u := range c.keep {
		if !listed[u.ID] {
			users = append(users, u)
		}
	}
	c.users = newUserIndex(users)
	return c.users, nil
}

// CreateUser creates a user (POST /users). It fails unless Config.CreateMissingUsers is set, and,
// without a call, when any of username, password, email, first or last name is empty (the error names
// them, never the password). It is not idempotent, so it is retried only on 429. The created user
// joins the FindUser cache.
func (c *Client) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	if !c.cfg.CreateMissingUsers {
		return User{}, errors.New("jamfschool: CreateUser: creating users is disabled (policy option createMissingUsers is off)")
	}
	return c.createUser(ctx, "CreateUser", nu)
}

// CreateRosterUser creates a user the roster sync planned (spec.roster.users): the policy's roster
// section authorises it, so Config.CreateMissingUsers (the device path's switch) is not consulted.
// Otherwise it is CreateUser: the five fields are checked before any call, it is retried only on 429,
// and the created user joins the FindUser cache.
func (c *Client) CreateRosterUser(ctx context.Context, nu NewUser) (User, error) {
	return c.createUser(ctx, "CreateRosterUser", nu)
}

func (c *Client) createUser(ctx context.Context, op string, nu NewUser) (User, error) {
	if m := nu.missing(); len(m) > 0 {
		return User{}, fmt.Errorf("jamfschool: %s %q: %s empty (Jamf School needs username, password, email, first and last name)",
			op, nu.Username, strings.Join(m, ", "))
	}
	var resp wireCreateUserResponse
	if err := c.do(ctx, request{op: op, method: "POST", path: "/users", body: nu}, &resp); err != nil {
		return User{}, err
	}
	u := User{Username: nu.Username, Email: nu.Email, FirstName: nu.FirstName, LastName: nu.LastName,
		LocationID: nu.LocationID, Notes: nu.Notes, Name: strings.TrimSpace(nu.FirstName + " " + nu.LastName)}
	switch {
	case resp.User != nil && resp.User.ID != 0:
		u = resp.User.toUser()
	case resp.ID != 0:
		u.ID = int(resp.ID)
	default:
		// The answer did not say which id the user got: read the listing again to learn it (users kept
		// by ResetUserCache stay kept).
		c.usersMu.Lock()
		c.users = nil
		c.usersMu.Unlock()
		found, err := c.FindUser(ctx, nu.Username)
		if err != nil {
			return User{}, fmt.Errorf("jamfschool: %s %q: created, but cannot find its id: %w", op, nu.Username, err)
		}
		return found, nil
	}
	c.usersMu.Lock()
	if c.users != nil {
		c.users.add(u)
	}
	c.usersMu.Unlock()
	return u, nil
}

// ResolveUser finds the user for a username or email (FindUser) and, when it does not exist and
// Config.CreateMissingUsers is set, creates it from nu. created says whether a user was created.
// With CreateMissingUsers off, a missing user is errors.Is(err, ErrUserNotFound).
func (c *Client) ResolveUser(ctx context.Context, usernameOrEmail string, nu NewUser) (u User, created bool, err error) {
	u, err = c.FindUser(ctx, usernameOrEmail)
	if err == nil || !errors.Is(err, ErrUserNotFound) || !c.cfg.CreateMissingUsers {
		return u, false, err
	}
	if nu.Username == "" {
		nu.Username = usernameOrEmail
	}
	u, err = c.CreateUser(ctx, nu)
	return u, err == nil, err
}

// TestConnection checks that the credentials work and that the key may read devices, users and
// locations, with three cheap calls: GET /devices filtered on a serial number no device has,
// GET /users/0 (a 404 UserNotFound proves the key may read users), and GET /locations. A 405
// "not allowed using this API key" error names the method and path that were refused.
func (c *Client) TestConnection(ctx context.Context) error {
	if _, err := listDevices(ctx, c, "TestConnection", url.Values{"serialnumber": {"DEVICESYNC-CONNECTION-TEST"}}, all); err != nil {
		return err
	}
	var u wireUserResponse
	err := c.do(ctx, request{op: "TestConnection", method: "GET", path: "/users/0", idempotent: true}, &u)
	if err != nil && !isUserNotFound(err) {
		return err
	}
	var l wireLocationsResponse
	return c.do(ctx, request{op: "TestConnection", method: "GET", path: "/locations", idempotent: true}, &l)
}

func isUserNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Is(ErrNotFound) && ae.Shape == ShapeFlat
}
