// Package charts_test specifies the Helm chart charts/devicesync-operator: it lints, renders what its values
// say, installs the same operator as config/default, applies to a real API server, and cannot drift from the
// generated CRDs and RBAC. helm is built from its Go module by hack/build-helm.sh (the first run pays a few
// minutes; the Helm SDK is not a dependency of this module).
package charts_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/k12dev/devicesync-operator/internal/testenv"
)

const (
	chartDir  = "devicesync-operator"
	namespace = "devicesync-system"
	release   = "devicesync"
)

var (
	root string // the repository
	helm string // the helm binary
)

func TestMain(m *testing.M) {
	var err error
	if root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if helm, err = buildHelm(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// buildHelm runs hack/build-helm.sh, which reuses bin/helm/<version>/helm when present and builds it otherwise,
// and returns the path it prints.
func buildHelm() (string, error) {
	cmd := exec.Command(filepath.Join(root, "hack", "build-helm.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/build-helm.sh: %w", err)
	}
	path := strings.TrimSpace(string(out))
	if st, err := os.Stat(path); err != nil || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("hack/build-helm.sh printed %q, not an executable", path)
	}
	return path, nil
}

func run(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// render is `helm template` of the chart in devicesync-system with the given extra arguments (--set ..., -f ...).
func render(t *testing.T, args ...string) []object {
	t.Helper()
	out, err := renderErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, out)
}

func renderErr(args ...string) (string, error) {
	return run(helm, append([]string{"template", release, filepath.Join(root, "charts", chartDir), "--namespace", namespace}, args...)...)
}

// object is one document of a multi-document YAML stream.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	raw []byte
}

func (o object) key() string { return o.Kind + "/" + o.Metadata.Name }

func parse(t *testing.T, stream string) []object {
	t.Helper()
	var objs []object
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(stream, -1) {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if o.Kind == "" {
			continue // comments only
		}
		o.raw = []byte(doc)
		objs = append(objs, o)
	}
	return objs
}

// one decodes the only object of a kind into into, failing unless there is exactly one.
func one(t *testing.T, objs []object, kind string, into any) {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.Kind == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("rendered %d objects of kind %s, want 1", len(found), kind)
	}
	if err := yaml.Unmarshal(found[0].raw, into); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
}

func named(t *testing.T, objs []object, kind, name string, into any) {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			if err := yaml.Unmarshal(o.raw, into); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s named %s rendered", kind, name)
}

func kinds(objs []object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Kind)
	}
	return ks
}

func managerContainer(t *testing.T, d appsv1.Deployment) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c
		}
	}
	t.Fatalf("deployment %s has no container named manager", d.Name)
	return corev1.Container{}
}

func appVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "charts", chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &chart); err != nil || chart.AppVersion == "" {
		t.Fatalf("Chart.yaml has no appVersion (%v)", err)
	}
	return chart.AppVersion
}

// valueSets are the two sets of values every rendering check runs with: the chart's defaults, and
// testdata/all-values.yaml, which sets every value.
var valueSets = []struct {
	name string
	args []string
}{
	{"with the default values", nil},
	{"with every value set", []string{"--values", filepath.Join("testdata", "all-values.yaml")}},
}

func TestTheChartLints(t *testing.T) {
	for _, tc := range valueSets {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", filepath.Join(root, "charts", chartDir)}, tc.args...)
			if out, err := run(helm, args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// The manager's flags are main.go's; a value left at its default adds no flag beyond config/manager's three.
func TestTheManagerArgsFollowTheValues(t *testing.T) {
	base := []string{"--leader-elect", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"the defaults are config/manager's args", nil, base},
		{"leaderElection.enabled=false turns leader election off", []string{"--set", "leaderElection.enabled=false"},
			[]string{"--leader-elect=false", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"}},
		{"metrics.port moves the metrics endpoint", []string{"--set", "metrics.port=9443"},
			[]string{"--leader-elect", "--metrics-bind-address=:9443", "--health-probe-bind-address=:8081"}},
		{"metrics.enabled=false disables the metrics endpoint", []string{"--set", "metrics.enabled=false"},
			[]string{"--leader-elect", "--metrics-bind-address=0", "--health-probe-bind-address=:8081"}},
		{"metrics.certSecret is passed as the metrics certificate directory", []string{"--set", "metrics.certSecret=metrics-tls"},
			append(slices.Clone(base[:2]), "--metrics-cert-dir=/etc/devicesync/metrics-cert", base[2])},
		{"rosterRoot is --roster-root", []string{"--set", "rosterRoot=/rosters"}, append(slices.Clone(base), "--roster-root=/rosters")},
		{"allowedHosts are comma-joined into --allowed-hosts", []string{"--set", "allowedHosts={destiny.lincoln.k12.us,*.jamfcloud.com}"},
			append(slices.Clone(base), "--allowed-hosts=destiny.lincoln.k12.us,*.jamfcloud.com")},
		{"an empty allowedHosts adds no flag", []string{"--set", "allowedHosts=null"}, base},
		{"requireCredentialsLabel is --require-credentials-label", []string{"--set", "requireCredentialsLabel=true"},
			append(slices.Clone(base), "--require-credentials-label")},
		{"maxRunTimeout is --max-run-timeout", []string{"--set", "maxRunTimeout=2h"}, append(slices.Clone(base), "--max-run-timeout=2h")},
		{"watchLabelSelector is --watch-label-selector (a shard)", []string{"--set", "watchLabelSelector=sharding.devicesync.k12.dev/key=shard1"},
			append(slices.Clone(base), "--watch-label-selector=sharding.devicesync.k12.dev/key=shard1")},
		{"maxConcurrentRuns is --max-concurrent-runs", []string{"--set", "maxConcurrentRuns=8"}, append(slices.Clone(base), "--max-concurrent-runs=8")},
		{"smallRunItems is --small-run-items (negative: no express slot)", []string{"--set", "smallRunItems=-1"}, append(slices.Clone(base), "--small-run-items=-1")},
		{"maxRequestsPerHost is --max-requests-per-host", []string{"--set", "maxRequestsPerHost=4"}, append(slices.Clone(base), "--max-requests-per-host=4")},
		{"extraArgs come last", []string{"--set", "extraArgs={--zap-log-level=debug}"}, append(slices.Clone(base), "--zap-log-level=debug")},
		{"every value set", []string{"--values", filepath.Join("testdata", "all-values.yaml")}, []string{
			"--leader-elect", "--metrics-bind-address=:9443", "--metrics-cert-dir=/etc/devicesync/metrics-cert",
			"--health-probe-bind-address=:8081", "--roster-root=/var/run/devicesync/rosters",
			"--allowed-hosts=destiny.lincoln.k12.us,*.jamfcloud.com", "--require-credentials-label",
			"--max-run-timeout=2h", "--watch-label-selector=sharding.devicesync.k12.dev/key=shard1", "--max-concurrent-runs=8",
			"--small-run-items=500", "--max-requests-per-host=4", "--zap-log-level=debug"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d appsv1.Deployment
			one(t, render(t, tc.args...), "Deployment", &d)
			if got := managerContainer(t, d).Args; !slices.Equal(got, tc.want) {
				t.Errorf("manager args\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// The manager's Go soft memory limit follows the container's memory limit (main.go sets GOMEMLIMIT to 90%
// of DEVICESYNC_MEMORY_LIMIT), with the default resources and with resources set by the values.
func TestTheManagerIsToldItsMemoryLimit(t *testing.T) {
	want := corev1.EnvVar{Name: "DEVICESYNC_MEMORY_LIMIT", ValueFrom: &corev1.EnvVarSource{
		ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "manager", Resource: "limits.memory"}}}
	for _, tc := range valueSets {
		t.Run(tc.name, func(t *testing.T) {
			var d appsv1.Deployment
			one(t, render(t, tc.args...), "Deployment", &d)
			c := managerContainer(t, d)
			if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return reflect.DeepEqual(e, want) }) {
				t.Errorf("manager env %+v has no %s from limits.memory", c.Env, want.Name)
			}
			if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
				t.Errorf("the manager has no memory limit to follow: resources %+v", c.Resources)
			}
		})
	}
}

func TestTheImageIsTheRepositoryAtTheTagOrTheAppVersion(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		image      string
		pullPolicy corev1.PullPolicy
	}{
		{"by default the chart's appVersion", nil, "ghcr.io/k12dev/devicesync-operator:" + appVersion(t), corev1.PullIfNotPresent},
		{"image.tag and image.repository when set",
			[]string{"--set", "image.repository=registry.example.org/devicesync-operator,image.tag=v9.9.9,image.pullPolicy=Always"},
			"registry.example.org/devicesync-operator:v9.9.9", corev1.PullAlways},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d appsv1.Deployment
			one(t, render(t, tc.args...), "Deployment", &d)
			c := managerContainer(t, d)
			if c.Image != tc.image || c.ImagePullPolicy != tc.pullPolicy {
				t.Errorf("image %s (%s), want %s (%s)", c.Image, c.ImagePullPolicy, tc.image, tc.pullPolicy)
			}
		})
	}
}

// Every value of testdata/all-values.yaml shows in the rendered Deployment.
func TestEveryPodValueReachesTheDeployment(t *testing.T) {
	var values struct {
		Replicas           int32                         `json:"replicas"`
		ImagePullSecrets   []corev1.LocalObjectReference `json:"imagePullSecrets"`
		Resources          corev1.ResourceRequirements   `json:"resources"`
		PodSecurityContext corev1.PodSecurityContext     `json:"podSecurityContext"`
		SecurityContext    corev1.SecurityContext        `json:"securityContext"`
		NodeSelector       map[string]string             `json:"nodeSelector"`
		Tolerations        []corev1.Toleration           `json:"tolerations"`
		Affinity           corev1.Affinity               `json:"affinity"`
	}
	b, err := os.ReadFile(filepath.Join("testdata", "all-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	objs := render(t, "--values", filepath.Join("testdata", "all-values.yaml"))
	one(t, objs, "Deployment", &d)
	pod, c := d.Spec.Template.Spec, managerContainer(t, d)
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"name", d.Name, "lincoln-devicesync-controller-manager"},
		{"service account", pod.ServiceAccountName, "lincoln-devicesync-controller-manager"},
		{"replicas", *d.Spec.Replicas, values.Replicas},
		{"image", c.Image, "registry.lincoln.k12.us/devicesync-operator:v0.2.0-rc.1"},
		{"pull policy", c.ImagePullPolicy, corev1.PullAlways},
		{"image pull secrets", pod.ImagePullSecrets, values.ImagePullSecrets},
		{"resources", c.Resources, values.Resources},
		{"pod security context", *pod.SecurityContext, values.PodSecurityContext},
		{"container security context", *c.SecurityContext, values.SecurityContext},
		{"node selector", pod.NodeSelector, values.NodeSelector},
		{"tolerations", pod.Tolerations, values.Tolerations},
		{"affinity", *pod.Affinity, values.Affinity},
		{"metrics port", c.Ports[0], corev1.ContainerPort{Name: "https-metrics", ContainerPort: 9443, Protocol: corev1.ProtocolTCP}},
		{"roster volume", pod.Volumes[2], corev1.Volume{Name: "rosters", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "sis-exports"}}}},
		{"roster mount", c.VolumeMounts[2], corev1.VolumeMount{Name: "rosters", MountPath: "/var/run/devicesync/rosters", ReadOnly: true}},
		{"metrics certificate volume", pod.Volumes[1], corev1.Volume{Name: "metrics-cert", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "lincoln-devicesync-metrics-server-cert"}}}},
	} {
		if !reflect.DeepEqual(check.got, check.want) {
			t.Errorf("%s: got %+v, want %+v", check.what, check.got, check.want)
		}
	}
	var svc corev1.Service
	one(t, objs, "Service", &svc)
	if p := svc.Spec.Ports[0]; p.Port != 9443 || p.TargetPort.String() != "https-metrics" {
		t.Errorf("metrics Service port %d -> %s, want 9443 -> https-metrics", p.Port, p.TargetPort.String())
	}
}

func TestTheServiceMonitorAndNetworkPolicyAppearOnlyWhenEnabled(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		want, absent []string
	}{
		{"by default neither (and the metrics Service)", nil, []string{"Service"}, []string{"ServiceMonitor", "NetworkPolicy"}},
		{"serviceMonitor.enabled adds the ServiceMonitor", []string{"--set", "serviceMonitor.enabled=true"},
			[]string{"ServiceMonitor", "Service"}, []string{"NetworkPolicy"}},
		{"networkPolicy.enabled with its CIDRs adds the NetworkPolicy",
			[]string{"--set", "networkPolicy.enabled=true,networkPolicy.apiServerCIDRs={10.96.0.1/32},networkPolicy.vendorCIDRs={203.0.113.0/24}"},
			[]string{"NetworkPolicy"}, []string{"ServiceMonitor"}},
		{"metrics.enabled=false drops the metrics Service", []string{"--set", "metrics.enabled=false"},
			nil, []string{"Service", "ServiceMonitor", "NetworkPolicy"}},
		{"every value set: both", []string{"--values", filepath.Join("testdata", "all-values.yaml")},
			[]string{"ServiceMonitor", "NetworkPolicy", "Service"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kinds(render(t, tc.args...))
			for _, k := range tc.want {
				if !slices.Contains(got, k) {
					t.Errorf("no %s rendered (rendered %v)", k, got)
				}
			}
			for _, k := range tc.absent {
				if slices.Contains(got, k) {
					t.Errorf("a %s rendered, want none", k)
				}
			}
		})
	}
}

// The ServiceMonitor scrapes the Service the chart renders, in the release's namespace, verifying its certificate.
func TestTheServiceMonitorScrapesTheMetricsService(t *testing.T) {
	objs := render(t, "--values", filepath.Join("testdata", "all-values.yaml"))
	var svc corev1.Service
	one(t, objs, "Service", &svc)
	var sm struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			NamespaceSelector struct {
				MatchNames []string `json:"matchNames"`
			} `json:"namespaceSelector"`
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Endpoints []struct {
				Port      string `json:"port"`
				Interval  string `json:"interval"`
				TLSConfig struct {
					InsecureSkipVerify bool   `json:"insecureSkipVerify"`
					ServerName         string `json:"serverName"`
				} `json:"tlsConfig"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	one(t, objs, "ServiceMonitor", &sm)
	if len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Error("the ServiceMonitor selects every Service")
	}
	for l, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[l] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, the Service is labelled %v", l, v, svc.Labels)
		}
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("ServiceMonitor looks in %v, want [%s]", sm.Spec.NamespaceSelector.MatchNames, namespace)
	}
	if sm.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("serviceMonitor.labels not on the ServiceMonitor: %v", sm.Metadata.Labels)
	}
	ep := sm.Spec.Endpoints[0]
	wantServer := svc.Name + "." + namespace + ".svc"
	if ep.Port != svc.Spec.Ports[0].Name || ep.Interval != "30s" || ep.TLSConfig.InsecureSkipVerify || ep.TLSConfig.ServerName != wantServer {
		t.Errorf("ServiceMonitor endpoint %+v, want port %s every 30s, verifying %s", ep, svc.Spec.Ports[0].Name, wantServer)
	}
}

func TestTheNetworkPolicyAllowsOnlyDNSTheAPIServerAndTheVendors(t *testing.T) {
	var np networkingv1.NetworkPolicy
	one(t, render(t, "--values", filepath.Join("testdata", "all-values.yaml")), "NetworkPolicy", &np)
	if got := np.Spec.PodSelector.MatchLabels; !reflect.DeepEqual(got, map[string]string{
		"app.kubernetes.io/name": "devicesync-operator", "app.kubernetes.io/component": "manager"}) {
		t.Errorf("selects %v, not the manager's pods", got)
	}
	var got []string
	for _, rule := range np.Spec.Egress {
		var to, ports []string
		for _, peer := range rule.To {
			switch {
			case peer.IPBlock != nil:
				to = append(to, peer.IPBlock.CIDR)
			case peer.PodSelector != nil:
				to = append(to, "pods "+fmt.Sprint(peer.PodSelector.MatchLabels))
			}
		}
		for _, p := range rule.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s", *p.Protocol, p.Port.String()))
		}
		got = append(got, strings.Join(to, ",")+" on "+strings.Join(ports, ","))
	}
	want := []string{
		"pods map[k8s-app:coredns] on UDP/53,TCP/53",
		"10.96.0.1/32 on TCP/443",
		"203.0.113.0/24,198.51.100.0/24 on TCP/443,TCP/8443",
	}
	if !slices.Equal(got, want) {
		t.Errorf("egress\n got %q\nwant %q", got, want)
	}
}

func TestValuesThatCannotWorkFailTheRenderNamingTheValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  string
		want string
	}{
		{"a NetworkPolicy without the API server's CIDRs", "networkPolicy.enabled=true,networkPolicy.vendorCIDRs={203.0.113.0/24}", "networkPolicy.apiServerCIDRs is required"},
		{"a NetworkPolicy without the vendors' CIDRs", "networkPolicy.enabled=true,networkPolicy.apiServerCIDRs={10.96.0.1/32}", "networkPolicy.vendorCIDRs is required"},
		{"a ServiceMonitor with metrics disabled", "serviceMonitor.enabled=true,metrics.enabled=false", "serviceMonitor.enabled needs metrics.enabled"},
		{"a roster volume without rosterRoot", "rosterVolume.emptyDir.medium=Memory", "set rosterRoot"},
		{"an empty image repository", "image.repository=", "image.repository is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderErr("--set", tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template --set %s: %v, want an error saying %q", tc.set, err, tc.want)
			}
		})
	}
}

// The default render installs what `kubectl kustomize config/default` installs (the namespace aside: Helm's
// --create-namespace makes it): the same objects under the same names, the same pod, RBAC rules and Service.
func TestTheDefaultRenderIsConfigDefault(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(filepath.Join(assets, "kubectl"), "kustomize", filepath.Join(root, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	kustomized := parse(t, out)
	chart := render(t, "--include-crds")

	keys := func(objs []object) []string {
		var ks []string
		for _, o := range objs {
			if o.Kind != "Namespace" {
				ks = append(ks, o.key()+" in "+o.Metadata.Namespace)
			}
		}
		sort.Strings(ks)
		return ks
	}
	if got, want := keys(chart), keys(kustomized); !slices.Equal(got, want) {
		t.Fatalf("the chart renders\n%s\nconfig/default has\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, o := range kustomized {
		switch o.Kind {
		case "Deployment":
			var c, k appsv1.Deployment
			named(t, chart, o.Kind, o.Metadata.Name, &c)
			named(t, kustomized, o.Kind, o.Metadata.Name, &k)
			// The image is the only difference: kustomize's placeholder, the chart's repository and appVersion.
			k.Spec.Template.Spec.Containers[0].Image = c.Spec.Template.Spec.Containers[0].Image
			if !reflect.DeepEqual(c.Spec, k.Spec) {
				t.Errorf("the Deployment's spec differs from config/default's:\n%s", diff(t, c.Spec, k.Spec))
			}
		case "Service":
			var c, k corev1.Service
			named(t, chart, o.Kind, o.Metadata.Name, &c)
			named(t, kustomized, o.Kind, o.Metadata.Name, &k)
			if !reflect.DeepEqual(c.Spec, k.Spec) {
				t.Errorf("Service %s spec %+v, config/default's %+v", o.Metadata.Name, c.Spec, k.Spec)
			}
		case "ClusterRole", "Role":
			var c, k rbacv1.ClusterRole // a Role has the same rules
			named(t, chart, o.Kind, o.Metadata.Name, &c)
			named(t, kustomized, o.Kind, o.Metadata.Name, &k)
			if !reflect.DeepEqual(c.Rules, k.Rules) {
				t.Errorf("%s %s rules %+v, config/default's %+v", o.Kind, o.Metadata.Name, c.Rules, k.Rules)
			}
			for l, v := range k.Labels {
				if strings.HasPrefix(l, "rbac.authorization.k8s.io/") && c.Labels[l] != v {
					t.Errorf("%s %s lacks the label %s=%s", o.Kind, o.Metadata.Name, l, v)
				}
			}
		case "ClusterRoleBinding", "RoleBinding":
			var c, k rbacv1.ClusterRoleBinding
			named(t, chart, o.Kind, o.Metadata.Name, &c)
			named(t, kustomized, o.Kind, o.Metadata.Name, &k)
			if !reflect.DeepEqual(c.RoleRef, k.RoleRef) || !reflect.DeepEqual(c.Subjects, k.Subjects) {
				t.Errorf("%s %s binds %+v to %+v, config/default %+v to %+v", o.Kind, o.Metadata.Name, c.RoleRef, c.Subjects, k.RoleRef, k.Subjects)
			}
		}
	}
}

// diff lists the YAML lines of got that want lacks (-) and of want that got lacks (+).
func diff(t *testing.T, got, want any) string {
	t.Helper()
	lines := func(v any) []string {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	g, w := lines(got), lines(want)
	var out []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "chart:     "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "kustomize: "+l)
		}
	}
	return strings.Join(out, "\n")
}

// The chart's CRDs are copies of the generated config/crd/bases (make manifests copies them).
func TestTheChartsCRDsAreTheGeneratedOnes(t *testing.T) {
	names := func(dir string) []string {
		paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, p := range paths {
			ns = append(ns, filepath.Base(p))
		}
		return ns
	}
	bases, crds := filepath.Join(root, "config", "crd", "bases"), filepath.Join(root, "charts", chartDir, "crds")
	if got, want := names(crds), names(bases); len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("charts/%s/crds holds %v, config/crd/bases %v: run make manifests", chartDir, got, want)
	}
	for _, name := range names(bases) {
		want, err := os.ReadFile(filepath.Join(bases, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(crds, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("charts/%s/crds/%s differs from config/crd/bases/%s: run make manifests", chartDir, name, name)
		}
	}
}

// The manager's ClusterRole has the rules controller-gen writes into config/rbac/role.yaml from the
// +kubebuilder:rbac markers: a new marker fails here until the chart's manager-rbac.yaml has it too.
func TestTheManagerRoleHasTheGeneratedRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var generated rbacv1.ClusterRole
	if err := yaml.Unmarshal(b, &generated); err != nil {
		t.Fatalf("config/rbac/role.yaml: %v", err)
	}
	if len(generated.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	var chart rbacv1.ClusterRole
	named(t, render(t), "ClusterRole", release+"-"+generated.Name, &chart)
	if !reflect.DeepEqual(chart.Rules, generated.Rules) {
		gy, _ := yaml.Marshal(generated.Rules)
		cy, _ := yaml.Marshal(chart.Rules)
		t.Errorf("the chart's %s rules differ from config/rbac/role.yaml: copy them into charts/%s/templates/manager-rbac.yaml\nchart:\n%s\nrole.yaml:\n%s",
			chart.Name, chartDir, cy, gy)
	}
}

// The render applies server-side to a real API server (one without this project's CRDs, so the chart's
// own crds/ install them), as controllers/install_test.go applies config/default.
func TestTheRenderAppliesToAnAPIServer(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, Scheme: testenv.Scheme()}
	if _, err := env.Start(); err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	admin, err := env.AddUser(envtest.User{Name: "chart-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := kubectl("", "create", "namespace", namespace); err != nil {
		t.Fatalf("kubectl create namespace: %v: %s", err, out)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		prefix string
		want   []string
	}{
		{"the default values", []string{"--include-crds"}, "devicesync", []string{
			"customresourcedefinition.apiextensions.k8s.io/devicesyncpolicies.devicesync.k12.dev",
			"customresourcedefinition.apiextensions.k8s.io/syncruns.devicesync.k12.dev",
			"serviceaccount/devicesync-controller-manager",
			"clusterrole.rbac.authorization.k8s.io/devicesync-manager-role",
			"clusterrolebinding.rbac.authorization.k8s.io/devicesync-manager-rolebinding",
			"role.rbac.authorization.k8s.io/devicesync-leader-election-role",
			"service/devicesync-controller-manager-metrics-service",
			"deployment.apps/devicesync-controller-manager",
		}},
		// Every value but the ServiceMonitor, whose CRD (the Prometheus Operator's) this API server lacks.
		{"every value set", []string{"--values", filepath.Join("testdata", "all-values.yaml"), "--set", "serviceMonitor.enabled=false"}, "lincoln-devicesync", []string{
			"clusterrole.rbac.authorization.k8s.io/lincoln-devicesync-manager-role",
			"networkpolicy.networking.k8s.io/lincoln-devicesync-controller-manager-egress",
			"service/lincoln-devicesync-controller-manager-metrics-service",
			"deployment.apps/lincoln-devicesync-controller-manager",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rendered, err := renderErr(tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			out, err := kubectl(rendered, "apply", "--server-side", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply --server-side: %v: %s", err, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want+" serverside-applied") {
					t.Errorf("kubectl apply did not create %s:\n%s", want, out)
				}
			}
			// Read back: the objects exist, and the CRDs serve their kinds.
			for _, get := range [][]string{
				{"get", "-n", namespace, "deployment/" + tc.prefix + "-controller-manager", "service/" + tc.prefix + "-controller-manager-metrics-service"},
				{"get", "clusterrole/" + tc.prefix + "-manager-role"},
				{"wait", "--for=condition=Established", "--timeout=60s",
					"crd/devicesyncpolicies.devicesync.k12.dev", "crd/syncruns.devicesync.k12.dev"},
			} {
				if out, err := kubectl("", get...); err != nil {
					t.Errorf("kubectl %s: %v: %s", strings.Join(get, " "), err, out)
				}
			}
		})
	}

	// The README's command: helm install itself (which also validates against the API server's schema). Another
	// name prefix, as the cluster-scoped objects above belong to the kubectl applies; the CRDs exist already and
	// Helm leaves them be.
	t.Run("helm install", func(t *testing.T) {
		home := t.TempDir()
		cmd := exec.Command(helm, "install", "district", filepath.Join(root, "charts", chartDir),
			"--kubeconfig", kubeconfig, "--namespace", "devicesync-helm", "--create-namespace",
			"--set", "fullnameOverride=helm-installed,image.repository=registry.example.org/devicesync-operator,image.tag=v0.1.0")
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "STATUS: deployed") {
			t.Fatalf("helm install: %v: %s", err, out)
		}
		out, err := kubectl("", "get", "-n", "devicesync-helm", "deployment/helm-installed-controller-manager",
			"-o", "jsonpath={.spec.template.spec.containers[0].image}")
		if err != nil || out != "registry.example.org/devicesync-operator:v0.1.0" {
			t.Errorf("the installed Deployment runs %q (%v), want registry.example.org/devicesync-operator:v0.1.0", out, err)
		}
	})

}
