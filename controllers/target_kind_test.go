package controllers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/controllers"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// fakeMDM is a third MDM, in memory: it can rename devices and set users and buildings, nothing else.
// The controllers drive it only through controllers.TargetKind and engine.Target, so adding it needs no
// change in controllers/.
type fakeMDM struct {
	mu      sync.Mutex
	devices []district.Device
	checked []plan.Manage
	applied []plan.Change
}

func (f *fakeMDM) Name() string { return "Fake MDM" }

func (f *fakeMDM) Capabilities() plan.Capabilities {
	return plan.Capabilities{Rename: true, UserRealName: true, UserEmail: true, Building: true}
}

func (f *fakeMDM) Concurrency() int { return 2 }

func (f *fakeMDM) Check(_ context.Context, m plan.Manage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = append(f.checked, m)
	return nil
}

func (f *fakeMDM) Places(context.Context) ([]string, error) {
	return []string{"North Campus", "South Campus", "East Campus"}, nil
}

func (f *fakeMDM) Inventory(context.Context) ([]plan.Device, error) {
	out := make([]plan.Device, 0, len(f.devices))
	for _, d := range f.devices {
		out = append(out, plan.Device{Key: strconv.Itoa(d.ID), Ref: "fake-" + strconv.Itoa(d.ID), RawSerial: d.Serial, Name: d.Name,
			Managed: d.Managed, Supervised: d.Supervised, Username: d.Username, RealName: d.RealName, Email: d.Email})
	}
	return out, nil
}

func (f *fakeMDM) Apply(_ context.Context, c plan.Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, c)
	return nil
}

// fakeKind selects the fake for any policy with target.jamfPro (standing in for the spec field a third
// MDM would add to the API) and maps schools to the fake's campuses through spec.schools[].building.
func fakeKind(f *fakeMDM) controllers.TargetKind {
	return controllers.TargetKind{
		Field: "target.jamfPro", Name: "Fake MDM", Capabilities: f.Capabilities(),
		Endpoint: func(t *dsv1.Target) (controllers.Endpoint, bool) {
			if t.JamfPro == nil {
				return controllers.Endpoint{}, false
			}
			return controllers.Endpoint{URL: t.JamfPro.URL, Concurrency: 2}, true
		},
		Place: func(s dsv1.SchoolMapping) (string, string) { return "building", s.Building },
		Connect: func(context.Context, *controllers.Connector, *dsv1.DeviceSyncPolicy, *http.Client) (engine.Target, error) {
			return f, nil
		},
	}
}

func TestAThirdMDMNeedsNoChangeInTheControllers(t *testing.T) {
	ctx := context.Background()
	e := newRunEnv(t, 200)
	fake := &fakeMDM{devices: e.d.Devices}
	e.kinds = []controllers.TargetKind{fakeKind(fake)}
	campuses := []string{"North Campus", "South Campus", "East Campus"}

	p := e.policy("third-mdm", false)
	for i := range p.Spec.Schools {
		p.Spec.Schools[i].Building = campuses[i%len(campuses)]
	}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}

	t.Run("Ready checks the fake's connection and its places", func(t *testing.T) {
		v := &controllers.ConnectionValidator{Connector: &controllers.Connector{Reader: k8s, Transport: e.transport, Kinds: e.kinds}}
		got := *p
		got.Spec.Schools = append([]dsv1.SchoolMapping(nil), p.Spec.Schools...)
		checks := v.Validate(ctx, &got)
		for _, c := range checks {
			if !c.OK {
				t.Fatalf("check %s failed: %s %s", c.Name, c.Reason, c.Message)
			}
		}
		if len(fake.checked) == 0 {
			t.Fatal("the fake's Check was never called")
		}
		got.Spec.Schools[0].Building = "West Campus"
		got.Generation++ // a new generation is checked again, not read from the cache
		var unknown *controllers.Check
		for _, c := range v.Validate(ctx, &got) {
			if c.Reason == controllers.ReasonUnknownBuilding {
				unknown = &c
			}
		}
		if unknown == nil || !strings.Contains(unknown.Message, `spec.schools[0].building "West Campus"`) || !strings.Contains(unknown.Message, "no such Fake MDM building") {
			t.Fatalf("an unknown campus: %+v", unknown)
		}
	})

	t.Run("a run plans by the fake's capabilities and applies through it", func(t *testing.T) {
		e.startRunManager(t)
		run := e.createRun(t, "third-mdm-now", p.Name)
		got := waitRun(t, run, "the run succeeded", func(r *dsv1.SyncRun) bool { return r.Status.Phase == dsv1.PhaseSucceeded })
		fake.mu.Lock()
		applied := append([]plan.Change(nil), fake.applied...)
		fake.mu.Unlock()
		if len(applied) == 0 || int32(len(applied)) != got.Status.Summary.Changed {
			t.Fatalf("the fake applied %d changes, the run reports %d", len(applied), got.Status.Summary.Changed)
		}
		for _, c := range applied {
			s := c.Set
			if s.LostMode != nil || s.Position != nil || s.Room != nil || s.Department != nil || s.Location != nil {
				t.Fatalf("change %s writes a field the fake cannot: %+v", c.Serial, s)
			}
			if !strings.HasPrefix(c.Ref, "fake-") {
				t.Fatalf("change %s lost its device's ref %q", c.Serial, c.Ref)
			}
		}
		if got.Status.Summary.ByReason[plan.ReasonUnsupportedByTarget] == 0 {
			t.Errorf("the lost devices' Lost Mode must be reported UnsupportedByTarget: %v", got.Status.Summary.ByReason)
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, dsv1.ConditionComplete); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("Complete condition %+v", c)
		}
	})
}
