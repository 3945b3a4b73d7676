package controllers_test

import (
	"context"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/k12dev/devicesync-operator/controllers"
)

// dataReads counts the reads of Secret and ConfigMap data (metadata-only reads are not counted).
type dataReads struct {
	client.Reader
	n atomic.Int32
}

func (r *dataReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	switch obj.(type) {
	case *corev1.Secret, *corev1.ConfigMap:
		r.n.Add(1)
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

func TestARecentConnectionTestIsReusedBeforeAnySecretIsReadOrClientBuilt(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 60)
	p := e.policy("cached", false)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	reads := &dataReads{Reader: k8s}
	v := &controllers.ConnectionValidator{Connector: &controllers.Connector{Reader: reads, Transport: e.transport}}
	ready := func() bool {
		for _, c := range v.Validate(ctx, p) {
			if !c.OK {
				t.Fatalf("check %s failed: %s %s", c.Name, c.Reason, c.Message)
			}
		}
		return true
	}

	ready()
	if reads.n.Load() == 0 {
		t.Fatal("the first check read no Secret: it tested nothing")
	}
	reads.n.Store(0)
	proCalls := e.pro.HTTP().TotalCalls()
	ready()
	if n := reads.n.Load(); n != 0 || e.pro.HTTP().TotalCalls() != proCalls {
		t.Fatalf("a check within the retest interval read %d Secrets or ConfigMaps and made %d Jamf calls; want none",
			n, e.pro.HTTP().TotalCalls()-proCalls)
	}

	var roster corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "roster"}, &roster); err != nil {
		t.Fatal(err)
	}
	roster.Labels = map[string]string{"touched": "yes"} // a new resourceVersion
	if err := k8s.Update(ctx, &roster); err != nil {
		t.Fatal(err)
	}
	ready()
	if reads.n.Load() == 0 {
		t.Fatal("a changed roster ConfigMap was not read again")
	}
}
