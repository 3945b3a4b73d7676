package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// WriteRunStatus exposes the SyncRun status writer to the black-box tests: it writes run's status onto
// the run as orig was read.
func WriteRunStatus(ctx context.Context, c client.Client, run, orig *dsv1.SyncRun) error {
	status := run.Status.DeepCopy()
	*run = *orig.DeepCopy()
	return writeRunStatus(ctx, c, c, run, func(x *dsv1.SyncRun) error {
		x.Status = *status.DeepCopy()
		return nil
	})
}

// ErrReplaced exposes errReplaced.
var ErrReplaced = errReplaced
