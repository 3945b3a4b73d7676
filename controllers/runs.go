package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// What both controllers know of a policy's runs: which runs are the policy's, which run is a good
// baseline for the source guards, and the one function that writes a run's status.

// policyRuns lists the runs the policy controls: selected by the policy label, then kept only when their
// controller reference is this policy's UID, so a run of another policy (or of an earlier policy of the
// same name) is never counted, superseded, replaced or pruned.
func policyRuns(ctx context.Context, c client.Reader, p *dsv1.DeviceSyncPolicy) ([]dsv1.SyncRun, error) {
	var list dsv1.SyncRunList
	if err := c.List(ctx, &list, client.InNamespace(p.Namespace), client.MatchingLabels{dsv1.PolicyLabel: policyLabelValue(p.Name)}); err != nil {
		return nil, fmt.Errorf("listing SyncRuns labelled %s=%s: %w", dsv1.PolicyLabel, policyLabelValue(p.Name), err)
	}
	var out []dsv1.SyncRun
	for _, run := range list.Items {
		if metav1.IsControlledBy(&run, p) {
			out = append(out, run)
		}
	}
	return out, nil
}

// goodRun reports whether a run is a baseline of safety.maxSourceShrink and maxRosterShrink: it
// Succeeded or PartiallyFailed, in Enforce mode, and read Destiny items. A dry run or a run that read
// nothing never becomes the baseline.
func goodRun(run *dsv1.SyncRun) bool {
	good := run.Status.Phase == dsv1.PhaseSucceeded || run.Status.Phase == dsv1.PhasePartiallyFailed
	return good && run.Status.Mode != dsv1.ModeDryRun && run.Status.Summary.DestinyItems > 0
}

// readBothSystems reports whether a finished run read Destiny and the MDM through to a plan: Blocked,
// Succeeded (dry runs too) and PartiallyFailed runs did; a Failed run did when its summary counts what
// it read (it failed while applying, or passed its timeout after planning), not when it failed before
// reading (a missing Secret, an unreachable system).
func readBothSystems(run *dsv1.SyncRun) bool {
	switch run.Status.Phase {
	case dsv1.PhaseBlocked, dsv1.PhaseSucceeded, dsv1.PhasePartiallyFailed:
		return true
	case dsv1.PhaseFailed:
		return run.Status.Summary.DestinyItems > 0 || run.Status.Summary.MDMDevices > 0
	}
	return false
}

// errReplaced says the run object is gone or is another object now (deleted and re-created under the
// same name, by kubectl replace --force or a GitOps re-sync): its execution must stop and write nothing.
var errReplaced = errors.New("the SyncRun was deleted or replaced")

// maxStatusWriteAttempts bounds the conflicts one status write retries.
const maxStatusWriteAttempts = 5

// writeRunStatus is the one writer of a run's status: start, progress and finish of an execution, and
// the policy controller superseding a Blocked run. set writes the new status onto the run as read and
// may refuse (its error is returned, nothing is written) when the run no longer allows the write. The
// patch carries the resourceVersion of that read (optimistic lock); on a conflict the run is read again,
// uncached, and set is applied to the fresh copy, up to maxStatusWriteAttempts. The same object (someone
// changed its metadata meanwhile) gets the status; another object under the same name, or none, gets
// nothing (errReplaced). On success run is the object as written.
func writeRunStatus(ctx context.Context, c client.Client, reader client.Reader, run *dsv1.SyncRun, set func(*dsv1.SyncRun) error) error {
	for attempt := 1; ; attempt++ {
		orig := run.DeepCopy()
		if err := set(run); err != nil {
			*run = *orig
			return err
		}
		err := c.Status().Patch(ctx, run, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil:
			return nil
		case apierrors.IsNotFound(err):
			return errReplaced
		case !apierrors.IsConflict(err) || attempt == maxStatusWriteAttempts:
			return fmt.Errorf("writing the status of SyncRun %s/%s: %w", run.Namespace, run.Name, err)
		}
		var fresh dsv1.SyncRun
		if err := reader.Get(ctx, client.ObjectKeyFromObject(run), &fresh); err != nil {
			if apierrors.IsNotFound(err) {
				return errReplaced
			}
			return fmt.Errorf("reading SyncRun %s/%s again after a conflict: %w", run.Namespace, run.Name, err)
		}
		if fresh.UID != orig.UID {
			return errReplaced
		}
		*run = fresh
	}
}

// maxNameLength bounds the names the controllers give runs and label values (DNS-1123 label length).
const maxNameLength = 63

// policyLabelValue is the value of the policy label on its runs: the policy name, or when that is too
// long for a label value, a prefix of it followed by 8 hex characters of its SHA-256. The label only
// selects candidates; the controller reference decides.
func policyLabelValue(policy string) string {
	if len(policy) <= maxNameLength {
		return policy
	}
	return shortened(policy, maxNameLength)
}

// shortened returns a prefix of name and 8 hex characters of name's SHA-256, at most n characters,
// ending with a letter or digit.
func shortened(name string, n int) string {
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:4])
	keep := n - len(hash) - 1
	prefix := strings.TrimRight(name[:min(keep, len(name))], "-.")
	if prefix == "" {
		return hash
	}
	return prefix + "-" + hash
}
