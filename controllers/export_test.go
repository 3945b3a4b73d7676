package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// WriteRunStatus exposes the SyncRun status write to the black-box tests.
func WriteRunStatus(ctx context.Context, c client.Client, run, orig *dsv1.SyncRun) error {
	return (&SyncRunReconciler{Client: c}).writeStatus(ctx, run, orig)
}

// ErrReplaced exposes errReplaced.
var ErrReplaced = errReplaced
