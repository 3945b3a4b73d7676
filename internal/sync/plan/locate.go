package plan

// locateSkips gives every skip that concerns a Destiny item that item's site and barcode, so a fix list
// can go to the school whose librarian can fix it.
func locateSkips(skips []Skip, items []Item) {
	if len(skips) == 0 {
		return
	}
	byID := make(map[string]*Item, len(items))
	for i := range items {
		byID[items[i].ID] = &items[i]
	}
	for i := range skips {
		if it := byID[skips[i].ItemID]; skips[i].ItemID != "" && it != nil {
			skips[i].Site, skips[i].Barcode = it.Site, it.Barcode
		}
	}
}
