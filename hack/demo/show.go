package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// shownChanges is how many concrete changes showRun prints.
const shownChanges = 8

// showRun prints what kubectl shows, the run's counts by action and reason, and a few of its changes.
func (d *demo) showRun(ctx context.Context) error {
	kubectl := filepath.Join(d.assets, "kubectl")
	args := []string{"--kubeconfig", d.kubeconfig, "get", "devicesyncpolicies,syncruns", "-n", Namespace}
	fmt.Fprintf(d.out, "   $ kubectl get devicesyncpolicies,syncruns -n %s\n", Namespace)
	if _, err := os.Stat(kubectl); err != nil {
		d.printf("(no kubectl in %s: run hack/build-control-plane.sh to build it)", d.rel(d.assets))
	} else {
		out, err := exec.CommandContext(ctx, kubectl, args...).CombinedOutput()
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			fmt.Fprintf(d.out, "   %s\n", line)
		}
		if err != nil {
			return fmt.Errorf("kubectl get: %w", err)
		}
	}

	r := d.syncRun
	st := r.Status
	s := st.Summary
	fmt.Fprintln(d.out)
	d.printf("SyncRun %s: %s (mode %s) in %s", r.Name, st.Phase, st.Mode, runDuration(r))
	d.printf("read %d Destiny items and %d %s devices; matched %d, in sync %d, changed %d, failed %d, skipped %d",
		s.DestinyItems, s.MDMDevices, d.targetName(), s.Matched, s.InSync, s.Changed, s.Failed, s.Skipped)
	d.printf("by action: %s", countsLine(toInt(s.ByAction), ""))
	d.printf("by reason: %s", countsLine(toInt(s.ByReason), ""))
	d.printf("API calls: %s", d.apiCalls())
	if st.Blocked != nil {
		d.printf("blocked (%s): %s", st.Blocked.Reason, st.Blocked.Message)
	}
	for i, e := range st.Errors {
		if i == 5 {
			d.printf("... and %d more errors", len(st.Errors)-i)
			break
		}
		d.printf("error %s %s: %s", e.Serial, e.Reason, e.Message)
	}

	picked := pickChanges(st.Changes, shownChanges)
	if len(picked) == 0 {
		return nil
	}
	fmt.Fprintln(d.out)
	d.printf("%d of its changes (status.changes lists %d, the manager's log all of them):", len(picked), len(st.Changes))
	for _, c := range picked {
		line := fmt.Sprintf("%-14s %-17s %s", c.Serial, c.Action, c.Result)
		if c.Message != "" {
			line += " (" + c.Message + ")"
		}
		d.printf("%s", line)
		for _, f := range c.Fields {
			d.printf("    %-10s %s -> %s", f.Field, quote(f.Old), quote(f.New))
		}
	}
	return nil
}

// pickChanges returns up to n changes, one of each action first (in the order they appear), then the
// next ones in order, so that the few shown cover what the run did.
func pickChanges(all []dsv1.Change, n int) []dsv1.Change {
	var out []dsv1.Change
	taken := make([]bool, len(all))
	seen := map[string]bool{}
	for i, c := range all {
		if len(out) == n {
			return out
		}
		if !seen[c.Action] {
			seen[c.Action], taken[i] = true, true
			out = append(out, c)
		}
	}
	for i, c := range all {
		if len(out) == n {
			break
		}
		if !taken[i] {
			out = append(out, c)
		}
	}
	return out
}

func quote(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsAny(s, " ,") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func runDuration(r *dsv1.SyncRun) string {
	if r.Status.StartTime == nil || r.Status.CompletionTime == nil {
		return "?"
	}
	if d := r.Status.CompletionTime.Sub(r.Status.StartTime.Time); d > 0 {
		return d.String()
	}
	return "under a second" // the API's times are whole seconds
}

func toInt(m map[string]int32) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v)
	}
	return out
}

// countsLine is "A 12, B 7, C 7" sorted by count (largest first) then name, leaving out skip.
func countsLine(m map[string]int, skip string) string {
	type kv struct {
		k string
		v int
	}
	var list []kv
	for k, v := range m {
		if k != skip && v != 0 {
			list = append(list, kv{k, v})
		}
	}
	if len(list) == 0 {
		return "none"
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k < list[j].k
	})
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.v)
	}
	return strings.Join(parts, ", ")
}

// apiCalls counts the calls each simulator served; writes are those neither GET nor authentication.
func (d *demo) apiCalls() string {
	type sim struct {
		name  string
		calls map[string]int
	}
	sims := []sim{{"Destiny", d.destiny.Sim().Calls()}}
	if d.pro != nil {
		sims = append(sims, sim{"Jamf Pro", d.pro.HTTP().Calls()})
	}
	if d.school != nil {
		sims = append(sims, sim{"Jamf School", d.school.Calls()})
	}
	var parts []string
	for _, s := range sims {
		total, writes := 0, 0
		for pattern, n := range s.calls {
			total += n
			if !strings.HasPrefix(pattern, "GET ") && !strings.Contains(pattern, "auth") && !strings.Contains(pattern, "token") {
				writes += n
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d (%d writes)", s.name, total, writes))
	}
	return strings.Join(parts, ", ")
}

// verify says whether the run ended as expected: Succeeded and, for Jamf Pro, every simulated device
// in the state the district's oracle gives; for Jamf School, the roster checks of jamfSchoolOutcome.
func (d *demo) verify() Outcome {
	st := d.syncRun.Status
	fmt.Fprintln(d.out)
	var out Outcome
	if d.cfg.Target == TargetJamfSchool {
		ownerDiffs, owned := d.ownerDiffs()
		f := rosterFacts{Run: d.syncRun, SecondRun: d.second, Diffs: compareRoster(d.rosterExp, d.afterFirst), OwnerDiffs: ownerDiffs,
			ASMClasses: len(d.rosterExp.ASM), SecondRunRosterWrite: d.rosterWritesSecond}
		if n := st.Summary.ByReason["UnsupportedByTarget"]; n > 0 {
			d.printf("UnsupportedByTarget: %d. Jamf School's API cannot rename a device or enable Lost Mode, so the run reports", n)
			d.printf("those differences instead of faking them.")
		}
		skipped := countsLine(countValues(d.rosterExp.Skipped), "")
		if len(f.Diffs) == 0 {
			d.printf("Jamf School roster: %d users and %d classes as expected, ASM-managed classes untouched: %d; people skipped: %s",
				len(d.rosterExp.Users), len(d.rosterExp.Classes), len(d.rosterExp.ASM), skipped)
		} else {
			d.printf("Jamf School roster: %d differences from the roster; the first:", len(f.Diffs))
			for i, w := range f.Diffs {
				if i == 5 {
					break
				}
				d.printf("  %s", w)
			}
		}
		d.printf("new students' iPads with their new user as owner: %d of %d students", owned, len(d.absent))
		return jamfSchoolOutcome(f)
	}

	wrong := d.jamfProDifferences()
	total := len(d.district.Devices)
	if len(wrong) == 0 {
		d.printf("Jamf state: %d of %d devices as expected", total, total)
	} else {
		d.printf("Jamf state: %d of %d devices as expected; the first differences:", total-len(wrong), total)
		for i, w := range wrong {
			if i == 5 {
				break
			}
			d.printf("  %s", w)
		}
	}
	switch {
	case st.Phase != dsv1.PhaseSucceeded:
		out = Outcome{Reason: fmt.Sprintf("SyncRun %s ended %s, not Succeeded", d.syncRun.Name, st.Phase)}
	case len(wrong) > 0:
		out = Outcome{Reason: fmt.Sprintf("%d of %d Jamf Pro devices are not in the expected state", len(wrong), total)}
	default:
		out = Outcome{OK: true, Reason: fmt.Sprintf("SyncRun %s Succeeded, %d of %d Jamf Pro devices as expected", d.syncRun.Name, total, total)}
	}
	return out
}

// jamfProDifferences compares every simulated Jamf Pro device with district.ExpectedJamfPro.
func (d *demo) jamfProDifferences() []string { return d.pro.Differences(d.district) }

// printHowToLookAround says how to point kubectl and curl at the running demo.
func (d *demo) printHowToLookAround() {
	d.heading("Look around (Ctrl-C stops everything)")
	kubectl := d.rel(filepath.Join(d.assets, "kubectl"))
	d.printf("export KUBECONFIG=$PWD/%s", d.rel(d.kubeconfig))
	bin := filepath.Dir(kubectl)
	if !filepath.IsAbs(bin) {
		bin = "$PWD/" + bin
	}
	d.printf("export PATH=%s:$PATH   # the kubectl built with the control plane", bin)
	d.printf("kubectl get devicesyncpolicies,syncruns -n %s", Namespace)
	d.printf("kubectl describe syncrun %s -n %s", d.syncRun.Name, Namespace)
	d.printf("kubectl get syncrun %s -n %s -o jsonpath='{.status.summary}'", d.syncRun.Name, Namespace)
	if d.cfg.Target == TargetJamfSchool {
		d.printf("kubectl get syncrun %s -n %s -o jsonpath='{.status.roster.byAction}{\"\\n\"}{.status.roster.byReason}{\"\\n\"}'", d.syncRun.Name, Namespace)
		d.printf("kubectl explain devicesyncpolicy.spec.roster")
	}
	d.printf("kubectl annotate devicesyncpolicy %s -n %s --overwrite %s=$(date +%%s)   # another run", PolicyName, Namespace, dsv1.RunNowAnnotation)
	if d.cfg.MetricsAddr != "0" {
		port := d.cfg.MetricsAddr[strings.LastIndex(d.cfg.MetricsAddr, ":")+1:]
		d.printf("curl -s localhost:%s/metrics | grep devicesync_", port)
	}
	d.printf("manager log (errors only): %s", d.rel(d.logPath))
}
