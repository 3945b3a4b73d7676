package destiny

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
)

// ---- reading the vendor's OpenAPI text without a YAML dependency ----

// referenceFile reads one of the vendor's OpenAPI files copied into testdata/ (see testdata/README.md).
func referenceFile(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("vendor reference %s: %v", name, err)
	}
	return strings.Split(string(b), "\n")
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// exampleBlock returns the lines of the first "example:" block after the line containing anchor.
func exampleBlock(t *testing.T, lines []string, anchor string) []string {
	t.Helper()
	i := 0
	for ; i < len(lines) && !strings.Contains(lines[i], anchor); i++ {
	}
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != "example:"; i++ {
	}
	if i == len(lines) {
		t.Fatalf("no example after %q", anchor)
	}
	ind := indentOf(lines[i])
	var block []string
	for j := i + 1; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) != "" && indentOf(lines[j]) <= ind {
			break
		}
		block = append(block, lines[j])
	}
	return block
}

// yamlKeys flattens a YAML mapping block into dotted key paths; list elements add a "[]" segment.
func yamlKeys(block []string) map[string]bool {
	type frame struct {
		indent int
		name   string
	}
	var stack []frame
	keys := map[string]bool{}
	for _, line := range block {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		ind := indentOf(line)
		if strings.HasPrefix(t, "- ") {
			for len(stack) > 0 && stack[len(stack)-1].indent >= ind {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, frame{ind, "[]"})
			t = t[2:]
			ind += 2
		}
		k, _, ok := strings.Cut(t, ":")
		if !ok || strings.ContainsAny(k, " ") && !strings.HasPrefix(k, "'") {
			continue
		}
		k = strings.Trim(k, `'"`)
		for len(stack) > 0 && stack[len(stack)-1].indent >= ind {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, frame{ind, k})
		names := make([]string, len(stack))
		for i, f := range stack {
			names[i] = f.name
		}
		keys[strings.Join(names, ".")] = true
	}
	return keys
}

// schemaProperties returns the property names of components.schemas.<name>.
func schemaProperties(t *testing.T, lines []string, name string) []string {
	t.Helper()
	i := 0
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != name+":"; i++ {
	}
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != "properties:"; i++ {
	}
	if i == len(lines) {
		t.Fatalf("schema %s not found", name)
	}
	ind := indentOf(lines[i])
	var props []string
	for j := i + 1; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) == "" {
			continue
		}
		if indentOf(lines[j]) <= ind {
			break
		}
		if indentOf(lines[j]) == ind+2 {
			props = append(props, strings.Trim(strings.TrimSuffix(strings.TrimSpace(lines[j]), ":"), `'"`))
		}
	}
	return props
}

// jsonKeys flattens a decoded JSON value the same way.
func jsonKeys(v any, prefix string, keys map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			keys[p] = true
			jsonKeys(e, p, keys)
		}
	case []any:
		for _, e := range x {
			jsonKeys(e, prefix+".[]", keys)
		}
	}
}

func sortedDiff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// ---- a small district and helpers ----

func testDistrict() *district.District {
	return district.Generate(district.Options{Seed: 9, Schools: 3, Devices: 120})
}

type env struct {
	t   *testing.T
	s   *Server
	srv *httptest.Server
	tok string
}

func newEnv(t *testing.T, d *district.District, opts Options) *env {
	t.Helper()
	s := New(d, opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e := &env{t: t, s: s, srv: srv}
	return e
}

func (e *env) token() string {
	e.t.Helper()
	if e.tok != "" {
		return e.tok
	}
	status, body, _ := e.post("/auth/accessToken", url.Values{"grant_type": {"client_credentials"},
		"client_id": {e.s.opts.ClientID}, "client_secret": {e.s.opts.ClientSecret}})
	if status != 200 {
		e.t.Fatalf("token: HTTP %d %s", status, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		e.t.Fatal(err)
	}
	e.tok = tok.AccessToken
	return e.tok
}

func (e *env) post(path string, form url.Values) (int, []byte, http.Header) {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+e.s.BasePath()+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (e *env) get(path string, auth bool) (int, []byte, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.s.BasePath()+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+e.token())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return m
}

// ---- field names against the spec ----

// The item listing is checked against the example of GET /materials/resourcetypes/{resourceType}/items
// in resources-api.yaml (operationId get-items-by-resource-type) and against the Item and
// ItemCollection schemas.
func TestItemPageFieldNamesMatchTheSpecExample(t *testing.T) {
	d := testDistrict()
	// Give one item every optional part: a top-level serial, a "Serial Number" field, a checkout.
	for i := range d.Items {
		if d.Items[i].Case == district.CaseNormal {
			d.Items[i].SerialField = d.Items[i].SerialNumber
			break
		}
	}
	e := newEnv(t, d, Options{NextLink: NextLinkClean})
	status, body, _ := e.get("/materials/resourcetypes/Resources/Technology/iPad/items?includeCurrentCheckout=true&$top=50", true)
	if status != 200 {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	got := map[string]bool{}
	jsonKeys(decode(t, body), "", got)

	spec := referenceFile(t, "resources-api.yaml")
	want := yamlKeys(exampleBlock(t, spec, "operationId: get-items-by-resource-type"))
	if len(want) < 30 {
		t.Fatalf("extracted only %d keys from the spec example: the extractor is broken: %v", len(want), want)
	}
	if extra := sortedDiff(got, want); len(extra) > 0 {
		t.Errorf("simulator sends fields the spec example does not have: %v", extra)
	}
	// Notes are empty lists in the simulator, so their element keys cannot appear.
	for k := range want {
		if strings.HasPrefix(k, "value.[].itemNotes.[]") || strings.HasPrefix(k, "value.[].historicalNotes.[]") {
			delete(want, k)
		}
	}
	if missing := sortedDiff(want, got); len(missing) > 0 {
		t.Errorf("simulator lacks fields of the spec example: %v", missing)
	}
	for _, p := range schemaProperties(t, spec, "Item") {
		if !got["value.[]."+p] {
			t.Errorf("Item schema property %q missing from the simulator's items", p)
		}
	}
	for _, p := range schemaProperties(t, spec, "ItemCollection") {
		if !got[p] {
			t.Errorf("ItemCollection schema property %q missing from the simulator's page", p)
		}
	}
}

func TestItemStatusesAreInTheSpecEnum(t *testing.T) {
	spec := strings.Join(referenceFile(t, "resources-api.yaml"), "\n")
	i := strings.Index(spec, "enum: [available, checked out")
	if i < 0 {
		t.Fatal("Item status enum not found in resources-api.yaml")
	}
	enum := spec[i+len("enum: [") : i+strings.Index(spec[i:], "]")]
	allowed := map[string]bool{}
	for _, v := range strings.Split(enum, ",") {
		allowed[strings.TrimSpace(v)] = true
	}
	for _, st := range []string{district.ItemAvailable, district.ItemCheckedOut, district.ItemLost, district.ItemStolen,
		district.ItemInTransit, district.ItemOutForRepair} {
		if !allowed[st] {
			t.Errorf("status %q is not in the spec's Item.status enum", st)
		}
	}
}

func TestCheckoutDatesUseTheSpecFormat(t *testing.T) {
	d := &district.District{
		Schools:       []district.School{{InternalID: 187, GUID: "32ef328d", ShortName: "ELM", Name: "Elm"}},
		ResourceTypes: []district.ResourceType{{ID: 10, GUID: "A0F9", Name: "Computers"}},
		Patrons:       []district.Patron{{DistrictID: "ABCDEFG", InternalID: 100, FirstName: "John", MiddleName: "Edwardo", LastName: "Doe", Type: "Student", Status: "A", SiteShortName: "ELM"}},
		Items: []district.Item{{ID: 5, Barcode: "00000000000001", SerialNumber: "WKJA-0123-ACDE", Status: "checked out",
			ResourceType: "Computers", ResourceName: "Dell Inspiron 2456", SiteShortName: "ELM", Borrower: "ABCDEFG",
			DateOut: time.Date(2020, 10, 21, 13, 0, 0, 0, time.UTC), DateDue: time.Date(2020, 10, 27, 0, 0, 0, 0, time.UTC)}},
	}
	e := newEnv(t, d, Options{})
	_, body, _ := e.get("/materials/resourcetypes/Computers/items?includeCurrentCheckout=true", true)
	var page struct {
		Value []struct {
			Checkout map[string]any `json:"checkout"`
			Site     map[string]any `json:"site"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Value) != 1 {
		t.Fatalf("%v: %s", err, body)
	}
	co := page.Value[0].Checkout
	// resources-api.yaml example: dateOut: '2020-10-21T13:00:00.0Z', lastFirstMiddleName: 'Doe, John Edwardo'.
	if co["dateOut"] != "2020-10-21T13:00:00.0Z" || co["dateDue"] != "2020-10-27T00:00:00.0Z" || co["lastFirstMiddleName"] != "Doe, John Edwardo" {
		t.Errorf("checkout = %v", co)
	}
	if page.Value[0].Site["internalId"] != float64(187) {
		t.Errorf("site = %v", page.Value[0].Site)
	}
}

// Sites are checked against the getSite and getAllSites examples and the Site schema of sites-api.yaml.
func TestSiteFieldNamesMatchTheSpec(t *testing.T) {
	d := testDistrict()
	e := newEnv(t, d, Options{})
	spec := referenceFile(t, "sites-api.yaml")

	status, body, _ := e.get("/sites/"+d.Schools[0].GUID, true)
	if status != 200 {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	got := map[string]bool{}
	jsonKeys(decode(t, body), "", got)
	want := yamlKeys(exampleBlock(t, spec, "operationId: getSite"))
	if extra, missing := sortedDiff(got, want), sortedDiff(want, got); len(extra)+len(missing) > 0 {
		t.Errorf("GET /sites/{id}: extra fields %v, missing fields %v", extra, missing)
	}
	for _, p := range schemaProperties(t, spec, "Site") {
		if !got[p] && p != "fscCustomerNumber" {
			t.Errorf("Site schema property %q missing", p)
		}
	}

	status, body, _ = e.get("/sites?productTypes=resource", true)
	if status != 200 {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	got = map[string]bool{}
	jsonKeys(decode(t, body), "", got)
	want = yamlKeys(exampleBlock(t, spec, "operationId: getAllSites"))
	// The example says siteName where the SiteCollection schema says name; the simulator follows the schema.
	want["value.[].name"] = true
	delete(want, "value.[].siteName")
	if extra, missing := sortedDiff(got, want), sortedDiff(want, got); len(extra)+len(missing) > 0 {
		t.Errorf("GET /sites: extra fields %v, missing fields %v", extra, missing)
	}
}

func TestAccessTokenMatchesTheSpec(t *testing.T) {
	e := newEnv(t, testDistrict(), Options{TokenLifetime: 90 * time.Second})
	spec := referenceFile(t, "auth-api.yaml")
	status, body, _ := e.post("/auth/accessToken", url.Values{"grant_type": {"client_credentials"}, "client_id": {"sim-client"}, "client_secret": {"sim-secret"}})
	if status != 200 {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	m := decode(t, body)
	for _, p := range schemaProperties(t, spec, "AccessToken") {
		if _, ok := m[p]; !ok {
			t.Errorf("token answer lacks %q: %s", p, body)
		}
	}
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(90) || strings.Count(m["access_token"].(string), ".") != 2 {
		t.Errorf("token answer = %s", body)
	}
}

// ---- errors, per endpoint, in the documented shapes ----

func TestErrorShapes(t *testing.T) {
	d := testDistrict()
	tests := []struct {
		name      string
		opts      Options
		method    string
		path      string
		auth      bool
		form      url.Values
		status    int
		wrapped   bool
		code      string
		target    string
		oauthCode string
	}{
		{name: "auth with a wrong secret answers the OAuth invalid_client shape", method: "POST", path: "/auth/accessToken",
			form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"sim-client"}, "client_secret": {"nope"}}, status: 401, oauthCode: "invalid_client"},
		{name: "auth without grant_type answers 400 invalid_request", method: "POST", path: "/auth/accessToken",
			form: url.Values{"client_id": {"sim-client"}, "client_secret": {"sim-secret"}}, status: 400, oauthCode: "invalid_request"},
		{name: "items without a token answer a wrapped 401 with the reference's code", method: "GET", path: "/materials/resourcetypes/Resources/Technology/iPad/items", status: 401, wrapped: true, code: "CODE_MISSING_INVALID_ACCESS_TOKEN", target: "accessToken"},
		{name: "items without the Resources service answer a wrapped 403 naming CatAssetSearchAssets", opts: Options{Services: []string{ServicePatronInfo}},
			method: "GET", path: "/materials/resourcetypes/Resources/Technology/iPad/items", auth: true, status: 403, wrapped: true, code: "CODE_INSUFFICIENT_RIGHTS_TO_API", target: "CatAssetSearchAssets"},
		{name: "patron status without Patron Info answers a wrapped 403", opts: Options{Services: []string{ServiceResources}},
			method: "GET", path: "/circulation/patrons/x/status", auth: true, status: 403, wrapped: true, code: "CODE_INSUFFICIENT_RIGHTS_TO_API", target: TargetPatronInfo},
		{name: "an unknown resource type answers a wrapped 404 CODE_NOT_FOUND", method: "GET", path: "/materials/resourcetypes/Toasters/items", auth: true, status: 404, wrapped: true, code: "CODE_NOT_FOUND"},
		{name: "an invalid $top answers a wrapped 400 targeting $top", method: "GET", path: "/materials/resourcetypes/Resources/Technology/iPad/items?$top=ten", auth: true, status: 400, wrapped: true, code: "CODE_BAD_REQUEST", target: "$top"},
		{name: "an unknown patron answers a wrapped 404", method: "GET", path: "/circulation/patrons/nobody/status", auth: true, status: 404, wrapped: true, code: "CODE_NOT_FOUND"},
		{name: "sites without a token answer an unwrapped 401 with the sites reference's code", method: "GET", path: "/sites", status: 401, code: "CODE_INVALID_TOKEN"},
		{name: "an unknown site answers an unwrapped 404 NOT_FOUND", method: "GET", path: "/sites/999999", auth: true, status: 404, code: "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, d, tt.opts)
			var status int
			var body []byte
			var hdr http.Header
			if tt.method == "POST" {
				status, body, hdr = e.post(tt.path, tt.form)
			} else {
				status, body, hdr = e.get(tt.path, tt.auth)
			}
			if status != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.status, body)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", hdr.Get("Content-Type"))
			}
			m := decode(t, body)
			if tt.oauthCode != "" {
				if m["error"] != tt.oauthCode || m["error_description"] == nil {
					t.Errorf("body %s, want OAuth error %s", body, tt.oauthCode)
				}
				return
			}
			obj := m
			if tt.wrapped {
				inner, ok := m["error"].(map[string]any)
				if !ok {
					t.Fatalf("body %s is not wrapped in \"error\"", body)
				}
				obj = inner
			} else if _, ok := m["error"]; ok {
				t.Fatalf("body %s is wrapped; sites-api.yaml shows it unwrapped", body)
			}
			if obj["code"] != tt.code || obj["message"] == nil || obj["message"] == "" {
				t.Errorf("error %v, want code %s with a message", obj, tt.code)
			}
			if tt.target != "" && obj["target"] != tt.target {
				t.Errorf("target %v, want %s", obj["target"], tt.target)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	d := testDistrict()
	t.Run("a token past its lifetime is refused with CODE_EXPIRED_TOKEN (enum codes)", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		e := newEnv(t, d, Options{TokenLifetime: time.Minute, Now: clock, TokenCodes: TokenCodesEnum})
		if status, body, _ := e.get("/sites", true); status != 200 {
			t.Fatalf("fresh token refused: %d %s", status, body)
		}
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		status, body, _ := e.get("/materials/resourcetypes/Resources/Technology/iPad/items", true)
		if status != 401 || !strings.Contains(string(body), "CODE_EXPIRED_TOKEN") {
			t.Fatalf("HTTP %d %s, want 401 CODE_EXPIRED_TOKEN", status, body)
		}
	})
	t.Run("ExpireTokensAfter expires tokens after exactly n authorised calls", func(t *testing.T) {
		e := newEnv(t, d, Options{TokenCodes: TokenCodesEnum})
		e.token()
		e.s.ExpireTokensAfter(2)
		for i := range 2 {
			if status, body, _ := e.get("/sites", true); status != 200 {
				t.Fatalf("call %d: HTTP %d %s", i, status, body)
			}
		}
		if status, _, _ := e.get("/sites", true); status != 401 {
			t.Fatalf("third call: HTTP %d, want 401", status)
		}
		if got := e.s.Rejections()["CODE_EXPIRED_TOKEN"]; got != 1 {
			t.Errorf("Rejections()[CODE_EXPIRED_TOKEN] = %d, want 1", got)
		}
	})
	t.Run("an unknown token is refused with CODE_INVALID_TOKEN (enum codes)", func(t *testing.T) {
		e := newEnv(t, d, Options{TokenCodes: TokenCodesEnum})
		e.tok = "not-a-token"
		status, body, _ := e.get("/materials/resourcetypes/Resources/Technology/iPad/items", true)
		if status != 401 || !strings.Contains(string(body), "CODE_INVALID_TOKEN") {
			t.Fatalf("HTTP %d %s", status, body)
		}
	})
	t.Run("the token is also accepted as the accessToken query parameter", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		if status, body, _ := e.get("/sites?accessToken="+url.QueryEscape(e.token()), false); status != 200 {
			t.Fatalf("HTTP %d %s", status, body)
		}
	})
}

// ---- paging ----

type page struct {
	Value []struct {
		ID       int             `json:"id"`
		Checkout json.RawMessage `json:"checkout"`
	} `json:"value"`
	NextLink string `json:"@nextLink"`
}

func getPage(t *testing.T, e *env, path string) page {
	t.Helper()
	status, body, _ := e.get(path, true)
	if status != 200 {
		t.Fatalf("%s: HTTP %d %s", path, status, body)
	}
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func ipadCount(d *district.District, site string) int {
	n := 0
	for _, it := range d.Items {
		if it.ResourceType == district.ResourceTypeIPad && (site == "" || it.SiteShortName == site) {
			n++
		}
	}
	return n
}

func TestPaging(t *testing.T) {
	d := testDistrict()
	total := ipadCount(d, "")
	t.Run("$count answers a plain-text integer", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		status, body, hdr := e.get("/materials/resourcetypes/Resources/Technology/iPad/items?$count=true&$top=5", true)
		if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || string(body) != strconv.Itoa(total) {
			t.Fatalf("HTTP %d %q %q, want %d", status, hdr.Get("Content-Type"), body, total)
		}
	})
	t.Run("$top defaults to 25", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		if p := getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items"); len(p.Value) != 25 {
			t.Fatalf("got %d items", len(p.Value))
		}
	})
	t.Run("$top and $skip page through every item once, in id order", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		var ids []int
		for skip := 0; skip < total+10; skip += 10 {
			p := getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items?$top=10&$skip="+strconv.Itoa(skip))
			for _, v := range p.Value {
				ids = append(ids, v.ID)
			}
		}
		if len(ids) != total || !sort.IntsAreSorted(ids) {
			t.Fatalf("got %d ids (sorted %v), want %d", len(ids), sort.IntsAreSorted(ids), total)
		}
	})
	t.Run("the type can be named by id or guid as well as by its path", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		var guid string
		for _, rt := range d.ResourceTypes {
			if rt.Name == district.ResourceTypeIPad {
				guid = rt.GUID
			}
		}
		for _, key := range []string{"10", guid, "resources/technology/ipad"} {
			if p := getPage(t, e, "/materials/resourcetypes/"+key+"/items?$top=1000"); len(p.Value) != total {
				t.Errorf("by %s: %d items, want %d", key, len(p.Value), total)
			}
		}
	})
	t.Run("siteShortName filters by site", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		site := d.Schools[1].ShortName
		if p := getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items?$top=1000&siteShortName="+site); len(p.Value) != ipadCount(d, site) {
			t.Fatalf("got %d, want %d", len(p.Value), ipadCount(d, site))
		}
	})
	t.Run("checkout is included only with includeCurrentCheckout=true", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		with, without := 0, 0
		for _, v := range getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items?$top=1000&includeCurrentCheckout=true").Value {
			if v.Checkout != nil {
				with++
			}
		}
		for _, v := range getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items?$top=1000").Value {
			if v.Checkout != nil {
				without++
			}
		}
		if with == 0 || without != 0 {
			t.Fatalf("%d checkouts with the flag, %d without", with, without)
		}
	})
	t.Run("the last page has no @nextLink", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		if p := getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items?$top=1000"); p.NextLink != "" {
			t.Fatalf("nextLink %q on the only page", p.NextLink)
		}
	})
}

func TestNextLinkModes(t *testing.T) {
	d := testDistrict()
	tests := []struct {
		name  string
		mode  NextLinkMode
		check func(t *testing.T, link string)
	}{
		{"quirky links are relative, lack /materials, carry an empty $orderby and drop includeCurrentCheckout", NextLinkQuirky, func(t *testing.T, link string) {
			if !strings.HasPrefix(link, "/resourcetypes/Resources/Technology/iPad/items?") || !strings.Contains(link, "%24orderby=&") && !strings.HasSuffix(link, "%24orderby=") ||
				strings.Contains(link, "includeCurrentCheckout") || !strings.Contains(link, "%24skip=10") {
				t.Errorf("link %q", link)
			}
		}},
		{"clean links keep the path and every parameter", NextLinkClean, func(t *testing.T, link string) {
			u, err := url.Parse(link)
			if err != nil || u.Path != "/materials/resourcetypes/Resources/Technology/iPad/items" || u.Query().Get("includeCurrentCheckout") != "true" || u.Query().Get("$skip") != "10" {
				t.Errorf("link %q", link)
			}
		}},
		{"looping links point back at the first page", NextLinkLoop, func(t *testing.T, link string) {
			u, _ := url.Parse(link)
			if u.Query().Get("$skip") != "0" {
				t.Errorf("link %q", link)
			}
		}},
		{"no links at all", NextLinkNone, func(t *testing.T, link string) {
			if link != "" {
				t.Errorf("link %q", link)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, d, Options{NextLink: tt.mode})
			p := getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items?includeCurrentCheckout=true&$top=10&$orderby=id")
			tt.check(t, p.NextLink)
		})
	}
}

// ---- outages, services and faults ----

func TestOutages(t *testing.T) {
	d := testDistrict()
	t.Run("an empty outage answers no items and a zero count", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		e.s.SetOutage(OutageEmpty)
		if p := getPage(t, e, "/materials/resourcetypes/Resources/Technology/iPad/items?$top=1000"); len(p.Value) != 0 {
			t.Fatalf("%d items during an empty outage", len(p.Value))
		}
		if _, body, _ := e.get("/materials/resourcetypes/Resources/Technology/iPad/items?$count=true", true); string(body) != "0" {
			t.Fatalf("count %q", body)
		}
	})
	t.Run("a 503 outage refuses every call, auth included", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		e.token()
		e.s.SetOutage(Outage503)
		if status, _, _ := e.get("/sites", true); status != 503 {
			t.Fatalf("HTTP %d", status)
		}
		if status, _, _ := e.post("/auth/accessToken", url.Values{}); status != 503 {
			t.Fatalf("auth HTTP %d", status)
		}
		if got := e.s.Sim().CallCount(e.s.RouteSites()); got != 1 {
			t.Fatalf("outage answers are not counted: CallCount = %d", got)
		}
		e.s.SetOutage(OutageNone)
		if status, _, _ := e.get("/sites", true); status != 200 {
			t.Fatalf("after the outage: HTTP %d", status)
		}
	})
	t.Run("faults queued on the simhttp server apply to the named route", func(t *testing.T) {
		e := newEnv(t, d, Options{})
		e.token()
		e.s.Sim().FailNext(e.s.RouteTypeItems(), 1, 4) // simhttp.FaultHTML504
		status, body, _ := e.get("/materials/resourcetypes/Resources/Technology/iPad/items", true)
		if status != 504 || !strings.Contains(string(body), "<html>") {
			t.Fatalf("HTTP %d %s", status, body)
		}
		if got := e.s.Sim().CallCount(e.s.RouteTypeItems()); got != 1 {
			t.Fatalf("CallCount = %d", got)
		}
	})
}

// ---- patrons (README: districtId, internalId, firstName, lastName, sites[{internalId, primarySite,
// status, patronType{id,name}}], itemsOut[...]) ----

func TestPatronStatus(t *testing.T) {
	d := testDistrict()
	var borrower *district.Item
	for i := range d.Items {
		if d.Items[i].Case == district.CaseInactiveStudent {
			borrower = &d.Items[i]
		}
	}
	if borrower == nil {
		t.Fatal("no inactive student in the test district")
	}
	p := d.Patron(borrower.Borrower)
	for _, words := range []bool{false, true} {
		name := "status as the patron-import letter"
		want := "I"
		if words {
			name, want = "status as a word", "Inactive"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, d, Options{PatronStatusWords: words})
			status, body, _ := e.get("/circulation/patrons/"+p.DistrictID+"/status", true)
			if status != 200 {
				t.Fatalf("HTTP %d %s", status, body)
			}
			got := map[string]bool{}
			jsonKeys(decode(t, body), "", got)
			for _, k := range []string{"districtId", "internalId", "firstName", "lastName", "sites", "sites.[].internalId",
				"sites.[].primarySite", "sites.[].status", "sites.[].patronType", "sites.[].patronType.id", "sites.[].patronType.name", "itemsOut"} {
				if !got[k] {
					t.Errorf("patron status lacks %s: %s", k, body)
				}
			}
			var w struct {
				Sites []struct {
					Status     string                `json:"status"`
					PatronType struct{ Name string } `json:"patronType"`
				} `json:"sites"`
				ItemsOut []struct{ ID int } `json:"itemsOut"`
			}
			_ = json.Unmarshal(body, &w)
			if w.Sites[0].Status != want || w.Sites[0].PatronType.Name != district.PatronStudent || len(w.ItemsOut) != 1 || w.ItemsOut[0].ID != borrower.ID {
				t.Errorf("patron status %s", body)
			}
		})
	}
}

func TestUpdatesAreVisibleToTheNextCall(t *testing.T) {
	d := testDistrict()
	e := newEnv(t, d, Options{})
	id := d.Items[0].ID
	if !e.s.UpdateItem(id, func(it *district.Item) { it.Status = district.ItemLost; it.Borrower = "" }) {
		t.Fatal("UpdateItem found no item")
	}
	_, body, _ := e.get("/materials/resourcetypes/Resources/Technology/"+url.PathEscape(d.Items[0].ResourceType)+"/items?$top=1&itemBarcode="+d.Items[0].Barcode, true)
	if !strings.Contains(string(body), `"status":"lost"`) {
		t.Fatalf("item after update: %s", body)
	}
	if e.s.UpdateItem(-1, func(*district.Item) {}) {
		t.Fatal("UpdateItem(-1) reported success")
	}
}

// ---- resource types: a hierarchy, names are paths ----

// The hierarchy answer is checked against the example of GET /materials/resourcetypes in
// resources-api.yaml (operationId get-resource-type-hierarchy).
func TestResourceTypeHierarchyMatchesTheSpecExample(t *testing.T) {
	e := newEnv(t, testDistrict(), Options{})
	status, body, _ := e.get("/materials/resourcetypes", true)
	if status != 200 {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	got := map[string]bool{}
	jsonKeys(decode(t, body), "", got)
	want := yamlKeys(exampleBlock(t, referenceFile(t, "resources-api.yaml"), "operationId: get-resource-type-hierarchy"))
	// softwareResourceTypeIdAssignment is for software types only; the example's nested nameFields
	// lists sit at their key's indentation, which the small YAML reader does not follow: compare the
	// root's nameFields only.
	for _, keys := range []map[string]bool{want, got} {
		for k := range keys {
			if strings.Contains(k, "softwareResourceTypeIdAssignment") || strings.Contains(k, "[].[]") ||
				strings.HasPrefix(k, "children.") && strings.Contains(k, "nameFields") {
				delete(keys, k)
			}
		}
	}
	if missing := sortedDiff(want, got); len(missing) > 0 {
		t.Errorf("hierarchy lacks keys of the spec example: %v", missing)
	}
	if extra := sortedDiff(got, want); len(extra) > 0 {
		t.Errorf("hierarchy has keys the spec example does not: %v", extra)
	}
	var root struct {
		Name     string `json:"name"`
		Children []struct {
			Name     string `json:"name"`
			Children []struct {
				ID   int    `json:"id"`
				Name string `json:"name"`
			} `json:"children"`
		} `json:"children"`
	}
	if err := json.Unmarshal(body, &root); err != nil {
		t.Fatal(err)
	}
	if root.Name != district.ResourceTypeRoot || len(root.Children) != 1 || root.Children[0].Name != district.ResourceTypeTechnology ||
		len(root.Children[0].Children) != 2 || root.Children[0].Children[0].Name != district.ResourceTypeIPad {
		t.Errorf("hierarchy %s, want Resources > Technology > iPad, Staff iPad", body)
	}
}

func TestTypeItemsTakeAPathNotABareName(t *testing.T) {
	d := testDistrict()
	tests := []struct {
		name, key string
		status    int
	}{
		{"the full path from the root lists the type", "Resources/Technology/iPad", 200},
		{"the path is matched case-insensitively, as the spec's example is lower case", "resources/technology/ipad", 200},
		{"a path with an escaped space lists the type", "Resources/Technology/Staff%20iPad", 200},
		{"the database id lists the type", "10", 200},
		{"a bare child name is 404 CODE_NOT_FOUND, as on a real server", "iPad", 404},
		{"a partial path is 404 CODE_NOT_FOUND", "Technology/iPad", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, d, Options{})
			status, body, _ := e.get("/materials/resourcetypes/"+tt.key+"/items", true)
			if status != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.status, body)
			}
			if tt.status == 404 && !strings.Contains(string(body), `"CODE_NOT_FOUND"`) {
				t.Errorf("body %s, want CODE_NOT_FOUND", body)
			}
		})
	}
}

func TestRefusedTokenCodes(t *testing.T) {
	d := testDistrict()
	tests := []struct {
		name  string
		codes TokenCodes
		path  string
		token string // "": none; "bad": unknown; "expired": issued then expired
		want  string
	}{
		{"items without a token: the reference's CODE_MISSING_INVALID_ACCESS_TOKEN", TokenCodesAsDocumented, "/materials/resourcetypes/10/items", "", "CODE_MISSING_INVALID_ACCESS_TOKEN"},
		{"items with an expired token: CODE_MISSING_INVALID_ACCESS_TOKEN as documented", TokenCodesAsDocumented, "/materials/resourcetypes/10/items", "expired", "CODE_MISSING_INVALID_ACCESS_TOKEN"},
		{"patron status with an unknown token: CODE_MISSING_INVALID_ACCESS_TOKEN", TokenCodesAsDocumented, "/circulation/patrons/x/status", "bad", "CODE_MISSING_INVALID_ACCESS_TOKEN"},
		{"sites with an expired token: the sites reference's CODE_INVALID_TOKEN", TokenCodesAsDocumented, "/sites", "expired", "CODE_INVALID_TOKEN"},
		{"enum codes: an expired token is CODE_EXPIRED_TOKEN", TokenCodesEnum, "/materials/resourcetypes/10/items", "expired", "CODE_EXPIRED_TOKEN"},
		{"enum codes: no token is CODE_MISSING_TOKEN", TokenCodesEnum, "/sites", "", "CODE_MISSING_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, d, Options{TokenCodes: tt.codes})
			auth := tt.token != ""
			switch tt.token {
			case "bad":
				e.tok = "not-a-token"
			case "expired":
				e.token()
				e.s.ExpireTokens()
			}
			status, body, _ := e.get(tt.path, auth)
			if status != 401 || !strings.Contains(string(body), `"`+tt.want+`"`) {
				t.Fatalf("HTTP %d %s, want 401 %s", status, body, tt.want)
			}
			if e.s.Rejections()[tt.want] != 1 {
				t.Errorf("Rejections() = %v, want one %s", e.s.Rejections(), tt.want)
			}
		})
	}
}

func TestMaxPageSizeReturnsFewerThanTop(t *testing.T) {
	d := testDistrict()
	e := newEnv(t, d, Options{MaxPageSize: 7, NextLink: NextLinkClean})
	p := getPage(t, e, "/materials/resourcetypes/10/items?$top=50")
	if len(p.Value) != 7 {
		t.Fatalf("%d items, want the cap of 7", len(p.Value))
	}
	if !strings.Contains(p.NextLink, "%24skip=7") {
		t.Errorf("@nextLink %q, want the next page at $skip=7", p.NextLink)
	}
}

func TestPatronStatusIdentifiers(t *testing.T) {
	d := testDistrict()
	p := d.Patrons[0]
	tests := []struct {
		name   string
		ids    PatronIDs
		key    string
		status int
	}{
		{"by district id (default): the district id is found", PatronByDistrictID, p.DistrictID, 200},
		{"by district id (default): a GUID is 404", PatronByDistrictID, p.GUID, 404},
		{"by patron id: the GUID is found", PatronByPatronID, p.GUID, 200},
		{"by patron id: the database id is found", PatronByPatronID, strconv.Itoa(p.InternalID), 200},
		{"by patron id: a district id is 404", PatronByPatronID, p.DistrictID, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, d, Options{PatronIDs: tt.ids})
			status, body, _ := e.get("/circulation/patrons/"+url.PathEscape(tt.key)+"/status", true)
			if status != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.status, body)
			}
			if status == 200 && decode(t, body)["districtId"] != p.DistrictID {
				t.Errorf("answer %s is not patron %s", body, p.DistrictID)
			}
		})
	}
}

func TestWireFaults(t *testing.T) {
	d := testDistrict()
	tests := []struct {
		name  string
		fault WireFault
		check func(t *testing.T, resp *http.Response, body []byte)
	}{
		{"a 429 carries the Retry-After asked for", WireFault{Kind: WireRetryAfter, RetryAfter: "86400"}, func(t *testing.T, resp *http.Response, _ []byte) {
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "86400" {
				t.Errorf("HTTP %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}},
		{"a redirect points at the other host with the same path and query", WireFault{Kind: WireRedirect, Location: "http://elsewhere.example"}, func(t *testing.T, resp *http.Response, _ []byte) {
			if loc := resp.Header.Get("Location"); resp.StatusCode != 307 || !strings.HasPrefix(loc, "http://elsewhere.example/api/v1/rest/context/destiny/sites?x=1") {
				t.Errorf("HTTP %d, Location %q", resp.StatusCode, loc)
			}
		}},
		{"a huge body has the size asked for", WireFault{Kind: WireHugeBody, Size: 100000}, func(t *testing.T, resp *http.Response, body []byte) {
			if resp.StatusCode != 200 || len(body) != 100000 {
				t.Errorf("HTTP %d, %d bytes", resp.StatusCode, len(body))
			}
		}},
		{"a slow drip still delivers the real answer", WireFault{Kind: WireSlowDrip, Drip: time.Microsecond}, func(t *testing.T, resp *http.Response, body []byte) {
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"value"`) {
				t.Errorf("HTTP %d: %s", resp.StatusCode, body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, d, Options{})
			e.s.InjectNext(e.s.RouteSites(), 1, tt.fault)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			req, _ := http.NewRequest("GET", e.srv.URL+e.s.BasePath()+"/sites?x=1", nil)
			req.Header.Set("Authorization", "Bearer "+e.token())
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tt.check(t, resp, body)
			if n := e.s.FaultsServed(); n != 1 {
				t.Errorf("FaultsServed() = %d, want 1", n)
			}
			if status, _, _ := e.get("/sites", true); status != 200 {
				t.Errorf("the next request got HTTP %d: a fault is served once", status)
			}
		})
	}
}
