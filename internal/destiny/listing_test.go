package destiny_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/destiny"
	simdestiny "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

func ipadType(d *district.District) district.ResourceType {
	for _, rt := range d.ResourceTypes {
		if rt.Name == district.ResourceTypeIPad {
			return rt
		}
	}
	panic("no iPad type")
}

func TestResolveResourceTypes(t *testing.T) {
	d := district.Generate(district.Options{Seed: 21, Schools: 3, Devices: 300})
	ipad := ipadType(d)
	tests := []struct {
		name     string
		input    string
		extra    []district.ResourceType // added to the hierarchy first
		wantID   int
		wantKind destiny.Kind
		contains []string
	}{
		{name: "a bare name a policy author sees in Destiny", input: "iPad", wantID: 10},
		{name: "the full path from the root", input: "Resources/Technology/iPad", wantID: 10},
		{name: "a partial path, any case, with stray spaces and slashes", input: " technology / IPAD/", wantID: 10},
		{name: "the database id", input: "10", wantID: 10},
		{name: "the GUID, any case", input: strings.ToLower(ipad.GUID), wantID: 10},
		{name: "a name found nowhere is not found and lists the known paths", input: "Toasters",
			wantKind: destiny.KindNotFound, contains: []string{`"Toasters"`, "Resources/Technology/iPad", "Resources/Technology/Staff iPad"}},
		{name: "a name found twice is ambiguous and lists both paths", input: "iPad",
			extra:    []district.ResourceType{{ID: 50, GUID: "AAAAAAAA-0000-0000-0000-000000000050", Name: "Library", ParentID: 1}, {ID: 51, GUID: "AAAAAAAA-0000-0000-0000-000000000051", Name: "iPad", ParentID: 50}},
			wantKind: destiny.KindAmbiguous, contains: []string{"2 resource types match", "Resources/Library/iPad", "Resources/Technology/iPad", "write the full path"}},
		{name: "the full path settles a name found twice", input: "Resources/Library/iPad",
			extra:  []district.ResourceType{{ID: 50, GUID: "AAAAAAAA-0000-0000-0000-000000000050", Name: "Library", ParentID: 1}, {ID: 51, GUID: "AAAAAAAA-0000-0000-0000-000000000051", Name: "iPad", ParentID: 50}},
			wantID: 51},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, d, simdestiny.Options{}, nil, nil)
			for _, rt := range tt.extra {
				f.sim.AddResourceType(rt)
			}
			got, err := f.c.ResolveResourceTypes(context.Background(), []string{tt.input})
			if tt.wantKind != "" {
				e := mustErr(t, err, tt.wantKind)
				if e.Op != destiny.OpResolveResourceType {
					t.Errorf("op %q, want %q", e.Op, destiny.OpResolveResourceType)
				}
				for _, c := range tt.contains {
					if !strings.Contains(err.Error(), c) {
						t.Errorf("error %q does not name %q", err, c)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[0].ID != tt.wantID {
				t.Errorf("resolved to %+v, want id %d", got[0], tt.wantID)
			}
		})
	}
}

func TestListItemsByTheNamesAPolicyAuthorWrites(t *testing.T) {
	tests := []struct {
		name  string
		types []string
	}{
		{"a bare name is resolved and listed by id (a real server 404s a bare name)", []string{"iPad"}},
		{"a full path is listed", []string{"Resources/Technology/iPad"}},
		{"two spellings of one type list it once", []string{"iPad", "Resources/Technology/iPad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{}, nil, nil)
			items, err := f.c.ListItems(context.Background(), destiny.ItemQuery{ResourceTypes: tt.types})
			if err != nil {
				t.Fatal(err)
			}
			checkAllListed(t, items, wantItems(f.d, district.ResourceTypeIPad))
			for _, it := range items {
				if it.QueryResourceType != tt.types[0] {
					t.Fatalf("item %d listed under %q, want the policy's spelling %q", it.ID, it.QueryResourceType, tt.types[0])
				}
			}
			if n := f.sim.Sim().CallCount(f.sim.RouteTypes()); n != 1 {
				t.Errorf("the hierarchy was read %d times, want once per listing", n)
			}
		})
	}
}

func TestListItemsRefusesBadCounts(t *testing.T) {
	tests := []struct {
		name     string
		count    string
		contains string
	}{
		{"a negative $count", "-1", "outside 0..10000000"},
		{"a $count near the int64 limit (once a makeslice panic)", "9000000000000000000", "outside 0..10000000"},
		{"a $count in exponent form", "9e18", "not an integer"},
		{"a $count above ten million", "10000001", "outside 0..10000000"},
		{"a $count beyond int64", "99999999999999999999", "not an integer"},
		{"a $count larger than the rows that follow", "5000", "$count is 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{}, countOverride(func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprint(w, tt.count)
			}), nil)
			items, err := f.c.ListItems(context.Background(), ipadQuery())
			mustErr(t, err, destiny.KindMalformed)
			if items != nil || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("items %d, error %v; want none and an error saying %q", len(items), err, tt.contains)
			}
		})
	}
}

func TestListItemsFromAServerThatCapsPages(t *testing.T) {
	tests := []struct {
		name     string
		nextLink simdestiny.NextLinkMode
	}{
		{"with the quirky links real servers send", simdestiny.NextLinkQuirky},
		{"with clean links", simdestiny.NextLinkClean},
		{"without links", simdestiny.NextLinkNone},
		{"with links that loop back to the start", simdestiny.NextLinkLoop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, nil, simdestiny.Options{MaxPageSize: 7, NextLink: tt.nextLink}, nil, func(c *destiny.Config) { c.PageSize = 40 })
			items, err := f.c.ListItems(context.Background(), ipadQuery())
			if err != nil {
				t.Fatal(err)
			}
			want := wantItems(f.d, district.ResourceTypeIPad)
			checkAllListed(t, items, want)
			// The first page and $count, then the rest in the server's page length (7), and one more
			// request when the last page is full.
			pages := (len(want) + 6) / 7
			wantCalls := 1 + pages
			if len(want)%7 == 0 {
				wantCalls++
			}
			if got := f.sim.Sim().CallCount(f.sim.RouteTypeItems()); got != wantCalls {
				t.Errorf("%d item requests, want %d", got, wantCalls)
			}
		})
	}
}

func TestListItemsFollowsNextLinkPastTheCount(t *testing.T) {
	// A short page with an @nextLink is not the end: items added since the count are read too.
	f := setup(t, nil, simdestiny.Options{NextLink: simdestiny.NextLinkQuirky}, countOverride(func(w http.ResponseWriter) {
		fmt.Fprint(w, "3")
	}), func(c *destiny.Config) { c.PageSize = 40 })
	f.sim.SetMaxPageSize(3)
	items, err := f.c.ListItems(context.Background(), ipadQuery())
	if err != nil {
		t.Fatal(err)
	}
	checkAllListed(t, items, wantItems(f.d, district.ResourceTypeIPad))
}

func TestListItemsRejectsItemsOfAnotherSite(t *testing.T) {
	ignoreSite := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			q.Del("siteShortName")
			r.URL.RawQuery = q.Encode()
			next.ServeHTTP(w, r)
		})
	}
	f := setup(t, nil, simdestiny.Options{}, ignoreSite, nil)
	site := f.d.Schools[0].ShortName
	_, err := f.c.ListItems(context.Background(), destiny.ItemQuery{ResourceTypes: []string{"iPad"}, SiteShortNames: []string{site}})
	mustErr(t, err, destiny.KindMalformed)
	if !strings.Contains(err.Error(), "not to the site "+site+" asked for") {
		t.Errorf("error %v does not say the item belongs to another site", err)
	}
}

func TestListItemsRefusesAnUnknownSite(t *testing.T) {
	f := setup(t, nil, simdestiny.Options{}, nil, nil)
	_, err := f.c.ListItems(context.Background(), destiny.ItemQuery{ResourceTypes: []string{"iPad"}, SiteShortNames: []string{"NOPE"}})
	e := mustErr(t, err, destiny.KindNotFound)
	if e.Subject != "site NOPE" {
		t.Errorf("error %v does not name the site", err)
	}
}
