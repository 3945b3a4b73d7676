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
	if err := c.do(ctx, call{op: op, method: http.MethodPost, path: commandsPath, body: body}, &out); err != nil {
		return "", err
	}
	if len(out) == 0 {
		return "", &DecodeError{Op: op, Method: http.MethodPost, Path: commandsPath, StatusCode: http.StatusCreated, Err: errors.New("no command in the answer")}
	}
	return out[0].ID, nil
}

// Needs says which fields the policy manages, hence which privileges TestConnection checks.
type Needs struct {
	Name, User, Location, LostMode bool
}

// TestConnection gets a token and makes the cheap reads the needed privileges allow:
//   - always: one inventory page of one device with the four sections ("Read Mobile Devices");
//   - Location: one building and one department ("Read Buildings", "Read Departments");
//   - LostMode: one MDM command listing filtered on ENABLE_LOST_MODE ("View MDM command information in
//     Jamf Pro API", the privilege the schema names for POST /v2/mdm/commands).
//
// "Update Mobile Devices" (Name, User, Location) cannot be checked without writing, and the schema
// subset has no endpoint listing a token's privileges: a missing write privilege shows as a 403 on the
// first PATCH. Reads answered 403 are collected into one *MissingPrivilegesError; other failures are
// returned as they are (an *AuthError for bad credentials).
func (c *Client) TestConnection(ctx context.Context, n Needs) error {
	if err := c.withSlot(ctx, "get token", func() error { _, err := c.tokens.get(ctx); return err }); err != nil {
		return err
	}
	type check struct {
		priv string
		cl   call
	}
	checks := []check{{"Read Mobile Devices", call{op: "test inventory read", method: http.MethodGet, path: inventoryPath,
		query: url.Values{"section": InventorySections, "page": {"0"}, "page-size": {"1"}, "sort": {"mobileDeviceId:asc"}, "exception-handling": {"LENIENT"}}}}}
	if n.Location {
		one := url.Values{"page": {"0"}, "page-size": {"1"}}
		checks = append(checks,
			check{"Read Buildings", call{op: "test buildings read", method: http.MethodGet, path: "/api/v1/buildings", query: one}},
			check{"Read Departments", call{op: "test departments read", method: http.MethodGet, path: "/api/v1/departments", query: one}})
	}
	if n.LostMode {
		checks = append(checks, check{"View MDM command information in Jamf Pro API", call{op: "test MDM commands read", method: http.MethodGet, path: commandsPath,
			query: url.Values{"page": {"0"}, "page-size": {"1"}, "filter": {"command==ENABLE_LOST_MODE"}}}})
	}
	var missing []string
	for _, ch := range checks {
		ch.cl.idempotent = true
		var sink map[string]any
		err := c.do(ctx, ch.cl, &sink)
		var ae *APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.StatusCode == http.StatusForbidden:
			missing = append(missing, ch.priv)
		default:
			return err
		}
	}
	if len(missing) > 0 {
		return &MissingPrivilegesError{Privileges: missing}
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
	type pending struct {
		id   string
		sent string
		on   bool
	}
	types := []string{"ENABLE_LOST_MODE", "DISABLE_LOST_MODE"}
	found := make([][]pending, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, typ := range types { // both at once: two independent paged reads
		wg.Go(func() {
			for page := 0; ; page++ {
				var out struct {
					TotalCount int `json:"totalCount"`
					Results    []struct {
						DateSent string `json:"dateSent"`
						Client   struct {
							ManagementID string `json:"managementId"`
						} `json:"client"`
						CommandState string `json:"commandState"`
					} `json:"results"`
				}
				q := url.Values{"page": {strconv.Itoa(page)}, "page-size": {"2000"}, "sort": {"dateSent:asc"},
					"filter": {"command==" + typ + ";status==Pending"}}
				if err := c.do(ctx, call{op: "list pending " + typ + " commands", method: http.MethodGet, path: commandsPath, query: q, idempotent: true}, &out); err != nil {
					errs[i] = err
					return
				}
				for _, r := range out.Results {
					if r.Client.ManagementID != "" && strings.EqualFold(r.CommandState, "PENDING") {
						found[i] = append(found[i], pending{id: r.Client.ManagementID, sent: r.DateSent, on: typ == "ENABLE_LOST_MODE"})
					}
				}
				if len(out.Results) == 0 || (page+1)*2000 >= out.TotalCount {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	all := append(found[0], found[1]...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].sent < all[j].sent })
	res := make(map[string]bool, len(all))
	for _, p := range all {
		res[p.id] = p.on
	}
	return res, nil
}
