package school

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/httpx"
)

// Jamf School answers GET /devices and GET /users with the whole district at once. A district whose
// answer is larger than a buffered body may be (httpx.MaxBodyBytes) is read as it arrives, every row once.
func TestListsLargerThanABufferedAnswerAreReadAsTheyArrive(t *testing.T) {
	notes := strings.Repeat("n", 2048)
	rows := int(httpx.MaxBodyBytes/2048) + 1000 // over the cap on notes alone
	tests := []struct {
		name string
		key  string
		row  func(i int) string
		list func(ctx context.Context, c *Client) ([]string, error)
	}{
		{"devices", "devices", func(i int) string {
			return fmt.Sprintf(`{"UDID":"U%d","serialNumber":"S%07d","isManaged":true,"notes":%q}`, i, i, notes)
		}, func(ctx context.Context, c *Client) ([]string, error) {
			devs, err := c.Devices(ctx)
			serials := make([]string, len(devs))
			for i, d := range devs {
				serials[i] = d.Serial
			}
			return serials, err
		}},
		{"users", "users", func(i int) string {
			return fmt.Sprintf(`{"id":%d,"username":"S%07d","notes":%q}`, i+1, i, notes)
		}, func(ctx context.Context, c *Client) ([]string, error) {
			users, err := c.Users(ctx)
			names := make([]string, len(users))
			for i, u := range users {
				names[i] = u.Username
			}
			return names, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				bw := bufio.NewWriter(w)
				fmt.Fprintf(bw, `{"code":200,"count":%d,%q:[`, rows, tt.key)
				for i := range rows {
					if i > 0 {
						_ = bw.WriteByte(',')
					}
					_, _ = bw.WriteString(tt.row(i))
				}
				_, _ = bw.WriteString("]}")
				_ = bw.Flush()
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL+"/api", func(c *Config) { c.MaxRetries = -1 })
			got, err := tt.list(context.Background(), c)
			if err != nil {
				t.Fatalf("a list of %d rows: %v", rows, err)
			}
			if len(got) != rows {
				t.Fatalf("%d rows, want %d", len(got), rows)
			}
			for i, s := range got {
				if want := fmt.Sprintf("S%07d", i); s != want {
					t.Fatalf("row %d is %q, want %q", i, s, want)
				}
			}
		})
	}
}

// A 2xx list answer must say what it lists: anything else is malformed (never an empty district), and
// an answer whose code says it failed is that failure.
func TestDeviceListAnswers(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    int   // devices, when no error is expected
		wantErr error // the error's type: *DecodeError or *APIError
		inError string
	}{
		{"an empty list is no devices", `{"code":200,"count":0,"devices":[]}`, 0, nil, ""},
		{"keys match in any case, unknown keys are skipped", `{"CODE":200,"extra":{"a":[1,{}]},"Devices":[{"serialNumber":"A1"},{"serialNumber":"B2"}],"count":"2"}`, 2, nil, ""},
		{"a null row is a device with nothing known (skipped NoSerial later)", `{"code":200,"devices":[null]}`, 1, nil, ""},
		{"null", `null`, 0, &DecodeError{}, "null, not a JSON object"},
		{"an empty body", ``, 0, &DecodeError{}, "the answer is empty"},
		{"a list instead of an object", `[{"serialNumber":"A1"}]`, 0, &DecodeError{}, "a list, not a JSON object"},
		{"no devices list", `{"code":200,"count":0}`, 0, &DecodeError{}, `no "devices" list`},
		{"a null devices list", `{"code":200,"devices":null}`, 0, &DecodeError{}, `no "devices" list`},
		{"devices that are not a list", `{"code":200,"devices":{"serialNumber":"A1"}}`, 0, &DecodeError{}, `"devices" is an object, not a list`},
		{"two devices lists", `{"code":200,"devices":[],"devices":[{"serialNumber":"A1"}]}`, 0, &DecodeError{}, `more than one "devices" list`},
		{"data after the object", `{"code":200,"devices":[]} {"devices":[]}`, 0, &DecodeError{}, "data follows the JSON object"},
		{"a row of the wrong shape", `{"code":200,"devices":[{"isManaged":"perhaps"}]}`, 0, &DecodeError{}, "expected a boolean"},
		{"cut short", `{"code":200,"devices":[{"serialNumber":"A1"},`, 0, &DecodeError{}, "unexpected EOF"},
		{"a code that says it failed", `{"code":404,"message":"NotFound"}`, 0, &APIError{}, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL+"/api", func(c *Config) { c.MaxRetries = -1 })
			devs, err := c.Devices(context.Background())
			if tt.wantErr == nil {
				if err != nil || len(devs) != tt.want {
					t.Fatalf("got %d devices, %v; want %d and no error", len(devs), err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %d devices and no error, want %T", len(devs), tt.wantErr)
			}
			switch tt.wantErr.(type) {
			case *DecodeError:
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("got %#v, want a *DecodeError", err)
				}
			case *APIError:
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("got %#v, want an *APIError", err)
				}
			}
			if !strings.Contains(err.Error(), tt.inError) {
				t.Errorf("error %q does not say %q", err, tt.inError)
			}
		})
	}
}

// A list answer cut short is asked again (the next may come whole); one whose rows or shape are wrong is
// final: the same answer would be as wrong, and a district is not downloaded again for nothing.
func TestDeviceListFailuresRetriedOnlyWhenCutShort(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		attempts int
	}{
		{"cut short", `{"code":200,"devices":[{"serialNumber":"A1"},`, 3},
		{"empty", ``, 3},
		{"broken JSON", `{"code":200,"devices":[{"serialNumber":"A1"}}`, 3},
		{"a row of the wrong type", `{"code":200,"devices":[{"serialNumber":"A1"},{"isManaged":"perhaps"}]}`, 1},
		{"a row that is not an object", `{"code":200,"devices":[1]}`, 1},
		{"no devices list", `{"code":200,"count":0}`, 1},
		{"two devices lists", `{"code":200,"devices":[],"devices":[]}`, 1},
		{"null", `null`, 1},
		{"a value over the cap", `{"code":200,"pad":"` + strings.Repeat("x", httpx.MaxJSONValueBytes+1) + `","devices":[]}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL+"/api", func(c *Config) { c.MaxRetries = 2 })
			if devs, err := c.Devices(context.Background()); err == nil {
				t.Fatalf("%d devices and no error, want the read to fail", len(devs))
			}
			if n := calls.Load(); int(n) != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
		})
	}
}

// A list longer than its row cap fails rather than grow without bound.
func TestListRowCap(t *testing.T) {
	n := 0
	l := &listSpec{key: "devices", maxRows: 3, start: func() { n = 0 }, elem: func(dec *json.Decoder) error {
		n++
		return httpx.SkipValue(dec)
	}}
	var env envelope
	if err := l.decode(strings.NewReader(`{"devices":[{},{},{}]}`), &env); err != nil || n != 3 {
		t.Fatalf("3 rows under a cap of 3: %v, %d rows", err, n)
	}
	err := l.decode(strings.NewReader(`{"devices":[{},{},{},{}]}`), &env)
	if err == nil || !strings.Contains(err.Error(), `the "devices" list has more than 3 rows`) {
		t.Fatalf("4 rows under a cap of 3: %v, want the cap named", err)
	}
}
