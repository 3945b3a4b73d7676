package controllers_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
)

func TestARunPublishesAPerSchoolFixListReadableWithKubectl(t *testing.T) {
	e := newRunEnv(t, 400)
	e.startRunManager(t)
	p := e.policy("fixes", false)
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	run := e.createRun(t, "fixes-now", p.Name)
	got := waitRun(t, run, "the run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })

	fl := got.Status.FixList
	if fl == nil || fl.ConfigMap != "fixes-now-fixlist" || fl.Key != controllers.FixListKey || fl.Rows == 0 {
		t.Fatalf("status.fixList = %+v, want the run's ConfigMap with rows", fl)
	}
	var toFix int32
	for _, s := range got.Status.Schools {
		toFix += s.ToFix
	}
	if toFix != fl.Rows+fl.Omitted || got.Status.Summary.ByReason["NoSerial"] == 0 {
		t.Errorf("status.schools counts %d, the list has %d rows and %d omitted; byReason %v", toFix, fl.Rows, fl.Omitted, got.Status.Summary.ByReason)
	}

	var cm corev1.ConfigMap
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: fl.ConfigMap}, &cm); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(&cm); owner == nil || owner.UID != got.UID {
		t.Errorf("the fix list must be owned by its run (deleted with it): owners %v", cm.OwnerReferences)
	}

	// The README's one-liner.
	out, err := kubectl("get", "configmap", "-n", e.ns, fl.ConfigMap, "-o", `jsonpath={.data.fixlist\.csv}`)
	if err != nil {
		t.Fatalf("kubectl get configmap: %v: %s", err, out)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("the fix list is not CSV: %v\n%s", err, out)
	}
	if int32(len(recs)-1) != fl.Rows {
		t.Errorf("kubectl printed %d rows, status says %d", len(recs)-1, fl.Rows)
	}
	sites := map[string]bool{}
	for _, s := range e.d.Schools {
		sites[s.ShortName] = true
	}
	noSerial := 0
	for _, r := range recs[1:] {
		if !sites[r[0]] && r[0] != "-" {
			t.Errorf("row for unknown site %q: %v", r[0], r)
		}
		if r[5] == "NoSerial" {
			noSerial++
			if r[2] == "" || r[0] == "-" {
				t.Errorf("an item with no serial must come with its school and barcode: %v", r)
			}
		}
	}
	if noSerial != int(got.Status.Summary.ByReason["NoSerial"]) {
		t.Errorf("%d NoSerial rows, the run counted %d", noSerial, got.Status.Summary.ByReason["NoSerial"])
	}
}
