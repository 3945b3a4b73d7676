package destiny_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/destiny"
	simdestiny "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

func borrowers(items []destiny.Item) map[string]bool {
	out := map[string]bool{}
	for _, it := range items {
		if it.Checkout != nil {
			out[it.Checkout.DistrictID] = true
		}
	}
	return out
}

func TestPatronStatusReadsTypeStatusAndSite(t *testing.T) {
	d := district.Generate(district.Options{Seed: 21, Schools: 3, Devices: 300})
	var student, inactive, teacher *district.Patron
	for i := range d.Items {
		it := &d.Items[i]
		switch it.Case {
		case district.CaseNormal:
			student = d.Patron(it.Borrower)
		case district.CaseInactiveStudent:
			inactive = d.Patron(it.Borrower)
		case district.CaseTeacherCheckout:
			teacher = d.Patron(it.Borrower)
		}
	}
	for _, words := range []bool{false, true} {
		f := setup(t, d, simdestiny.Options{PatronStatusWords: words}, nil, nil)
		tests := []struct {
			name   string
			p      *district.Patron
			status destiny.PatronState
		}{
			{"an active student", student, destiny.PatronActive},
			{"an inactive student", inactive, destiny.PatronInactive},
			{"a teacher or staff patron", teacher, destiny.PatronActive},
		}
		for _, tt := range tests {
			name := tt.name + " (status letters)"
			if words {
				name = tt.name + " (status words)"
			}
			t.Run(name, func(t *testing.T) {
				got, err := f.c.PatronStatus(context.Background(), tt.p.DistrictID)
				if err != nil {
					t.Fatal(err)
				}
				if got.DistrictID != tt.p.DistrictID || got.InternalID != tt.p.InternalID || got.Type != tt.p.Type ||
					got.Status != tt.status || got.SiteID != d.School(tt.p.SiteShortName).InternalID || got.FirstName != tt.p.FirstName {
					t.Errorf("patron %+v, want %+v with status %s", got, tt.p, tt.status)
				}
			})
		}
	}
}

func TestParsePatronState(t *testing.T) {
	tests := []struct {
		in   string
		want destiny.PatronState
		ok   bool
	}{
		{"A", destiny.PatronActive, true}, {"a", destiny.PatronActive, true}, {"Active", destiny.PatronActive, true}, {" ACTIVE ", destiny.PatronActive, true},
		{"I", destiny.PatronInactive, true}, {"inactive", destiny.PatronInactive, true},
		{"R", destiny.PatronRestricted, true}, {"Restricted", destiny.PatronRestricted, true},
		{"", "", false}, {"X", "", false}, {"Activ", "", false}, {"Suspended", "", false},
	}
	for _, tt := range tests {
		t.Run("status "+tt.in, func(t *testing.T) {
			got, ok := destiny.ParsePatronState(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParsePatronState(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPatronsLooksUpEachBorrowerOnce(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	items, err := f.c.ListItems(context.Background(), ipadQuery())
	if err != nil {
		t.Fatal(err)
	}
	// A borrower with two items must still be looked up once.
	var first *destiny.Item
	for i := range items {
		if items[i].Checkout != nil {
			if first == nil {
				first = &items[i]
				continue
			}
			co := *first.Checkout
			items[i].Checkout = &co
			break
		}
	}
	want := borrowers(items)
	got, errs := f.c.Patrons(context.Background(), nil, items)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(got) != len(want) {
		t.Fatalf("%d patrons, want %d", len(got), len(want))
	}
	if n := f.sim.Sim().CallCount(f.sim.RoutePatron()); n != len(want) {
		t.Errorf("%d lookups for %d distinct borrowers", n, len(want))
	}
}

func TestPatronCacheAcrossRuns(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	cache := destiny.NewPatronCache(24 * time.Hour)
	cache.SetClock(clock)
	list := func() []destiny.Item {
		items, err := f.c.ListItems(context.Background(), ipadQuery())
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	run := func(items []destiny.Item) (int, destiny.CacheStats) {
		f.sim.Sim().ResetCounters()
		cache.ResetStats()
		got, errs := f.c.Patrons(context.Background(), cache, items)
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		if len(got) != len(borrowers(items)) {
			t.Fatalf("%d patrons for %d borrowers", len(got), len(borrowers(items)))
		}
		return f.sim.Sim().CallCount(f.sim.RoutePatron()), cache.Stats()
	}

	items := list()
	n := len(borrowers(items))
	if calls, st := run(items); calls != n || st.Misses != n || st.Hits != 0 {
		t.Fatalf("first run: %d calls, stats %+v, want %d misses", calls, st, n)
	}
	t.Run("a later run with unchanged checkouts makes no call", func(t *testing.T) {
		if calls, st := run(list()); calls != 0 || st.Hits != n {
			t.Fatalf("%d calls, stats %+v", calls, st)
		}
	})
	t.Run("a borrower whose checkout changed is looked up again, alone", func(t *testing.T) {
		var target district.Item
		for _, it := range f.d.Items {
			if it.Borrower != "" && it.ResourceType == district.ResourceTypeIPad {
				target = it
				break
			}
		}
		f.sim.UpdateItem(target.ID, func(it *district.Item) { it.DateOut = it.DateOut.Add(24 * time.Hour) })
		if calls, st := run(list()); calls != 1 || st.Misses != 1 || st.Hits != n-1 {
			t.Fatalf("%d calls, stats %+v, want 1 call", calls, st)
		}
	})
	t.Run("entries older than the max age are looked up again", func(t *testing.T) {
		advance(25 * time.Hour)
		if calls, st := run(list()); calls != n || st.Hits != 0 {
			t.Fatalf("%d calls, stats %+v, want %d calls", calls, st, n)
		}
	})
}

func TestPatronsReportsFailuresPerPatron(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	items, err := f.c.ListItems(context.Background(), ipadQuery())
	if err != nil {
		t.Fatal(err)
	}
	var weird string
	for _, it := range items {
		if it.Checkout != nil {
			weird = it.Checkout.DistrictID
			break
		}
	}
	f.sim.UpdatePatron(weird, func(p *district.Patron) { p.Status = "Z" })
	items = append(items,
		destiny.Item{ID: 999001, Checkout: &destiny.Checkout{DistrictID: "ghost"}},
		destiny.Item{ID: 999002, Checkout: &destiny.Checkout{PatronID: 77}},
		destiny.Item{ID: 999003, Checkout: &destiny.Checkout{FirstName: "Nobody"}},
	)
	got, errs := f.c.Patrons(context.Background(), nil, items)
	if len(errs) != 4 {
		t.Fatalf("%d errors, want 4 (unknown status, two not found, no identifier): %v", len(errs), errs)
	}
	subjects := map[destiny.Kind][]string{}
	for _, err := range errs {
		var e *destiny.Error
		if !errors.As(err, &e) {
			t.Fatalf("%T %v", err, err)
		}
		subjects[e.Kind] = append(subjects[e.Kind], e.Subject)
	}
	sort.Strings(subjects[destiny.KindNotFound])
	sort.Strings(subjects[destiny.KindInvalidData])
	if strings.Join(subjects[destiny.KindNotFound], ",") != "ghost,id:77" ||
		strings.Join(subjects[destiny.KindInvalidData], ",") != strings.Join(sorted(weird, "item 999003"), ",") {
		t.Errorf("errors by kind %v: %v", subjects, errs)
	}
	if _, ok := got[weird]; ok {
		t.Error("a patron with an unknown status is in the result")
	}
	if len(got) != len(borrowers(items))-3 { // minus the weird status, "ghost" and patron 77
		t.Errorf("%d patrons, want every other borrower (%d)", len(got), len(borrowers(items))-3)
	}
}

func TestPatronsStopsOnAMissingService(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	items, err := f.c.ListItems(context.Background(), ipadQuery())
	if err != nil {
		t.Fatal(err)
	}
	f.sim.SetServices(simdestiny.ServiceResources)
	got, errs := f.c.Patrons(context.Background(), nil, items)
	if len(got) != 0 || len(errs) != 1 {
		t.Fatalf("%d patrons, errors %v; want one permission error", len(got), errs)
	}
	if e := mustErr(t, errs[0], destiny.KindPermission); e.Service != destiny.ServicePatronInfo {
		t.Errorf("service %q", e.Service)
	}
	if n := f.sim.Sim().CallCount(f.sim.RoutePatron()); n > 3 {
		t.Errorf("%d lookups after the first 403; want at most Concurrency (3)", n)
	}
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func TestBorrowersAreFoundWhicheverIdentifierThePathTakes(t *testing.T) {
	tests := []struct {
		name string
		ids  simdestiny.PatronIDs
		// callsPerBorrower: the district id first, then the GUID when the district id is a 404.
		callsPerBorrower int
	}{
		{"a server that takes the district id answers the first lookup", simdestiny.PatronByDistrictID, 1},
		{"a server that takes the patron id or GUID answers the GUID after a 404 by district id", simdestiny.PatronByPatronID, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{PatronIDs: tt.ids}, nil, nil)
			items, err := f.c.ListItems(context.Background(), ipadQuery())
			if err != nil {
				t.Fatal(err)
			}
			got, errs := f.c.Patrons(context.Background(), nil, items)
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			want := borrowers(items)
			if len(got) != len(want) {
				t.Fatalf("%d patrons, want %d", len(got), len(want))
			}
			for id := range want {
				if p := got[id]; p == nil || p.DistrictID != id || p.Type == "" {
					t.Errorf("borrower %s: %+v", id, p)
				}
			}
			if calls := f.sim.Sim().CallCount(f.sim.RoutePatron()); calls != tt.callsPerBorrower*len(want) {
				t.Errorf("%d lookups for %d borrowers, want %d each", calls, len(want), tt.callsPerBorrower)
			}
		})
	}
}

func TestPatronStatusAcceptsEitherShapeOfStatusAndType(t *testing.T) {
	tests := []struct {
		name, site string
		wantType   string
		wantStatus destiny.PatronState
		wantErr    destiny.Kind
	}{
		{"strings, as the patron import writes them", `{"internalId":1,"primarySite":true,"status":"A","patronType":"Student"}`, "Student", destiny.PatronActive, ""},
		{"objects with id and name", `{"internalId":1,"primarySite":true,"status":{"code":"I","name":"Inactive"},"patronType":{"id":3,"name":"Teacher"}}`, "Teacher", destiny.PatronInactive, ""},
		{"an unknown status is a clear per-patron error", `{"internalId":1,"primarySite":true,"status":"Q","patronType":{"id":3,"name":"Teacher"}}`, "", "", destiny.KindInvalidData},
		{"a missing patron type is a clear per-patron error", `{"internalId":1,"primarySite":true,"status":"A"}`, "", "", destiny.KindInvalidData},
		{"a status of the wrong JSON type is malformed", `{"internalId":1,"primarySite":true,"status":[1],"patronType":"Student"}`, "", "", destiny.KindMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"districtId":"S1","internalId":9,"firstName":"Ada","lastName":"Lovelace","sites":[` + tt.site + `]}`
			f := setup(t, nil, simdestiny.Options{}, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, "/status") {
						w.Header().Set("Content-Type", "application/json")
						fmt.Fprint(w, body)
						return
					}
					next.ServeHTTP(w, r)
				})
			}, nil)
			p, err := f.c.PatronStatus(context.Background(), "S1")
			if tt.wantErr != "" {
				mustErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != tt.wantType || p.Status != tt.wantStatus {
				t.Errorf("type %q status %q, want %q %q", p.Type, p.Status, tt.wantType, tt.wantStatus)
			}
		})
	}
}

// The cache holds one entry per borrower for a day: it keeps what a run uses (the primary site's type,
// type id, status and site) and drops the rest of the answer (names, the other sites).
func TestPatronCacheKeepsOnlyWhatARunUses(t *testing.T) {
	cache := destiny.NewPatronCache(time.Hour)
	full := &destiny.Patron{DistrictID: "S100", InternalID: 7, FirstName: "Ada", LastName: "Lovelace", Type: "Student",
		TypeID: 3, Status: destiny.PatronActive, SiteID: 12,
		Sites: []destiny.PatronSite{{InternalID: 12, Primary: true, Status: destiny.PatronActive, RawStatus: "A", Type: "Student", TypeID: 3}}}
	cache.Store("S100", "1@100", full)

	cases := []struct {
		name, checkoutKey string
		want              *destiny.Patron
	}{
		{"the same checkouts find the type and status only", "1@100",
			&destiny.Patron{DistrictID: "S100", Type: "Student", TypeID: 3, Status: destiny.PatronActive, SiteID: 12}},
		{"other checkouts miss", "1@100,2@200", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := cache.Lookup("S100", tc.checkoutKey)
			if ok != (tc.want != nil) {
				t.Fatalf("Lookup hit %v, want %v", ok, tc.want != nil)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Lookup = %+v, want %+v", got, tc.want)
			}
		})
	}
}
