package argocd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/k12dev/devicesync-operator/internal/testenv"
)

// TestTheREADMEPatchCommandRegistersTheChecksAndKeepsOtherKeys runs the command the README gives,
// `kubectl -n argocd patch configmap argocd-cm --type strategic --patch-file config/argocd/overlay/argocd-cm-patch.yaml`,
// with --local against an argocd-cm that already holds a key, using the kubectl built with the control plane.
func TestTheREADMEPatchCommandRegistersTheChecksAndKeepsOtherKeys(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	cm := filepath.Join(t.TempDir(), "argocd-cm.yaml")
	live := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\ndata:\n  url: https://argocd.district.example\n"
	if err := os.WriteFile(cm, []byte(live), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(assets, "kubectl"), "patch", "--local", "-f", cm, "--type", "strategic",
		"--patch-file", cmPatchPath, "-o", "yaml")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl patch: %v: %s", err, out)
	}
	var got struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Data["url"] != "https://argocd.district.example" {
		t.Errorf("the patch dropped an existing key: %v", got.Data)
	}
	for _, key := range []string{"resource.customizations.health.devicesync.k12.dev_DeviceSyncPolicy",
		"resource.customizations.health.devicesync.k12.dev_SyncRun", "resource.customizations.actions.devicesync.k12.dev_DeviceSyncPolicy"} {
		if !strings.Contains(got.Data[key], "hs") && !strings.Contains(got.Data[key], "discovery") {
			t.Errorf("%s missing or empty after the patch", key)
		}
	}
}
