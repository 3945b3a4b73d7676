package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	gosync "sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// A run's lease: one writer per run, even when several managers run without leader election (two
// replicas started with --leader-elect=false, or a laptop's `make run` beside the cluster's manager).
// Before a manager starts or takes over a run it must hold the run's Lease (coordination.k8s.io,
// named devicesync-run-<run>, owned by the run so it goes with it); it renews the lease while it
// executes and deletes it when the run ends or the manager stops. Another manager finds the lease held
// and waits; it takes the lease over only once the holder stopped renewing it for LeaseDuration, so a
// lost iPad is never sent Lost Mode by two managers at once. Leases run on the wall clock: they are
// about processes being alive, not about the schedule's (injectable) time.

// DefaultRunLeaseDuration is how long a run's lease stays valid without renewal.
const DefaultRunLeaseDuration = 60 * time.Second

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update;delete

// runLeases takes, renews and gives back the leases of the runs this manager executes.
type runLeases struct {
	reader   client.Reader // uncached: the manager does not list or watch leases
	client   client.Client
	identity string
	duration time.Duration
}

// newIdentity names this manager process: host name and a random suffix (two processes on one host differ).
func newIdentity() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%s", host, hex.EncodeToString(b))
}

func runLeaseName(run *dsv1.SyncRun) string { return "devicesync-run-" + run.Name }

// acquire takes run's lease. It returns the other holder's identity, with ok=false, while another
// manager holds a live lease.
func (l *runLeases) acquire(ctx context.Context, run *dsv1.SyncRun) (holder string, ok bool, err error) {
	now := metav1.NewMicroTime(time.Now())
	secs := int32(l.duration / time.Second)
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: run.Namespace, Name: runLeaseName(run)}
	err = l.reader.Get(ctx, key, &lease)
	switch {
	case apierrors.IsNotFound(err):
		lease = coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: map[string]string{dsv1.PolicyLabel: run.Labels[dsv1.PolicyLabel]}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(l.identity), LeaseDurationSeconds: ptr.To(secs),
				AcquireTime: &now, RenewTime: &now},
		}
		if err := controllerutil.SetOwnerReference(run, &lease, l.client.Scheme()); err != nil {
			return "", false, err
		}
		if err := l.client.Create(ctx, &lease); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return "another manager", false, nil // it won the race; look again on the next reconcile
			}
			return "", false, err
		}
		return l.identity, true, nil
	case err != nil:
		return "", false, err
	}
	if h := ptr.Deref(lease.Spec.HolderIdentity, ""); h != "" && h != l.identity && !leaseExpired(&lease, now.Time) {
		return h, false, nil
	}
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = ptr.To(l.identity), ptr.To(secs), &now
	lease.Spec.AcquireTime = &now
	if err := l.client.Update(ctx, &lease); err != nil { // resourceVersion: two takers, one wins
		if apierrors.IsConflict(err) {
			return "another manager", false, nil
		}
		return "", false, err
	}
	return l.identity, true, nil
}

func leaseExpired(lease *coordinationv1.Lease, now time.Time) bool {
	if lease.Spec.RenewTime == nil || lease.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return now.After(lease.Spec.RenewTime.Add(time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second))
}

// keep renews run's lease every third of its duration until the returned stop is called. If the lease is
// lost (another manager took it after this one failed to renew in time), lost is called: the execution
// must stop writing.
func (l *runLeases) keep(ctx context.Context, run *dsv1.SyncRun, lost func()) (stop func()) {
	done := make(chan struct{})
	var wg gosync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(l.duration / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !l.renew(ctx, run) {
				lost()
				return
			}
		}
	})
	var once gosync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// renew reports false only when another manager holds the lease now.
func (l *runLeases) renew(ctx context.Context, run *dsv1.SyncRun) bool {
	var lease coordinationv1.Lease
	if err := l.reader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: runLeaseName(run)}, &lease); err != nil {
		return !apierrors.IsNotFound(err) // gone: someone deleted it; a transient read error is retried next tick
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") != l.identity {
		return false
	}
	lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now()))
	if err := l.client.Update(ctx, &lease); err != nil && apierrors.IsConflict(err) {
		return false
	}
	return true
}

// release deletes run's lease if this manager holds it, so the next manager (after a restart) takes the
// run over at once instead of waiting for the lease to expire. It works on a stopping manager too.
func (l *runLeases) release(ctx context.Context, run *dsv1.SyncRun) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var lease coordinationv1.Lease
	if err := l.reader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: runLeaseName(run)}, &lease); err != nil {
		return
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") != l.identity {
		return
	}
	_ = l.client.Delete(ctx, &lease, client.Preconditions{ResourceVersion: &lease.ResourceVersion})
}
