package pro

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

const commandsPath = "/api/v2/mdm/commands"

// LostMode is what an ENABLE_LOST_MODE command shows on the lock screen. Message or Phone is required.
type LostMode struct {
	Message  string
	Phone    string
	Footnote string
}

type commandRequest struct {
	ClientData  []commandClient `json:"clientData"`
	CommandData commandData     `json:"commandData"`
}

type commandClient struct {
	ManagementID string `json:"managementId"`
}

type commandData struct {
	CommandType      string `json:"commandType"`
	LostModeMessage  string `json:"lostModeMessage,omitempty"`
	LostModePhone    string `json:"lostModePhone,omitempty"`
	LostModeFootnote string `json:"lostModeFootnote,omitempty"`
}

// EnableLostMode sends ENABLE_LOST_MODE to one device (POST /api/v2/mdm/commands) and returns the
// command id. Jamf accepts it for supervised devices only. Not retried once the request may have reached
// the server: a *TransportError with MaybeSent, or an APIError, means the engine must re-read the
// inventory before trying again.
func (c *Client) EnableLostMode(ctx context.Context, managementID string, lm LostMode) (string, error) {
	if strings.TrimSpace(lm.Message) == "" && strings.TrimSpace(lm.Phone) == "" {
		return "", ErrLostModeNeedsMessageOrPhone
	}
	return c.command(ctx, managementID, commandData{CommandType: "ENABLE_LOST_MODE", LostModeMessage: lm.Message, LostModePhone: lm.Phone, LostModeFootnote: lm.Footnote})
}

// DisableLostMode sends DISABLE_LOST_MODE to one device and returns the command id (same retry rules).
func (c *Client) DisableLostMode(ctx context.Context, managementID string) (string, error) {
	return c.command(ctx, managementID, commandData{CommandType: "DISABLE_LOST_MODE"})
}

func (c *Client) command(ctx context.Context, managementID string, data commandData) (string, error) {
	if managementID == "" {
		return "", errors.New("jamf pro: MDM command needs a managementId")
	}
	op := fmt.Sprintf("send %s to %s", data.CommandType, managementID)
	var out []struct {
		ID   string `json:"id"`
		Href string `json:"href"`
	}
	body := commandRequest{ClientData: []commandClient{{ManagementID: managementID}}, CommandData: data}
	priv := commandPrivilege(data.CommandType)
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: commandsPath, body: body}, &out); err != nil {
		if ae := invalidPrivilege(err); ae != nil {
			// Jamf names the command type it refused ("not privileged for [ENABLE_LOST_MODE]"); otherwise
			// the refusal is of the endpoint's own privilege.
			missing := PrivViewMDMCommands
			if strings.Contains(ae.Description, "["+data.CommandType+"]") {
				missing = priv
			}
			return "", c.refusedWrite(missing, fmt.Sprintf("Jamf refused a %s command", data.CommandType), err)
		}
		return "", err
	}
	c.grantedWrite(priv, PrivViewMDMCommands)
	if len(out) == 0 {
		return "", &DecodeError{Op: op, Method: http.MethodPost, Path: commandsPath, StatusCode: http.StatusCreated, Err: errors.New("no command in the answer")}
	}
	return out[0].ID, nil
}

// Needs says which fields the policy manages, hence which privileges TestConnection checks.
type Needs struct {
	Name, User, Location, LostMode bool
}

// TestConnection gets a token and checks the privileges the managed fields need.
//
// Reads are checked by making them, cheaply:
//   - always: one inventory page of one device with the four sections ("Read Mobile Devices");
//   - Location: one building and one department ("Read Buildings", "Read Departments");
//   - LostMode: one MDM command listing filtered on ENABLE_LOST_MODE ("View MDM command information in
//     Jamf Pro API", the privilege the schema names for GET and POST /v2/mdm/commands).
//
// Writes cannot be checked without writing, and Jamf's schema for this API has no endpoint listing a
// token's privileges. So the write privileges are learned from Jamf's refusals: a 403 INVALID_PRIVILEGE
// to a PATCH ("Update Mobile Devices", or "Send Mobile Device Set Device Name Command" when Jamf refuses
// the SETTINGS command a rename sends) or to a Lost Mode command ("Send Mobile Device Lost Mode Command")
// is remembered for this Jamf server and API client, by every Client of the process, until such a write
// succeeds or RefusalMemory has passed (then the next run tries the write again). TestConnection reports the remembered ones the policy needs (Name: update and rename;
// User, Location: update; LostMode: the Lost Mode command), so the policy's Ready condition names the
// privilege after the first refused write.
//
// Missing privileges are collected into one *MissingPrivilegesError; other failures are returned as they
// are (an *AuthError for bad credentials).
func (c *Client) TestConnection(ctx context.Context, n Needs) error {
	if _, err := c.tokens.Get(ctx); err != nil {
		var te *tokenError
		if errors.As(err, &te) {
			return te.err
		}
		return fmt.Errorf("jamf pro: get token: %w", err)
	}
	type check struct {
		priv string
		cl   call
	}
	checks := []check{{PrivReadMobileDevices, call{op: "test inventory read", method: http.MethodGet, path: inventoryPath,
		query: inventoryQuery("", 0, 1)}}}
	if n.Location {
		one := url.Values{"page": {"0"}, "page-size": {"1"}}
		checks = append(checks,
			check{PrivReadBuildings, call{op: "test buildings read", method: http.MethodGet, path: "/api/v1/buildings", query: one}},
			check{PrivReadDepartments, call{op: "test departments read", method: http.MethodGet, path: "/api/v1/departments", query: one}})
	}
	if n.LostMode {
		checks = append(checks, check{PrivViewMDMCommands, call{op: "test MDM commands read", method: http.MethodGet, path: commandsPath,
			query: url.Values{"page": {"0"}, "page-size": {"1"}, "filter": {"command==ENABLE_LOST_MODE"}}}})
	}
	missing := &MissingPrivilegesError{}
	for _, ch := range checks {
		ch.cl.idempotent = true
		var sink map[string]any
		err := c.do(ctx, ch.cl, &sink)
		var ae *APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden:
			missing.add(ch.priv, "")
		default:
			return err
		}
	}
	var writes []string
	if n.Name || n.User || n.Location {
		writes = append(writes, PrivUpdateMobileDevices)
	}
	if n.Name {
		writes = append(writes, PrivSetDeviceNameCommand)
	}
	if n.LostMode {
		writes = append(writes, PrivLostModeCommand, PrivViewMDMCommands)
	}
	for _, p := range writes {
		if why, ok := c.refusal(p); ok {
			missing.add(p, why)
		}
	}
	if len(missing.Privileges) > 0 {
		return missing
	}
	return nil
}

// PendingLostMode lists the devices with a Lost Mode command still pending (queued, not yet acknowledged:
// the device is offline, as lost devices often are), by management id: true for a pending
// ENABLE_LOST_MODE, false for a pending DISABLE_LOST_MODE (the newest wins). The inventory's
// lostModeEnabled changes only when the device answers, so without this a device that stays offline
// would be sent the same command every run. Two paged reads: GET /api/v2/mdm/commands filtered on
// command and status==Pending.
func (c *Client) PendingLostMode(ctx context.Context) (map[string]bool, error) {
	types := []string{"ENABLE_LOST_MODE", "DISABLE_LOST_MODE"}
	found := make([][]pending, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, typ := range types { // both at once: two independent paged reads
		wg.Go(func() { found[i], errs[i] = c.pendingCommands(ctx, typ) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	all := append(found[0], found[1]...)
	for i := range all {
		all[i].on = all[i].typ == "ENABLE_LOST_MODE"
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].sent < all[j].sent })
	res := make(map[string]bool, len(all))
	for _, p := range all {
		res[p.id] = p.on
	}
	return res, nil
}

type pending struct {
	id, sent, typ string
	on            bool
}

// commandPageSize is what a command listing asks for per page; Jamf may answer with fewer (it clamps page
// sizes silently), so the listing goes by the rows it gets, never by this number.
const commandPageSize = 500

// pendingCommands lists the pending commands of one type. Paging follows totalCount and the rows
// returned: page 0's row count is the server's page size; the listing ends when it holds totalCount
// rows. A page that comes back empty or short before that (the count was larger than the rows) or a
// count that is negative or absurd fails the read: a pending command missed would be sent again.
func (c *Client) pendingCommands(ctx context.Context, typ string) ([]pending, error) {
	var (
		found      []pending
		received   int
		serverSize int
	)
	op := "list pending " + typ + " commands"
	for page := 0; ; page++ {
		var out struct {
			TotalCount int64 `json:"totalCount"`
			Results    []struct {
				DateSent string `json:"dateSent"`
				Client   struct {
					ManagementID string `json:"managementId"`
				} `json:"client"`
				CommandState string `json:"commandState"`
			} `json:"results"`
		}
		q := url.Values{"page": {strconv.Itoa(page)}, "page-size": {strconv.Itoa(commandPageSize)}, "sort": {"dateSent:asc"},
			"filter": {"command==" + typ + ";status==Pending"}}
		if err := c.do(ctx, call{op: op, method: http.MethodGet, path: commandsPath, query: q, idempotent: true}, &out); err != nil {
			return nil, err
		}
		total, err := checkCount(op, commandsPath, out.TotalCount)
		if err != nil {
			return nil, err
		}
		n := len(out.Results)
		if page == 0 {
			serverSize = n
		}
		if n > commandPageSize {
			return nil, pageError(op, commandsPath, fmt.Errorf("asked for %d rows, got %d", commandPageSize, n))
		}
		for _, r := range out.Results {
			if r.Client.ManagementID != "" && strings.EqualFold(r.CommandState, "PENDING") {
				found = append(found, pending{id: r.Client.ManagementID, sent: r.DateSent, typ: typ})
			}
		}
		received += n
		if received >= total {
			return found, nil
		}
		if n == 0 || n < serverSize {
			return nil, pageError(op, commandsPath, fmt.Errorf("totalCount is %d, but the listing ended after %d rows", total, received))
		}
	}
}
