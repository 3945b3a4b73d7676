package controllers

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// compiled is a policy spec turned into what the engine needs: the planner's policy with its templates
// parsed, the safety budget and the Destiny query.
type compiled struct {
	Policy plan.Policy
	Safety plan.Safety
	Query  destiny.ItemQuery
	// Kind is the policy's kind of target.
	Kind *TargetKind
}

// compilePolicy checks what CEL cannot (the templates parse, within Jamf's length limits) and builds the
// engine's view of the spec. The error lists every problem, each naming its field.
func compilePolicy(spec *dsv1.DeviceSyncPolicySpec, kind *TargetKind) (*compiled, error) {
	var errs []error
	tmpl := func(path, text string) *naming.Template {
		if strings.TrimSpace(text) == "" {
			return nil // no rule: the field is not written
		}
		t, err := naming.Compile(path, text)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.%s: %w", path, unwrapRule(err)))
			return nil
		}
		return t
	}
	budget := func(path string, v *intstr.IntOrString) *plan.Budget {
		if v == nil {
			return nil
		}
		b, err := plan.ParseBudget(v.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.safety.%s: %w", path, err))
			return nil
		}
		return &b
	}

	src := spec.Source.Destiny
	p := plan.Policy{
		StudentPatronTypes: orDefault(src.StudentPatronTypes, "Student"),
		TeacherPatronTypes: orDefault(src.TeacherPatronTypes, "Teacher", "Staff"),
		StudentDeviceTypes: src.StudentDeviceResourceTypes,
		Schools:            map[string]plan.School{},
		Naming: plan.Naming{
			Student:         tmpl("naming.student", spec.Naming.Student),
			Standard:        tmpl("naming.standard", spec.Naming.Standard),
			TeacherCheckout: tmpl("naming.teacherCheckout", spec.Naming.TeacherCheckout),
			EnforceName:     spec.Naming.EnforceName == nil || *spec.Naming.EnforceName,
		},
		User: plan.UserRules{
			Username: tmpl("fields.user.username", spec.Fields.User.Username),
			RealName: tmpl("fields.user.realName", spec.Fields.User.RealName),
			Email:    tmpl("fields.user.email", spec.Fields.User.Email),
		},
		Location: plan.LocationRules{
			Position:   tmpl("fields.location.position", spec.Fields.Location.Position),
			Room:       tmpl("fields.location.room", spec.Fields.Location.Room),
			Department: tmpl("fields.location.department", spec.Fields.Location.Department),
		},
		LostMode: plan.LostMode{
			Enabled: spec.LostMode.Enabled, Message: spec.LostMode.Message, Phone: spec.LostMode.Phone,
			Footnote: spec.LostMode.Footnote, IncludeStolen: spec.LostMode.IncludeStolen,
			DisableWhenFound: spec.LostMode.DisableWhenFound == nil || *spec.LostMode.DisableWhenFound,
		},
	}
	if w := spec.LostMode.WithdrawnAfter; w != nil {
		p.LostMode.WithdrawnAfter = w.Duration
	}
	if len(p.StudentDeviceTypes) == 0 {
		p.StudentDeviceTypes = src.ResourceTypes
	}
	for _, f := range managedFields(spec) {
		switch f {
		case dsv1.FieldName:
			p.Manage.Name = true
		case dsv1.FieldUser:
			p.Manage.User = true
		case dsv1.FieldLocation:
			p.Manage.Location = true
		case dsv1.FieldLostMode:
			p.Manage.LostMode = true
		}
	}
	sites := make([]string, 0, len(spec.Schools))
	for i, s := range spec.Schools {
		p.Schools[s.Site] = plan.School{
			SchoolName: cmp.Or(s.Building, s.Location, s.Site), Building: s.Building, Location: s.Location,
			Department: tmpl(fmt.Sprintf("schools[%d].department", i), s.Department),
		}
		sites = append(sites, s.Site)
	}
	// The target's capabilities decide which rules apply: a rule for a field the target cannot write (Jamf
	// School devices have no position, room or department) is dropped, and the Ready condition says so,
	// rather than reported as a difference on every device of every run.
	caps := kind.Capabilities
	p.Target = caps
	if !caps.Position {
		p.Location.Position = nil
	}
	if !caps.Room {
		p.Location.Room = nil
	}
	if !caps.Department {
		p.Location.Department = nil
		for site, sc := range p.Schools {
			sc.Department = nil
			p.Schools[site] = sc
		}
	}
	if kind.Compile != nil {
		kind.Compile(spec, &p, tmpl)
	}
	p.RosterSync = compileRoster(spec, caps, func(path, text string, fields ...string) *naming.Template {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		compile := naming.Compile // the device data model (a new user's password rule)
		if len(fields) > 0 {
			compile = func(name, text string) (*naming.Template, error) { return naming.CompileFields(name, text, fields...) }
		}
		t, err := compile(path, text)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.%s: %w", path, unwrapRule(err)))
			return nil
		}
		return t
	})
	c := &compiled{
		Policy: p,
		Safety: plan.Safety{
			MaxChanges:      budget("maxChanges", spec.Safety.MaxChanges),
			MaxClears:       budget("maxClears", spec.Safety.MaxClears),
			MaxSourceShrink: budget("maxSourceShrink", spec.Safety.MaxSourceShrink),
			MaxRosterShrink: budget("maxRosterShrink", spec.Safety.MaxRosterShrink),
			MaxRemovals:     budget("maxRemovals", spec.Safety.MaxRemovals),
		},
		Query: destiny.ItemQuery{ResourceTypes: src.ResourceTypes, SiteShortNames: sites, SerialField: src.SerialNumberField},
		Kind:  kind,
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// managedFields is spec.fields.manage, or every field when it is empty (the CRD's default).
func managedFields(spec *dsv1.DeviceSyncPolicySpec) []dsv1.ManagedField {
	if len(spec.Fields.Manage) == 0 {
		return []dsv1.ManagedField{dsv1.FieldName, dsv1.FieldUser, dsv1.FieldLocation, dsv1.FieldLostMode}
	}
	return spec.Fields.Manage
}

// managesLostMode reports whether the policy enables Lost Mode and manages it: only then are the MDM
// commands read (a privilege a least-privilege role may lack).
func managesLostMode(spec *dsv1.DeviceSyncPolicySpec) bool {
	return spec.LostMode.Enabled && slices.Contains(managedFields(spec), dsv1.FieldLostMode)
}

// unwrapRule drops naming.Error's rule prefix: the caller names the field.
func unwrapRule(err error) error {
	var ne *naming.Error
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

func orDefault(list []string, def ...string) []string {
	if len(list) == 0 {
		return def
	}
	return list
}
