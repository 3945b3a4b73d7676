package controllers_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/testenv"
)

// TestTheInstallManifestsApply applies config/default to the test API server the way the README installs
// the operator (kubectl kustomize, then a server-side apply), so a broken kustomization, RBAC rule or
// Deployment field fails here rather than in a district's cluster.
func TestTheInstallManifestsApply(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := kubectl("kustomize", filepath.Join(root, "config", "default"))
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v: %s", err, rendered)
	}
	apply := exec.Command(filepath.Join(testEnv.BinaryAssetsDirectory, "kubectl"), "--kubeconfig", kubeconfig,
		"apply", "--server-side", "--force-conflicts", "-f", "-")
	apply.Stdin = strings.NewReader(rendered)
	out, err := apply.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --server-side: %v: %s", err, out)
	}
	for _, want := range []string{"namespace/devicesync-system", "deployment.apps/devicesync-controller-manager",
		"clusterrole.rbac.authorization.k8s.io/devicesync-manager-role", "service/devicesync-controller-manager-metrics-service"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl apply did not create %s:\n%s", want, out)
		}
	}
}

// TestTheEgressNetworkPolicyExampleApplies applies config/network-policy (the README's egress example) the
// same way, so the example a district copies is a valid NetworkPolicy that selects the manager's pods.
func TestTheEgressNetworkPolicyExampleApplies(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := kubectl("kustomize", filepath.Join(root, "config", "network-policy"))
	if err != nil {
		t.Fatalf("kubectl kustomize config/network-policy: %v: %s", err, rendered)
	}
	if !strings.Contains(rendered, "app.kubernetes.io/component: manager") || !strings.Contains(rendered, "namespace: devicesync-system") {
		t.Fatalf("the NetworkPolicy does not select the manager's pods in devicesync-system:\n%s", rendered)
	}
	if out, err := kubectl("create", "namespace", "devicesync-system"); err != nil && !strings.Contains(out, "AlreadyExists") {
		t.Fatalf("kubectl create namespace: %v: %s", err, out)
	}
	apply := exec.Command(filepath.Join(testEnv.BinaryAssetsDirectory, "kubectl"), "--kubeconfig", kubeconfig,
		"apply", "--server-side", "-f", "-")
	apply.Stdin = strings.NewReader(rendered)
	if out, err := apply.CombinedOutput(); err != nil || !strings.Contains(string(out), "networkpolicy.networking.k8s.io/devicesync-controller-manager-egress") {
		t.Fatalf("kubectl apply --server-side: %v: %s", err, out)
	}
}
