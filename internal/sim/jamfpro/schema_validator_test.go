package jamfpro

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// schemaPath is the vendor schema, copied into testdata (see testdata/README.md).
const schemaPath = "testdata/api-schema-subset.json"

// loadSchema decodes the Jamf Pro schema subset.
func loadSchema(t *testing.T) *validator {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("read the vendor schema: %v", err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("decode %s: %v", schemaPath, err)
	}
	return &validator{schemas: doc.Components.Schemas}
}

// validator checks decoded JSON against the JSON-Schema subset the Jamf Pro schema uses: $ref, type,
// properties, required, enum, items, allOf, oneOf with discriminator, nullable, minLength, minimum.
// It is strict about properties: a property the schema does not declare is an error, so the simulator
// cannot drift from the schema's field names.
type validator struct {
	schemas map[string]any
}

func (v *validator) ref(name string) map[string]any {
	s, _ := v.schemas[name].(map[string]any)
	return s
}

func (v *validator) resolve(s map[string]any) map[string]any {
	for {
		r, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = v.ref(strings.TrimPrefix(r, "#/components/schemas/"))
		if s == nil {
			return map[string]any{}
		}
	}
}

// Validate checks value against the named component schema. allowNull lists paths (like
// "$.results[].security") where null is accepted although the schema does not declare it nullable.
func (v *validator) Validate(name string, value any, allowNull ...string) []string {
	s := v.ref(name)
	if s == nil {
		return []string{"no schema named " + name}
	}
	var errs []string
	nulls := map[string]bool{}
	for _, p := range allowNull {
		nulls[p] = true
	}
	v.check(s, value, "$", nulls, &errs)
	return errs
}

// ValidateArrayOf checks a JSON array whose items are the named schema.
func (v *validator) ValidateArrayOf(name string, value any) []string {
	arr, ok := value.([]any)
	if !ok {
		return []string{fmt.Sprintf("$: want array, got %T", value)}
	}
	var errs []string
	for i, item := range arr {
		for _, e := range v.Validate(name, item) {
			errs = append(errs, fmt.Sprintf("[%d]%s", i, strings.TrimPrefix(e, "$")))
		}
	}
	return errs
}

// flatten merges allOf parts into one object schema: properties and required.
func (v *validator) flatten(s map[string]any) (map[string]any, []string) {
	s = v.resolve(s)
	props := map[string]any{}
	var req []string
	if p, ok := s["properties"].(map[string]any); ok {
		for k, val := range p {
			props[k] = val
		}
	}
	if r, ok := s["required"].([]any); ok {
		for _, x := range r {
			req = append(req, fmt.Sprint(x))
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, part := range all {
			pm, _ := part.(map[string]any)
			p, r := v.flatten(pm)
			for k, val := range p {
				props[k] = val
			}
			req = append(req, r...)
		}
	}
	return props, req
}

func (v *validator) check(s map[string]any, val any, path string, nulls map[string]bool, errs *[]string) {
	s = v.resolve(s)
	fail := func(format string, a ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, a...)) }
	if val == nil {
		if s["nullable"] == true || nulls[path] {
			return
		}
		fail("null where the schema does not allow it")
		return
	}
	if one, ok := s["oneOf"].([]any); ok {
		disc, _ := s["discriminator"].(map[string]any)
		obj, isObj := val.(map[string]any)
		if disc == nil || !isObj {
			fail("oneOf without discriminator is not supported by this validator")
			return
		}
		prop, _ := disc["propertyName"].(string)
		key, _ := obj[prop].(string)
		mapping, _ := disc["mapping"].(map[string]any)
		target, ok := mapping[key].(string)
		if !ok {
			fail("discriminator %s=%q matches none of %d schemas", prop, key, len(one))
			return
		}
		v.check(map[string]any{"$ref": target}, val, path, nulls, errs)
		return
	}
	typ, _ := s["type"].(string)
	if _, hasAll := s["allOf"]; hasAll && typ == "" {
		typ = "object"
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == val {
				found = true
			}
		}
		if !found {
			fail("%v is not one of the enum values", val)
		}
	}
	switch typ {
	case "object":
		obj, ok := val.(map[string]any)
		if !ok {
			fail("want object, got %T", val)
			return
		}
		props, req := v.flatten(s)
		for _, r := range req {
			if _, ok := obj[r]; !ok {
				fail("required property %q missing", r)
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if len(props) > 0 || s["properties"] != nil {
					fail("property %q is not declared by the schema", k)
				}
				continue
			}
			v.check(ps, obj[k], path+"."+k, nulls, errs)
		}
	case "array":
		arr, ok := val.([]any)
		if !ok {
			fail("want array, got %T", val)
			return
		}
		items, _ := s["items"].(map[string]any)
		for _, it := range arr {
			if items != nil {
				v.check(items, it, path+"[]", nulls, errs)
			}
		}
		if m, ok := s["minItems"].(float64); ok && float64(len(arr)) < m {
			fail("fewer than %v items", m)
		}
	case "string":
		str, ok := val.(string)
		if !ok {
			fail("want string, got %T", val)
			return
		}
		if m, ok := s["minLength"].(float64); ok && float64(len([]rune(str))) < m {
			fail("string %q shorter than %v", str, m)
		}
		if m, ok := s["maxLength"].(float64); ok && float64(len([]rune(str))) > m {
			fail("string longer than %v", m)
		}
	case "integer":
		n, ok := val.(float64)
		if !ok || n != float64(int64(n)) {
			fail("want integer, got %v", val)
			return
		}
		if m, ok := s["minimum"].(float64); ok && n < m {
			fail("%v below minimum %v", n, m)
		}
	case "number":
		if _, ok := val.(float64); !ok {
			fail("want number, got %T", val)
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			fail("want boolean, got %T", val)
		}
	}
}

func TestValidatorCatchesSchemaViolations(t *testing.T) {
	v := loadSchema(t)
	cases := []struct {
		name   string
		schema string
		json   string
		want   string // substring of an error; "" means valid
	}{
		{"a valid department passes", "Department", `{"id":"1","name":"Math"}`, ""},
		{"a missing required property is reported", "Department", `{"id":"1"}`, `required property "name" missing`},
		{"a wrong type is reported", "Department", `{"id":1,"name":"Math"}`, "want string"},
		{"an empty string under minLength is reported", "Department", `{"id":"1","name":""}`, "shorter than"},
		{"an undeclared property is reported", "Department", `{"id":"1","name":"Math","colour":"red"}`, `"colour" is not declared`},
		{"a value outside the enum is reported", "MdmCommandClient", `{"managementId":"x","clientType":"TOASTER"}`, "enum"},
		{"null on a non-nullable property is reported", "Building", `{"name":null}`, "null where"},
		{"null on a nullable property passes", "Building", `{"name":"A","city":null}`, ""},
		{"the discriminator picks the iOS schema", "MobileDeviceResponse", `{"deviceType":"iOS","security":{"lostModeEnabled":"yes"}}`, "want boolean"},
		{"an unknown discriminator value is reported", "MobileDeviceResponse", `{"deviceType":"toasterOS"}`, "discriminator"},
		{"allOf parts are merged for required properties", "EnableLostModeCommand", `{"lostModeMessage":"x"}`, `"commandType" missing`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var val any
			if err := json.Unmarshal([]byte(tc.json), &val); err != nil {
				t.Fatal(err)
			}
			errs := v.Validate(tc.schema, val)
			joined := strings.Join(errs, "; ")
			if tc.want == "" && len(errs) > 0 {
				t.Fatalf("want valid, got %s", joined)
			}
			if tc.want != "" && !strings.Contains(joined, tc.want) {
				t.Fatalf("want an error containing %q, got %q", tc.want, joined)
			}
		})
	}
}
