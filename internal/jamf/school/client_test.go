package school

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

const (
	testNetworkID = jamfschool.DefaultNetworkID
	testAPIKey    = jamfschool.DefaultAPIKey
)

// newTestClient builds a client with tiny backoffs and a short per-request timeout.
func newTestClient(t testing.TB, baseURL string, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL: baseURL, NetworkID: testNetworkID, APIKey: testAPIKey,
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Backoff:    httpx.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond},
		MaxRetries: 3,
		// The simulator's 429 asks for 1s: waited for, but shortened here to keep the tests fast
		// (TestRetryAfterIsHonouredUpToTheCap checks the waits themselves).
		Sleep: func(ctx context.Context, d time.Duration) error { return httpx.Sleep(ctx, min(d, 2*time.Millisecond)) },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type bodyRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies *[]string
}

func (b *bodyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		*b.bodies = append(*b.bodies, string(raw))
		b.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(raw))
	}
	return b.next.RoundTrip(r)
}

func recordBodies(next http.RoundTripper, bodies *[]string) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &bodyRecorder{next: next, bodies: bodies}
}

func testDistrict() *district.District {
	return &district.District{
		Schools: []district.School{
			{ShortName: "LHS", Name: "Lincoln High School", Building: "Lincoln HS", JamfSchoolLocationID: 11},
			{ShortName: "WMS", Name: "Washington Middle School", Building: "Washington MS", JamfSchoolLocationID: 12},
		},
		Patrons: []district.Patron{
			{DistrictID: "S1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", Username: "ada.lovelace", Type: district.PatronStudent, SiteShortName: "LHS"},
			{DistrictID: "S2", FirstName: "Alan", LastName: "Turing", Email: "alan@example.org", Username: "aturing", Type: district.PatronStudent, SiteShortName: "WMS"},
			{DistrictID: "T1", FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org", Username: "ghopper", Type: district.PatronTeacher, SiteShortName: "WMS"},
		},
		Devices: []district.Device{
			{UDID: "UDID-1", Serial: "DMPX1111AAAA", Name: "STU-DMPX1111AAAA", Model: "iPad (9th generation)", AssetTag: "A-1", Managed: true, Supervised: true, Username: "ada.lovelace", Building: "Lincoln HS"},
			{UDID: "UDID-2", Serial: "DMPX2222BBBB", Name: "Spare", Managed: true, Supervised: true, Building: "Washington MS"},
		},
	}
}

func newSim(t *testing.T, mutate func(*Config)) (*jamfschool.Server, *Client) {
	t.Helper()
	sim := jamfschool.New(testDistrict(), jamfschool.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, newTestClient(t, srv.URL+"/api", mutate)
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"base URL required", Config{NetworkID: "n", APIKey: "k"}, "base URL is required"},
		{"base URL must be http(s)", Config{BaseURL: "ftp://x/api", NetworkID: "n", APIKey: "k"}, "is not an absolute http(s) URL"},
		{"network id required", Config{BaseURL: "https://x.jamfcloud.com/api", APIKey: "k"}, "NetworkID is required"},
		{"API key required", Config{BaseURL: "https://x.jamfcloud.com/api", NetworkID: "n"}, "APIKey is required"},
		{"valid config", Config{BaseURL: "https://x.jamfcloud.com/api/", NetworkID: "n", APIKey: "k"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	c, err := New(Config{BaseURL: "https://x.jamfcloud.com/api", NetworkID: "n", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Config()
	if got.ProtocolVersion != "3" || got.MaxConcurrency != 5 || got.Backoff != httpx.DefaultBackoff || c.retries != DefaultMaxRetries || got.CreateMissingUsers {
		t.Errorf("defaults: %+v retries %d", got, c.retries)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "s3cr3t-api-key-value"
	cfg := Config{BaseURL: "https://x.jamfcloud.com/api", NetworkID: "net", APIKey: secret}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, cfg); strings.Contains(s, secret) {
			t.Errorf("Config printed with %s shows the key: %s", format, s)
		}
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, c); strings.Contains(s, secret) {
			t.Errorf("Client printed with %s shows the key: %s", format, s)
		}
	}
	sim := jamfschool.New(testDistrict(), jamfschool.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	ctx := context.Background()

	t.Run("a 401 error does not contain the key", func(t *testing.T) {
		c := newTestClient(t, srv.URL+"/api", func(c *Config) { c.APIKey = secret })
		_, err := c.Devices(ctx)
		if err == nil || strings.Contains(err.Error(), secret) || !errors.Is(err, ErrUnauthorized) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a transport error does not contain the key", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		url := dead.URL
		dead.Close()
		c := newTestClient(t, url+"/api", func(c *Config) { c.APIKey = secret; c.MaxRetries = -1 })
		_, err := c.Devices(ctx)
		var te *TransportError
		if !errors.As(err, &te) || strings.Contains(err.Error(), secret) {
			t.Errorf("got %v", err)
		}
	})
}

// Error answers become typed errors that say what failed and where; nothing panics.
func TestErrorAnswersAreTyped(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		ctype       string
		body        string
		check       func(t *testing.T, err error)
		wantInError []string
	}{
		{"flat JSON error", 404, "application/json", `{"code":404,"message":"DeviceNotFound"}`, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Shape != ShapeFlat || ae.Code != 404 || ae.Status != 404 || ae.Message != "DeviceNotFound" || ae.Op != "Device" {
				t.Errorf("got %#v", err)
			}
		}, []string{"Device", "GET /devices/U1", "404", "DeviceNotFound"}},
		{"wrapped JSON error", 405, "application/json", `{"error":{"code":405,"message":"Requested method (GET) not allowed using this API key"}}`, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Shape != ShapeWrapped || ae.Code != 405 || !errors.Is(err, ErrPermissionDenied) {
				t.Errorf("got %#v", err)
			}
		}, []string{"GET /devices/U1", "not allowed using this API key"}},
		{"a 405 that is not about the API key is not a permission error", 405, "text/plain", "Method Not Allowed", func(t *testing.T, err error) {
			if errors.Is(err, ErrPermissionDenied) {
				t.Errorf("got %#v", err)
			}
		}, []string{"405", "Method Not Allowed"}},
		{"plain text error", 401, "text/plain", "Unauthorized\n", func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Shape != ShapePlainText || ae.Message != "Unauthorized" || !errors.Is(err, ErrUnauthorized) {
				t.Errorf("got %#v", err)
			}
		}, []string{"401", "Unauthorized"}},
		{"empty error body uses the status text", 403, "", "", func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Message != "Forbidden" || !errors.Is(err, ErrPermissionDenied) {
				t.Errorf("got %#v", err)
			}
		}, []string{"403", "Forbidden"}},
		{"HTML page with an error status", 404, "text/html", "<html><body><h1>Not Found</h1></body></html>", func(t *testing.T, err error) {
			var he *HTMLError
			if !errors.As(err, &he) || he.Status != 404 {
				t.Errorf("got %#v", err)
			}
		}, []string{"an HTML page (HTTP 404, text/html, 44 bytes), not the vendor's JSON"}},
		{"HTML page with status 200", 200, "text/html", "<!DOCTYPE html><html>login</html>", func(t *testing.T, err error) {
			var he *HTMLError
			if !errors.As(err, &he) || he.Status != 200 {
				t.Errorf("got %#v", err)
			}
		}, []string{"HTML page"}},
		{"malformed JSON with status 200", 200, "application/json", `{"code":200,"device":{"UDID":`, func(t *testing.T, err error) {
			var de *DecodeError
			if !errors.As(err, &de) || de.Status != 200 {
				t.Errorf("got %#v", err)
			}
		}, []string{"cannot decode"}},
		{"wrong field type with status 200", 200, "application/json", `{"code":200,"device":{"isManaged":"perhaps"}}`, func(t *testing.T, err error) {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("got %#v", err)
			}
		}, []string{"expected a boolean"}},
		{"status 200 whose body code is 404", 200, "application/json", `{"code":404,"message":"DeviceNotFound"}`, func(t *testing.T, err error) {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("got %#v", err)
			}
		}, []string{"code 404", "DeviceNotFound"}},
		{"status 200 without device object", 200, "application/json", `{"code":200}`, func(t *testing.T, err error) {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("got %#v", err)
			}
		}, []string{`no "device" object`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL+"/api", func(c *Config) { c.MaxRetries = -1 })
			_, err := c.Device(context.Background(), "U1")
			if err == nil {
				t.Fatal("want an error")
			}
			tt.check(t, err)
			for _, s := range tt.wantInError {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// Transient failures of idempotent requests are retried; the request then succeeds.
func TestIdempotentRequestsRetryTransientFaults(t *testing.T) {
	faults := []struct {
		name  string
		fault simhttp.Fault
	}{
		{"503 plain text", simhttp.FaultStatus503},
		{"500 plain text", simhttp.FaultStatus500},
		{"502 HTML gateway page", simhttp.FaultHTML502},
		{"504 HTML gateway timeout", simhttp.FaultHTML504},
		{"429 with Retry-After", simhttp.FaultTooManyRequests},
		{"truncated body", simhttp.FaultTruncated},
		{"connection reset", simhttp.FaultResetConnection},
	}
	ops := []struct {
		name    string
		pattern string
		call    func(ctx context.Context, c *Client) error
	}{
		{"Devices", jamfschool.PatternDevices, func(ctx context.Context, c *Client) error {
			// The rows of a failed attempt are dropped: every device comes once.
			devs, err := c.Devices(ctx)
			if err == nil && len(devs) != len(testDistrict().Devices) {
				err = fmt.Errorf("%d devices, want %d", len(devs), len(testDistrict().Devices))
			}
			return err
		}},
		{"Users", jamfschool.PatternUsers, func(ctx context.Context, c *Client) error {
			users, err := c.Users(ctx)
			if err == nil && len(users) != len(testDistrict().Patrons) {
				err = fmt.Errorf("%d users, want %d", len(users), len(testDistrict().Patrons))
			}
			return err
		}},
		{"SetOwner", jamfschool.PatternSetOwner, func(ctx context.Context, c *Client) error { return c.SetOwner(ctx, "UDID-2", 1) }},
		{"MoveToLocation", jamfschool.PatternMigrate, func(ctx context.Context, c *Client) error { return c.MoveToLocation(ctx, "UDID-2", 11) }},
	}
	for _, op := range ops {
		for _, f := range faults {
			t.Run(op.name+" after "+f.name, func(t *testing.T) {
				sim, c := newSim(t, nil)
				sim.FailNext(op.pattern, 2, f.fault)
				if err := op.call(context.Background(), c); err != nil {
					t.Fatalf("want success after retries, got %v", err)
				}
				if n := sim.CallCount(op.pattern); n != 3 {
					t.Errorf("%d calls, want 3 (two faults, one success)", n)
				}
			})
		}
	}
}

func TestTimeoutIsRetriedForIdempotentRequests(t *testing.T) {
	sim, c := newSim(t, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	sim.FailNext(jamfschool.PatternDevices, 1, simhttp.FaultHang)
	if _, err := c.Devices(context.Background()); err != nil {
		t.Fatalf("want success after a timed-out attempt, got %v", err)
	}
	if n := sim.CallCount(jamfschool.PatternDevices); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

func TestRetriesStopAtMaxRetriesWithTheLastError(t *testing.T) {
	sim, c := newSim(t, func(c *Config) { c.MaxRetries = 2 })
	sim.FailNext(jamfschool.PatternDevices, 10, simhttp.FaultHTML502)
	_, err := c.Devices(context.Background())
	var he *HTMLError
	if !errors.As(err, &he) || he.Status != 502 {
		t.Fatalf("got %v, want the 502 HTML error", err)
	}
	if n := sim.CallCount(jamfschool.PatternDevices); n != 3 {
		t.Errorf("%d calls, want 3 (1 + MaxRetries)", n)
	}
}

func TestNoRetryWhenRetriesDisabledOrErrorIsPermanent(t *testing.T) {
	tests := []struct {
		name    string
		retries int
		setup   func(sim *jamfschool.Server)
		call    func(c *Client) error
		pattern string
	}{
		{"404 is not retried", 3, func(*jamfschool.Server) {}, func(c *Client) error { _, err := c.Device(context.Background(), "NOPE"); return err }, jamfschool.PatternDevice},
		{"405 is not retried", 3, func(s *jamfschool.Server) { s.Deny(jamfschool.PatternDevices) }, func(c *Client) error { _, err := c.Devices(context.Background()); return err }, jamfschool.PatternDevices},
		{"401 is not retried", 3, func(*jamfschool.Server) {}, func(c *Client) error {
			cfg := c.cfg
			cfg.APIKey = "wrong"
			wrong, err := New(cfg)
			if err != nil {
				return nil // fails the case: an error is wanted from the call
			}
			_, err = wrong.Devices(context.Background())
			return err
		}, jamfschool.PatternDevices},
		{"negative MaxRetries disables retries", -1, func(s *jamfschool.Server) { s.FailNext(jamfschool.PatternDevices, 1, simhttp.FaultStatus503) },
			func(c *Client) error { _, err := c.Devices(context.Background()); return err }, jamfschool.PatternDevices},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, func(c *Config) { c.MaxRetries = tt.retries })
			tt.setup(sim)
			if err := tt.call(c); err == nil {
				t.Fatal("want an error")
			}
			if n := sim.CallCount(tt.pattern); n != 1 {
				t.Errorf("%d calls, want 1", n)
			}
		})
	}
}

// newKid is a complete POST /users body.
var newKid = NewUser{Username: "new.kid", Password: "Kid-Secret-42", Email: "new@example.org", FirstName: "New", LastName: "Kid", LocationID: 11}

// POST /users carries the five fields Jamf's own clients always send; the simulator refuses a body
// without any of them, so a user created there proves the client sent them.
func TestCreateUserSendsUsernamePasswordEmailAndNames(t *testing.T) {
	sim, c := newSim(t, func(c *Config) { c.CreateMissingUsers = true })
	u, err := c.CreateUser(context.Background(), newKid)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := sim.User(u.ID)
	want := jamfschool.UserState{ID: u.ID, LocationID: 11, Username: "new.kid", Email: "new@example.org", FirstName: "New",
		LastName: "Kid", Name: "New Kid", Status: "Active", Password: "Kid-Secret-42"}
	if !ok || !reflect.DeepEqual(st, want) {
		t.Errorf("simulator has %+v, want %+v", st, want)
	}
}

// A user missing any required field is refused before any request; the error names the fields and
// never holds the password.
func TestCreateUserRefusesAnIncompleteUserWithoutACall(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*NewUser)
		missing string
	}{
		{"no username", func(nu *NewUser) { nu.Username = "" }, "username"},
		{"no password", func(nu *NewUser) { nu.Password = "" }, "password"},
		{"blank password", func(nu *NewUser) { nu.Password = "  " }, "password"},
		{"no email", func(nu *NewUser) { nu.Email = "" }, "email"},
		{"no first name", func(nu *NewUser) { nu.FirstName = "" }, "firstName"},
		{"no last name", func(nu *NewUser) { nu.LastName = " " }, "lastName"},
		{"no names", func(nu *NewUser) { nu.FirstName, nu.LastName = "", "" }, "firstName, lastName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, func(c *Config) { c.CreateMissingUsers = true })
			nu := newKid
			tt.mutate(&nu)
			_, err := c.CreateUser(context.Background(), nu)
			if err == nil || !strings.Contains(err.Error(), tt.missing+" empty") {
				t.Fatalf("got %v, want an error naming %s", err, tt.missing)
			}
			if strings.Contains(err.Error(), newKid.Password) {
				t.Errorf("the error shows the password: %v", err)
			}
			if n := sim.CallCount(jamfschool.PatternCreateUser); n != 0 {
				t.Errorf("%d POST /users, want 0", n)
			}
		})
	}
}

func TestANewUserPrintsWithoutItsPassword(t *testing.T) {
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, newKid); strings.Contains(got, newKid.Password) || !strings.Contains(got, "new.kid") {
			t.Errorf("%s prints %s", format, got)
		}
	}
}

func TestRandomPasswordsAreLongMixedAndDifferent(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw, err := RandomPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != PasswordLength || PasswordLength < 16 {
			t.Fatalf("password of %d characters, want %d (at least 16)", len(pw), PasswordLength)
		}
		for _, class := range []string{passwordUpper, passwordLower, passwordDigits, passwordSymbols} {
			if !strings.ContainsAny(pw, class) {
				t.Fatalf("password %q has none of %q", pw, class)
			}
		}
		if strings.Trim(pw, passwordUpper+passwordLower+passwordDigits+passwordSymbols) != "" {
			t.Fatalf("password %q has a character outside the classes", pw)
		}
		if seen[pw] {
			t.Fatalf("password %q made twice", pw)
		}
		seen[pw] = true
	}
}

// POST /users is not idempotent: a 5xx might have created the user, so only 429 is retried.
func TestCreateUserRetriesOnlyTooManyRequests(t *testing.T) {
	tests := []struct {
		name      string
		fault     simhttp.Fault
		wantErr   bool
		wantCalls int
	}{
		{"503 is not retried", simhttp.FaultStatus503, true, 1},
		{"502 HTML is not retried", simhttp.FaultHTML502, true, 1},
		{"429 is retried", simhttp.FaultTooManyRequests, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, func(c *Config) { c.CreateMissingUsers = true })
			sim.FailNext(jamfschool.PatternCreateUser, 1, tt.fault)
			_, err := c.CreateUser(context.Background(), newKid)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if n := sim.CallCount(jamfschool.PatternCreateUser); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestContextCancellationStopsWork(t *testing.T) {
	t.Run("a cancelled context makes no call", func(t *testing.T) {
		sim, c := newSim(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Devices(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if n := sim.CallCount(jamfschool.PatternDevices); n != 0 {
			t.Errorf("%d calls, want 0", n)
		}
	})
	t.Run("cancelling during a hanging request returns the context error without retrying", func(t *testing.T) {
		sim, c := newSim(t, nil)
		sim.FailNext(jamfschool.PatternDevices, 5, simhttp.FaultHang)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := c.Devices(ctx); done <- err }()
		for sim.CallCount(jamfschool.PatternDevices) == 0 {
			runtime.Gosched()
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if n := sim.CallCount(jamfschool.PatternDevices); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
}

func TestConcurrencyIsBounded(t *testing.T) {
	sim, c := newSim(t, func(c *Config) { c.MaxConcurrency = 2 })
	sim.SetKnobs(simhttp.Knobs{Latency: 20 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Device(context.Background(), "UDID-1")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if peak := sim.PeakInFlight(); peak > 2 || peak < 1 {
		t.Errorf("peak in flight %d, want 1..2", peak)
	}
	if n := sim.CallCount(jamfschool.PatternDevice); n != 12 {
		t.Errorf("%d calls, want 12", n)
	}
}

func TestProtocolVersionHeaderIsSent(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wantErr bool
	}{
		{"default version 3 is accepted", "", false},
		{"a version the server does not speak is refused", "2", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := newSim(t, func(c *Config) { c.ProtocolVersion = tt.version })
			_, err := c.Locations(context.Background())
			if (err != nil) != tt.wantErr {
				t.Errorf("got %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestReadsAgainstSimulator(t *testing.T) {
	ctx := context.Background()
	sim, c := newSim(t, nil)
	t.Run("Devices maps owner, location and flags", func(t *testing.T) {
		ds, err := c.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 {
			t.Fatalf("%d devices", len(ds))
		}
		ada, _ := sim.UserByUsername("ada.lovelace")
		d := ds[0]
		want := Owner{ID: ada.ID, Username: "ada.lovelace", Email: "ada@example.org", FirstName: "Ada", LastName: "Lovelace", Name: "Ada Lovelace", LocationID: 11}
		if d.UDID != "UDID-1" || d.Serial != "DMPX1111AAAA" || d.LocationID != 11 || !d.Managed || !d.Supervised || d.AssetTag != "A-1" ||
			d.Model != "iPad (9th generation)" || d.Owner == nil || *d.Owner != want {
			t.Errorf("device %+v owner %+v", d, d.Owner)
		}
		if ds[1].Owner != nil {
			t.Errorf("UDID-2 owner %+v, want nil", ds[1].Owner)
		}
	})
	t.Run("Device and the list agree on the engine's fields", func(t *testing.T) {
		list, err := c.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			one, err := c.Device(ctx, l.UDID)
			if err != nil {
				t.Fatal(err)
			}
			// LastCheckin is "date" text on one device; the list has the plain string.
			one.LastCheckin, l.LastCheckin = "", ""
			oneOwner, listOwner := one.Owner, l.Owner
			one.Owner, l.Owner = nil, nil
			if one != l || (oneOwner == nil) != (listOwner == nil) || (oneOwner != nil && *oneOwner != *listOwner) {
				t.Errorf("single %+v %+v\nlist   %+v %+v", one, oneOwner, l, listOwner)
			}
		}
	})
	t.Run("Device of an unknown UDID is ErrNotFound", func(t *testing.T) {
		if _, err := c.Device(ctx, "NOPE"); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("Locations", func(t *testing.T) {
		ls, err := c.Locations(ctx)
		if err != nil || len(ls) != 2 || ls[0].ID != 11 || ls[0].Name != "Lincoln High School" {
			t.Errorf("got %+v %v", ls, err)
		}
	})
	t.Run("User", func(t *testing.T) {
		u, err := c.User(ctx, 1)
		if err != nil || u.Username != "ada.lovelace" || u.DeviceCount != 1 {
			t.Errorf("got %+v %v", u, err)
		}
	})
}

func TestFindUser(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		key     string
		wantID  int
		wantErr error
	}{
		{"by username", "aturing", 2, nil},
		{"by username, case and spaces ignored", "  ATuring ", 2, nil},
		{"by email", "Grace@Example.org", 3, nil},
		{"unknown", "nobody", 0, ErrUserNotFound},
		{"empty", " ", 0, ErrUserNotFound},
		{"an email shared by two users is ambiguous", "shared@example.org", 0, ErrAmbiguousUser},
	}
	sim, c := newSim(t, nil)
	sim.AddUser(jamfschool.UserState{Username: "twin1", Email: "shared@example.org", LocationID: 11})
	sim.AddUser(jamfschool.UserState{Username: "twin2", Email: "shared@example.org", LocationID: 11})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.FindUser(ctx, tt.key)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && u.ID != tt.wantID) {
				t.Errorf("got %+v %v, want id %d err %v", u, err, tt.wantID, tt.wantErr)
			}
		})
	}
	t.Run("all lookups above cost one listing", func(t *testing.T) {
		if n := sim.CallCount(jamfschool.PatternUsers); n != 1 {
			t.Errorf("%d GET /users, want 1", n)
		}
	})
	t.Run("ResetUserCache makes the next lookup list again", func(t *testing.T) {
		c.ResetUserCache()
		if _, err := c.FindUser(ctx, "aturing"); err != nil {
			t.Fatal(err)
		}
		if n := sim.CallCount(jamfschool.PatternUsers); n != 2 {
			t.Errorf("%d GET /users, want 2", n)
		}
	})
}

func TestConcurrentFindUserListsOnce(t *testing.T) {
	sim, c := newSim(t, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.FindUser(context.Background(), "ghopper"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := sim.CallCount(jamfschool.PatternUsers); n != 1 {
		t.Errorf("%d GET /users, want 1", n)
	}
}

func TestFailedUserListingIsNotCached(t *testing.T) {
	sim, c := newSim(t, func(c *Config) { c.MaxRetries = -1 })
	sim.FailNext(jamfschool.PatternUsers, 1, simhttp.FaultStatus503)
	if _, err := c.FindUser(context.Background(), "ghopper"); err == nil {
		t.Fatal("want the listing error")
	}
	if _, err := c.FindUser(context.Background(), "ghopper"); err != nil {
		t.Fatalf("second lookup: %v", err)
	}
}

func TestCreatingUsersIsAPolicyOption(t *testing.T) {
	ctx := context.Background()
	nu := newKid
	t.Run("off by default: CreateUser refuses without a call", func(t *testing.T) {
		sim, c := newSim(t, nil)
		if _, err := c.CreateUser(ctx, nu); err == nil || !strings.Contains(err.Error(), "disabled") {
			t.Errorf("got %v", err)
		}
		if n := sim.CallCount(jamfschool.PatternCreateUser); n != 0 {
			t.Errorf("%d POST /users, want 0", n)
		}
	})
	t.Run("off by default: ResolveUser reports the missing user", func(t *testing.T) {
		sim, c := newSim(t, nil)
		_, created, err := c.ResolveUser(ctx, "new.kid", nu)
		if !errors.Is(err, ErrUserNotFound) || created {
			t.Errorf("got created=%v err=%v", created, err)
		}
		if n := sim.CallCount(jamfschool.PatternCreateUser); n != 0 {
			t.Errorf("%d POST /users, want 0", n)
		}
	})
	t.Run("on: ResolveUser creates the user once and caches it", func(t *testing.T) {
		sim, c := newSim(t, func(c *Config) { c.CreateMissingUsers = true })
		u, created, err := c.ResolveUser(ctx, "new.kid", nu)
		if err != nil || !created || u.ID == 0 {
			t.Fatalf("got %+v created=%v err=%v", u, created, err)
		}
		st, ok := sim.User(u.ID)
		if !ok || st.Username != "new.kid" || st.LocationID != 11 || st.Email != "new@example.org" {
			t.Errorf("simulator has %+v %v", st, ok)
		}
		again, created, err := c.ResolveUser(ctx, "NEW.KID", nu)
		if err != nil || created || again.ID != u.ID {
			t.Errorf("second resolve %+v created=%v err=%v", again, created, err)
		}
		if n := sim.CallCount(jamfschool.PatternCreateUser); n != 1 {
			t.Errorf("%d POST /users, want 1", n)
		}
		if n := sim.CallCount(jamfschool.PatternUsers); n != 1 {
			t.Errorf("%d GET /users, want 1", n)
		}
	})
	t.Run("on: an existing user is found, not created", func(t *testing.T) {
		sim, c := newSim(t, func(c *Config) { c.CreateMissingUsers = true })
		u, created, err := c.ResolveUser(ctx, "ada@example.org", NewUser{})
		if err != nil || created || u.Username != "ada.lovelace" {
			t.Errorf("got %+v created=%v err=%v", u, created, err)
		}
		if n := sim.CallCount(jamfschool.PatternCreateUser); n != 0 {
			t.Errorf("%d POST /users, want 0", n)
		}
	})
}

// When POST /users answers without an id, the client learns it from a fresh listing.
func TestCreateUserWithoutIDInAnswerReadsTheListing(t *testing.T) {
	var mu sync.Mutex
	created := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /api/users":
			created = true
			_, _ = io.WriteString(w, `{"code":200,"message":"UserCreated"}`)
		case "GET /api/users":
			if created {
				_, _ = io.WriteString(w, `{"code":200,"count":1,"users":[{"id":77,"username":"new.kid","locationId":11}]}`)
				return
			}
			_, _ = io.WriteString(w, `{"code":200,"count":0,"users":[]}`)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL+"/api", func(c *Config) { c.CreateMissingUsers = true })
	u, err := c.CreateUser(context.Background(), newKid)
	if err != nil || u.ID != 77 {
		t.Errorf("got %+v %v, want id 77", u, err)
	}
}

func TestWritesAgainstSimulator(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		call    func(c *Client) error
		wantErr error
		check   func(t *testing.T, sim *jamfschool.Server)
	}{
		{"SetOwner assigns", func(c *Client) error { return c.SetOwner(ctx, "UDID-2", 2) }, nil, func(t *testing.T, sim *jamfschool.Server) {
			if d, _ := sim.Device("UDID-2"); d.OwnerID != 2 {
				t.Errorf("owner %d", d.OwnerID)
			}
		}},
		{"RemoveOwner clears", func(c *Client) error { return c.RemoveOwner(ctx, "UDID-1") }, nil, func(t *testing.T, sim *jamfschool.Server) {
			if d, _ := sim.Device("UDID-1"); d.OwnerID != 0 {
				t.Errorf("owner %d", d.OwnerID)
			}
		}},
		{"SetOwner of unknown device is ErrNotFound", func(c *Client) error { return c.SetOwner(ctx, "NOPE", 2) }, ErrNotFound, nil},
		{"SetOwner to unknown user is ErrNotFound", func(c *Client) error { return c.SetOwner(ctx, "UDID-1", 999) }, ErrNotFound, nil},
		{"MoveToLocation moves only the device", func(c *Client) error { return c.MoveToLocation(ctx, "UDID-1", 12) }, nil, func(t *testing.T, sim *jamfschool.Server) {
			d, _ := sim.Device("UDID-1")
			u, _ := sim.UserByUsername("ada.lovelace")
			if d.LocationID != 12 || u.LocationID != 11 {
				t.Errorf("device location %d, user location %d", d.LocationID, u.LocationID)
			}
		}},
		{"empty UDID is refused before any call", func(c *Client) error { return c.SetOwner(ctx, " ", 1) }, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, nil)
			err := tt.call(c)
			switch {
			case tt.name == "empty UDID is refused before any call":
				if err == nil || sim.TotalCalls() != 0 {
					t.Errorf("got %v with %d calls", err, sim.TotalCalls())
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("got %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, sim)
			}
		})
	}
}

// Jamf School cannot rename or lock a device: the target says so with a recognisable error, and
// never calls the API for it.
func TestUnsupportedActions(t *testing.T) {
	t.Run("Supports", func(t *testing.T) {
		tests := []struct {
			field      Field
			want       bool
			wantReason string
		}{
			{FieldUser, true, ""},
			{FieldLocation, true, ""},
			{FieldName, false, "Jamf School's API has no endpoint to rename a device"},
			{FieldLostMode, false, "Jamf School's API has no endpoint to enable Lost Mode"},
			{Field("colour"), false, `unknown field "colour"`},
		}
		for _, tt := range tests {
			if got := Supports(tt.field); got != tt.want {
				t.Errorf("Supports(%q) = %v, want %v", tt.field, got, tt.want)
			}
			if got := UnsupportedReason(tt.field); got != tt.wantReason {
				t.Errorf("UnsupportedReason(%q) = %q, want %q", tt.field, got, tt.wantReason)
			}
		}
	})
	t.Run("UnsupportedFields lists what a policy's Ready condition warns about", func(t *testing.T) {
		got := UnsupportedFields(FieldName, FieldUser, FieldLocation, FieldLostMode)
		if len(got) != 2 || got[0].Field != FieldName || got[1].Field != FieldLostMode {
			t.Errorf("got %v", got)
		}
		if len(UnsupportedFields(FieldUser, FieldLocation)) != 0 {
			t.Error("user and location are supported")
		}
		if Unsupported(FieldUser) != nil || !errors.Is(Unsupported(FieldName), ErrUnsupportedByTarget) {
			t.Error("Unsupported")
		}
	})
}

func TestTestConnection(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(sim *jamfschool.Server)
		mutate    func(c *Config)
		wantErr   error
		wantInErr string
	}{
		{"works with a key that may read everything", nil, nil, nil, ""},
		{"devices denied names GET /devices", func(s *jamfschool.Server) { s.Deny(jamfschool.PatternDevices) }, nil, ErrPermissionDenied, "GET /devices"},
		{"users denied names GET /users", func(s *jamfschool.Server) { s.Deny(jamfschool.PatternUser) }, nil, ErrPermissionDenied, "GET /users/0"},
		{"locations denied names GET /locations", func(s *jamfschool.Server) { s.Deny(jamfschool.PatternLocations) }, nil, ErrPermissionDenied, "GET /locations"},
		{"wrong key is unauthorized", nil, func(c *Config) { c.APIKey = "wrong" }, ErrUnauthorized, "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := newSim(t, tt.mutate)
			if tt.setup != nil {
				tt.setup(sim)
			}
			err := c.TestConnection(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if sim.TotalCalls() != 3 {
					t.Errorf("%d calls, want 3: %s", sim.TotalCalls(), simhttp.FormatCalls(sim.Calls()))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("got %v, want %v mentioning %q", err, tt.wantErr, tt.wantInErr)
			}
		})
	}
	t.Run("a base URL without the API fails", func(t *testing.T) {
		sim := jamfschool.New(testDistrict(), jamfschool.Options{})
		srv := httptest.NewServer(sim)
		defer srv.Close()
		c := newTestClient(t, srv.URL, nil) // missing /api
		if err := c.TestConnection(context.Background()); err == nil {
			t.Error("want an error")
		}
	})
}
