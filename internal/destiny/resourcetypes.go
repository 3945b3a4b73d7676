package destiny

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// OpResolveResourceType is the Op of the errors ResolveResourceTypes returns for a name that matches
// no resource type (KindNotFound) or more than one (KindAmbiguous).
const OpResolveResourceType = "resolve resource type"

// ResourceType is one node of Destiny's resource type hierarchy (GET /materials/resourcetypes).
type ResourceType struct {
	ID   int
	GUID string
	Name string
	// Path is the hierarchical name from the root, segments joined by "/": "Resources/Technology/iPad".
	Path string
}

// wireResourceType is the BriefResourceType schema of resources-api.yaml (get-resource-type-hierarchy):
// id, guid, name and children, nested to any depth.
type wireResourceType struct {
	ID       json.Number        `json:"id"`
	GUID     string             `json:"guid"`
	Name     string             `json:"name"`
	Children []wireResourceType `json:"children"`
}

// maxResourceTypes bounds the hierarchy a client accepts (a district has tens, not thousands).
const maxResourceTypes = 100000

// ResourceTypes reads the resource type hierarchy, flattened depth first with each node's path. A
// Destiny without Resource Manager answers 201 with no body: no types.
func (c *Client) ResourceTypes(ctx context.Context) ([]ResourceType, error) {
	const op = "list resource types"
	body, _, err := c.get(ctx, op, "", "/materials/resourcetypes", nil, ServiceResources)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	// The spec's example is one root object; accept a list of roots too.
	var roots []wireResourceType
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if body[0] == '[' {
		err = dec.Decode(&roots)
	} else {
		var root wireResourceType
		err = dec.Decode(&root)
		roots = []wireResourceType{root}
	}
	if err != nil {
		return nil, &Error{Op: op, Kind: KindMalformed, StatusCode: http.StatusOK, Message: "resource type hierarchy is not valid JSON", Err: err}
	}
	var out []ResourceType
	var walk func(n *wireResourceType, parent string, depth int) error
	walk = func(n *wireResourceType, parent string, depth int) error {
		name := strings.TrimSpace(n.Name)
		id, err := strconv.Atoi(string(n.ID))
		if name == "" || err != nil || id <= 0 {
			return &Error{Op: op, Kind: KindMalformed, StatusCode: http.StatusOK,
				Message: fmt.Sprintf("a resource type under %q has no usable id and name (id %q, name %q)", parent, n.ID, n.Name)}
		}
		if depth > 64 || len(out) >= maxResourceTypes {
			return &Error{Op: op, Kind: KindMalformed, StatusCode: http.StatusOK, Message: "resource type hierarchy is too deep or too large"}
		}
		path := name
		if parent != "" {
			path = parent + "/" + name
		}
		out = append(out, ResourceType{ID: id, GUID: n.GUID, Name: name, Path: path})
		for i := range n.Children {
			if err := walk(&n.Children[i], path, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range roots {
		if err := walk(&roots[i], "", 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ResolveResourceTypes maps each name a policy gives to one resource type of the hierarchy, reading
// it once. A name matches a type by database id, GUID, or by its path: the full path from the root
// ("Resources/Technology/iPad") or its last segments ("Technology/iPad", "iPad"), case-insensitively,
// which is what a policy author sees in Destiny. Listing by name needs the full hierarchical path on a
// real server (a bare "iPad" is a 404), so the client lists by id. A name that matches nothing is
// KindNotFound; one that matches two types is KindAmbiguous; both name the candidate paths. The answer
// is in the order of names.
func (c *Client) ResolveResourceTypes(ctx context.Context, names []string) ([]ResourceType, error) {
	all, err := c.ResourceTypes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ResourceType, len(names))
	for i, name := range names {
		rt, err := ResolveResourceType(all, name)
		if err != nil {
			return nil, err
		}
		out[i] = rt
	}
	return out, nil
}

// ResolveResourceType finds name in a hierarchy read by ResourceTypes, as ResolveResourceTypes does.
func ResolveResourceType(all []ResourceType, name string) (ResourceType, error) {
	want := splitPath(name)
	if len(want) == 0 {
		return ResourceType{}, &Error{Op: OpResolveResourceType, Subject: strconv.Quote(name), Kind: KindNotFound, Message: "empty resource type name"}
	}
	key := strings.TrimSpace(name)
	var found []ResourceType
	for _, rt := range all {
		if strconv.Itoa(rt.ID) == key || (rt.GUID != "" && strings.EqualFold(rt.GUID, key)) || pathEndsWith(splitPath(rt.Path), want) {
			found = append(found, rt)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return ResourceType{}, &Error{Op: OpResolveResourceType, Subject: strconv.Quote(name), Kind: KindNotFound,
			Message: "no resource type has this name, id or GUID; known: " + candidates(all, 20)}
	}
	return ResourceType{}, &Error{Op: OpResolveResourceType, Subject: strconv.Quote(name), Kind: KindAmbiguous,
		Message: fmt.Sprintf("%d resource types match: %s; write the full path", len(found), candidates(found, 20))}
}

func candidates(types []ResourceType, max int) string {
	paths := make([]string, 0, len(types))
	for _, rt := range types {
		paths = append(paths, rt.Path)
	}
	sort.Strings(paths)
	if len(paths) > max {
		paths = append(paths[:max], fmt.Sprintf("... (%d more)", len(paths)-max))
	}
	if len(paths) == 0 {
		return "none"
	}
	return strings.Join(paths, ", ")
}

func splitPath(s string) []string {
	var segs []string
	for _, p := range strings.Split(s, "/") {
		if p = strings.TrimSpace(p); p != "" {
			segs = append(segs, p)
		}
	}
	return segs
}

func pathEndsWith(path, suffix []string) bool {
	if len(suffix) > len(path) {
		return false
	}
	off := len(path) - len(suffix)
	for i, s := range suffix {
		if !strings.EqualFold(path[off+i], s) {
			return false
		}
	}
	return true
}
