package controllers

import (
	"context"
	"fmt"
	"net/http"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/jamf/pro"
	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/naming"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// TargetKind is one MDM a policy can write to, as the controllers see it. This table is the only place
// in controllers/ that knows which MDMs exist: compiling, connecting and checking a policy go through
// the kind its spec selects and the engine.Target it builds, and never ask which MDM they have.
type TargetKind struct {
	// Field is the spec field that selects the kind ("target.jamfPro"), for messages.
	Field string
	// Name is how messages name it ("Jamf Pro").
	Name string
	// Capabilities are the fields it can write: the policy's rules for the others are not compiled.
	Capabilities plan.Capabilities
	// Endpoint returns the target's connection settings when the spec selects this kind (ok false
	// otherwise).
	Endpoint func(t *dsv1.Target) (e Endpoint, ok bool)
	// Place is the school map's entry for this kind: the spec field ("building") and the name it holds.
	Place func(s dsv1.SchoolMapping) (field, name string)
	// Compile adds the kind's own options to the planner's policy (nil: none). tmpl compiles a rule,
	// collecting its error under the field path given.
	Compile func(spec *dsv1.DeviceSyncPolicySpec, p *plan.Policy, tmpl func(path, text string) *naming.Template)
	// Connect builds the target from the policy, its credentials Secret and the HTTP client the
	// Connector made for its URL. A *ConfigError says what the policy must fix.
	Connect func(ctx context.Context, c *Connector, p *dsv1.DeviceSyncPolicy, hc *http.Client) (engine.Target, error)
}

// Endpoint is where a target is and how the manager may reach it.
type Endpoint struct {
	URL      string
	Insecure bool
	CABundle *dsv1.CABundleSource
	// CredentialsSecret names the Secret with the target's credentials.
	CredentialsSecret string
	// Concurrency is the most requests in flight to it (the manager-wide per-host limit applies too).
	Concurrency int
}

// DefaultTargetKinds are the MDMs the API offers.
var DefaultTargetKinds = []TargetKind{jamfProKind, jamfSchoolKind}

var jamfProKind = TargetKind{
	Field: "target.jamfPro", Name: "Jamf Pro", Capabilities: plan.JamfPro(),
	Endpoint: jamfProEndpoint,
	Place:    func(s dsv1.SchoolMapping) (string, string) { return "building", s.Building },
	Connect: func(ctx context.Context, c *Connector, p *dsv1.DeviceSyncPolicy, hc *http.Client) (engine.Target, error) {
		t := p.Spec.Target.JamfPro
		s, err := c.secretAny(ctx, p.Namespace, "target.jamfPro.credentialsSecretRef", t.CredentialsSecretRef.Name,
			[][2]string{{keyClientID, keyClientSecret}, {keyUsername, keyPassword}})
		if err != nil {
			return nil, err
		}
		var auth pro.Auth = pro.OAuth{ClientID: s[keyClientID], ClientSecret: s[keyClientSecret]}
		if s[keyClientID] == "" {
			auth = pro.Basic{Username: s[keyUsername], Password: s[keyPassword]}
		}
		e, _ := jamfProEndpoint(&p.Spec.Target)
		jc, err := pro.New(pro.Config{BaseURL: t.URL, Auth: auth, MaxConcurrency: e.Concurrency, HTTPClient: hc})
		if err != nil {
			return nil, &ConfigError{Reason: ReasonInvalidURL, Message: "spec.target.jamfPro.url: " + err.Error()}
		}
		return &engine.JamfPro{Client: jc, MaxConcurrency: e.Concurrency, PendingLostMode: managesLostMode(&p.Spec)}, nil
	},
}

func jamfProEndpoint(t *dsv1.Target) (Endpoint, bool) {
	if t.JamfPro == nil {
		return Endpoint{}, false
	}
	conc := int(t.JamfPro.MaxConcurrency)
	if conc <= 0 {
		conc = pro.DefaultMaxConcurrency
	}
	return Endpoint{URL: t.JamfPro.URL, Insecure: t.JamfPro.Insecure, CABundle: t.JamfPro.CABundle, Concurrency: conc,
		CredentialsSecret: t.JamfPro.CredentialsSecretRef.Name}, true
}

var jamfSchoolKind = TargetKind{
	Field: "target.jamfSchool", Name: school.TargetName, Capabilities: plan.JamfSchool(),
	Endpoint: func(t *dsv1.Target) (Endpoint, bool) {
		if t.JamfSchool == nil {
			return Endpoint{}, false
		}
		return Endpoint{URL: t.JamfSchool.URL, Insecure: t.JamfSchool.Insecure, CABundle: t.JamfSchool.CABundle,
			Concurrency: school.DefaultMaxConcurrency, CredentialsSecret: t.JamfSchool.CredentialsSecretRef.Name}, true
	},
	Place: func(s dsv1.SchoolMapping) (string, string) { return "location", s.Location },
	Compile: func(spec *dsv1.DeviceSyncPolicySpec, p *plan.Policy, tmpl func(path, text string) *naming.Template) {
		if js := spec.Target.JamfSchool; js.CreateMissingUsers {
			p.CreateMissingUsers = true
			p.NewUserPassword = tmpl("target.jamfSchool.newUserPassword", js.NewUserPassword)
		}
	},
	Connect: func(ctx context.Context, c *Connector, p *dsv1.DeviceSyncPolicy, hc *http.Client) (engine.Target, error) {
		t := p.Spec.Target.JamfSchool
		s, err := c.secret(ctx, p.Namespace, "target.jamfSchool.credentialsSecretRef", t.CredentialsSecretRef.Name, keyNetworkID, keyAPIKey)
		if err != nil {
			return nil, err
		}
		sc, err := school.New(school.Config{BaseURL: t.URL, NetworkID: s[keyNetworkID], APIKey: s[keyAPIKey],
			CreateMissingUsers: t.CreateMissingUsers, HTTPClient: hc})
		if err != nil {
			return nil, &ConfigError{Reason: ReasonInvalidURL, Message: "spec.target.jamfSchool.url: " + err.Error()}
		}
		return &engine.JamfSchool{Client: sc}, nil
	},
}

// targetKind returns the kind the spec selects from kinds (nil: DefaultTargetKinds), with its endpoint.
func targetKind(kinds []TargetKind, t *dsv1.Target) (*TargetKind, Endpoint, error) {
	if kinds == nil {
		kinds = DefaultTargetKinds
	}
	for i := range kinds {
		if e, ok := kinds[i].Endpoint(t); ok {
			return &kinds[i], e, nil
		}
	}
	return nil, Endpoint{}, &ConfigError{Reason: "NoTarget", Message: "spec.target names no MDM this manager knows"}
}

// unsupportedReasons says, in a Ready warning, why a managed field is not written by a target that lacks
// the capability.
func unsupportedReasons(k *TargetKind, m plan.Manage) []string {
	c := k.Capabilities
	var msgs []string
	if m.Name && !c.Rename {
		msgs = append(msgs, fmt.Sprintf("name (%s's API has no endpoint to rename a device)", k.Name))
	}
	if m.LostMode && !c.LostMode {
		msgs = append(msgs, fmt.Sprintf("lostMode (%s's API has no endpoint to enable or disable Lost Mode)", k.Name))
	}
	if m.Location && !c.Position && !c.Room && !c.Department {
		msgs = append(msgs, fmt.Sprintf("position, room and department (%s devices have none: those rules are not used)", k.Name))
	}
	return msgs
}
