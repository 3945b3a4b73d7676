package pro

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
)

// allBut is every privilege of the simulated API client except the ones named.
func allBut(missing ...string) []string {
	var out []string
	for _, p := range jamfpro.AllPrivileges {
		keep := true
		for _, m := range missing {
			keep = keep && p != m
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

func TestWritePrivilegesAreLearnedFromJamfsRefusals(t *testing.T) {
	ctx := context.Background()
	rename := func(c *Client) error {
		_, err := c.UpdateDevice(ctx, 3, DeviceUpdate{Name: ptr("STU-SER0003")})
		return err
	}
	relocate := func(c *Client) error {
		_, err := c.UpdateDevice(ctx, 3, DeviceUpdate{Location: &LocationUpdate{Room: ptr("204")}})
		return err
	}
	lostMode := func(c *Client) error {
		_, err := c.EnableLostMode(ctx, "mgmt-0003", LostMode{Message: "Return to the library"})
		return err
	}
	cases := []struct {
		name    string
		missing string
		write   func(c *Client) error
		// needs is what the policy manages; other is a policy that does not need the privilege.
		needs, other Needs
	}{
		{"a Lost Mode command refused names Send Mobile Device Lost Mode Command", PrivLostModeCommand, lostMode,
			Needs{LostMode: true}, Needs{User: true}},
		{"a rename refused names Send Mobile Device Set Device Name Command", PrivSetDeviceNameCommand, rename,
			Needs{Name: true}, Needs{User: true, Location: true}},
		{"an update refused names Update Mobile Devices", PrivUpdateMobileDevices, relocate,
			Needs{Location: true}, Needs{LostMode: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{devices: 3})
			e.sim.SetPrivileges(allBut(tc.missing)...)
			if err := e.client.TestConnection(ctx, tc.needs); err != nil {
				t.Fatalf("before any write Jamf's schema gives no way to see a write privilege: %v", err)
			}
			err := tc.write(e.client)
			var mp *MissingPrivilegesError
			var ae *APIError
			if !errors.As(err, &mp) || len(mp.Privileges) != 1 || mp.Privileges[0] != tc.missing ||
				!errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), tc.missing) {
				t.Fatalf("write: %v, want a *MissingPrivilegesError naming %q over Jamf's 403", err, tc.missing)
			}
			// A new client of the same server and API client (the next reconcile's) sees the refusal.
			next, nerr := New(Config{BaseURL: e.ts.URL, Auth: OAuth{ClientID: clientID, ClientSecret: clientSecret}, HTTPClient: e.ts.Client(), Now: e.serverClock.Now})
			if nerr != nil {
				t.Fatal(nerr)
			}
			err = next.TestConnection(ctx, tc.needs)
			if !errors.As(err, &mp) || !strings.Contains(err.Error(), tc.missing) {
				t.Fatalf("connection test after the refusal: %v, want it to name %q", err, tc.missing)
			}
			if !mp.OnlyRefusedWrites() {
				t.Fatalf("a privilege learned from a refused write is not marked so: %#v", mp)
			}
			if err := next.TestConnection(ctx, tc.other); err != nil {
				t.Fatalf("a policy that does not need %q: %v", tc.missing, err)
			}
			// No read can show the privilege granted: after RefusalMemory the refusal lapses, so the next
			// run tries the write again.
			e.serverClock.Step(RefusalMemory)
			if err := e.client.TestConnection(ctx, tc.needs); err != nil {
				t.Fatalf("after RefusalMemory: %v", err)
			}
			e.serverClock.Step(-RefusalMemory)
			// The district grants it: the next write succeeds and the connection test passes again.
			e.sim.SetPrivileges(jamfpro.AllPrivileges...)
			if err := tc.write(next); err != nil {
				t.Fatal(err)
			}
			if err := next.TestConnection(ctx, tc.needs); err != nil {
				t.Fatalf("after a successful write: %v", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	cases := []struct {
		name       string
		retryAfter string
		wantErr    bool
		wantWait   time.Duration // the longest wait recorded
	}{
		{"a short Retry-After is waited for, then the call succeeds", "3", false, 3 * time.Second},
		{"a Retry-After of a day ends the call at once instead of hanging", "86400", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var waits []time.Duration
			e := newEnv(t, envOpts{devices: 3, cfg: func(c *Config) {
				c.Sleep = func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					waits = append(waits, d)
					mu.Unlock()
					return nil
				}
			}})
			e.sim.Intercept(routeDetail, 1, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.retryAfter)
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusTooManyRequests)
			})
			start := time.Now()
			devs, err := e.client.Inventory(context.Background())
			if e.sim.FaultsServed() != 1 {
				t.Fatalf("the 429 was not served")
			}
			longest := time.Duration(0)
			for _, w := range waits {
				longest = max(longest, w)
			}
			if tc.wantErr {
				var long *httpx.RetryAfterTooLongError
				if !errors.As(err, &long) || IsRetryable(err) || time.Since(start) > 5*time.Second || longest > httpx.DefaultMaxRetryAfter {
					t.Fatalf("err %v after %v (longest wait %v), want a final *RetryAfterTooLongError at once", err, time.Since(start), longest)
				}
				return
			}
			if err != nil || len(devs) != 3 || longest != tc.wantWait {
				t.Fatalf("err %v, %d devices, longest wait %v, want %v", err, len(devs), longest, tc.wantWait)
			}
		})
	}
}
