package engine_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	jamfschoolsim "github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// schoolFaultSide serves the Jamf School simulator over TLS and returns a target whose client trusts
// only that server's certificate, gives up on one attempt after attemptTimeout, and records the waits
// between attempts (shortened, so a 1s Retry-After does not slow the test).
func schoolFaultSide(t *testing.T, d *district.District, attemptTimeout time.Duration, waits *[]time.Duration, mu *gosync.Mutex) (*jamfschoolsim.Server, *engine.JamfSchool) {
	t.Helper()
	sim := jamfschoolsim.New(d, jamfschoolsim.Options{})
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cl, err := school.New(school.Config{
		BaseURL: srv.URL + "/api", NetworkID: jamfschoolsim.DefaultNetworkID, APIKey: jamfschoolsim.DefaultAPIKey,
		HTTPClient: httpx.NewClient(httpx.ClientOptions{Timeout: attemptTimeout, RootCAs: pool}),
		Backoff:    fastBackoff,
		Sleep: func(ctx context.Context, w time.Duration) error {
			mu.Lock()
			*waits = append(*waits, w)
			mu.Unlock()
			return httpx.Sleep(ctx, min(w, 5*time.Millisecond))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sim, &engine.JamfSchool{Client: cl}
}

// TestJamfSchoolFaults runs whole syncs against a Jamf School that misbehaves as servers, proxies and
// networks do. A fault the client can ride out must not change the final Jamf state; one it cannot
// must fail the read before any write, or fail only the write it hit. Every case proves the simulator
// served its fault. GET /devices is one unpaged listing whose "count" real servers do not keep (a
// captured reply says 0 for 80 devices), so there is no page or count fault to serve: a listing cut
// short is the truncated-body case.
func TestJamfSchoolFaults(t *testing.T) {
	var other *elsewhere
	cases := []struct {
		name string
		// inject arms the faults; tls-to-http and cross-host redirects point at other.
		inject      func(sim *jamfschoolsim.Server)
		wantOutcome engine.Outcome
		wantFaults  int
		// wantErr is in the run's error (Failed) or the failed change's (PartiallyFailed).
		wantErr string
		// wantFailed is how many changes fail (PartiallyFailed); their devices keep their owner.
		wantFailed int
		// wantWaitAtLeast: some wait between attempts was at least this (a Retry-After honoured).
		wantWaitAtLeast time.Duration
		// attempt bounds one attempt (default 1s); a case that sends a body over the cap gives the client
		// time to read past the cap, so the cap, not the timeout, ends the attempt on a slow machine.
		attempt time.Duration
	}{
		{
			name: "429 with Retry-After 1s on owner writes: waited for, retried, every device as expected",
			inject: func(s *jamfschoolsim.Server) {
				s.FailNext(jamfschoolsim.PatternSetOwner, 2, simhttp.FaultTooManyRequests)
			},
			wantOutcome: engine.Succeeded, wantFaults: 2, wantWaitAtLeast: time.Second,
		},
		{
			name: "429 asking to wait a day before the device listing: the run fails at once, before any write",
			inject: func(s *jamfschoolsim.Server) {
				s.InjectNext(jamfschoolsim.PatternDevices, 1, jamfschoolsim.WireFault{RetryAfter: 24 * time.Hour})
			},
			wantOutcome: engine.Failed, wantFaults: 1, wantErr: "longer than the 2m0s a run waits",
		},
		{
			name: "429 asking to wait a day before a location move: that call ends at once, the engine's retry writes it",
			inject: func(s *jamfschoolsim.Server) {
				s.InjectNext(jamfschoolsim.PatternMigrate, 1, jamfschoolsim.WireFault{RetryAfter: 24 * time.Hour})
			},
			wantOutcome: engine.Succeeded, wantFaults: 1,
		},
		{
			name: "connections reset on the listings and the writes: retried, every device as expected",
			inject: func(s *jamfschoolsim.Server) {
				s.FailNext(jamfschoolsim.PatternDevices, 1, simhttp.FaultResetConnection)
				s.FailNext(jamfschoolsim.PatternUsers, 1, simhttp.FaultResetConnection)
				s.FailNext(jamfschoolsim.PatternMigrate, 2, simhttp.FaultResetConnection)
				s.FailNext(jamfschoolsim.PatternSetOwner, 2, simhttp.FaultResetConnection)
			},
			wantOutcome: engine.Succeeded, wantFaults: 6,
		},
		{
			name: "503 and gateway HTML pages on the writes: retried, every device as expected",
			inject: func(s *jamfschoolsim.Server) {
				s.FailNext(jamfschoolsim.PatternMigrate, 2, simhttp.FaultStatus503)
				s.FailNext(jamfschoolsim.PatternSetOwner, 2, simhttp.FaultHTML502)
			},
			wantOutcome: engine.Succeeded, wantFaults: 4,
		},
		{
			name: "the device listing redirected to another host: refused, no request reaches it, the run fails before any write",
			inject: func(s *jamfschoolsim.Server) {
				s.InjectNext(jamfschoolsim.PatternDevices, 1, jamfschoolsim.WireFault{RedirectTo: other.srv.URL})
			},
			wantOutcome: engine.Failed, wantFaults: 1, wantErr: "refused",
		},
		{
			name: "an owner write redirected from https to http: refused, the credential never leaves, only that change fails",
			inject: func(s *jamfschoolsim.Server) {
				s.InjectNext(jamfschoolsim.PatternSetOwner, 1, jamfschoolsim.WireFault{RedirectTo: other.srv.URL})
			},
			wantOutcome: engine.PartiallyFailed, wantFaults: 1, wantErr: "refused", wantFailed: 1,
		},
		{
			name: "a device listing holding a value over the cap (a 32 MiB member): never held, the run fails before any write",
			inject: func(s *jamfschoolsim.Server) {
				s.InjectNext(jamfschoolsim.PatternDevices, 1, jamfschoolsim.WireFault{Oversize: httpx.MaxBodyBytes + 1})
			},
			wantOutcome: engine.Failed, wantFaults: 1, wantErr: "larger than", attempt: 30 * time.Second,
		},
		{
			name: "a device listing dripped a byte at a time: the attempt times out, the retry reads it, every device as expected",
			inject: func(s *jamfschoolsim.Server) {
				s.InjectNext(jamfschoolsim.PatternDevices, 1, jamfschoolsim.WireFault{Drip: 10 * time.Millisecond})
			},
			wantOutcome: engine.Succeeded, wantFaults: 1,
		},
		{
			name: "the device listing truncated every time: the run fails before any write",
			inject: func(s *jamfschoolsim.Server) {
				s.FailNext(jamfschoolsim.PatternDevices, 100, simhttp.FaultTruncated)
			},
			wantOutcome: engine.Failed, wantFaults: 5, wantErr: "reading the Jamf School inventory",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			other = newElsewhere(t)
			d := newDistrict(t, 300)
			_, src := destinySide(t, d)
			var mu gosync.Mutex
			var waits []time.Duration
			attempt := tc.attempt
			if attempt == 0 {
				attempt = time.Second
			}
			sim, tgt := schoolFaultSide(t, d, attempt, &waits, &mu)
			initial := map[string]schoolState{}
			for _, dv := range sim.Devices() {
				initial[dv.UDID] = schoolStateOf(sim, dv)
			}
			pol := defaultPolicy(t, d)
			pol.Location = plan.LocationRules{}
			tc.inject(sim)

			start := time.Now()
			rep, err := engine.Execute(ctx, engine.Run{Policy: pol, Source: src, Target: tgt, Retry: 1})
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("the run took %v: a fault made it hang", took)
			}
			if served := sim.FaultsServed(); served < tc.wantFaults {
				t.Errorf("%d faulty answers served, want at least %d: the test did not exercise its fault", served, tc.wantFaults)
			}
			if calls, creds := other.seen(); calls != 0 || creds != 0 {
				t.Errorf("the other server got %d requests, %d with a credential; want none", calls, creds)
			}
			mu.Lock()
			longest := time.Duration(0)
			for _, w := range waits {
				longest = max(longest, w)
			}
			mu.Unlock()
			if longest > httpx.DefaultMaxRetryAfter {
				t.Errorf("waited %v between attempts, over the cap %v", longest, httpx.DefaultMaxRetryAfter)
			}
			if longest < tc.wantWaitAtLeast {
				t.Errorf("longest wait %v, want at least %v (the server's Retry-After)", longest, tc.wantWaitAtLeast)
			}
			if rep.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %s (%v), want %s; first failure %v", rep.Outcome, err, tc.wantOutcome, firstErr(rep))
			}
			if tc.wantOutcome == engine.Failed {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one with %q", err, tc.wantErr)
				}
				if w := sim.Writes(); len(w) != 0 {
					t.Fatalf("a run whose read failed wrote %d times, first %+v", len(w), w[0])
				}
				return
			}
			failed := map[string]bool{}
			for _, r := range rep.Results {
				if r.Err != nil {
					failed[r.Change.DeviceKey] = true
					if !strings.Contains(r.Err.Error(), tc.wantErr) {
						t.Errorf("change of %s failed with %v, want %q", r.Change.Serial, r.Err, tc.wantErr)
					}
				}
			}
			if len(failed) != tc.wantFailed {
				t.Errorf("%d changes failed, want %d", len(failed), tc.wantFailed)
			}
			var wrong []string
			for i := range d.Devices {
				dev := &d.Devices[i]
				got, _ := sim.Device(dev.UDID)
				have, want := schoolStateOf(sim, got), expectedSchoolState(d, dev, initial[dev.UDID])
				if failed[dev.UDID] {
					want.Owner = initial[dev.UDID].Owner // a failed owner write leaves the owner as it was
				}
				if have != want {
					wrong = append(wrong, fmt.Sprintf("%s device %s: want %+v, got %+v", dev.Case, dev.UDID, want, have))
				}
			}
			if len(wrong) > 0 {
				t.Fatalf("%d devices not as expected, first: %s", len(wrong), wrong[0])
			}
		})
	}
}
