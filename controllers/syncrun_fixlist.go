package controllers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// The per-school fix list: the skips a person at a school can fix, with what to do, so the librarians
// and technicians who can fix them (and who do not run kubectl) get a list per school. The counts go in
// the run's status.schools; the complete list goes in a ConfigMap owned by the run, as CSV.

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=create;update

// FixListKey is the ConfigMap data key of the CSV.
const FixListKey = "fixlist.csv"

// fixListMaxBytes keeps the ConfigMap well under the 1 MiB object limit.
const fixListMaxBytes = 900 << 10

// noSite groups MDM devices that belong to no Destiny item.
const noSite = "-"

// whatToDo is what a person does about each skip reason a person can fix. Reasons not listed are the
// policy working as designed (a site or resource type the policy does not cover, a status with no rule,
// a field the MDM cannot write) and are not on the fix list.
var whatToDo = map[string]string{
	plan.ReasonNoSerial:            "Destiny: enter the iPad's serial number on this item (the serialNumber field, or the item field the policy names)",
	plan.ReasonNotInJamf:           "enrol the iPad in Jamf, or correct the serial number in Destiny if it was mistyped",
	plan.ReasonUnmanaged:           "re-enrol the iPad in Jamf: it is listed but not managed",
	plan.ReasonUnsupervised:        "re-enrol the iPad through Automated Device Enrollment so that it is supervised",
	plan.ReasonDuplicateSerial:     "the serial number is on two Destiny items or two Jamf devices: correct or remove the extra record",
	plan.ReasonNotInDestiny:        "add the iPad to Destiny as an item of the policy's resource types, or retire it in Jamf",
	plan.ReasonUnreadable:          "Jamf could not return this device's data: open it in Jamf and update its inventory",
	plan.ReasonNoBorrower:          "Destiny shows the item checked out without a borrower: check its circulation record",
	plan.ReasonPatronLookupFailed:  "Destiny could not look the borrower up: check that the patron record exists and is assigned to a site",
	plan.ReasonNoRuleForPatronType: "the borrower's patron type is neither a student nor a teacher type of the policy: correct the patron type",
	plan.ReasonTemplateError:       "a naming or field rule could not be rendered for this device: correct the data the message names",
	plan.ReasonNoUsername:          "the student has no username in the roster and no email in Destiny: add one in the SIS",
	plan.ReasonNotInRoster:         "the student is not in the roster: check the SIS export the roster comes from",
}

// holderToDo is what a person does about a device still checked out to an inactive student.
const holderToDo = "the student is inactive in Destiny but still has this iPad checked out: collect it and check it in (with lostMode.withdrawnAfter set, the iPad goes into Lost Mode once that time has passed)"

// fixList computes the per-school counts and the CSV rows of a plan's skips and of the devices still
// held by inactive students.
func fixList(skips []plan.Skip, holders []plan.Holder) (schools []dsv1.SchoolFixes, csvBody []byte, rows, omitted int) {
	var list []plan.Skip
	for _, sk := range skips {
		if _, ok := whatToDo[sk.Reason]; ok {
			list = append(list, sk)
		}
	}
	for _, h := range holders {
		msg := fmt.Sprintf("checked out to inactive student %s, first seen so %s", h.DistrictID, h.FirstSeen.UTC().Format(time.RFC3339))
		if h.LostModeDue {
			msg += "; Lost Mode is due"
		}
		list = append(list, plan.Skip{Serial: h.Serial, ItemID: h.ItemID, DeviceKey: h.DeviceKey, Site: h.Site, Barcode: h.Barcode,
			Reason: plan.ReasonHeldByInactiveStudent, Message: msg})
	}
	site := func(sk plan.Skip) string { return cmp.Or(sk.Site, noSite) }
	slices.SortStableFunc(list, func(a, b plan.Skip) int {
		return cmp.Or(cmp.Compare(site(a), site(b)), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Serial, b.Serial),
			cmp.Compare(a.Barcode, b.Barcode), cmp.Compare(a.ItemID, b.ItemID), cmp.Compare(a.DeviceKey, b.DeviceKey))
	})
	bySite := map[string]*dsv1.SchoolFixes{}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"site", "serial", "barcode", "item", "device", "reason", "problem", "what to do"})
	for _, sk := range list {
		sf := bySite[site(sk)]
		if sf == nil {
			sf = &dsv1.SchoolFixes{Site: site(sk), ByReason: map[string]int32{}}
			bySite[sf.Site] = sf
		}
		sf.ToFix++
		sf.ByReason[sk.Reason]++
		if buf.Len() > fixListMaxBytes {
			omitted++
			continue
		}
		serial := cmp.Or(sk.Serial, sk.RawSerial)
		todo := whatToDo[sk.Reason]
		if sk.Reason == plan.ReasonHeldByInactiveStudent {
			todo = holderToDo
		}
		_ = w.Write([]string{site(sk), serial, sk.Barcode, sk.ItemID, sk.DeviceKey, sk.Reason, truncateRunes(sk.Message, 300), todo})
		w.Flush()
		rows++
	}
	w.Flush()
	for _, sf := range bySite {
		schools = append(schools, *sf)
	}
	slices.SortFunc(schools, func(a, b dsv1.SchoolFixes) int { return cmp.Compare(a.Site, b.Site) })
	return schools, buf.Bytes(), rows, omitted
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// writeFixList publishes the run's fix list: the counts in st, the CSV in the run's ConfigMap. A failure
// to write the ConfigMap is returned (the status is still written by the caller without fixList).
func (r *SyncRunReconciler) writeFixList(ctx context.Context, s *runScope, st *dsv1.SyncRunStatus) error {
	schools, body, rows, omitted := fixList(s.report.Plan.Skips, s.report.Plan.Holders)
	st.Schools, st.FixList = schools, nil
	if len(schools) > 500 { // status.schools is bounded; the ConfigMap holds them all
		st.Schools = schools[:500]
	}
	run := s.run
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: run.Namespace, Name: fixListName(run.Name)}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels[dsv1.PolicyLabel] = run.Labels[dsv1.PolicyLabel]
		cm.Labels[FixListLabel] = "true"
		cm.Data = map[string]string{FixListKey: string(body)}
		return controllerutil.SetControllerReference(run, cm, r.Scheme)
	})
	if err != nil {
		return err
	}
	st.FixList = &dsv1.FixListReference{ConfigMap: cm.Name, Key: FixListKey, Rows: int32(rows), Omitted: int32(omitted)}
	return nil
}

// FixListLabel marks the fix-list ConfigMaps (kubectl get configmaps -l devicesync.k12.dev/fixlist=true).
const FixListLabel = "devicesync.k12.dev/fixlist"

// fixListName is the run's name with -fixlist, within the 253 characters of a name.
func fixListName(run string) string {
	const suffix = "-fixlist"
	if len(run)+len(suffix) > 253 {
		run = run[:253-len(suffix)]
	}
	return run + suffix
}
