package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/k12dev/devicesync-operator/internal/metrics"
)

const dashboardFile = "devicesync.json"

// The parts of a Grafana dashboard the tests read.
type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string         `json:"refId"`
	Datasource *datasourceRef `json:"datasource"`
	Expr       string         `json:"expr"`
}

type panel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Datasource  *datasourceRef           `json:"datasource"`
	GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
	Targets     []target                 `json:"targets"`
	Panels      []panel                  `json:"panels"` // of a collapsed row
	FieldConfig struct {
		Defaults struct {
			Unit       string `json:"unit"`
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
			Custom struct {
				ThresholdsStyle struct {
					Mode string `json:"mode"`
				} `json:"thresholdsStyle"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasourceRef  `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// query is a variable's query, which Grafana stores as a string or as an object with a query field.
func (v variable) query() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("%s has no uid, title or panels", dashboardFile)
	}
	return d
}

// allPanels lists the panels that show data: every panel, and those inside collapsed rows, but not rows.
func allPanels(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// expression is one PromQL expression of the dashboard and where it is.
type expression struct{ where, expr string }

// expressions finds every "expr" anywhere in the dashboard (panels, rows, annotations), and the query of
// every query variable.
func expressions(t *testing.T) []expression {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []expression
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if title, ok := x["title"].(string); ok {
				where = title
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if s, ok := x[k].(string); ok && k == "expr" {
					ref, _ := x["refId"].(string)
					out = append(out, expression{where + " " + ref, s})
				}
				walk(where, x[k])
			}
		case []any:
			for _, e := range x {
				walk(where, e)
			}
		}
	}
	walk("dashboard", doc)
	for _, v := range readDashboard(t).Templating.List {
		if v.Type == "query" {
			out = append(out, expression{"variable " + v.Name, v.query()})
		}
	}
	return out
}

// metricTypes asks the manager's registry for the type of every metric internal/metrics exports, by
// giving each a series of a throw-away policy (removed afterwards).
func metricTypes(t *testing.T) map[string]string {
	t.Helper()
	const ns, policy = "grafana-test", "types"
	metrics.ObserveRun(metrics.RunResult{Namespace: ns, Policy: policy, Phase: "Succeeded", Duration: time.Second,
		ByAction: map[string]int{"Assigned": 1}, ByReason: map[string]int{"NoSerial": 1}, Failed: 1, CompletedAt: time.Now()})
	metrics.SetNextRun(ns, policy, time.Now())
	metrics.SetPolicyReady(ns, policy, true)
	metrics.SetBlockedRuns(ns, policy, 0)
	defer metrics.ForgetPolicy(ns, policy)
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, f := range families {
		types[f.GetName()] = f.GetType().String()
	}
	out := map[string]string{}
	for _, name := range metrics.Names() {
		if types[name] == "" {
			t.Fatalf("%s is in metrics.Names() but has no series after a run was observed: extend metricTypes", name)
		}
		out[name] = types[name]
	}
	return out
}

// exported says which metric of internal/metrics a series name reads: the name itself, or the histogram
// whose _bucket, _sum or _count series it is.
func exported(name string, types map[string]string) (string, bool) {
	if _, ok := types[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && types[base] == "HISTOGRAM" {
			return base, true
		}
	}
	return "", false
}

func TestEveryMetricTheDashboardReadsIsExported(t *testing.T) {
	types := metricTypes(t)
	exprs := expressions(t)
	if len(exprs) < 5 {
		t.Fatalf("found %d expressions in %s, want one per panel query", len(exprs), dashboardFile)
	}
	for _, e := range exprs {
		t.Run(e.where, func(t *testing.T) {
			refs, err := metricRefs(e.expr)
			if err != nil {
				t.Fatalf("%v in %q", err, e.expr)
			}
			if len(refs) == 0 {
				t.Errorf("the expression reads no metric: %q", e.expr)
			}
			for _, r := range refs {
				if _, ok := exported(r.name, types); !ok {
					t.Errorf("the expression reads %s, which internal/metrics does not export (it exports %v): %q",
						r.name, metrics.Names(), e.expr)
				}
			}
		})
	}
}

func TestExportedAllowsTheSeriesOfHistogramsOnly(t *testing.T) {
	types := map[string]string{"devicesync_run_duration_seconds": "HISTOGRAM", "devicesync_runs_total": "COUNTER"}
	cases := []struct {
		name, series, want string
		ok                 bool
	}{
		{"a counter as is", "devicesync_runs_total", "devicesync_runs_total", true},
		{"a histogram's buckets", "devicesync_run_duration_seconds_bucket", "devicesync_run_duration_seconds", true},
		{"a histogram's sum", "devicesync_run_duration_seconds_sum", "devicesync_run_duration_seconds", true},
		{"a histogram's count", "devicesync_run_duration_seconds_count", "devicesync_run_duration_seconds", true},
		{"a counter has no _count series", "devicesync_runs_total_count", "", false},
		{"an unknown name", "devicesync_widgets_total", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := exported(tc.series, types); got != tc.want || ok != tc.ok {
				t.Errorf("exported(%q) = %q, %v, want %q, %v", tc.series, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMetricRefsFindsTheMetricNamesOfAnExpression(t *testing.T) {
	cases := []struct {
		name, expr string
		want       []string // name, or name{selector}
	}{
		{"a bare name", `devicesync_policy_ready`, []string{"devicesync_policy_ready"}},
		{"a selector's label names and values are not metrics",
			`devicesync_runs_total{phase="Failed", namespace=~"$namespace"}`,
			[]string{`devicesync_runs_total{phase="Failed", namespace=~"$namespace"}`}},
		{"functions and range durations are not metrics", `rate(devicesync_runs_total[5m])`, []string{"devicesync_runs_total"}},
		{"Grafana's range variables are not metrics", `increase(devicesync_runs_total[$__interval]) + increase(x[${__range}])`,
			[]string{"devicesync_runs_total", "x"}},
		{"grouping labels are not metrics", `sum by (namespace, policy) (devicesync_blocked_runs) > on(namespace) group_left(policy) y`,
			[]string{"devicesync_blocked_runs", "y"}},
		{"a grouping clause after the aggregation", `sum(a) without (phase)`, []string{"a"}},
		{"keywords, numbers and strings are not metrics",
			`a and b or c unless d offset 1h > bool 6 * 3600 + 1e3 - count_values("phase", e) @ end()`,
			[]string{"a", "b", "c", "d", "e"}},
		{"a histogram's series", `histogram_quantile(0.9, sum by (le) (rate(devicesync_run_duration_seconds_bucket[1h])))`,
			[]string{"devicesync_run_duration_seconds_bucket"}},
		{"time and vector are functions", `time() - max(devicesync_last_success_timestamp_seconds) or vector(0)`,
			[]string{"devicesync_last_success_timestamp_seconds"}},
		{"a name followed by a space, on several lines", "devicesync_changes_total \n/\n devicesync_skips_total",
			[]string{"devicesync_changes_total", "devicesync_skips_total"}},
		{"a misspelled function is reported as a name", `rates(devicesync_runs_total[5m])`,
			[]string{"rates", "devicesync_runs_total"}},
		{"a label_values query reads its metric, not its label", `label_values(devicesync_policy_ready{namespace=~"$namespace"}, policy)`,
			[]string{`devicesync_policy_ready{namespace=~"$namespace"}`}},
		{"label_values of a label alone reads no metric", `label_values(namespace)`, nil},
		{"a comment is not read", "devicesync_runs_total # devicesync_not_a_metric", []string{"devicesync_runs_total"}},
		{"braces in a string do not end a selector", `a{reason=~"x}|y"} + b`, []string{`a{reason=~"x}|y"}`, "b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refs, err := metricRefs(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range refs {
				s := r.name
				if r.selector != "" {
					s += "{" + r.selector + "}"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("metricRefs(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

func TestMetricRefsRefusesBrokenExpressions(t *testing.T) {
	for _, expr := range []string{`sum(a{phase="x"`, `rate(a[5m)`, `a{phase="x}`, `label_values(a, b`} {
		if refs, err := metricRefs(expr); err == nil {
			t.Errorf("metricRefs(%q) = %v, want an error", expr, refs)
		}
	}
}

func TestEveryPanelQueriesTheDatasourceVariable(t *testing.T) {
	for _, p := range allPanels(readDashboard(t)) {
		t.Run(p.Title, func(t *testing.T) {
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
				t.Errorf("panel datasource %+v, want the prometheus ${datasource} variable", p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("the panel has no query")
			}
			for _, q := range p.Targets {
				if q.Datasource == nil || q.Datasource.UID != "${datasource}" {
					t.Errorf("query %s datasource %+v, want ${datasource}", q.RefID, q.Datasource)
				}
			}
		})
	}
}

func TestEveryPanelQueryIsFilteredByTheNamespaceAndPolicyVariables(t *testing.T) {
	for _, p := range allPanels(readDashboard(t)) {
		for _, q := range p.Targets {
			t.Run(p.Title+" "+q.RefID, func(t *testing.T) {
				refs, err := metricRefs(q.Expr)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range refs {
					for _, want := range []string{`namespace=~"$namespace"`, `policy=~"$policy"`} {
						if !strings.Contains(r.selector, want) {
							t.Errorf("%s{%s} does not select %s", r.name, r.selector, want)
						}
					}
				}
			})
		}
	}
}

func TestTheVariablesMakeTheDashboardImportableIntoAnyGrafana(t *testing.T) {
	d := readDashboard(t)
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds := vars["datasource"]; ds.Type != "datasource" || ds.query() != "prometheus" {
		t.Errorf("variable datasource is %q over %q, want a datasource variable over prometheus", ds.Type, ds.query())
	}
	cases := []struct{ name, query string }{
		{"namespace", "label_values(devicesync_policy_ready, namespace)"},
		{"policy", `label_values(devicesync_policy_ready{namespace=~"$namespace"}, policy)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := vars[tc.name]
			if !ok {
				t.Fatalf("no variable %s", tc.name)
			}
			if v.Type != "query" || v.query() != tc.query {
				t.Errorf("variable %s is a %s over %q, want a query over %q", tc.name, v.Type, v.query(), tc.query)
			}
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("variable %s reads datasource %+v, want ${datasource}", tc.name, v.Datasource)
			}
			if !v.Multi || !v.IncludeAll {
				t.Errorf("variable %s: multi %v, includeAll %v, want both (the panels select with =~)", tc.name, v.Multi, v.IncludeAll)
			}
		})
	}
	// No datasource is named by its uid in one Grafana: only the variable, or Grafana's built-in annotations.
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ds, ok := x["datasource"].(map[string]any); ok {
				if uid := ds["uid"]; uid != "${datasource}" && uid != "-- Grafana --" {
					t.Errorf("a datasource is named by uid %v: use ${datasource}", uid)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
}

func TestTheDashboardHasThePanelsTheREADMEDescribes(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	panels := map[string]panel{}
	for _, p := range allPanels(readDashboard(t)) {
		panels[p.Title] = p
		if p.Description == "" {
			t.Errorf("panel %q has no description (Grafana shows it as the panel's help)", p.Title)
		}
		if !strings.Contains(string(readme), "**"+p.Title+"**") {
			t.Errorf("config/grafana/README.md does not describe panel %q (as **%s**)", p.Title, p.Title)
		}
	}
	cases := []struct {
		title, typ, metric, grouping string
	}{
		{"Runs by result", "timeseries", metrics.RunsTotal, "by (namespace, policy, phase)"},
		{"Changes by action", "timeseries", metrics.ChangesTotal, "by (action)"},
		{"Skips by reason", "timeseries", metrics.SkipsTotal, "by (reason)"},
		{"Run duration", "timeseries", metrics.RunDuration, "by (namespace, policy)"},
		{"Last success per policy", "table", metrics.LastSuccessTimestamp, "by (namespace, policy)"},
	}
	for _, tc := range cases {
		t.Run(tc.title, func(t *testing.T) {
			p, ok := panels[tc.title]
			if !ok {
				t.Fatalf("no panel %q", tc.title)
			}
			if p.Type != tc.typ {
				t.Errorf("panel type %s, want %s", p.Type, tc.typ)
			}
			found := false
			for _, q := range p.Targets {
				if strings.Contains(q.Expr, tc.metric) && strings.Contains(q.Expr, tc.grouping) {
					found = true
				}
			}
			if !found {
				t.Errorf("no query reads %s %s", tc.metric, tc.grouping)
			}
		})
	}
	t.Run("the run duration has a line at one hour", func(t *testing.T) {
		p := panels["Run duration"]
		steps := p.FieldConfig.Defaults.Thresholds.Steps
		if p.FieldConfig.Defaults.Unit != "s" || p.FieldConfig.Defaults.Custom.ThresholdsStyle.Mode != "line" ||
			len(steps) != 2 || steps[1].Value == nil || *steps[1].Value != 3600 {
			t.Errorf("unit %q, thresholds style %q, steps %d: want seconds with a threshold line at 3600",
				p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Custom.ThresholdsStyle.Mode, len(steps))
		}
	})
}

func TestPanelsHaveUniqueIDsAndDoNotOverlap(t *testing.T) {
	d := readDashboard(t)
	ids := map[int]string{}
	type rect struct {
		title      string
		x, y, w, h int
	}
	var placed []rect
	for _, p := range d.Panels {
		if prev, ok := ids[p.ID]; ok || p.ID == 0 {
			t.Errorf("panel %q has id %d, already used by %q (or zero)", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q is placed at %+v, outside Grafana's 24 columns", p.Title, g)
		}
		for _, o := range placed {
			if g.X < o.x+o.w && o.x < g.X+g.W && g.Y < o.y+o.h && o.y < g.Y+g.H {
				t.Errorf("panel %q at %+v overlaps %q", p.Title, g, o.title)
			}
		}
		placed = append(placed, rect{p.Title, g.X, g.Y, g.W, g.H})
	}
}

func TestTheKustomizationMakesAConfigMapForTheGrafanaSidecar(t *testing.T) {
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion       string `json:"apiVersion"`
		Kind             string `json:"kind"`
		GeneratorOptions struct {
			DisableNameSuffixHash bool              `json:"disableNameSuffixHash"`
			Labels                map[string]string `json:"labels"`
		} `json:"generatorOptions"`
		ConfigMapGenerator []struct {
			Name  string   `json:"name"`
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if len(k.ConfigMapGenerator) != 1 || !slices.Equal(k.ConfigMapGenerator[0].Files, []string{dashboardFile}) {
		t.Fatalf("configMapGenerator %+v, want one ConfigMap of %s", k.ConfigMapGenerator, dashboardFile)
	}
	if got := k.GeneratorOptions.Labels["grafana_dashboard"]; got != "1" {
		t.Errorf("label grafana_dashboard = %q, want \"1\" (the sidecar's default label)", got)
	}
	if !k.GeneratorOptions.DisableNameSuffixHash {
		t.Errorf("the ConfigMap name has a hash suffix: each change would leave the old dashboard behind")
	}
}

// metricRef is a metric a PromQL expression reads, with the label matchers of its selector.
type metricRef struct{ name, selector string }

// promqlWords are PromQL's functions, aggregations and keywords, and Grafana's variable-query functions:
// identifiers that are not metric names.
var promqlWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max
		clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv
		double_exponential_smoothing exp first_over_time floor histogram_avg histogram_count histogram_fraction
		histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase info
		irate label_join label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time
		minute month pi predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin
		sinh sort sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time
		tan tanh time timestamp ts_of_first_over_time ts_of_last_over_time ts_of_max_over_time ts_of_min_over_time
		vector year start end step
		sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
		and or unless bool offset atan2 inf nan
		label_names metrics query_result`) {
		promqlWords[w] = true
	}
}

// groupings are the keywords followed by a list of label names.
var groupings = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// metricRefs lists the metric names a PromQL expression (or a Grafana label_values query) reads, in
// order: the identifiers that are not functions, keywords or label names, skipping strings, selectors'
// label matchers, ranges, numbers, comments and Grafana variables.
func metricRefs(expr string) ([]metricRef, error) {
	var refs []metricRef
	i, depth := 0, 0
	skipSpace := func() {
		for i < len(expr) && strings.ContainsRune(" \t\r\n", rune(expr[i])) {
			i++
		}
	}
	// closing finds the end of a bracketed part starting at expr[i] (an opening bracket), stepping over
	// strings, and returns the index just past it.
	closing := func(open, close byte) (int, error) {
		depth := 0
		for j := i; j < len(expr); j++ {
			switch c := expr[j]; c {
			case '"', '\'', '`':
				k := j + 1
				for k < len(expr) && expr[k] != c {
					if expr[k] == '\\' && c != '`' {
						k++
					}
					k++
				}
				if k >= len(expr) {
					return 0, fmt.Errorf("unterminated string at offset %d", j)
				}
				j = k
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%q at offset %d is not closed", open, i)
	}
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			i = j + 1
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth--; depth < 0 {
				return nil, fmt.Errorf("unopened ) at offset %d", i)
			}
			i++
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				end := strings.IndexByte(expr[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated ${ at offset %d", i-1)
				}
				i += end + 1
			} else {
				for i < len(expr) && isIdent(expr[i]) {
					i++
				}
			}
		case c == '{':
			end, err := closing('{', '}')
			if err != nil {
				return nil, err
			}
			i = end
		case c == '[':
			end, err := closing('[', ']')
			if err != nil {
				return nil, err
			}
			i = end
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
			word := expr[start:i]
			skipSpace()
			next := byte(0)
			if i < len(expr) {
				next = expr[i]
			}
			switch {
			case groupings[word]:
				if next == '(' {
					end, err := closing('(', ')')
					if err != nil {
						return nil, err
					}
					i = end
				}
			case word == "label_values" && next == '(':
				end, err := closing('(', ')')
				if err != nil {
					return nil, err
				}
				args := expr[i+1 : end-1]
				if k := strings.LastIndexByte(args, ','); k >= 0 {
					inner, err := metricRefs(args[:k])
					if err != nil {
						return nil, err
					}
					refs = append(refs, inner...)
				}
				i = end
			case promqlWords[word]:
			default:
				ref := metricRef{name: word}
				if next == '{' {
					end, err := closing('{', '}')
					if err != nil {
						return nil, err
					}
					ref.selector = expr[i+1 : end-1]
					i = end
				}
				refs = append(refs, ref)
			}
		default:
			i++
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%d ( not closed", depth)
	}
	return refs, nil
}
