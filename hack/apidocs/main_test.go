package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoCRDs is the directory make manifests writes the operator's CRDs to.
var repoCRDs = filepath.Join("..", "..", "config", "crd", "bases")

func generate(t *testing.T, dir string) string {
	t.Helper()
	crds, err := readCRDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := render(crds)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// row is one field of a table: its cells after the path, by column.
type row struct{ typ, required, def, constraints, description string }

var unescapedPipe = regexp.MustCompile(`(^|[^\\])\|`)

// rows reads every field row of the generated tables, keyed by "Kind path". It fails the test when a
// table row does not have exactly six cells, which is how a stray pipe in a description would show.
func rows(t *testing.T, doc string) map[string]row {
	t.Helper()
	out := map[string]row{}
	kind := ""
	for _, line := range strings.Split(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			kind, _, _ = strings.Cut(h, " ")
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		marked := unescapedPipe.ReplaceAllString(line, "$1\x00")
		cells := strings.Split(marked, "\x00")
		if len(cells) != 8 { // empty before the first pipe and after the last
			t.Errorf("table row has %d cells, want 6: %s", len(cells)-2, line)
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		path := strings.Trim(cells[1], "`")
		out[kind+" "+path] = row{cells[2], cells[3], cells[4], cells[5], cells[6]}
	}
	return out
}

func TestTheOperatorsFieldsAppearWithTheirDefaultsAndRules(t *testing.T) {
	got := rows(t, generate(t, repoCRDs))
	cases := []struct {
		name, field string
		want        row // a non-empty cell must appear in the generated cell
	}{
		{"a nested field has its default and its CEL message", "DeviceSyncPolicy spec.schedule.window.start",
			row{typ: "string", def: "`05:40`", constraints: "rule: schedule.window.start must be a time of day as HH:MM"}},
		{"an object's rule is on its row", "DeviceSyncPolicy spec.schedule.window",
			row{typ: "object", def: "`{}`", constraints: "rule: schedule.window.end must be later than schedule.window.start"}},
		{"a list default is its JSON, item enums are listed", "DeviceSyncPolicy spec.schedule.days",
			row{typ: "[]string", def: "`[\"Mon\",\"Tue\",\"Wed\",\"Thu\",\"Fri\"]`", constraints: "each item: one of `Mon`, `Tue`, `Wed`, `Thu`, `Fri`, `Sat`, `Sun`"}},
		{"an int-or-string has its percentage default and its rule", "DeviceSyncPolicy spec.safety.maxChanges",
			row{typ: "int-or-string", def: "`25%`", constraints: "rule: safety.maxChanges must be a count of 0 or more"}},
		{"mutually exclusive targets are explained", "DeviceSyncPolicy spec.target",
			row{required: "yes", constraints: "rule: target.jamfPro and target.jamfSchool are mutually exclusive"}},
		{"a list map names its keys and bounds", "DeviceSyncPolicy spec.schools",
			row{typ: "[]object", required: "yes", constraints: "items ≥ 1<br>items ≤ 500<br>list map keyed by `site`"}},
		{"a list item's required field", "DeviceSyncPolicy spec.schools[].site",
			row{typ: "string", required: "yes", constraints: "length ≥ 1"}},
		{"an enum with a default", "DeviceSyncPolicy spec.mode",
			row{def: "`Enforce`", constraints: "one of `Enforce`, `DryRun`"}},
		{"minimum and maximum", "DeviceSyncPolicy spec.successfulRunsHistoryLimit",
			row{typ: "integer", def: "`10`", constraints: "≥ 0<br>≤ 100"}},
		{"a map of counts", "SyncRun status.summary.byAction", row{typ: "map[string]integer"}},
		{"the immutable SyncRun spec", "SyncRun spec",
			row{constraints: "rule: SyncRun spec is immutable: create a new SyncRun instead of changing this one"}},
		{"a description is kept", "SyncRun spec.policyRef", row{description: "PolicyRef names the DeviceSyncPolicy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := got[tc.field]
			if !ok {
				t.Fatalf("no row for %s", tc.field)
			}
			check(t, "type", r.typ, tc.want.typ)
			check(t, "required", r.required, tc.want.required)
			check(t, "default", r.def, tc.want.def)
			check(t, "constraints", r.constraints, tc.want.constraints)
			check(t, "description", r.description, tc.want.description)
		})
	}
}

func check(t *testing.T, column, got, want string) {
	t.Helper()
	if want != "" && !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", column, got, want)
	}
}

func TestEverySchemaConstructIsDocumented(t *testing.T) {
	doc := generate(t, filepath.Join("testdata", "constructs"))
	got := rows(t, doc)
	cases := []struct {
		name, field string
		want        row // every cell compared exactly, except the description (contained)
	}{
		{"a required enum with a default", "Widget spec.size",
			row{"string", "yes", "`small`", "one of `small`, `large`", "Size is small or large."}},
		{"exclusive maximum and multipleOf", "Widget spec.count",
			row{"integer", "", "", "format `int32`<br>≥ 1<br>< 10<br>multiple of 1", ""}},
		{"exclusive minimum of a number", "Widget spec.ratio", row{"number", "", "", "> 0.5", ""}},
		{"a pattern with a pipe stays in one cell", "Widget spec.code",
			row{"string", "", "", "length ≥ 1<br>length ≤ 8<br>matches `^a\\|b$`", ""}},
		{"int-or-string", "Widget spec.budget", row{"int-or-string", "", "`10%`", "", ""}},
		{"anyOf without int-or-string", "Widget spec.either", row{"integer or boolean", "", "", "", ""}},
		{"nullable", "Widget spec.note", row{"string", "", "", "may be null", ""}},
		{"preserve unknown fields without a type", "Widget spec.raw", row{"any", "", "", "unknown fields kept", "Raw is kept as written."}},
		{"an embedded resource", "Widget spec.template",
			row{"object (a Kubernetes object)", "", "", "unknown fields kept<br>embedded resource (apiVersion, kind, metadata)", ""}},
		{"a map of strings with value constraints", "Widget spec.labels",
			row{"map[string]string", "", "", "keys ≤ 20<br>map granular<br>each value: length ≤ 63", ""}},
		{"a map of anything", "Widget spec.anything", row{"map[string]any", "", "", "", ""}},
		{"a list map with two keys and an item rule", "Widget spec.parts",
			row{"[]object", "yes", "", "items ≥ 1<br>items ≤ 4<br>list map keyed by `name`, `slot`<br>each item: rule: message from `'part ' + self.name + ' is reserved'`", "Parts of the widget."}},
		{"a list item's field", "Widget spec.parts[].slot", row{"integer", "", "`0`", "", ""}},
		{"a list item's required field", "Widget spec.parts[].name", row{"string", "yes", "", "", ""}},
		{"a set of enums in a list item", "Widget spec.parts[].tags",
			row{"[]string", "", "", "unique items<br>list set (unique items)<br>each item: one of `red`, `blue`", ""}},
		{"a list of lists of objects", "Widget spec.grid", row{"[][]object", "", "", "list atomic", ""}},
		{"the objects in a list of lists", "Widget spec.grid[][].cell", row{"string", "", "", "", ""}},
		{"a map of objects", "Widget spec.byRegion", row{"map[string]object", "", "", "", ""}},
		{"the objects of a map", "Widget spec.byRegion.<key>.owner", row{"string", "", "`nobody`", "", ""}},
		{"rules with a field path, and without a message", "Widget spec.window",
			row{"object", "", "`{}`", "rule: window.end must be later than window.start (on `.end`)<br>rule: must satisfy `has(self.start)`", ""}},
		{"a quoted default", "Widget spec.window.start", row{"string", "", "`05:40`", "", ""}},
		{"prose is escaped, paragraphs and list items kept", "Widget spec",
			row{"object", "", "", "", `Spec of a widget: a pipe \| here, a &lt;placeholder&gt;, a \*star\* and a\_b\_c on two lines.<br><br>A second paragraph:<br>- a list item<br>- another item`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := got[tc.field]
			if !ok {
				t.Fatalf("no row for %s", tc.field)
			}
			if r.typ != tc.want.typ || r.required != tc.want.required || r.def != tc.want.def || r.constraints != tc.want.constraints {
				t.Errorf("row = %+v\nwant  %+v", r, tc.want)
			}
			check(t, "description", r.description, tc.want.description)
		})
	}
	for _, want := range []string{
		"## Widget v1\n",
		"- API version: `example.org/v1` (served, storage)\n",
		"- Scope: Cluster; plural `widgets`; short names `wd`\n",
		"- Subresources: `status`\n",
		"- `kubectl get` columns: Size (`.spec.size`)\n",
		"Rules:\n\n- a widget's name starts with w\n",
		"### Widget `spec.parts[]`\n",
		"### Widget `spec.grid[][]`\n",
		"### Widget `spec.byRegion.<key>`\n",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the reference does not contain %q", want)
		}
	}
}

func TestParentsComeBeforeChildren(t *testing.T) {
	doc := generate(t, filepath.Join("testdata", "constructs"))
	order := []string{"### Widget\n", "### Widget `spec`", "### Widget `spec.byRegion.<key>`", "### Widget `spec.grid[][]`",
		"### Widget `spec.parts[]`", "### Widget `spec.window`", "### Widget `status`"}
	last := -1
	for _, h := range order {
		i := strings.Index(doc, h)
		if i < 0 {
			t.Fatalf("no section %q", h)
		}
		if i < last {
			t.Errorf("section %q comes before the one it should follow", h)
		}
		last = i
	}
}

func TestTheOutputIsByteIdenticalAcrossRuns(t *testing.T) {
	for _, dir := range []string{repoCRDs, filepath.Join("testdata", "constructs")} {
		t.Run(dir, func(t *testing.T) {
			first := generate(t, dir)
			for range 5 {
				if next := generate(t, dir); next != first {
					t.Fatalf("two runs differ (map iteration order?)")
				}
			}
		})
	}
}

func TestTheCommandWritesTheFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "api.md")
	if err := run([]string{"-crds", filepath.Join("testdata", "constructs"), "-out", out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := generate(t, filepath.Join("testdata", "constructs")); !bytes.Equal(b, []byte(want)) {
		t.Errorf("the file written differs from the rendered reference")
	}
}

func TestInputsThatAreNotCRDsAreRefused(t *testing.T) {
	empty := t.TempDir()
	badYAML := t.TempDir()
	if err := os.WriteFile(filepath.Join(badYAML, "x.yaml"), []byte("spec: [unclosed"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, dir, want string
	}{
		{"a directory without YAML files", empty, "no *.yaml files in " + empty},
		{"a YAML file of another kind", filepath.Join("testdata", "notacrd"), `role.yaml, document 0: a "Role", want a CustomResourceDefinition`},
		{"YAML that does not parse", badYAML, "x.yaml, document 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readCRDs(tc.dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("readCRDs(%s) = %v, want an error containing %q", tc.dir, err, tc.want)
			}
		})
	}
}
