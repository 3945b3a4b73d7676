// Package destiny is a faithful simulator of the Follett Destiny REST API endpoints this project
// reads, served from an in-memory district (internal/sim/district). It follows Follett's OpenAPI text
// (Destiny Open APIs: auth-api.yaml, resources-api.yaml, sites-api.yaml; copies in testdata/) field for field, including the documented quirks: relative
// @nextLink values that drop the /materials prefix, the includeCurrentCheckout filter and the sort
// order, $count answering a plain-text integer, and two error shapes (wrapped {"error":{...}} on the
// auth, resources and circulation endpoints, unwrapped on /sites, as in sites-api.yaml).
//
// Routes, all under {BasePath} = /api/v1/rest/context/{Context}:
//
//	POST /auth/accessToken                              client credentials -> JWT-looking bearer token
//	GET  /materials/resources/items                     all items (Resources service)
//	GET  /materials/resourcetypes                       the resource type hierarchy (Resources service)
//	GET  /materials/resourcetypes/{idOrGuidOrPath}/items  items of one type; a name must be the
//	                                                    full hierarchical path, as on a real server
//	                                                    (Resources service)
//	GET  /sites, GET /sites/{guid|internalId}           sites (any valid token)
//	GET  /circulation/patrons/{id}/status               patron status (Patron Info service); id is the
//	                                                    district id, or with PatronByPatronID the
//	                                                    patron's database id or GUID
//
// A missing, unknown or expired token is answered 401 with the codes the reference shows:
// CODE_MISSING_INVALID_ACCESS_TOKEN on the resources and circulation endpoints, CODE_INVALID_TOKEN on
// /sites (TokenCodesEnum answers with the Error schema's finer CODE_MISSING_TOKEN / CODE_INVALID_TOKEN
// / CODE_EXPIRED_TOKEN instead).
//
// Faults (latency, error rate, HTML gateway pages, truncated bodies, hangs, resets) come from the
// embedded simhttp.Server: use Sim() to reach FailNext, SetKnobs and the call counters.
package destiny

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// Services an API account can be granted (Destiny Setup > API). The names are the ones the
// Destiny admin ticks; the 403 target for items is the one the spec shows (CatAssetSearchAssets).
const (
	ServiceResources  = "Resources"
	ServicePatronInfo = "Patron Info"
)

// Targets the simulator puts in a 403 CODE_INSUFFICIENT_RIGHTS_TO_API. TargetResources is from
// resources-api.yaml; the patron one is not documented publicly and is this simulator's choice.
const (
	TargetResources  = "CatAssetSearchAssets"
	TargetPatronInfo = "CircPatronStatus"
)

// NextLinkMode says how the simulator writes @nextLink.
type NextLinkMode int

const (
	// NextLinkQuirky is what other clients report from real servers: a relative link without the
	// /materials prefix, an empty $orderby and no includeCurrentCheckout. It is the default.
	NextLinkQuirky NextLinkMode = iota
	// NextLinkClean is a correct relative link (path and every query parameter kept).
	NextLinkClean
	// NextLinkLoop always points back at the first page ($skip=0), to test a client's loop defence.
	NextLinkLoop
	// NextLinkNone never sends @nextLink.
	NextLinkNone
)

// Outage simulates Destiny being up but wrong, or down.
type Outage int

const (
	// OutageNone serves the district.
	OutageNone Outage = iota
	// OutageEmpty answers every item query with an empty value list and $count 0 (a Destiny whose
	// database is mid-restore, or whose site filter silently matches nothing).
	OutageEmpty
	// Outage503 answers every API call (auth included) with 503.
	Outage503
)

// TokenCodes says which error codes a refused token gets.
type TokenCodes int

const (
	// TokenCodesAsDocumented answers as the reference's 401 examples do: CODE_MISSING_INVALID_ACCESS_TOKEN
	// (resources and circulation) and CODE_INVALID_TOKEN (sites), whether the token is missing,
	// unknown or expired. It is the default.
	TokenCodesAsDocumented TokenCodes = iota
	// TokenCodesEnum uses the finer codes of the Error schema's enum: CODE_MISSING_TOKEN,
	// CODE_INVALID_TOKEN and CODE_EXPIRED_TOKEN.
	TokenCodesEnum
)

// PatronIDs says which identifier GET /circulation/patrons/{id}/status takes (the public material
// does not settle it).
type PatronIDs int

const (
	// PatronByDistrictID takes the district id, as public clients call it. It is the default.
	PatronByDistrictID PatronIDs = iota
	// PatronByPatronID takes the patron's database id or GUID, as the API's other {id} paths do, and
	// answers 404 to a district id.
	PatronByPatronID
)

// Options configure a simulator. The zero value serves context "destiny" to client "sim-client"
// with secret "sim-secret", tokens valid one hour, every service granted.
type Options struct {
	// Context is the Destiny context name in the base path (default "destiny").
	Context string
	// ClientID and ClientSecret are the credentials /auth/accessToken accepts.
	ClientID     string
	ClientSecret string
	// TokenLifetime is how long a token lives (default 1h; expires_in is rounded up to a whole second).
	TokenLifetime time.Duration
	// Services the API account has; nil grants ServiceResources and ServicePatronInfo.
	Services []string
	// NextLink chooses the @nextLink style (default NextLinkQuirky, as real servers do).
	NextLink NextLinkMode
	// PatronStatusWords writes a patron site status as "Active"/"Inactive"/"Restricted" instead of the
	// patron-import letters "A"/"I"/"R".
	PatronStatusWords bool
	// SerialFieldID is the id of the "Serial Number" item field (district specific; default 27).
	SerialFieldID int
	// DistrictName is the name in GET /sites (default "Example Unified School District").
	DistrictName string
	// Now is the simulator's clock (default time.Now), for token expiry.
	Now func() time.Time
	// Seed seeds simhttp's rate-drawn faults.
	Seed uint64
	// TokenCodes chooses the 401 codes (default TokenCodesAsDocumented).
	TokenCodes TokenCodes
	// PatronIDs chooses the identifier the patron status path takes (default PatronByDistrictID).
	PatronIDs PatronIDs
	// MaxPageSize, when positive, caps item pages below $top, as a server with its own limit does.
	MaxPageSize int
}

// Server is the simulated Destiny. It is an http.Handler; all methods are safe for concurrent use.
type Server struct {
	sim  *simhttp.Server
	opts Options
	base string

	mu          sync.Mutex
	items       []district.Item // sorted by ID
	patrons     map[string]*district.Patron
	patronByID  map[string]*district.Patron
	schools     []district.School
	types       []district.ResourceType
	services    map[string]bool
	tokens      map[string]time.Time
	expireAfter int // >0: tokens expire after this many more authorised calls
	outage      Outage
	nextLink    NextLinkMode
	rejected    map[string]int // 401 and 403 answers by error code
	logSeq      int
	borrowed    map[string][]int // item indexes by borrower; nil after a change
	maxPage     int
	gone        map[string]bool // patrons whose status lookup answers 404
	wf          wireFaults
}

// New builds a simulator serving a copy of d.
func New(d *district.District, opts Options) *Server {
	if opts.Context == "" {
		opts.Context = "destiny"
	}
	if opts.ClientID == "" {
		opts.ClientID = "sim-client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sim-secret"
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Services == nil {
		opts.Services = []string{ServiceResources, ServicePatronInfo}
	}
	if opts.SerialFieldID == 0 {
		opts.SerialFieldID = 27
	}
	if opts.DistrictName == "" {
		opts.DistrictName = "Example Unified School District"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		sim:        simhttp.NewServer(opts.Seed),
		opts:       opts,
		base:       "/api/v1/rest/context/" + opts.Context,
		items:      append([]district.Item(nil), d.Items...),
		patrons:    map[string]*district.Patron{},
		patronByID: map[string]*district.Patron{},
		schools:    append([]district.School(nil), d.Schools...),
		types:      append([]district.ResourceType(nil), d.ResourceTypes...),
		services:   map[string]bool{},
		tokens:     map[string]time.Time{},
		nextLink:   opts.NextLink,
		rejected:   map[string]int{},
		maxPage:    opts.MaxPageSize,
		wf:         wireFaults{routes: http.NewServeMux(), queue: map[string][]WireFault{}},
	}
	sort.Slice(s.items, func(i, j int) bool { return s.items[i].ID < s.items[j].ID })
	for i := range d.Patrons {
		p := d.Patrons[i]
		p.Teachers = append([]string(nil), p.Teachers...)
		s.patrons[p.DistrictID] = &p
		s.patronByID[strconv.Itoa(p.InternalID)] = &p
	}
	for _, sv := range opts.Services {
		s.services[sv] = true
	}
	b := s.base
	s.handle("POST "+b+"/auth/accessToken", s.accessToken)
	s.handle("GET "+b+"/materials/resources/items", s.authorised(ServiceResources, TargetResources, s.allItems))
	s.handle("GET "+b+"/materials/resourcetypes", s.authorised(ServiceResources, TargetResources, s.typeHierarchy))
	s.handle("GET "+b+"/materials/resourcetypes/{rest...}", s.authorised(ServiceResources, TargetResources, s.typeItems))
	s.handle("GET "+b+"/sites", s.authorisedUnwrapped(s.sites))
	s.handle("GET "+b+"/sites/{id}", s.authorisedUnwrapped(s.site))
	s.handle("GET "+b+"/circulation/patrons/{id}/status", s.authorised(ServicePatronInfo, TargetPatronInfo, s.patronStatus))
	return s
}

// Route patterns, for Sim().FailNext and Sim().CallCount.
func (s *Server) RouteToken() string    { return "POST " + s.base + "/auth/accessToken" }
func (s *Server) RouteAllItems() string { return "GET " + s.base + "/materials/resources/items" }
func (s *Server) RouteTypeItems() string {
	return "GET " + s.base + "/materials/resourcetypes/{rest...}"
}
func (s *Server) RouteTypes() string  { return "GET " + s.base + "/materials/resourcetypes" }
func (s *Server) RouteSites() string  { return "GET " + s.base + "/sites" }
func (s *Server) RouteSite() string   { return "GET " + s.base + "/sites/{id}" }
func (s *Server) RoutePatron() string { return "GET " + s.base + "/circulation/patrons/{id}/status" }

// BasePath is /api/v1/rest/context/{Context}; a client's base URL is the server URL plus this.
func (s *Server) BasePath() string { return s.base }

// Sim is the fault and counter plumbing.
func (s *Server) Sim() *simhttp.Server { return s.sim }

// ServeHTTP serves the API (and any wire fault queued with InjectNext).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveWireFault(w, r) {
		return
	}
	s.sim.ServeHTTP(w, r)
}

// up answers 503 during an Outage503 and reports whether the request may proceed. Every route
// calls it first, so outage answers are counted per route like any other.
func (s *Server) up(w http.ResponseWriter, r *http.Request) bool {
	if s.Outage() == Outage503 {
		simhttp.WriteFault(w, r, simhttp.FaultStatus503)
		return false
	}
	return true
}

// SetOutage switches outage mode.
func (s *Server) SetOutage(o Outage) { s.mu.Lock(); s.outage = o; s.mu.Unlock() }

// Outage returns the outage mode.
func (s *Server) Outage() Outage { s.mu.Lock(); defer s.mu.Unlock(); return s.outage }

// SetNextLink switches the @nextLink style.
func (s *Server) SetNextLink(m NextLinkMode) { s.mu.Lock(); s.nextLink = m; s.mu.Unlock() }

// SetMaxPageSize caps item pages at n items whatever $top asks (0: no cap).
func (s *Server) SetMaxPageSize(n int) { s.mu.Lock(); s.maxPage = n; s.mu.Unlock() }

// AddResourceType adds a node to the resource type hierarchy (a test can make a name ambiguous).
func (s *Server) AddResourceType(t district.ResourceType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.types = append(s.types, t)
}

// SetServices replaces the services the API account has.
func (s *Server) SetServices(services ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services = map[string]bool{}
	for _, sv := range services {
		s.services[sv] = true
	}
}

// ExpireTokens makes every token issued so far expired (the next call with one gets a 401).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
}

// ExpireTokensAfter makes the tokens issued so far expire after n more authorised API calls, so a
// test can expire a token in the middle of a listing deterministically.
func (s *Server) ExpireTokensAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		s.expireLocked()
		return
	}
	s.expireAfter = n
}

func (s *Server) expireLocked() {
	past := s.opts.Now().Add(-time.Second)
	for t := range s.tokens {
		s.tokens[t] = past
	}
	s.expireAfter = 0
}

// Rejections returns how many 401/403 answers the API gave, by error code (CODE_EXPIRED_TOKEN, ...).
func (s *Server) Rejections() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.rejected))
	for k, v := range s.rejected {
		out[k] = v
	}
	return out
}

// UpdateItem changes the item with the given id in place (a checkout, a return, a status change);
// false when there is none.
func (s *Server) UpdateItem(id int, fn func(*district.Item)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.items), func(i int) bool { return s.items[i].ID >= id })
	if i == len(s.items) || s.items[i].ID != id {
		return false
	}
	fn(&s.items[i])
	s.items[i].ID = id
	s.borrowed = nil
	return true
}

// AddItem adds an item (ids must be unique); it appears in listings from the next page on.
func (s *Server) AddItem(it district.Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.items), func(i int) bool { return s.items[i].ID >= it.ID })
	s.items = append(s.items, district.Item{})
	copy(s.items[i+1:], s.items[i:])
	s.items[i] = it
	s.borrowed = nil
}

// RemovePatron makes the patron status lookup of a patron answer 404 while their checkouts stay on
// the items (a patron record purged or renumbered in Destiny); false when there is no such patron.
func (s *Server) RemovePatron(districtID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.patrons[districtID] == nil {
		return false
	}
	if s.gone == nil {
		s.gone = map[string]bool{}
	}
	s.gone[districtID] = true
	return true
}

// UpdatePatron changes a patron in place; false when there is none.
func (s *Server) UpdatePatron(districtID string, fn func(*district.Patron)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.patrons[districtID]
	if p == nil {
		return false
	}
	fn(p)
	return true
}

// ---- auth ----

// accessToken implements POST /auth/accessToken (auth-api.yaml getAccessToken).
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if !s.up(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Malformed form body"})
		return
	}
	for _, p := range []string{"grant_type", "client_id", "client_secret"} {
		if r.PostForm.Get(p) == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": fmt.Sprintf("Missing parameter %q", p)})
			return
		}
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"})
		return
	}
	if r.PostForm.Get("client_id") != s.opts.ClientID || r.PostForm.Get("client_secret") != s.opts.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client",
			"error_description": fmt.Sprintf("The client_id '%s' is invalid", r.PostForm.Get("client_id"))})
		return
	}
	tok := newToken(s.opts.Now(), s.opts.TokenLifetime)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenLifetime)
	s.mu.Unlock()
	secs := int((s.opts.TokenLifetime + time.Second - 1) / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": secs})
}

func newToken(now time.Time, life time.Duration) string {
	enc := base64.RawURLEncoding
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	head := enc.EncodeToString([]byte(`{"alg":"RS256"}`))
	body := enc.EncodeToString(fmt.Appendf(nil, `{"serviceType":"DESTINY","iat":%d,"exp":%d,"jti":"%x"}`,
		now.Unix(), now.Add(life).Unix(), nonce))
	var sig [32]byte
	_, _ = rand.Read(sig[:])
	return head + "." + body + "." + enc.EncodeToString(sig[:])
}

// tokenCode is the code a refused token gets on a route family (wrapped: resources and circulation).
func (s *Server) tokenCode(fine string, wrapped bool) string {
	if s.opts.TokenCodes == TokenCodesEnum {
		return fine
	}
	if wrapped {
		return "CODE_MISSING_INVALID_ACCESS_TOKEN"
	}
	return "CODE_INVALID_TOKEN"
}

// checkToken returns the (enum) error code of a bad token, or "".
func (s *Server) checkToken(r *http.Request) string {
	tok := r.URL.Query().Get("accessToken")
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			tok = strings.TrimSpace(h[7:])
		} else {
			return "CODE_INVALID_TOKEN"
		}
	}
	if tok == "" {
		return "CODE_MISSING_TOKEN"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	if !ok {
		return "CODE_INVALID_TOKEN"
	}
	if !s.opts.Now().Before(exp) {
		return "CODE_EXPIRED_TOKEN"
	}
	if s.expireAfter > 0 {
		s.expireAfter--
		if s.expireAfter == 0 {
			s.expireLocked()
		}
	}
	return ""
}

var tokenMessages = map[string]string{
	"CODE_MISSING_TOKEN":                "Access token is missing",
	"CODE_INVALID_TOKEN":                "Token is invalid",
	"CODE_EXPIRED_TOKEN":                "Token has expired",
	"CODE_MISSING_INVALID_ACCESS_TOKEN": "Access token is missing or invalid",
}

// authorised wraps a resources or circulation handler: token and service checks, wrapped error shape.
func (s *Server) authorised(service, target string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.up(w, r) {
			return
		}
		if code := s.checkToken(r); code != "" {
			code = s.tokenCode(code, true)
			s.reject(code)
			s.writeError(w, http.StatusUnauthorized, true, code, tokenMessages[code], "accessToken")
			return
		}
		s.mu.Lock()
		granted := s.services[service]
		s.mu.Unlock()
		if !granted {
			s.reject("CODE_INSUFFICIENT_RIGHTS_TO_API")
			s.writeError(w, http.StatusForbidden, true, "CODE_INSUFFICIENT_RIGHTS_TO_API", "Insufficient permissions to access API", target)
			return
		}
		h(w, r)
	}
}

// authorisedUnwrapped wraps a /sites handler: token check, unwrapped error shape (sites-api.yaml).
func (s *Server) authorisedUnwrapped(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.up(w, r) {
			return
		}
		if code := s.checkToken(r); code != "" {
			code = s.tokenCode(code, false)
			s.reject(code)
			s.writeError(w, http.StatusUnauthorized, false, code, tokenMessages[code], r.URL.Path)
			return
		}
		h(w, r)
	}
}

func (s *Server) reject(code string) {
	s.mu.Lock()
	s.rejected[code]++
	s.mu.Unlock()
}

// writeError writes Destiny's error model, wrapped in "error" or not.
func (s *Server) writeError(w http.ResponseWriter, status int, wrapped bool, code, message, target string) {
	s.mu.Lock()
	s.logSeq++
	logID := fmt.Sprintf("s%04x", s.logSeq)
	s.mu.Unlock()
	e := map[string]string{"code": code, "message": message, "logId": logID}
	if target != "" {
		e["target"] = target
	}
	if wrapped {
		writeJSON(w, status, map[string]any{"error": e})
		return
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
