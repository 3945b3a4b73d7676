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
