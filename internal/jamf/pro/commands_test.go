package pro

import (
	"context"
	"errors"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

func TestLostMode(t *testing.T) {
	lm := LostMode{Message: "Please return to the LHS library", Phone: "555-0199", Footnote: "Lincoln USD"}
	type check func(t *testing.T, e *env, id string, err error)
	cases := []struct {
		name    string
		disable bool
		mgmt    string
		lm      LostMode
		setup   func(e *env)
		check   check
	}{
		{"enable sends one command and the device reports Lost Mode", false, "mgmt-0003", lm, nil,
			func(t *testing.T, e *env, id string, err error) {
				d, _ := e.sim.Device(3)
				cmds := e.sim.Commands()
				if err != nil || id == "" || !d.LostMode || len(cmds) != 1 || cmds[0].Type != "ENABLE_LOST_MODE" ||
					cmds[0].Payload["lostModeMessage"] != lm.Message || cmds[0].Payload["lostModePhone"] != lm.Phone || cmds[0].Payload["lostModeFootnote"] != lm.Footnote {
					t.Fatalf("err %v id %q device %+v commands %+v", err, id, d, cmds)
				}
				if e.calls(routeCommands) != 1 {
					t.Fatalf("command POSTs %d", e.calls(routeCommands))
				}
			}},
		{"a phone alone is enough", false, "mgmt-0003", LostMode{Phone: "555"}, nil,
			func(t *testing.T, e *env, id string, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{"disable turns Lost Mode off", true, "mgmt-0001", LostMode{}, func(e *env) {
			if _, err := e.client.EnableLostMode(context.Background(), "mgmt-0001", lm); err != nil {
				e.t.Fatal(err)
			}
		}, func(t *testing.T, e *env, id string, err error) {
			if d, _ := e.sim.Device(1); err != nil || d.LostMode {
				t.Fatalf("err %v device %+v", err, d)
			}
		}},
		{"no message and no phone is refused before any call", false, "mgmt-0003", LostMode{Footnote: "x"}, nil,
			func(t *testing.T, e *env, id string, err error) {
				if !errors.Is(err, ErrLostModeNeedsMessageOrPhone) || e.sim.HTTP().TotalCalls() != 0 {
					t.Fatalf("err %v calls %d", err, e.sim.HTTP().TotalCalls())
				}
			}},
		{"an unsupervised device is refused by Jamf and not retried", false, "mgmt-0002", lm, nil,
			func(t *testing.T, e *env, id string, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Code != "UNABLE_TO_QUEUE_COMMAND" || ae.Retryable || IsRetryable(err) {
					t.Fatalf("err %#v", err)
				}
				if e.calls(routeCommands) != 1 {
					t.Fatalf("command POSTs %d", e.calls(routeCommands))
				}
			}},
		{"a 503 is not retried: the command may have been queued", false, "mgmt-0003", lm,
			func(e *env) { e.sim.HTTP().FailNext(routeCommands, 1, simhttp.FaultStatus503) },
			func(t *testing.T, e *env, id string, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.Retryable || e.calls(routeCommands) != 1 {
					t.Fatalf("err %v POSTs %d", err, e.calls(routeCommands))
				}
			}},
		{"an HTML 504 is not retried", false, "mgmt-0003", lm,
			func(e *env) { e.sim.HTTP().FailNext(routeCommands, 1, simhttp.FaultHTML504) },
			func(t *testing.T, e *env, id string, err error) {
				var he *HTMLError
				if !errors.As(err, &he) || he.Retryable || e.calls(routeCommands) != 1 {
					t.Fatalf("err %v POSTs %d", err, e.calls(routeCommands))
				}
			}},
		{"a connection reset after sending is not retried", false, "mgmt-0003", lm,
			func(e *env) { e.sim.HTTP().FailNext(routeCommands, 1, simhttp.FaultResetConnection) },
			func(t *testing.T, e *env, id string, err error) {
				var te *TransportError
				if !errors.As(err, &te) || !te.MaybeSent || te.Retryable || e.calls(routeCommands) != 1 {
					t.Fatalf("err %v POSTs %d", err, e.calls(routeCommands))
				}
			}},
		{"a token refused with 401 is renewed and the command sent once", false, "mgmt-0003", lm,
			func(e *env) {
				if err := e.client.TestConnection(context.Background(), Needs{}); err != nil {
					e.t.Fatal(err)
				}
				e.sim.ExpireTokens()
			},
			func(t *testing.T, e *env, id string, err error) {
				if err != nil || len(e.sim.Commands()) != 1 || e.calls(routeCommands) != 2 || e.calls(routeOAuth) != 1 {
					t.Fatalf("err %v commands %d POSTs %d tokens %d", err, len(e.sim.Commands()), e.calls(routeCommands), e.calls(routeOAuth))
				}
			}},
		{"an unknown managementId is a 400 APIError", false, "nope", lm, nil,
			func(t *testing.T, e *env, id string, err error) {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Field == "" {
					t.Fatalf("err %v", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 3, cfg: func(c *Config) { c.MaxRetries = 3 }})
			if tc.setup != nil {
				tc.setup(e)
				e.sim.HTTP().ResetCounters() // counts only; faults queued by setup stay queued
			}
			var id string
			var err error
			if tc.disable {
				id, err = e.client.DisableLostMode(context.Background(), tc.mgmt)
			} else {
				id, err = e.client.EnableLostMode(context.Background(), tc.mgmt, tc.lm)
			}
			tc.check(t, e, id, err)
		})
	}
}

func TestCommandPOSTIsRetriedWhenItCertainlyWasNotSent(t *testing.T) {
	e := newEnv(t, envOpts{devices: 3, cfg: func(c *Config) { c.MaxRetries = 2 }})
	if err := e.client.TestConnection(context.Background(), Needs{}); err != nil {
		t.Fatal(err)
	}
	e.ts.Close() // the token is cached; now every dial fails
	_, err := e.client.EnableLostMode(context.Background(), "mgmt-0003", LostMode{Message: "x"})
	var te *TransportError
	if !errors.As(err, &te) || te.MaybeSent || !te.Retryable {
		t.Fatalf("err %#v", err)
	}
}

func TestTestConnection(t *testing.T) {
	all := Needs{Name: true, User: true, Location: true, LostMode: true}
	cases := []struct {
		name      string
		needs     Needs
		privs     []string
		auth      Auth
		wantCalls map[string]int
		check     func(t *testing.T, err error)
	}{
		{"all privileges: nil after token, inventory, buildings, departments, commands", all, nil, nil,
			map[string]int{routeOAuth: 1, routeDetail: 1, routeBuildings: 1, routeDepts: 1, routeListCmds: 1},
			func(t *testing.T, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{"name only: token and one inventory page", Needs{Name: true}, nil, nil,
			map[string]int{routeOAuth: 1, routeDetail: 1},
			func(t *testing.T, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{"missing privileges are all named", all, []string{jamfpro.PrivReadMobileDevices, jamfpro.PrivReadDepartments}, nil,
			map[string]int{routeOAuth: 1, routeDetail: 1, routeBuildings: 1, routeDepts: 1, routeListCmds: 1},
			func(t *testing.T, err error) {
				var mp *MissingPrivilegesError
				if !errors.As(err, &mp) || len(mp.Privileges) != 2 || mp.Privileges[0] != "Read Buildings" ||
					mp.Privileges[1] != "View MDM command information in Jamf Pro API" {
					t.Fatalf("err %v", err)
				}
			}},
		{"a wrong secret is an AuthError and nothing else is called", all, nil, OAuth{ClientID: clientID, ClientSecret: "wrong"},
			map[string]int{routeOAuth: 1},
			func(t *testing.T, err error) {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Code != "invalid_client" || ae.StatusCode != 401 {
					t.Fatalf("err %v", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 3, simOpts: func(o *jamfpro.Options) { o.Privileges = tc.privs },
				cfg: func(c *Config) {
					if tc.auth != nil {
						c.Auth = tc.auth
					}
				}})
			tc.check(t, e.client.TestConnection(context.Background(), tc.needs))
			calls := e.sim.HTTP().Calls()
			if len(calls) != len(tc.wantCalls) {
				t.Fatalf("calls %v, want %v", calls, tc.wantCalls)
			}
			for k, v := range tc.wantCalls {
				if calls[k] != v {
					t.Fatalf("calls %v, want %v", calls, tc.wantCalls)
				}
			}
		})
	}
}
