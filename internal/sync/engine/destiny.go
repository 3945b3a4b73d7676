package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

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
//
// Items go straight from Destiny's pages to the planner's form (destinyRow): the client keeps no
// destiny.Item, and the patron lookups read the few checkout fields they need from the rows.
func (s *DestinySource) Read(ctx context.Context) (SourceSnapshot, error) {
	rows, err := destiny.ListItemsAs(ctx, s.Client, s.Query, newDestinyRow)
	if err != nil {
		return SourceSnapshot{}, err
	}
	patrons, errs := s.Client.PatronsOf(ctx, s.Patrons, len(rows), func(i int, co *destiny.Checkout) (int, bool) {
		return rows[i].id, rows[i].checkout(co)
	})
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
	snap.Items = make([]plan.Item, len(rows))
	for i := range rows {
		snap.Items[i] = s.item(&rows[i], patrons, lookupErr)
		rows[i] = destinyRow{} // its checkout fields are garbage once the item is complete
	}
	return snap, nil
}

// destinyRow is one Destiny item as the source keeps it while the patrons are looked up: the planner's
// item (its borrower's patron type and status still to come) and what a lookup needs of the checkout.
type destinyRow struct {
	item plan.Item
	id   int
	co   *checkoutRef // nil when the item is not checked out
}

// checkoutRef is what the planner's Borrower does not hold of a checkout: the other patron identifiers
// (BorrowerStatus) and the date out (the patron cache's checkout key).
type checkoutRef struct {
	patronGUID string
	patronID   int
	dateOut    time.Time
}

func newDestinyRow(it *destiny.Item) destinyRow {
	// The resource type as the policy wrote it (its studentDeviceResourceTypes use the same spelling).
	rt := it.QueryResourceType
	if rt == "" {
		rt = it.ResourceType
	}
	r := destinyRow{id: it.ID, item: plan.Item{
		ID: strconv.Itoa(it.ID), Barcode: it.Barcode, RawSerial: it.RawSerial, Status: it.Status,
		ResourceType: rt, Site: it.SiteShortName,
	}}
	if co := it.Checkout; co != nil {
		r.item.Borrower = &plan.Borrower{DistrictID: co.DistrictID, FirstName: co.FirstName, MiddleName: co.MiddleName, LastName: co.LastName, Email: co.Email}
		r.co = &checkoutRef{patronGUID: co.PatronGUID, patronID: co.PatronID, dateOut: co.DateOut}
	}
	return r
}

// checkout sets *co to the row's checkout as the patron lookups read it, and reports whether the item
// is checked out.
func (r *destinyRow) checkout(co *destiny.Checkout) bool {
	if r.co == nil {
		return false
	}
	*co = destiny.Checkout{DistrictID: r.item.Borrower.DistrictID, PatronGUID: r.co.patronGUID, PatronID: r.co.patronID, DateOut: r.co.dateOut}
	return true
}

func (s *DestinySource) item(r *destinyRow, patrons map[string]destiny.PatronSummary, lookupErr map[string]string) plan.Item {
	out := r.item
	b := out.Borrower
	if b == nil {
		return out
	}
	// A borrower whose lookup failed (a 404, an unknown status, ...) is never treated as "no borrower":
	// the item keeps its checkout and the plan skips it PatronLookupFailed with the reason, so the
	// device is neither cleared nor reassigned.
	var co destiny.Checkout
	r.checkout(&co)
	key := destiny.BorrowerKey(&co)
	switch p, ok := patrons[key]; {
	case ok:
		b.PatronType, b.Status = p.Type, string(p.Status)
	case key == "":
		b.LookupError = fmt.Sprintf("the checkout of item %d names no patron (no district id, GUID or id), so its patron type cannot be looked up", r.id)
	case lookupErr[key] != "":
		b.LookupError = lookupErr[key]
	default:
		b.LookupError = "the patron status lookup for " + key + " failed"
	}
	if s.Roster != nil {
		key := b.DistrictID
		if s.Roster.KeyField == roster.KeyEmail {
			key = b.Email
		}
		if st, ok := s.Roster.Lookup(key); ok {
			b.Roster = st
		}
	}
	return out
}
