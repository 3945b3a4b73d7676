package pro

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/sim/jamfpro"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

func TestNewValidatesConfig(t *testing.T) {
	ok := OAuth{ClientID: "a", ClientSecret: "b"}
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"a base URL is required", Config{Auth: ok}, "base URL is required"},
		{"the base URL must be http(s)", Config{BaseURL: "ftp://x", Auth: ok}, "is not an absolute http(s) URL"},
		{"auth is required", Config{BaseURL: "https://x.jamfcloud.com"}, "Auth must be"},
		{"OAuth needs a secret", Config{BaseURL: "https://x.jamfcloud.com", Auth: OAuth{ClientID: "a"}}, "client secret"},
		{"Basic needs a password", Config{BaseURL: "https://x.jamfcloud.com", Auth: Basic{Username: "u"}}, "password"},
		{"a valid config", Config{BaseURL: "https://x.jamfcloud.com/", Auth: ok}, ""},
		{"the guard refuses a host outside --allowed-hosts", Config{BaseURL: "https://intranet.example.org", Auth: ok,
			Guard: &httpx.Guard{AllowedHosts: []string{"*.jamfcloud.com"}}}, "not in the manager's --allowed-hosts"},
		{"the guard refuses http:// unless insecure", Config{BaseURL: "http://x.jamfcloud.com", Auth: ok, Guard: &httpx.Guard{}}, "uses http://"},
		{"the guard lets an insecure lab server use http://", Config{BaseURL: "http://jamf.lab:8080", Auth: ok, Guard: &httpx.Guard{}, Insecure: true}, ""},
		{"the guard allows a listed host", Config{BaseURL: "https://x.jamfcloud.com", Auth: ok,
			Guard: &httpx.Guard{AllowedHosts: []string{"*.jamfcloud.com"}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSecretsNeverShow(t *testing.T) {
	e := newEnv(t, envOpts{devices: 1, cfg: func(c *Config) { c.Auth = OAuth{ClientID: clientID, ClientSecret: clientSecret + "-wrong"} }})
	err := e.client.TestConnection(context.Background(), Needs{})
	basic := Basic{Username: userName, Password: userPassword}
	oauth := OAuth{ClientID: clientID, ClientSecret: clientSecret}
	cfg := Config{BaseURL: "https://x", Auth: oauth}
	outputs := map[string]string{
		"OAuth %v":       fmt.Sprintf("%v", oauth),
		"OAuth %+v":      fmt.Sprintf("%+v", oauth),
		"OAuth %#v":      fmt.Sprintf("%#v", oauth),
		"Basic %v":       fmt.Sprintf("%v", basic),
		"Basic %#v":      fmt.Sprintf("%#v", basic),
		"Config %+v":     fmt.Sprintf("%+v", cfg),
		"Client String":  e.client.String(),
		"auth error":     fmt.Sprint(err),
		"auth error %#v": fmt.Sprintf("%#v", err),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, "TOP-SECRET") {
				t.Fatalf("secret in %q", out)
			}
		})
	}
	t.Run("a wrong secret is an AuthError and is not retried", func(t *testing.T) {
		var ae *AuthError
		if !errors.As(err, &ae) || e.calls(routeOAuth) != 1 {
			t.Fatalf("err %v, token calls %d", err, e.calls(routeOAuth))
		}
	})
}

func TestOAuthTokenLifecycle(t *testing.T) {
	t.Run("one token serves many calls while valid", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3})
		for i := 0; i < 3; i++ {
			if _, err := e.client.Inventory(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if e.calls(routeOAuth) != 1 {
			t.Fatalf("token calls %d", e.calls(routeOAuth))
		}
	})
	t.Run("a token is renewed RenewBefore its expiry", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, simOpts: func(o *jamfpro.Options) { o.TokenLifetime = 10 * time.Minute },
			cfg: func(c *Config) { c.RenewBefore = 2 * time.Minute }})
		ctx := context.Background()
		if _, err := e.client.Inventory(ctx); err != nil {
			t.Fatal(err)
		}
		e.serverClock.Step(7*time.Minute + 59*time.Second)
		if _, err := e.client.Inventory(ctx); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeOAuth) != 1 {
			t.Fatalf("renewed too early: token calls %d", e.calls(routeOAuth))
		}
		e.serverClock.Step(time.Second)
		if _, err := e.client.Inventory(ctx); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeOAuth) != 2 || e.calls(routeDetail) != 3 {
			t.Fatalf("token calls %d, detail calls %d", e.calls(routeOAuth), e.calls(routeDetail))
		}
	})
	t.Run("a short-lived token is renewed at half its lifetime at the latest", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, simOpts: func(o *jamfpro.Options) { o.TokenLifetime = 60 * time.Second },
			cfg: func(c *Config) { c.RenewBefore = 5 * time.Minute }})
		ctx := context.Background()
		_, _ = e.client.Inventory(ctx)
		e.serverClock.Step(29 * time.Second)
		_, _ = e.client.Inventory(ctx)
		e.serverClock.Step(time.Second)
		_, _ = e.client.Inventory(ctx)
		if e.calls(routeOAuth) != 2 {
			t.Fatalf("token calls %d", e.calls(routeOAuth))
		}
	})
	t.Run("a token refused twice is an INVALID_TOKEN APIError after one renewal", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3})
		e.hook(func(r *http.Request) {
			if r.URL.Path == "/api/v2/mobile-devices/detail" {
				e.sim.ExpireTokens()
			}
		})
		_, err := e.client.Inventory(context.Background())
		var ae *APIError
		if !errors.Is(err, ErrInvalidToken) || !errors.As(err, &ae) || ae.StatusCode != 401 {
			t.Fatalf("err %v", err)
		}
		if e.calls(routeDetail) != 2 || e.calls(routeOAuth) != 2 {
			t.Fatalf("detail %d token %d", e.calls(routeDetail), e.calls(routeOAuth))
		}
	})
	t.Run("the token endpoint is retried on a gateway page", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 1})
		e.sim.HTTP().FailNext(routeOAuth, 1, simhttp.FaultHTML502)
		if err := e.client.TestConnection(context.Background(), Needs{}); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeOAuth) != 2 {
			t.Fatalf("token calls %d", e.calls(routeOAuth))
		}
	})
	t.Run("a malformed token answer is a DecodeError that does not quote the body", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 1, cfg: func(c *Config) { c.MaxRetries = 1 }})
		e.sim.HTTP().FailNext(routeOAuth, 2, simhttp.FaultTruncated)
		err := e.client.TestConnection(context.Background(), Needs{})
		var de *DecodeError
		if !errors.As(err, &de) || strings.Contains(err.Error(), "access_token") || e.calls(routeOAuth) != 2 {
			t.Fatalf("err %v, token calls %d", err, e.calls(routeOAuth))
		}
	})
	t.Run("a base URL ending in /api works", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 1, cfg: func(c *Config) { c.BaseURL += "/api/" }})
		if err := e.client.TestConnection(context.Background(), Needs{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLegacyBearerFlow(t *testing.T) {
	t.Run("Basic auth gets a bearer token from /api/v1/auth/token", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, legacy: true})
		if _, err := e.client.Inventory(context.Background()); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeLegacy) != 1 || e.calls(routeOAuth) != 0 {
			t.Fatalf("calls %v", e.sim.HTTP().Calls())
		}
	})
	t.Run("a token near expiry is renewed with keep-alive", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, legacy: true, cfg: func(c *Config) { c.RenewBefore = 5 * time.Minute }})
		ctx := context.Background()
		_, _ = e.client.Inventory(ctx)
		e.serverClock.Step(26 * time.Minute)
		if _, err := e.client.Inventory(ctx); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeKeepAlive) != 1 || e.calls(routeLegacy) != 1 || e.calls(routeDetail) != 2 {
			t.Fatalf("calls %v", e.sim.HTTP().Calls())
		}
	})
	t.Run("a refused keep-alive falls back to a new token", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, legacy: true, cfg: func(c *Config) { c.RenewBefore = 5 * time.Minute }})
		ctx := context.Background()
		_, _ = e.client.Inventory(ctx)
		e.sim.ExpireTokens()
		e.serverClock.Step(26 * time.Minute)
		if _, err := e.client.Inventory(ctx); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeKeepAlive) != 1 || e.calls(routeLegacy) != 2 {
			t.Fatalf("calls %v", e.sim.HTTP().Calls())
		}
	})
	t.Run("an expired token is replaced, not kept alive", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 3, legacy: true})
		ctx := context.Background()
		_, _ = e.client.Inventory(ctx)
		e.serverClock.Step(31 * time.Minute)
		if _, err := e.client.Inventory(ctx); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeKeepAlive) != 0 || e.calls(routeLegacy) != 2 {
			t.Fatalf("calls %v", e.sim.HTTP().Calls())
		}
	})
	t.Run("a wrong password is an AuthError", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 1, legacy: true, cfg: func(c *Config) { c.Auth = Basic{Username: userName, Password: "nope"} }})
		err := e.client.TestConnection(context.Background(), Needs{})
		var ae *AuthError
		if !errors.As(err, &ae) || ae.StatusCode != 401 || e.calls(routeLegacy) != 1 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("Close invalidates the token", func(t *testing.T) {
		e := newEnv(t, envOpts{devices: 1, legacy: true})
		ctx := context.Background()
		_, _ = e.client.Inventory(ctx)
		if err := e.client.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.client.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if e.calls(routeInvalidate) != 1 {
			t.Fatalf("invalidate calls %d", e.calls(routeInvalidate))
		}
		_, _ = e.client.Inventory(ctx)
		if e.calls(routeLegacy) != 2 || e.calls(routeDetail) != 2 {
			t.Fatalf("calls %v", e.sim.HTTP().Calls())
		}
	})
}

func TestPacer(t *testing.T) {
	step, top := 10*time.Millisecond, 80*time.Millisecond
	type obs struct {
		d      time.Duration
		failed bool
	}
	healthy := func(n int) []obs {
		var o []obs
		for i := 0; i < n; i++ {
			o = append(o, obs{d: 30 * time.Millisecond})
		}
		return o
	}
	cases := []struct {
		name string
		obs  []obs
		want time.Duration
	}{
		{"healthy responses keep no delay", healthy(10), 0},
		{"a failure starts the delay at one step", append(healthy(5), obs{failed: true}), step},
		{"failures double the delay", append(healthy(5), obs{failed: true}, obs{failed: true}, obs{failed: true}), 4 * step},
		{"the delay is capped", append(healthy(5), obs{failed: true}, obs{failed: true}, obs{failed: true}, obs{failed: true}, obs{failed: true}), top},
		{"a response far slower than the baseline adds delay", append(healthy(6), obs{d: 200 * time.Millisecond}), step},
		{"a slow response before a baseline exists adds nothing", []obs{{d: 30 * time.Millisecond}, {d: 500 * time.Millisecond}}, 0},
		{"healthy responses halve the delay", append(append(healthy(5), obs{failed: true}, obs{failed: true}, obs{failed: true}), healthy(1)...), 2 * step},
		{"and then drop it to zero", append(append(healthy(5), obs{failed: true}, obs{failed: true}), healthy(2)...), 0},
		{"fast responses are never slow, whatever the baseline", append(healthy(0), obs{d: time.Millisecond}, obs{d: time.Millisecond}, obs{d: time.Millisecond},
			obs{d: time.Millisecond}, obs{d: time.Millisecond}, obs{d: 15 * time.Millisecond}), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(step, top)
			for _, o := range tc.obs {
				p.observe(o.d, o.failed)
			}
			if got := p.delay(); got != tc.want {
				t.Fatalf("delay %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGatewayErrorsSlowTheClientDown(t *testing.T) {
	e := newEnv(t, envOpts{devices: 3, cfg: func(c *Config) { c.PaceStep = time.Microsecond; c.PaceMax = time.Millisecond; c.MaxRetries = 5 }})
	e.sim.HTTP().FailNext(routeDetail, 3, simhttp.FaultHTML502)
	var delays []time.Duration
	e.hook(func(r *http.Request) {
		if r.URL.Path == "/api/v2/mobile-devices/detail" {
			delays = append(delays, e.client.pacer.delay())
		}
	})
	if _, err := e.client.Inventory(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(delays) != 4 || delays[0] != 0 || delays[3] < 4*time.Microsecond {
		t.Fatalf("delays seen by the server %v: want none before the first 502 and a grown delay after three", delays)
	}
}
