package argocd_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// update rewrites overlay/argocd-cm-patch.yaml from the Lua files: go test ./config/argocd -run ConfigMap -update
var update = flag.Bool("update", false, "rewrite overlay/argocd-cm-patch.yaml from the Lua files")

const (
	group         = "devicesync.k12.dev"
	customRoot    = "resource_customizations"
	cmPatchPath   = "overlay/argocd-cm-patch.yaml"
	runNowKey     = "devicesync.k12.dev/run-now"
	policyHealth  = customRoot + "/" + group + "/DeviceSyncPolicy/health.lua"
	syncRunHealth = customRoot + "/" + group + "/SyncRun/health.lua"
	policyActions = customRoot + "/" + group + "/DeviceSyncPolicy/actions"
)

// clock is the time the Lua os.date of the test harness reports.
var clock = time.Date(2026, time.November, 23, 9, 5, 7, 0, time.UTC)

// health is what a health.lua returns, as Argo CD decodes it.
type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// argoHealthStatuses are the statuses Argo CD accepts from a health script; any other becomes Unknown.
var argoHealthStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// newArgoState builds a Lua state like Argo CD's util/lua VM for argocd-cm customizations (useOpenLibs
// false): only the package, base and table libraries, and a safe os (time, date) reachable through
// require("os") only; no string, math or io library. A script that works here works in Argo CD.
func newArgoState(t *testing.T, obj map[string]any) *lua.LState {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	t.Cleanup(l.Close)
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			t.Fatalf("open Lua library %s: %v", lib.name, err)
		}
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{"date": osDate, "time": osTime}))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // Argo CD's limit
	t.Cleanup(cancel)
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj))
	return l
}

// osDate is Argo CD's safe os.date for the formats the scripts use, on the test clock.
func osDate(l *lua.LState) int {
	now := clock.Local()
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
	}
	if strings.HasPrefix(format, "!") {
		now, format = clock.UTC(), format[1:]
	}
	layouts := map[byte]string{'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'H': "15", 'M': "04", 'S': "05", 'X': "15:04:05"}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) {
			if layout, ok := layouts[format[i+1]]; ok {
				b.WriteString(now.Format(layout))
				i++
				continue
			}
		}
		b.WriteByte(format[i])
	}
	l.Push(lua.LString(b.String()))
	return 1
}

func osTime(l *lua.LState) int {
	l.Push(lua.LNumber(clock.Unix()))
	return 1
}

// decodeValue converts an unstructured object to Lua values as Argo CD's util/lua decodeValue does.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// encodeValue converts a Lua value back to JSON-like Go values. A Lua table is an array when its keys
// are 1..n; an empty table takes the shape of hint (the value before the script ran), as Argo CD's
// cleanReturnedObj restores empty objects that Lua cannot tell from empty arrays.
func encodeValue(t *testing.T, v lua.LValue, hint any) any {
	t.Helper()
	switch v := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		return string(v)
	case *lua.LTable:
		if n := v.MaxN(); n > 0 && n == countKeys(v) {
			hints, _ := hint.([]any)
			out := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				var h any
				if i-1 < len(hints) {
					h = hints[i-1]
				}
				out = append(out, encodeValue(t, v.RawGetInt(i), h))
			}
			return out
		}
		if countKeys(v) == 0 {
			if _, ok := hint.(map[string]any); ok {
				return map[string]any{}
			}
			return []any{}
		}
		hints, _ := hint.(map[string]any)
		out := map[string]any{}
		v.ForEach(func(key, value lua.LValue) {
			k, ok := key.(lua.LString)
			if !ok {
				t.Fatalf("Lua table mixes array and object keys (key %v)", key)
			}
			out[string(k)] = encodeValue(t, value, hints[string(k)])
		})
		return out
	}
	t.Fatalf("Lua returned a %s, which has no JSON form", v.Type())
	return nil
}

func countKeys(tbl *lua.LTable) int {
	n := 0
	tbl.ForEach(func(lua.LValue, lua.LValue) { n++ })
	return n
}

// run executes script with the global obj and returns what it returned, converted back to Go.
func run(t *testing.T, script string, obj map[string]any) any {
	t.Helper()
	l := newArgoState(t, obj)
	if err := l.DoString(script); err != nil {
		t.Fatalf("Lua script failed: %v", err)
	}
	ret := l.Get(-1)
	if ret.Type() != lua.LTTable {
		t.Fatalf("Lua script returned a %s, Argo CD expects a table", ret.Type())
	}
	return encodeValue(t, ret, obj)
}

func runHealth(t *testing.T, script string, obj map[string]any) health {
	t.Helper()
	b, err := json.Marshal(run(t, script, obj))
	if err != nil {
		t.Fatal(err)
	}
	var h health
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("health script returned %s, not {status, message}: %v", b, err)
	}
	if !slices.Contains(argoHealthStatuses, h.Status) {
		t.Fatalf("health script returned status %q, which Argo CD turns into Unknown", h.Status)
	}
	return h
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// toMap is the object as the API server serves it (JSON field names of the real API types).
func toMap(t *testing.T, obj any) map[string]any {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func cond(typ string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message,
		LastTransitionTime: metav1.NewTime(clock.Add(-time.Hour))}
}

func timeAt(s string) *metav1.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	mt := metav1.NewTime(tm)
	return &mt
}

func policy(t *testing.T, generation int64, mutate func(*dsv1.DeviceSyncPolicy)) map[string]any {
	t.Helper()
	p := &dsv1.DeviceSyncPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "devicesync.k12.dev/v1alpha1", Kind: "DeviceSyncPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "lincoln-ipads", Namespace: "lincoln", Generation: generation},
		Spec: dsv1.DeviceSyncPolicySpec{
			Schedule: dsv1.Schedule{TimeZone: "America/Chicago", Every: "1h"},
			Source: dsv1.Source{Destiny: dsv1.DestinySource{URL: "https://destiny.lincoln.k12.example",
				CredentialsSecretRef: dsv1.SecretReference{Name: "destiny-api"}, ResourceTypes: []string{"iPad"}}},
			Target: dsv1.Target{JamfPro: &dsv1.JamfProTarget{URL: "https://lincoln.jamfcloud.com",
				CredentialsSecretRef: dsv1.SecretReference{Name: "jamf-pro-api"}}},
			Schools: []dsv1.SchoolMapping{{Site: "LHS", Building: "Lincoln High School"}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return toMap(t, p)
}

func TestPolicyHealth(t *testing.T) {
	script := readFile(t, policyHealth)
	const next = "2026-11-23T11:40:00Z"
	ready := func(p *dsv1.DeviceSyncPolicy) {
		p.Status.ObservedGeneration = p.Generation
		p.Status.NextScheduleTime = timeAt(next)
		p.Status.Conditions = []metav1.Condition{
			cond(dsv1.ConditionReady, metav1.ConditionTrue, "Ready", "Destiny and Jamf Pro reachable and authorised"),
			cond(dsv1.ConditionReconciling, metav1.ConditionFalse, "Idle", ""),
			cond(dsv1.ConditionStalled, metav1.ConditionFalse, "Idle", ""),
		}
	}
	lastRun := func(phase dsv1.SyncRunPhase, message string) func(*dsv1.DeviceSyncPolicy) {
		return func(p *dsv1.DeviceSyncPolicy) {
			ready(p)
			p.Status.LastRunResult = phase
			p.Status.History = []dsv1.RunResult{
				{Name: "lincoln-ipads-20261123-1040", Phase: phase, Message: message},
				{Name: "lincoln-ipads-20261123-0940", Phase: dsv1.PhaseSucceeded},
			}
		}
	}
	observed := func(generation int64, conditions ...metav1.Condition) func(*dsv1.DeviceSyncPolicy) {
		return func(p *dsv1.DeviceSyncPolicy) {
			p.Status.ObservedGeneration = generation
			p.Status.Conditions = conditions
		}
	}
	notReady := cond(dsv1.ConditionReady, metav1.ConditionFalse, "SecretNotFound", `Secret "destiny-api" not found in namespace lincoln`)
	cases := []struct {
		name       string
		generation int64
		mutate     func(*dsv1.DeviceSyncPolicy)
		want       health
	}{
		{
			name: "a policy the controller has not seen (no status) is Progressing", generation: 1,
			want: health{"Progressing", "Waiting for the controller to observe generation 1"},
		},
		{
			name: "an observedGeneration behind metadata.generation is Progressing even when Ready", generation: 3,
			mutate: func(p *dsv1.DeviceSyncPolicy) { ready(p); p.Status.ObservedGeneration = 2 },
			want:   health{"Progressing", "Waiting for the controller to observe generation 3"},
		},
		{
			name: "a suspend the controller has not observed yet is Progressing, not Suspended", generation: 4,
			mutate: func(p *dsv1.DeviceSyncPolicy) { ready(p); p.Status.ObservedGeneration = 3; p.Spec.Suspend = true },
			want:   health{"Progressing", "Waiting for the controller to observe generation 4"},
		},
		{
			name: "a suspended policy is Suspended", generation: 2,
			mutate: func(p *dsv1.DeviceSyncPolicy) { ready(p); p.Spec.Suspend = true },
			want:   health{"Suspended", "Scheduled runs are suspended (spec.suspend); manual runs still execute"},
		},
		{
			name: "a suspended policy that is not Ready is Suspended and says why it is not Ready", generation: 2,
			mutate: func(p *dsv1.DeviceSyncPolicy) { observed(2, notReady)(p); p.Spec.Suspend = true },
			want: health{"Suspended", "Scheduled runs are suspended (spec.suspend); manual runs still execute. " +
				`Not ready: SecretNotFound: Secret "destiny-api" not found in namespace lincoln`},
		},
		{
			name: "Stalled=True is Degraded with the Stalled reason and message, before Ready=False", generation: 2,
			mutate: observed(2,
				cond(dsv1.ConditionReady, metav1.ConditionFalse, "InvalidTemplate", "naming.student does not parse"),
				cond(dsv1.ConditionStalled, metav1.ConditionTrue, "InvalidTemplate", `naming.student: template: student:1: function "shout" not defined`)),
			want: health{"Degraded", `InvalidTemplate: naming.student: template: student:1: function "shout" not defined`},
		},
		{
			name: "Ready=False is Degraded with its reason and message", generation: 2,
			mutate: observed(2, notReady),
			want:   health{"Degraded", `SecretNotFound: Secret "destiny-api" not found in namespace lincoln`},
		},
		{
			name: "Ready=False with an empty message is Degraded with its reason", generation: 2,
			mutate: observed(2, cond(dsv1.ConditionReady, metav1.ConditionFalse, "JamfUnreachable", "")),
			want:   health{"Degraded", "JamfUnreachable"},
		},
		{
			name: "Ready=False wins over Reconciling=True", generation: 2,
			mutate: observed(2, notReady, cond(dsv1.ConditionReconciling, metav1.ConditionTrue, "CheckingConnections", "Checking Destiny and Jamf Pro")),
			want:   health{"Degraded", `SecretNotFound: Secret "destiny-api" not found in namespace lincoln`},
		},
		{
			name: "Reconciling=True is Progressing with its reason and message", generation: 2,
			mutate: observed(2, cond(dsv1.ConditionReconciling, metav1.ConditionTrue, "CheckingConnections", "Checking Destiny and Jamf Pro")),
			want:   health{"Progressing", "CheckingConnections: Checking Destiny and Jamf Pro"},
		},
		{
			name: "an observed policy without a Ready condition is Progressing", generation: 2,
			mutate: observed(2),
			want:   health{"Progressing", "Waiting for the Ready condition"},
		},
		{
			name: "Ready=Unknown is Progressing", generation: 2,
			mutate: observed(2, cond(dsv1.ConditionReady, metav1.ConditionUnknown, "Checking", "Contacting Destiny")),
			want:   health{"Progressing", "Ready is Unknown: Checking: Contacting Destiny"},
		},
		{
			name: "a Ready policy with no finished run is Healthy and gives the next run", generation: 2,
			mutate: ready,
			want:   health{"Healthy", "Ready; no run has finished yet; next run " + next},
		},
		{
			name: "a Ready policy whose last run succeeded is Healthy and names the run", generation: 2,
			mutate: lastRun(dsv1.PhaseSucceeded, ""),
			want:   health{"Healthy", "Ready; last run Succeeded (lincoln-ipads-20261123-1040); next run " + next},
		},
		{
			name: "a Ready policy whose last run failed is still Healthy and says why the run failed", generation: 2,
			mutate: lastRun(dsv1.PhaseFailed, "Destiny answered 503 Service Unavailable"),
			want: health{"Healthy", "Ready; last run Failed (lincoln-ipads-20261123-1040): " +
				"Destiny answered 503 Service Unavailable; next run " + next},
		},
		{
			name: "a Ready policy whose last run partially failed is still Healthy and says so", generation: 2,
			mutate: lastRun(dsv1.PhasePartiallyFailed, "3 of 40 changes failed"),
			want: health{"Healthy", "Ready; last run PartiallyFailed (lincoln-ipads-20261123-1040): " +
				"3 of 40 changes failed; next run " + next},
		},
		{
			name: "a Ready policy whose last run is Blocked is Healthy and says the run waits for approval", generation: 2,
			mutate: lastRun(dsv1.PhaseBlocked, "the plan changes 900 of 1200 devices, over safety.maxChanges 25%"),
			want: health{"Healthy", "Ready; last run Blocked (lincoln-ipads-20261123-1040): the plan changes 900 of 1200 " +
				"devices, over safety.maxChanges 25%; the run waits for approval; next run " + next},
		},
		{
			name: "a Ready policy without a next slot leaves the next run out", generation: 2,
			mutate: func(p *dsv1.DeviceSyncPolicy) { lastRun(dsv1.PhaseSucceeded, "")(p); p.Status.NextScheduleTime = nil },
			want:   health{"Healthy", "Ready; last run Succeeded (lincoln-ipads-20261123-1040)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runHealth(t, script, policy(t, tc.generation, tc.mutate))
			if got != tc.want {
				t.Errorf("health\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func syncRun(t *testing.T, mutate func(*dsv1.SyncRun)) map[string]any {
	t.Helper()
	r := &dsv1.SyncRun{
		TypeMeta: metav1.TypeMeta{APIVersion: "devicesync.k12.dev/v1alpha1", Kind: "SyncRun"},
		ObjectMeta: metav1.ObjectMeta{Name: "lincoln-ipads-20261123-1140", Namespace: "lincoln", Generation: 1,
			Labels: map[string]string{dsv1.PolicyLabel: "lincoln-ipads"}},
		Spec: dsv1.SyncRunSpec{PolicyRef: dsv1.LocalObjectReference{Name: "lincoln-ipads"},
			Trigger: dsv1.TriggerScheduled, ScheduledTime: timeAt("2026-11-23T11:40:00Z")},
	}
	if mutate != nil {
		mutate(r)
	}
	return toMap(t, r)
}

func TestSyncRunHealth(t *testing.T) {
	script := readFile(t, syncRunHealth)
	phase := func(p dsv1.SyncRunPhase, more ...func(*dsv1.SyncRun)) func(*dsv1.SyncRun) {
		return func(r *dsv1.SyncRun) {
			r.Status.ObservedGeneration = r.Generation
			r.Status.Phase = p
			r.Status.Mode = dsv1.ModeEnforce
			for _, m := range more {
				m(r)
			}
		}
	}
	progress := func(done, total int32) func(*dsv1.SyncRun) {
		return func(r *dsv1.SyncRun) { r.Status.Progress = dsv1.Progress{Done: done, Total: total} }
	}
	summary := func(changed, failed, inSync, skipped int32) func(*dsv1.SyncRun) {
		return func(r *dsv1.SyncRun) {
			r.Status.Summary = dsv1.RunSummary{Changed: changed, Failed: failed, InSync: inSync, Skipped: skipped}
		}
	}
	errs := func(messages ...string) func(*dsv1.SyncRun) {
		return func(r *dsv1.SyncRun) {
			for _, m := range messages {
				r.Status.Errors = append(r.Status.Errors, dsv1.RunError{Serial: "DMPXK2ABCD12", Reason: "JamfRejected", Message: m})
			}
		}
	}
	conditions := func(c ...metav1.Condition) func(*dsv1.SyncRun) {
		return func(r *dsv1.SyncRun) { r.Status.Conditions = c }
	}
	blocked := func(r *dsv1.SyncRun) {
		r.Status.Blocked = &dsv1.BlockedDetail{Reason: "ChangeBudgetExceeded",
			Message:    "the plan changes 900 of 1200 matched devices (75%), over safety.maxChanges 25%",
			PlanDigest: "sha256-3f9a0c"}
	}
	const failedMessage = "Destiny refused the client credentials (401 Unauthorized) at https://destiny.lincoln.k12.example"
	const approve = ". Nothing was written. Review the plan, then approve it with: " +
		"kubectl -n lincoln annotate syncrun lincoln-ipads-20261123-1140 devicesync.k12.dev/approve="
	cases := []struct {
		name   string
		mutate func(*dsv1.SyncRun)
		want   health
	}{
		{
			name: "a run the controller has not seen (no status) is Progressing",
			want: health{"Progressing", "Waiting for the controller to observe generation 1"},
		},
		{
			name:   "an observedGeneration behind metadata.generation is Progressing whatever the phase",
			mutate: func(r *dsv1.SyncRun) { phase(dsv1.PhaseSucceeded)(r); r.Generation = 2 },
			want:   health{"Progressing", "Waiting for the controller to observe generation 2"},
		},
		{
			name:   "an observed run without a phase is Pending",
			mutate: func(r *dsv1.SyncRun) { r.Status.ObservedGeneration = 1 },
			want:   health{"Progressing", "Pending: waiting to start"},
		},
		{
			name:   "Pending is Progressing",
			mutate: phase(dsv1.PhasePending),
			want:   health{"Progressing", "Pending: waiting to start"},
		},
		{
			name:   "Running before the plan is known is Progressing without counts",
			mutate: phase(dsv1.PhaseRunning),
			want:   health{"Progressing", "Running: reading Destiny and the MDM and planning"},
		},
		{
			name:   "Running with progress is Progressing with done of total",
			mutate: phase(dsv1.PhaseRunning, progress(120, 400)),
			want:   health{"Progressing", "Running: 120 of 400 changes applied"},
		},
		{
			name:   "Running with nothing done yet counts 0 (done is omitted when zero)",
			mutate: phase(dsv1.PhaseRunning, progress(0, 400)),
			want:   health{"Progressing", "Running: 0 of 400 changes applied"},
		},
		{
			name:   "Succeeded is Healthy with its counts",
			mutate: phase(dsv1.PhaseSucceeded, progress(37, 37), summary(37, 0, 1200, 14)),
			want:   health{"Healthy", "Succeeded: 37 changed, 1200 in sync, 14 skipped"},
		},
		{
			name:   "Succeeded with nothing to do is Healthy with zero counts",
			mutate: phase(dsv1.PhaseSucceeded),
			want:   health{"Healthy", "Succeeded: 0 changed, 0 in sync, 0 skipped"},
		},
		{
			name:   "a Succeeded dry run is Healthy and says nothing was written",
			mutate: phase(dsv1.PhaseSucceeded, summary(37, 0, 1200, 14), func(r *dsv1.SyncRun) { r.Status.Mode = dsv1.ModeDryRun }),
			want:   health{"Healthy", "Dry run succeeded: 37 changes planned, nothing written"},
		},
		{
			name:   "PartiallyFailed is Degraded with failed of planned changes and the first error",
			mutate: phase(dsv1.PhasePartiallyFailed, progress(40, 40), summary(37, 3, 1200, 14), errs("Jamf Pro answered 409 Conflict", "second")),
			want:   health{"Degraded", "3 of 40 changes failed; first error: Jamf Pro answered 409 Conflict"},
		},
		{
			name:   "PartiallyFailed without errors listed is Degraded with the counts",
			mutate: phase(dsv1.PhasePartiallyFailed, progress(40, 40), summary(37, 3, 1200, 14)),
			want:   health{"Degraded", "3 of 40 changes failed"},
		},
		{
			name:   "PartiallyFailed without progress counts the changed and failed devices",
			mutate: phase(dsv1.PhasePartiallyFailed, summary(37, 3, 1200, 14)),
			want:   health{"Degraded", "3 of 40 changes failed"},
		},
		{
			name: "Failed is Degraded with the Failed condition's message",
			mutate: phase(dsv1.PhaseFailed, errs("a device error"), conditions(
				cond(dsv1.ConditionComplete, metav1.ConditionFalse, "Failed", ""),
				cond(dsv1.ConditionFailed, metav1.ConditionTrue, "DestinyUnauthorized", failedMessage))),
			want: health{"Degraded", failedMessage},
		},
		{
			name:   "Failed without a Failed condition is Degraded with the first error",
			mutate: phase(dsv1.PhaseFailed, errs(failedMessage)),
			want:   health{"Degraded", failedMessage},
		},
		{
			name:   "Failed with nothing recorded is Degraded with a generic message",
			mutate: phase(dsv1.PhaseFailed),
			want:   health{"Degraded", "Run failed"},
		},
		{
			name: "Blocked is Suspended with the reason and the exact approve command",
			mutate: phase(dsv1.PhaseBlocked, blocked, conditions(
				cond(dsv1.ConditionBlocked, metav1.ConditionTrue, "ChangeBudgetExceeded", "over budget"))),
			want: health{"Suspended", "Blocked (ChangeBudgetExceeded): the plan changes 900 of 1200 matched devices (75%), " +
				"over safety.maxChanges 25%" + approve + "sha256-3f9a0c --overwrite"},
		},
		{
			name:   "Blocked without details is Suspended and names the field that holds the digest",
			mutate: phase(dsv1.PhaseBlocked),
			want:   health{"Suspended", "Blocked" + approve + "<status.blocked.planDigest> --overwrite"},
		},
		{
			name:   "a phase this script does not know is Unknown and named",
			mutate: phase("Exploded"),
			want:   health{"Unknown", "Unknown phase Exploded"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runHealth(t, script, syncRun(t, tc.mutate))
			if got != tc.want {
				t.Errorf("health\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestTheHarnessHasArgoCDsRestrictedLibraries(t *testing.T) {
	cases := []struct {
		name    string
		script  string
		wantErr bool
	}{
		{"the string library is absent", `return {status = string.upper("x")}`, true},
		{"string methods are absent", `local s = "x"; return {status = s:upper()}`, true},
		{"the math library is absent", `return {status = math.floor(1)}`, true},
		{"io is absent", `return {status = io.read()}`, true},
		{"os is not a global", `return {status = os.date()}`, true},
		{"os.date is reachable through require", `local os = require("os"); return {status = os.date("!%Y")}`, false},
		{"os.exit is absent from the safe os", `local os = require("os"); os.exit(1)`, true},
		{"table and base functions are present", `local t = {}; table.insert(t, tostring(1)); return {status = t[1]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := newArgoState(t, map[string]any{}).DoString(tc.script)
			if (err != nil) != tc.wantErr {
				t.Errorf("error = %v, want error: %v", err, tc.wantErr)
			}
		})
	}
}

type discovered struct {
	IconClass   string `json:"iconClass"`
	DisplayName string `json:"displayName"`
	Disabled    bool   `json:"disabled"`
}

func discover(t *testing.T, obj map[string]any) map[string]discovered {
	t.Helper()
	out := map[string]discovered{}
	b, err := json.Marshal(run(t, readFile(t, policyActions+"/discovery.lua"), obj))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("discovery.lua returned %s, not a table of actions: %v", b, err)
	}
	return out
}

func TestPolicyActionDiscovery(t *testing.T) {
	runNow := discovered{IconClass: "fa fa-fw fa-play-circle", DisplayName: "Run now"}
	cases := []struct {
		name    string
		suspend bool
		want    map[string]discovered
	}{
		{"an active policy offers run-now and suspend", false, map[string]discovered{
			"run-now": runNow, "suspend": {IconClass: "fa fa-fw fa-pause", DisplayName: "Suspend schedule"}}},
		{"a suspended policy offers run-now (manual runs still execute) and resume", true, map[string]discovered{
			"run-now": runNow, "resume": {IconClass: "fa fa-fw fa-play", DisplayName: "Resume schedule"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := discover(t, policy(t, 1, func(p *dsv1.DeviceSyncPolicy) { p.Spec.Suspend = tc.suspend }))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("actions\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestEveryDiscoveredActionHasAnActionScriptAndViceVersa(t *testing.T) {
	names := map[string]bool{}
	for _, suspend := range []bool{false, true} {
		for name := range discover(t, policy(t, 1, func(p *dsv1.DeviceSyncPolicy) { p.Spec.Suspend = suspend })) {
			names[name] = true
		}
	}
	var discoveredNames, dirs []string
	for name := range names {
		discoveredNames = append(discoveredNames, name)
	}
	entries, err := os.ReadDir(filepath.FromSlash(policyActions))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(filepath.FromSlash(policyActions), e.Name(), "action.lua")); err != nil {
				t.Errorf("action directory %s has no action.lua: %v", e.Name(), err)
			}
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(discoveredNames)
	sort.Strings(dirs)
	if !slices.Equal(discoveredNames, dirs) {
		t.Errorf("discovery.lua offers %v, action directories are %v", discoveredNames, dirs)
	}
}

func TestPolicyActions(t *testing.T) {
	const stamp = "2026-11-23T09:05:07Z" // the harness clock, in UTC
	withAnnotations := func(a map[string]string) func(*dsv1.DeviceSyncPolicy) {
		return func(p *dsv1.DeviceSyncPolicy) {
			p.Annotations = a
			p.Status.ObservedGeneration = 1
			p.Status.LastHandledRunNow = "2026-11-20T08:00:00Z"
			p.Status.Conditions = []metav1.Condition{cond(dsv1.ConditionReady, metav1.ConditionTrue, "Ready", "ok")}
		}
	}
	cases := []struct {
		name   string
		action string
		input  func(*dsv1.DeviceSyncPolicy)
		// change applies to the input what the action must change, and nothing else.
		change func(obj map[string]any)
	}{
		{
			name: "run-now adds the run-now annotation with the current UTC time to a policy without annotations", action: "run-now",
			input: withAnnotations(nil),
			change: func(obj map[string]any) {
				obj["metadata"].(map[string]any)["annotations"] = map[string]any{runNowKey: stamp}
			},
		},
		{
			name: "run-now replaces an earlier run-now value and keeps other annotations", action: "run-now",
			input: withAnnotations(map[string]string{runNowKey: "2026-11-20T08:00:00Z", "team": "district-it"}),
			change: func(obj map[string]any) {
				obj["metadata"].(map[string]any)["annotations"].(map[string]any)[runNowKey] = stamp
			},
		},
		{
			name: "suspend sets spec.suspend", action: "suspend",
			input:  withAnnotations(nil),
			change: func(obj map[string]any) { obj["spec"].(map[string]any)["suspend"] = true },
		},
		{
			name: "resume clears spec.suspend", action: "resume",
			input:  func(p *dsv1.DeviceSyncPolicy) { withAnnotations(nil)(p); p.Spec.Suspend = true },
			change: func(obj map[string]any) { obj["spec"].(map[string]any)["suspend"] = false },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := policy(t, 1, tc.input)
			want := toMap(t, in)
			tc.change(want)
			got := run(t, readFile(t, policyActions+"/"+tc.action+"/action.lua"), in)
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.MarshalIndent(got, "", "  ")
				wb, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("action %s returned\n%s\nwant\n%s", tc.action, gb, wb)
			}
		})
	}
}

// customization is one kind's scripts, read from resource_customizations/<group>/<kind>.
type customization struct {
	group, kind string
	health      string
	discovery   string
	actions     map[string]string // name -> action.lua
}

func (c customization) key(what string) string {
	return "resource.customizations." + what + "." + c.group + "_" + c.kind
}

func readCustomizations(t *testing.T) []customization {
	t.Helper()
	var out []customization
	groups, err := os.ReadDir(customRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		kinds, err := os.ReadDir(filepath.Join(customRoot, g.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kinds {
			dir := filepath.Join(customRoot, g.Name(), k.Name())
			c := customization{group: g.Name(), kind: k.Name(), actions: map[string]string{}}
			if b, err := os.ReadFile(filepath.Join(dir, "health.lua")); err == nil {
				c.health = string(b)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "actions", "discovery.lua")); err == nil {
				c.discovery = string(b)
				actions, err := os.ReadDir(filepath.Join(dir, "actions"))
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range actions {
					if a.IsDir() {
						c.actions[a.Name()] = readFile(t, filepath.ToSlash(filepath.Join(dir, "actions", a.Name(), "action.lua")))
					}
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// actionsValue is the value of a resource.customizations.actions.<group>_<kind> key of argocd-cm.
type actionsValue struct {
	Discovery   string `json:"discovery.lua"`
	Definitions []struct {
		Name   string `json:"name"`
		Action string `json:"action.lua"`
	} `json:"definitions"`
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// renderConfigMapPatch is overlay/argocd-cm-patch.yaml as -update writes it.
func renderConfigMapPatch(cs []customization) string {
	var b strings.Builder
	b.WriteString(`# Registers the devicesync-operator health checks and resource actions in Argo CD's argocd-cm.
# Generated from config/argocd/resource_customizations: edit the .lua files, then run
#   go test ./config/argocd -run ConfigMap -update
# Apply with the kustomization beside this file, or to an existing Argo CD:
#   kubectl -n argocd patch configmap argocd-cm --type strategic --patch-file config/argocd/overlay/argocd-cm-patch.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
`)
	for _, c := range cs {
		if c.health != "" {
			b.WriteString("  " + c.key("health") + ": |\n")
			b.WriteString(indent(c.health, "    "))
		}
		if c.discovery != "" {
			b.WriteString("  " + c.key("actions") + ": |\n")
			b.WriteString("    discovery.lua: |\n")
			b.WriteString(indent(c.discovery, "      "))
			b.WriteString("    definitions:\n")
			names := make([]string, 0, len(c.actions))
			for name := range c.actions {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				b.WriteString("    - name: " + name + "\n")
				b.WriteString("      action.lua: |\n")
				b.WriteString(indent(c.actions[name], "        "))
			}
		}
	}
	return b.String()
}

func TestArgoCDConfigMapEmbedsTheLuaFiles(t *testing.T) {
	cs := readCustomizations(t)
	if *update {
		if err := os.WriteFile(filepath.FromSlash(cmPatchPath), []byte(renderConfigMapPatch(cs)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var cm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, cmPatchPath)), &cm); err != nil {
		t.Fatalf("%s: %v", cmPatchPath, err)
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Name != "argocd-cm" {
		t.Fatalf("%s patches %s %s %q, want the v1 ConfigMap argocd-cm", cmPatchPath, cm.APIVersion, cm.Kind, cm.Metadata.Name)
	}
	same := func(what, got, want string) {
		t.Helper()
		if strings.TrimSpace(got) != strings.TrimSpace(want) {
			t.Errorf("%s in %s differs from the .lua file (run go test ./config/argocd -run ConfigMap -update)", what, cmPatchPath)
		}
	}
	wantKeys := map[string]bool{}
	for _, c := range cs {
		if c.health != "" {
			wantKeys[c.key("health")] = true
			same(c.key("health"), cm.Data[c.key("health")], c.health)
		}
		if c.discovery == "" {
			continue
		}
		wantKeys[c.key("actions")] = true
		var av actionsValue
		if err := yaml.UnmarshalStrict([]byte(cm.Data[c.key("actions")]), &av); err != nil {
			t.Errorf("%s is not the {discovery.lua, definitions} Argo CD reads: %v", c.key("actions"), err)
			continue
		}
		same(c.key("actions")+" discovery.lua", av.Discovery, c.discovery)
		defined := map[string]bool{}
		for _, d := range av.Definitions {
			defined[d.Name] = true
			want, ok := c.actions[d.Name]
			if !ok {
				t.Errorf("%s defines action %q, which has no actions/%s/action.lua", c.key("actions"), d.Name, d.Name)
				continue
			}
			same(c.key("actions")+" "+d.Name+" action.lua", d.Action, want)
		}
		for name := range c.actions {
			if !defined[name] {
				t.Errorf("%s does not define action %q", c.key("actions"), name)
			}
		}
	}
	for key := range cm.Data {
		if !wantKeys[key] {
			t.Errorf("%s has key %s, which matches no script under %s", cmPatchPath, key, customRoot)
		}
	}
	for key := range wantKeys {
		if _, ok := cm.Data[key]; !ok {
			t.Errorf("%s lacks key %s", cmPatchPath, key)
		}
	}
}

func TestCustomizationsAreNamedAfterTheCRDsAndCoverEveryKind(t *testing.T) {
	type gk struct{ group, kind string }
	crds := map[gk]bool{}
	files, err := filepath.Glob(filepath.Join("..", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under config/crd/bases: %v", err)
	}
	for _, f := range files {
		var crd struct {
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
			} `json:"spec"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds[gk{crd.Spec.Group, crd.Spec.Names.Kind}] = true
	}
	health := map[gk]bool{}
	for _, c := range readCustomizations(t) {
		if !crds[gk{c.group, c.kind}] {
			t.Errorf("%s/%s/%s names no CRD in config/crd/bases", customRoot, c.group, c.kind)
		}
		if c.health != "" {
			health[gk{c.group, c.kind}] = true
		}
	}
	for k := range crds {
		if !health[k] {
			t.Errorf("CRD %s/%s has no %s/%s/%s/health.lua", k.group, k.kind, customRoot, k.group, k.kind)
		}
	}
}

func TestSampleApplicationsAreValidArgoCDApplications(t *testing.T) {
	docs := strings.Split(readFile(t, "application.yaml"), "\n---\n")
	var paths []string
	for _, doc := range docs {
		var app struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
			Spec struct {
				Project string `json:"project"`
				Source  struct {
					RepoURL        string `json:"repoURL"`
					TargetRevision string `json:"targetRevision"`
					Path           string `json:"path"`
				} `json:"source"`
				Destination struct {
					Server    string `json:"server"`
					Namespace string `json:"namespace"`
				} `json:"destination"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &app); err != nil {
			t.Fatalf("application.yaml: %v", err)
		}
		if app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" {
			t.Errorf("application.yaml has a %s %s, want argoproj.io/v1alpha1 Application", app.APIVersion, app.Kind)
		}
		if app.Metadata.Namespace != "argocd" || app.Spec.Project == "" || app.Spec.Destination.Server == "" ||
			app.Spec.Destination.Namespace == "" || app.Spec.Source.TargetRevision == "" {
			t.Errorf("Application %q lacks namespace argocd, project, destination or targetRevision", app.Metadata.Name)
		}
		if !strings.Contains(app.Spec.Source.RepoURL, "example") {
			t.Errorf("Application %q repoURL %q is not a clearly marked placeholder", app.Metadata.Name, app.Spec.Source.RepoURL)
		}
		paths = append(paths, app.Spec.Source.Path)
	}
	if !slices.Contains(paths, "config/default") {
		t.Errorf("no sample Application deploys config/default (paths %v)", paths)
	}
	if _, err := os.Stat(filepath.Join("..", "default", "kustomization.yaml")); err != nil {
		t.Errorf("the operator Application deploys config/default, which has no kustomization.yaml: %v", err)
	}
	if len(docs) < 2 {
		t.Errorf("application.yaml has %d Applications, want the operator and a policies repository", len(docs))
	}
}

func TestOverlayPatchesArgoCDsConfigMapWithTheGeneratedPatch(t *testing.T) {
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
		Patches    []struct {
			Path   string `json:"path"`
			Target struct {
				Version string `json:"version"`
				Kind    string `json:"kind"`
				Name    string `json:"name"`
			} `json:"target"`
		} `json:"patches"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, "overlay/kustomization.yaml")), &k); err != nil {
		t.Fatalf("overlay/kustomization.yaml: %v", err)
	}
	if k.Kind != "Kustomization" {
		t.Errorf("overlay/kustomization.yaml is a %s %s", k.APIVersion, k.Kind)
	}
	if k.Namespace != "argocd" || len(k.Resources) == 0 {
		t.Errorf("the overlay installs into namespace %q from %v, want Argo CD's install manifest in argocd", k.Namespace, k.Resources)
	}
	found := false
	for _, p := range k.Patches {
		if "overlay/"+p.Path == cmPatchPath && p.Target.Version == "v1" && p.Target.Kind == "ConfigMap" && p.Target.Name == "argocd-cm" {
			found = true
		}
	}
	if !found {
		t.Errorf("overlay/kustomization.yaml does not patch the v1 ConfigMap argocd-cm with %s: %+v", filepath.Base(cmPatchPath), k.Patches)
	}
}
