package destiny

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Site is a Destiny site with the short name policies use.
type Site struct {
	GUID       string
	InternalID int
	Name       string
	ShortName  string
	// Aliases are the site's shortNameAliases (a policy may name a site by any of them).
	Aliases []string
}

type wireSiteSummary struct {
	GUID string `json:"guid"`
	Name string `json:"name"`
	// SiteName is what the getAllSites example in sites-api.yaml shows instead of the schema's name.
	SiteName string `json:"siteName"`
}

type wireSite struct {
	GUID             string      `json:"guid"`
	InternalID       json.Number `json:"internalId"`
	Name             string      `json:"name"`
	ShortName        string      `json:"shortName"`
	ShortNameAliases []string    `json:"shortNameAliases"`
}

type siteIndex struct {
	sites  []Site
	byID   map[int]string    // internalId -> short name
	byGUID map[string]string // lower-case guid -> short name
}

// lookup finds a site by short name or alias, case-insensitively.
func (x *siteIndex) lookup(name string) (Site, bool) {
	name = strings.TrimSpace(name)
	for _, s := range x.sites {
		if strings.EqualFold(s.ShortName, name) {
			return s, true
		}
	}
	for _, s := range x.sites {
		for _, a := range s.Aliases {
			if strings.EqualFold(a, name) {
				return s, true
			}
		}
	}
	return Site{}, false
}

// shortName names the site an item's body refers to, by internalId or else guid; "" when unknown.
func (x *siteIndex) shortName(id int, guid string) string {
	if id != 0 {
		return x.byID[id]
	}
	if guid != "" {
		return x.byGUID[strings.ToLower(guid)]
	}
	return ""
}

// Sites lists the district's resource sites with their short names: GET /sites?productTypes=resource
// gives guids and names only, so each site is then read with GET /sites/{guid} (bounded concurrency)
// for internalId, shortName and shortNameAliases. The answer is cached for the client's lifetime;
// ListItems uses it to name the site of each item when no site filter was given.
func (c *Client) Sites(ctx context.Context) ([]Site, error) {
	idx, err := c.siteIndex(ctx)
	if err != nil {
		return nil, err
	}
	return append([]Site(nil), idx.sites...), nil
}

func (c *Client) siteIndex(ctx context.Context) (*siteIndex, error) {
	c.sitesMu.Lock()
	defer c.sitesMu.Unlock()
	if c.sites != nil {
		return c.sites, nil
	}
	body, _, err := c.get(ctx, "list sites", "", "/sites", url.Values{"productTypes": {"resource"}}, "")
	if err != nil {
		return nil, err
	}
	var list struct {
		Value []wireSiteSummary `json:"value"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, &Error{Op: "list sites", Kind: KindMalformed, StatusCode: http.StatusOK, Message: "site list is not valid JSON", Err: err}
	}
	sites := make([]Site, len(list.Value))
	errs := make([]error, len(list.Value))
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, s := range list.Value {
		if s.GUID == "" {
			return nil, &Error{Op: "list sites", Kind: KindMalformed, StatusCode: http.StatusOK, Message: "a site has no guid"}
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = &Error{Op: "get site", Subject: s.GUID, Kind: KindCanceled, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			sites[i], errs[i] = c.site(ctx, s)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i].ShortName < sites[j].ShortName })
	idx := &siteIndex{sites: sites, byID: make(map[int]string, len(sites)), byGUID: make(map[string]string, len(sites))}
	for _, s := range sites {
		idx.byID[s.InternalID] = s.ShortName
		idx.byGUID[strings.ToLower(s.GUID)] = s.ShortName
	}
	c.sites = idx
	return idx, nil
}

func (c *Client) site(ctx context.Context, sum wireSiteSummary) (Site, error) {
	body, _, err := c.get(ctx, "get site", sum.GUID, "/sites/"+url.PathEscape(sum.GUID), nil, "")
	if err != nil {
		return Site{}, err
	}
	var w wireSite
	if err := json.Unmarshal(body, &w); err != nil {
		return Site{}, &Error{Op: "get site", Subject: sum.GUID, Kind: KindMalformed, StatusCode: http.StatusOK, Message: "site is not valid JSON", Err: err}
	}
	if w.ShortName == "" {
		return Site{}, &Error{Op: "get site", Subject: sum.GUID, Kind: KindMalformed, StatusCode: http.StatusOK, Message: "site has no shortName"}
	}
	name := w.Name
	if name == "" {
		name = sum.Name
	}
	if name == "" {
		name = sum.SiteName
	}
	guid := w.GUID
	if guid == "" {
		guid = sum.GUID
	}
	return Site{GUID: guid, InternalID: atoi(w.InternalID), Name: name, ShortName: w.ShortName, Aliases: w.ShortNameAliases}, nil
}
