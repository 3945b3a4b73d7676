// Package engine runs one sync: snapshot -> plan -> safety -> apply. It knows nothing about Kubernetes:
// the controller builds a Run (a policy compiled into plan.Policy, a Source, a Target, the safety limits)
// and gets a Report back.
//
// # Steps
//
//  1. Snapshot: the source (Destiny items of the policy's resource types and schools, their borrowers'
//     patron status, cached between runs, and the optional roster) and the target's whole inventory are
//     read in bulk, at the same time. No per-device read. A failed read fails the run before any write.
//  2. Plan: plan.Build, the pure decision table (see package plan).
//  3. Safety: plan.CheckBudget (empty or shrunken source, shrunken roster, maxChanges, maxClears). A plan
//     over budget is not applied: the run ends Blocked with the plan, unless Run.ApprovedDigest equals the
//     plan's digest, so an approval covers exactly the plan that was reviewed. Dry run ends here with the
//     full plan.
//  4. Apply: the changes are written with the target's concurrency. Each change is retried (once the
//     clients' own per-request retries are spent) only when the target says its error is transient and
//     safe to repeat; an MDM command that may have been sent is never repeated. One failed device never
//     stops the others. Progress is reported after every change; the caller throttles it.
//
// Applying the same plan twice makes no second change: a run that restarts re-reads both sides and
// re-plans, and a device already as desired is InSync.
package engine
