package controllers_test

import (
	"context"
	"net/http"
	"slices"
	gosync "sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
)

// heldTransport holds every request while held is set, until the request's context ends or release.
type heldTransport struct {
	inner   http.RoundTripper
	mu      gosync.Mutex
	open    chan struct{} // closed: requests pass
	arrived chan struct{} // one value per held request
}

func newHeldTransport(inner http.RoundTripper) *heldTransport {
	return &heldTransport{inner: inner, open: make(chan struct{}), arrived: make(chan struct{}, 1000)}
}

func (h *heldTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	open := h.open
	h.mu.Unlock()
	select {
	case <-open:
	default:
		h.arrived <- struct{}{}
		select {
		case <-open:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return h.inner.RoundTrip(req)
}

func (h *heldTransport) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.open)
}

// TestASmallDistrictsRunExecutesBeforeALargeOneThatWasDueFirst: with one execution slot taken, a large
// district's run and then a small one's are admitted; when the slot frees, the small one executes and
// the large one waits. Their expected costs are their policies' status.lastGoodSource, read by the real
// controller; the vendors' requests are held so that the order does not depend on timing.
func TestASmallDistrictsRunExecutesBeforeALargeOneThatWasDueFirst(t *testing.T) {
	e := newRunEnv(t, 30)
	ctx := context.Background()
	for name, items := range map[string]int32{"busy": 0, "large": 10000, "small": 20} {
		p := e.policy(name, false)
		p.Labels = map[string]string{ownPolicyManagerLabel: "true"} // no policy controller rewrites its status
		all := intstr.FromString("100%")
		p.Spec.Safety.MaxSourceShrink = &all // the baselines below only order the runs
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if items > 0 {
			p.Status.LastGoodSource = &dsv1.SourceBaseline{Items: items, Run: name + "-earlier", Time: metav1.Now()}
			if err := k8s.Status().Update(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	held := newHeldTransport(e.transport)
	mgr := e.newManager(t, nil)
	r := &controllers.SyncRunReconciler{Client: mgr.GetClient(), Scheme: scheme, Recorder: recorded, MaxConcurrentRuns: 1,
		SmallRunItems:    -1, // no express slot: the order alone decides (the express slot has its own test)
		Connector:        &controllers.Connector{Reader: mgr.GetAPIReader(), Transport: held, Limits: e.limits, Kinds: e.kinds},
		ProgressInterval: 20 * time.Millisecond, RetryPause: time.Millisecond}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager(t, mgr)

	busy := e.createRun(t, "busy-1", "busy")
	select { // the busy run executes, its first call to a vendor held: the one slot is taken
	case <-held.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the busy run made no request")
	}
	large := e.createRun(t, "large-1", "large")
	small := e.createRun(t, "small-1", "small")
	want := []types.NamespacedName{client.ObjectKeyFromObject(small), client.ObjectKeyFromObject(large)}
	eventually(t, "both runs admitted, the small one first", func() (bool, error) {
		return slices.Equal(controllers.QueuedRuns(r), want), nil
	})

	if err := k8s.Delete(ctx, busy); err != nil { // its execution is cancelled: the slot frees
		t.Fatal(err)
	}
	waitRun(t, small, "the small district's run Running", func(run *dsv1.SyncRun) bool { return run.Status.Phase == dsv1.PhaseRunning })
	var got dsv1.SyncRun
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(large), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != "" {
		t.Fatalf("the large district's run is %s while the small one executes in the only slot", got.Status.Phase)
	}

	held.release()
	for _, run := range []*dsv1.SyncRun{small, large} {
		waitRun(t, run, run.Name+" Succeeded", func(run *dsv1.SyncRun) bool { return run.Status.Phase == dsv1.PhaseSucceeded })
	}
}
