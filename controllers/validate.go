package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/clock"
	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// Defaults of the readiness checks.
const (
	// DefaultRetestInterval is how long a successful connection test is trusted.
	DefaultRetestInterval = 10 * time.Minute
	// DefaultFailedRetestInterval is how long a failed connection test is trusted.
	DefaultFailedRetestInterval = time.Minute
)

// ConnectionValidator is the PolicyValidator of the manager. In order: the templates parse; the
// Secrets exist with their keys (and the roster reads); then, at most every RetestInterval, both
// connections are tested and every school's building (Jamf Pro) or location (Jamf School) is looked up.
// On Jamf School, managing name or lostMode is a passing check with a warning: those differences are
// reported UnsupportedByTarget by every run.
type ConnectionValidator struct {
	Connector *Connector
	Clock     clock.Clock
	// RetestInterval and FailedRetestInterval bound how long a connection test result is reused
	// (zero: the defaults).
	RetestInterval, FailedRetestInterval time.Duration

	mu    gosync.Mutex
	tests map[types.NamespacedName]connTest
}

type connTest struct {
	uid        types.UID
	generation int64
	// refs are the resourceVersions of the Secrets and ConfigMaps the policy named when it was tested.
	refs   string
	at     time.Time
	checks []Check
}

// Validate implements PolicyValidator.
func (v *ConnectionValidator) Validate(ctx context.Context, p *dsv1.DeviceSyncPolicy) []Check {
	kind, e, err := targetKind(v.Connector.Kinds, &p.Spec.Target)
	if err != nil {
		return []Check{{Name: "Target", Reason: "NoTarget", Message: err.Error()}}
	}
	c, err := compilePolicy(&p.Spec, kind)
	if err != nil {
		return []Check{{Name: "Templates", Reason: ReasonInvalidTemplate, Message: err.Error()}}
	}
	checks := []Check{{Name: "Templates", OK: true}}
	checks = append(checks, unsupportedFields(kind, c.Policy.Manage)...)
	checks = append(checks, insecureConnections(p, kind, e)...)
	checks = append(checks, rosterUnsupported(&p.Spec, kind)...)
	// A recent connection test of the same generation, with the same Secrets and ConfigMaps, is reused before
	// anything is built: no Secret data is read, no roster parsed, no client made.
	refs, refsOK := v.Connector.references(ctx, p)
	if refsOK {
		if cached, ok := v.cached(p, refs); ok {
			return append(append(checks, Check{Name: "Secrets", OK: true}), cached...)
		}
	}
	conn, err := v.Connector.Connect(ctx, p, c.Query)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			return append(checks, Check{Name: "Secrets", Reason: ce.Reason, Message: ce.Message})
		}
		return append(checks, Check{Name: "Secrets", Reason: "SecretReadFailed", Message: err.Error(), Transient: true})
	}
	checks = append(checks, Check{Name: "Secrets", OK: true})
	tested := testConnections(ctx, p, c, conn)
	if refsOK {
		v.mu.Lock()
		if v.tests == nil {
			v.tests = map[types.NamespacedName]connTest{}
		}
		v.tests[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = connTest{uid: p.UID, generation: p.Generation, refs: refs, at: v.now(), checks: tested}
		v.mu.Unlock()
	}
	return append(checks, tested...)
}

// cached returns the connection checks of a recent test of p's generation with the same references.
func (v *ConnectionValidator) cached(p *dsv1.DeviceSyncPolicy, refs string) ([]Check, bool) {
	v.mu.Lock()
	t, ok := v.tests[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}]
	v.mu.Unlock()
	if !ok || t.uid != p.UID || t.generation != p.Generation || t.refs != refs || v.now().Sub(t.at) >= v.ttl(t.checks) {
		return nil, false
	}
	return t.checks, true
}

func (v *ConnectionValidator) ttl(checks []Check) time.Duration {
	for _, c := range checks {
		if !c.OK {
			return cmpOr(v.FailedRetestInterval, DefaultFailedRetestInterval)
		}
	}
	return cmpOr(v.RetestInterval, DefaultRetestInterval)
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (v *ConnectionValidator) now() time.Time { return clockOr(v.Clock).Now() }

// ForgetPolicy drops what is cached for a deleted policy: its connection tests and its Destiny patron
// cache (patron details are personal data: they do not outlive the policy).
func (v *ConnectionValidator) ForgetPolicy(namespace, name string) {
	v.mu.Lock()
	delete(v.tests, types.NamespacedName{Namespace: namespace, Name: name})
	v.mu.Unlock()
	v.Connector.ForgetPolicy(namespace, name)
}

// testConnections runs the connection and school checks.
func testConnections(ctx context.Context, p *dsv1.DeviceSyncPolicy, c *compiled, conn *Connection) []Check {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var checks []Check
	if err := conn.Destiny.TestConnection(ctx); err != nil {
		reason, transient := ReasonDestinyUnreachable, true
		if errors.Is(err, destiny.KindAuth) || errors.Is(err, destiny.KindPermission) {
			reason, transient = ReasonDestinyAuthFailed, false
		}
		checks = append(checks, Check{Name: "Destiny", Reason: reason, Transient: transient,
			Message: "source.destiny: " + err.Error()})
	} else {
		checks = append(checks, Check{Name: "Destiny", OK: true}, resourceTypeCheck(ctx, p, conn.Destiny))
	}

	kind, tgt := conn.Kind, conn.Target
	m := c.Policy.Manage
	m.LostMode = managesLostMode(&p.Spec) // the Lost Mode privileges matter only when Lost Mode is sent
	m.Roster = c.Policy.RosterSync != nil
	err := tgt.Check(ctx, m)
	var places []string
	if err == nil {
		places, err = tgt.Places(ctx)
	}
	if err != nil {
		reason, transient := ReasonTargetUnreachable, true
		var ce *engine.CheckError
		if errors.As(err, &ce) && ce.Refused {
			reason, transient = ReasonTargetAuthFailed, ce.Retest
		}
		return append(checks, Check{Name: kind.Name, Reason: reason, Transient: transient, Message: kind.Field + ": " + err.Error()})
	}
	known := make(map[string]bool, len(places))
	for _, n := range places {
		known[strings.ToLower(n)] = true
	}
	checks = append(checks, Check{Name: "Target", OK: true})

	var unknown []string
	var field string
	for i, s := range p.Spec.Schools {
		var name string
		field, name = kind.Place(s)
		if name != "" && !known[strings.ToLower(name)] {
			unknown = append(unknown, fmt.Sprintf("spec.schools[%d].%s %q (site %s)", i, field, name, s.Site))
		}
	}
	if len(unknown) > 0 {
		names := make([]string, 0, len(known))
		for n := range known {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) > 10 {
			names = append(names[:10], "...")
		}
		return append(checks, Check{Name: "Schools", Reason: ReasonUnknownBuilding,
			Message: fmt.Sprintf("%s: no such %s %s (known, lower case: %s)", strings.Join(unknown, ", "), kind.Name, field, strings.Join(names, ", "))})
	}
	return append(checks, Check{Name: "Schools", OK: true})
}

// insecureConnections warns (a passing check with a message) for every system whose insecure flag is set.
func insecureConnections(p *dsv1.DeviceSyncPolicy, kind *TargetKind, e Endpoint) []Check {
	var fields []string
	if p.Spec.Source.Destiny.Insecure {
		fields = append(fields, "spec.source.destiny.insecure")
	}
	if e.Insecure {
		fields = append(fields, "spec."+kind.Field+".insecure")
	}
	if len(fields) == 0 {
		return nil
	}
	return []Check{{Name: "Transport", OK: true, Reason: ReasonInsecureConnection,
		Message: "warning: " + strings.Join(fields, " and ") + " allow plain http://: credentials and student data cross the network in clear; use https:// (with caBundle for a private CA) outside a lab"}}
}

// unsupportedFields warns (a passing check with a message) when a policy manages fields its target's
// API cannot write.
func unsupportedFields(kind *TargetKind, m plan.Manage) []Check {
	msgs := unsupportedReasons(kind, m)
	if len(msgs) == 0 {
		return nil
	}
	return []Check{{Name: "Fields", OK: true, Reason: ReasonUnsupportedByTarget,
		Message: "warning: spec.fields.manage asks for " + strings.Join(msgs, "; ") + ": runs report these differences as UnsupportedByTarget"}}
}

// resourceTypeCheck resolves every resource type the policy names against Destiny's hierarchy: a name
// found nowhere or twice makes the policy not Ready, with the candidate paths.
func resourceTypeCheck(ctx context.Context, p *dsv1.DeviceSyncPolicy, dc *destiny.Client) Check {
	src := p.Spec.Source.Destiny
	types, err := dc.ResourceTypes(ctx)
	if err != nil {
		return Check{Name: "ResourceTypes", Reason: ReasonDestinyUnreachable, Transient: true, Message: "source.destiny: " + err.Error()}
	}
	var bad []string
	spelling := map[int]int{} // type id -> index in resourceTypes
	for _, field := range []struct {
		path  string
		names []string
	}{{"resourceTypes", src.ResourceTypes}, {"studentDeviceResourceTypes", src.StudentDeviceResourceTypes}} {
		for i, name := range field.names {
			rt, err := destiny.ResolveResourceType(types, name)
			if err != nil {
				var e *destiny.Error
				msg := err.Error()
				if errors.As(err, &e) {
					msg = fmt.Sprintf("%s: %s", e.Kind, e.Message)
				}
				bad = append(bad, fmt.Sprintf("spec.source.destiny.%s[%d] %q: %s", field.path, i, name, msg))
				continue
			}
			if field.path == "resourceTypes" {
				spelling[rt.ID] = i
				continue
			}
			// Runs tell student devices by the resourceTypes spelling: the two lists must agree.
			if j, ok := spelling[rt.ID]; ok && !strings.EqualFold(strings.TrimSpace(src.ResourceTypes[j]), strings.TrimSpace(name)) {
				bad = append(bad, fmt.Sprintf("spec.source.destiny.%s[%d] %q names %s as resourceTypes[%d] %q does: write it the same way",
					field.path, i, name, rt.Path, j, src.ResourceTypes[j]))
			}
		}
	}
	if len(bad) > 0 {
		return Check{Name: "ResourceTypes", Reason: ReasonInvalidResourceType, Message: strings.Join(bad, "; ")}
	}
	return Check{Name: "ResourceTypes", OK: true}
}
