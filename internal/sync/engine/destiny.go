package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// DestinySource reads Destiny: the items of the policy's resource types and schools, then each distinct
// borrower's patron status (through the cache, shared between runs of a policy), joined with the roster.
type DestinySource struct {
	Client *destiny.Client
	Query  destiny.ItemQuery
	// Patrons caches patron lookups between runs (nil: no cache).
	Patrons *destiny.PatronCache
	// Roster is the optional roster, already read (a roster that fails to parse fails the run before
	// the engine is called). Its problems become warnings.
	Roster *roster.Roster
}

// Name implements Source.
func (s *DestinySource) Name() string { return "Destiny" }

// Read implements Source. Authentication, permission and listing failures fail the read; a failed
// lookup of one patron only skips that patron's items (PatronLookupFailed) and is reported as a warning.
func (s *DestinySource) Read(ctx context.Context) (SourceSnapshot, error) {
	items, err := s.Client.ListItems(ctx, s.Query)
	if err != nil {
		return SourceSnapshot{}, err
	}
	patrons, errs := s.Client.Patrons(ctx, s.Patrons, items)
	var snap SourceSnapshot
	lookupErr := map[string]string{}
	for _, err := range errs {
		var de *destiny.Error
		if errors.Is(err, destiny.KindAuth) || errors.Is(err, destiny.KindPermission) || errors.Is(err, destiny.KindCanceled) {
			return SourceSnapshot{}, err
		}
		if errors.As(err, &de) && de.Subject != "" {
			lookupErr[de.Subject] = err.Error()
		}
		snap.Warnings = append(snap.Warnings, err.Error())
	}
	if s.Roster != nil {
		for _, p := range s.Roster.Problems {
			snap.Warnings = append(snap.Warnings, "roster: "+p.Error())
		}
	}
	snap.Items = make([]plan.Item, len(items))
	for i := range items {
		snap.Items[i] = s.item(&items[i], patrons, lookupErr)
	}
	return snap, nil
}

func (s *DestinySource) item(it *destiny.Item, patrons map[string]*destiny.Patron, lookupErr map[string]string) plan.Item {
	// The resource type as the policy wrote it (its studentDeviceResourceTypes use the same spelling).
	rt := it.QueryResourceType
	if rt == "" {
		rt = it.ResourceType
	}
	out := plan.Item{
		ID: strconv.Itoa(it.ID), Barcode: it.Barcode, RawSerial: it.RawSerial, Status: it.Status,
		ResourceType: rt, Site: it.SiteShortName,
	}
	co := it.Checkout
	if co == nil {
		return out
	}
	b := &plan.Borrower{DistrictID: co.DistrictID, FirstName: co.FirstName, MiddleName: co.MiddleName, LastName: co.LastName, Email: co.Email}
	// A borrower whose lookup failed (a 404, an unknown status, ...) is never treated as "no borrower":
	// the item keeps its checkout and the plan skips it PatronLookupFailed with the reason, so the
	// device is neither cleared nor reassigned.
	key := destiny.BorrowerKey(co)
	switch p := patrons[key]; {
	case p != nil:
		b.PatronType, b.Status = p.Type, string(p.Status)
	case key == "":
		b.LookupError = fmt.Sprintf("the checkout of item %d names no patron (no district id, GUID or id), so its patron type cannot be looked up", it.ID)
	case lookupErr[key] != "":
		b.LookupError = lookupErr[key]
	default:
		b.LookupError = "the patron status lookup for " + key + " failed"
	}
	if s.Roster != nil {
		key := co.DistrictID
		if s.Roster.KeyField == roster.KeyEmail {
			key = co.Email
		}
		if st, ok := s.Roster.Lookup(key); ok {
			b.Roster = &st
		}
	}
	out.Borrower = b
	return out
}
