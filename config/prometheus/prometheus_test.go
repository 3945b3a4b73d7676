package prometheus_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/k12dev/devicesync-operator/internal/metrics"
)

type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	var pr prometheusRule
	readYAML(t, "alerts.yaml", &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Fatalf("alerts.yaml is a %s %s, want a monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind)
	}
	var rules []rule
	for _, g := range pr.Spec.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatal("alerts.yaml has no rules")
	}
	return rules
}

var metricName = regexp.MustCompile(`devicesync_[a-z_]+`)

// metricsOf lists the devicesync metrics an expression reads, with the _bucket, _sum and _count series of a
// histogram reduced to the histogram's name.
func metricsOf(expr string, known map[string]bool) []string {
	var out []string
	for _, name := range metricName.FindAllString(expr, -1) {
		if !known[name] {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
					name = base
					break
				}
			}
		}
		out = append(out, name)
	}
	return out
}

func TestAlertExpressionsUseOnlyMetricsTheManagerExports(t *testing.T) {
	known := map[string]bool{}
	for _, n := range metrics.Names() {
		known[n] = true
	}
	for _, r := range alertRules(t) {
		t.Run(r.Alert, func(t *testing.T) {
			for _, name := range metricsOf(r.Expr, known) {
				if !known[name] {
					t.Errorf("expression uses %s, which internal/metrics does not export (it exports %v)", name, metrics.Names())
				}
			}
		})
	}
}

func TestMetricsOfReducesHistogramSeriesToTheHistogram(t *testing.T) {
	known := map[string]bool{"devicesync_run_duration_seconds": true, "devicesync_runs_total": true}
	cases := []struct {
		name, expr string
		want       []string
	}{
		{"a counter is kept as is", `increase(devicesync_runs_total[1h])`, []string{"devicesync_runs_total"}},
		{"a histogram's bucket series is the histogram",
			`histogram_quantile(0.9, rate(devicesync_run_duration_seconds_bucket[1h]))`, []string{"devicesync_run_duration_seconds"}},
		{"sum and count series are the histogram",
			`devicesync_run_duration_seconds_sum / devicesync_run_duration_seconds_count`,
			[]string{"devicesync_run_duration_seconds", "devicesync_run_duration_seconds"}},
		{"an unknown name ending in _count is reported as is", `devicesync_widgets_count`, []string{"devicesync_widgets_count"}},
		{"label values with dashes are not metric names", `up{service="devicesync-controller-manager-metrics-service"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := metricsOf(tc.expr, known); !slices.Equal(got, tc.want) {
				t.Errorf("metricsOf(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

// prometheusFuncs are the template functions Prometheus offers alert annotations, stubbed.
var prometheusFuncs = template.FuncMap{
	"humanize": fmtAny, "humanize1024": fmtAny, "humanizeDuration": fmtAny, "humanizePercentage": fmtAny,
	"humanizeTimestamp": fmtAny, "toTime": fmtAny, "title": strings.ToUpper, "toUpper": strings.ToUpper,
	"toLower": strings.ToLower, "stripPort": fmtAny, "stripDomain": fmtAny, "safeHtml": fmtAny,
	"reReplaceAll": func(a, b, c string) string { return c }, "match": func(a, b string) bool { return false },
	"query": func(string) []any { return nil }, "first": func([]any) any { return nil }, "label": func(string, any) string { return "" },
	"value": func(any) float64 { return 0 }, "strvalue": func(any) string { return "" }, "args": func(...any) []any { return nil },
	"pathPrefix": func() string { return "" }, "externalURL": func() string { return "" }, "parseDuration": fmtAny,
	"sortByLabel": func(string, []any) []any { return nil },
}

func fmtAny(v any) string { return "formatted" }

// render executes an annotation as Prometheus does, with the variables it defines.
func render(text string, labels map[string]string) (string, error) {
	const defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	tmpl, err := template.New("annotation").Option("missingkey=zero").Funcs(prometheusFuncs).Parse(defs + text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]any{"Labels": labels, "ExternalLabels": map[string]string{}, "ExternalURL": "", "Value": 1.0})
	return b.String(), err
}

func TestEveryAlertIsComplete(t *testing.T) {
	labels := map[string]string{"namespace": "lincoln", "policy": "lincoln-ipads"}
	names := map[string]bool{}
	for _, r := range alertRules(t) {
		t.Run(r.Alert, func(t *testing.T) {
			if r.Alert == "" || r.Record != "" {
				t.Fatalf("rule %q is not an alerting rule", r.Record)
			}
			if names[r.Alert] {
				t.Errorf("alert name %s is used twice", r.Alert)
			}
			names[r.Alert] = true
			if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("for: %q, want a positive duration (%v)", r.For, err)
			}
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("severity label %q, want critical, warning or info", s)
			}
			perPolicy := metricName.MatchString(r.Expr)
			if perPolicy && !strings.Contains(r.Expr, "by (namespace, policy)") {
				t.Errorf("expression does not aggregate by (namespace, policy), so the annotations cannot name the policy")
			}
			for _, key := range []string{"summary", "description"} {
				text := r.Annotations[key]
				if strings.TrimSpace(text) == "" {
					t.Errorf("no %s annotation", key)
					continue
				}
				out, err := render(text, labels)
				if err != nil {
					t.Errorf("%s is not a valid Prometheus template: %v", key, err)
					continue
				}
				if perPolicy && !strings.Contains(out, "lincoln/lincoln-ipads") {
					t.Errorf("%s does not name namespace/policy: %q", key, out)
				}
			}
			if out, _ := render(r.Annotations["description"], labels); !strings.Contains(out, "kubectl ") {
				t.Errorf("description gives no kubectl command to look: %q", out)
			}
		})
	}
}

// object is the part of a Kubernetes object the tests read.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Ports []struct {
			Name string `json:"name"`
		} `json:"ports"`
	} `json:"spec"`
}

type kustomization struct {
	Namespace    string            `json:"namespace"`
	NamePrefix   string            `json:"namePrefix"`
	CommonLabels map[string]string `json:"commonLabels"`
	Labels       []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels"`
	Resources []string `json:"resources"`
}

// build reads the objects of a kustomization directory, applying the transformations of every level
// that decide a Service's name, namespace and labels: namePrefix, namespace, commonLabels and labels.
func build(t *testing.T, dir string) []object {
	t.Helper()
	var k kustomization
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &k)
	var objs []object
	for _, res := range k.Resources {
		path := filepath.Join(dir, filepath.FromSlash(res))
		if info, err := os.Stat(path); err == nil && info.IsDir() {
			objs = append(objs, build(t, path)...)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s lists %s: %v", filepath.Join(dir, "kustomization.yaml"), res, err)
		}
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if o.Kind != "" {
				objs = append(objs, o)
			}
		}
	}
	for i := range objs {
		o := &objs[i]
		o.Metadata.Name = k.NamePrefix + o.Metadata.Name
		if k.Namespace != "" {
			o.Metadata.Namespace = k.Namespace
		}
		if o.Metadata.Labels == nil {
			o.Metadata.Labels = map[string]string{}
		}
		for key, v := range k.CommonLabels {
			o.Metadata.Labels[key] = v
		}
		for _, l := range k.Labels {
			for key, v := range l.Pairs {
				o.Metadata.Labels[key] = v
			}
		}
	}
	return objs
}

type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port            string `json:"port"`
			Scheme          string `json:"scheme"`
			HonorLabels     bool   `json:"honorLabels"`
			BearerTokenFile string `json:"bearerTokenFile"`
			TLSConfig       struct {
				InsecureSkipVerify bool   `json:"insecureSkipVerify"`
				ServerName         string `json:"serverName"`
			} `json:"tlsConfig"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func TestServiceMonitorScrapesTheMetricsServiceOfConfigDefault(t *testing.T) {
	const wantService = "devicesync-controller-manager-metrics-service"
	var sm serviceMonitor
	readYAML(t, "servicemonitor.yaml", &sm)
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" {
		t.Fatalf("servicemonitor.yaml is a %s %s", sm.APIVersion, sm.Kind)
	}
	var own kustomization
	readYAML(t, "kustomization.yaml", &own)
	for _, want := range []string{"servicemonitor.yaml", "alerts.yaml"} {
		if !slices.Contains(own.Resources, want) {
			t.Errorf("config/prometheus/kustomization.yaml does not list %s", want)
		}
	}

	var services []object
	for _, o := range build(t, filepath.Join("..", "default")) {
		if o.Kind == "Service" {
			services = append(services, o)
		}
	}
	var selected []object
	for _, s := range services {
		if selects(sm.Spec.Selector.MatchLabels, s.Metadata.Labels) && slices.Contains(sm.Spec.NamespaceSelector.MatchNames, s.Metadata.Namespace) {
			selected = append(selected, s)
		}
	}
	if len(selected) != 1 || selected[0].Metadata.Name != wantService {
		var names []string
		for _, s := range selected {
			names = append(names, s.Metadata.Namespace+"/"+s.Metadata.Name)
		}
		t.Fatalf("the ServiceMonitor selects %v among config/default's Services, want exactly %s", names, wantService)
	}
	svc := selected[0]
	if own.Namespace != svc.Metadata.Namespace {
		t.Errorf("config/prometheus installs into namespace %q, the metrics Service is in %q", own.Namespace, svc.Metadata.Namespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("the ServiceMonitor has %d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Name)
	}
	if !slices.Contains(ports, ep.Port) {
		t.Errorf("the ServiceMonitor scrapes port %q, the Service's ports are %v", ep.Port, ports)
	}
	if ep.Scheme != "https" || ep.BearerTokenFile == "" {
		t.Errorf("scheme %q, bearer token %q: the manager serves metrics over HTTPS to authenticated scrapers", ep.Scheme, ep.BearerTokenFile)
	}
	if ep.TLSConfig.InsecureSkipVerify {
		t.Errorf("insecureSkipVerify is true: the serving certificate must be verified")
	}
	if want := svc.Metadata.Name + "." + svc.Metadata.Namespace + ".svc"; ep.TLSConfig.ServerName != want {
		t.Errorf("tlsConfig.serverName %q, want the Service's DNS name %q", ep.TLSConfig.ServerName, want)
	}
	if !ep.HonorLabels {
		t.Errorf("honorLabels is false: Prometheus would replace the policy's namespace label with the manager's")
	}
}
