package controllers

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing/fstest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/jamf/pro"
	"github.com/k12dev/devicesync-operator/internal/jamf/school"
	"github.com/k12dev/devicesync-operator/internal/roster"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
)

// Secret keys, as the API documents them on credentialsSecretRef.
const (
	keyClientID     = "client-id"
	keyClientSecret = "client-secret"
	keyUsername     = "username"
	keyPassword     = "password"
	keyNetworkID    = "network-id"
	keyAPIKey       = "api-key"
)

// ConfigError is a problem with what a policy refers to (a Secret, a key, a roster): the admin must fix
// the cluster objects, retrying will not help. Reason is the condition reason.
type ConfigError struct {
	Reason  string
	Message string
}

func (e *ConfigError) Error() string { return e.Message }

// Condition reasons of ConfigError.
const (
	ReasonSecretNotFound   = "SecretNotFound"
	ReasonSecretKeyMissing = "SecretKeyMissing"
	ReasonInvalidTemplate  = "InvalidTemplate"
	ReasonInvalidRoster    = "InvalidRoster"
	ReasonInvalidURL       = "InvalidURL"
)

// Connector builds a policy's clients from its spec and Secrets, read when called (so a rotated secret
// is used by the next run). It keeps one Destiny patron cache per policy, shared by the policy's runs.
type Connector struct {
	// Reader reads Secrets and ConfigMaps (the manager's API reader: Secrets are not cached).
	Reader client.Reader
	// HTTPClient, when set, is used by every client (tests point it at simulators). Default: each client's
	// own, with TLS verified.
	HTTPClient *http.Client
	// PatronCacheAge bounds how long a patron lookup is reused (default 24h).
	PatronCacheAge time.Duration
	// RosterRoot is the directory under which spec.source.destiny.roster.path may point (the manager's
	// --roster-root). Empty: no policy may read a roster from the manager's file system.
	RosterRoot string

	mu      gosync.Mutex
	patrons map[string]*destiny.PatronCache
}

// Connection is a policy's source and target, ready for a run.
type Connection struct {
	Source  *engine.DestinySource
	Target  engine.Target
	Destiny *destiny.Client
	// JamfPro or JamfSchool is set, as the policy's target says.
	JamfPro    *pro.Client
	JamfSchool *school.Client
}

// Connect reads the Secrets (and the roster) a policy names and builds its clients. A *ConfigError says
// what is missing.
func (c *Connector) Connect(ctx context.Context, p *dsv1.DeviceSyncPolicy, q destiny.ItemQuery) (*Connection, error) {
	src := p.Spec.Source.Destiny
	creds, err := c.secret(ctx, p.Namespace, "source.destiny.credentialsSecretRef", src.CredentialsSecretRef.Name, keyClientID, keyClientSecret)
	if err != nil {
		return nil, err
	}
	ctxName := src.Context
	if ctxName == "" {
		ctxName = "destiny"
	}
	dc, err := destiny.New(destiny.Config{
		BaseURL:     strings.TrimRight(src.URL, "/") + "/api/v1/rest/context/" + ctxName,
		Credentials: destiny.Credentials{ClientID: creds[keyClientID], ClientSecret: creds[keyClientSecret]},
		HTTPClient:  c.HTTPClient, Concurrency: 10,
	})
	if err != nil {
		return nil, &ConfigError{Reason: ReasonInvalidURL, Message: "spec.source.destiny.url: " + err.Error()}
	}
	ros, err := c.roster(ctx, p)
	if err != nil {
		return nil, err
	}
	conn := &Connection{Destiny: dc, Source: &engine.DestinySource{Client: dc, Query: q, Patrons: c.patronCache(p), Roster: ros}}

	switch t := p.Spec.Target; {
	case t.JamfPro != nil:
		path := "target.jamfPro.credentialsSecretRef"
		s, err := c.secretAny(ctx, p.Namespace, path, t.JamfPro.CredentialsSecretRef.Name, [][2]string{{keyClientID, keyClientSecret}, {keyUsername, keyPassword}})
		if err != nil {
			return nil, err
		}
		var auth pro.Auth = pro.OAuth{ClientID: s[keyClientID], ClientSecret: s[keyClientSecret]}
		if s[keyClientID] == "" {
			auth = pro.Basic{Username: s[keyUsername], Password: s[keyPassword]}
		}
		conc := int(t.JamfPro.MaxConcurrency)
		if conc <= 0 {
			conc = 5
		}
		jc, err := pro.New(pro.Config{BaseURL: t.JamfPro.URL, Auth: auth, MaxConcurrency: conc, HTTPClient: c.HTTPClient})
		if err != nil {
			return nil, &ConfigError{Reason: ReasonInvalidURL, Message: "spec.target.jamfPro.url: " + err.Error()}
		}
		conn.JamfPro, conn.Target = jc, &engine.JamfPro{Client: jc, MaxConcurrency: conc, PendingLostMode: managesLostMode(&p.Spec)}
	case t.JamfSchool != nil:
		s, err := c.secret(ctx, p.Namespace, "target.jamfSchool.credentialsSecretRef", t.JamfSchool.CredentialsSecretRef.Name, keyNetworkID, keyAPIKey)
		if err != nil {
			return nil, err
		}
		sc, err := school.New(school.Config{BaseURL: t.JamfSchool.URL, NetworkID: s[keyNetworkID], APIKey: s[keyAPIKey],
			CreateMissingUsers: t.JamfSchool.CreateMissingUsers, HTTPClient: c.HTTPClient})
		if err != nil {
			return nil, &ConfigError{Reason: ReasonInvalidURL, Message: "spec.target.jamfSchool.url: " + err.Error()}
		}
		conn.JamfSchool, conn.Target = sc, &engine.JamfSchool{Client: sc}
	default:
		return nil, &ConfigError{Reason: "NoTarget", Message: "spec.target names neither jamfPro nor jamfSchool"}
	}
	return conn, nil
}

func (c *Connector) patronCache(p *dsv1.DeviceSyncPolicy) *destiny.PatronCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.patrons == nil {
		c.patrons = map[string]*destiny.PatronCache{}
	}
	key := p.Namespace + "/" + p.Name + "/" + p.Spec.Source.Destiny.URL
	pc := c.patrons[key]
	if pc == nil {
		age := c.PatronCacheAge
		if age <= 0 {
			age = 24 * time.Hour
		}
		pc = destiny.NewPatronCache(age)
		c.patrons[key] = pc
	}
	return pc
}

// ForgetPolicy drops a deleted policy's patron cache.
func (c *Connector) ForgetPolicy(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.patrons {
		if strings.HasPrefix(k, namespace+"/"+name+"/") {
			delete(c.patrons, k)
		}
	}
}

// secret reads the named keys of a Secret; every key must be present and non-empty.
func (c *Connector) secret(ctx context.Context, ns, path, name string, keys ...string) (map[string]string, error) {
	data, err := c.secretData(ctx, ns, path, name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var missing []string
	for _, k := range keys {
		v := strings.TrimSpace(string(data[k]))
		if v == "" {
			missing = append(missing, k)
		}
		out[k] = v
	}
	if len(missing) > 0 {
		return nil, &ConfigError{Reason: ReasonSecretKeyMissing, Message: fmt.Sprintf("spec.%s: Secret %s/%s has no %s (it needs the keys %s)",
			path, ns, name, strings.Join(missing, ", "), strings.Join(keys, " and "))}
	}
	return out, nil
}

// secretAny reads the first complete pair of keys of a Secret.
func (c *Connector) secretAny(ctx context.Context, ns, path, name string, pairs [][2]string) (map[string]string, error) {
	data, err := c.secretData(ctx, ns, path, name)
	if err != nil {
		return nil, err
	}
	var want []string
	for _, pr := range pairs {
		a, b := strings.TrimSpace(string(data[pr[0]])), strings.TrimSpace(string(data[pr[1]]))
		if a != "" && b != "" {
			return map[string]string{pr[0]: a, pr[1]: b}, nil
		}
		want = append(want, pr[0]+" and "+pr[1])
	}
	return nil, &ConfigError{Reason: ReasonSecretKeyMissing, Message: fmt.Sprintf("spec.%s: Secret %s/%s needs the keys %s",
		path, ns, name, strings.Join(want, ", or "))}
}

func (c *Connector) secretData(ctx context.Context, ns, path, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &ConfigError{Reason: ReasonSecretNotFound, Message: fmt.Sprintf("spec.%s: Secret %s/%s not found", path, ns, name)}
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
	}
	return s.Data, nil
}

// roster reads the policy's roster, if any. A roster that cannot be read is a *ConfigError: the run fails
// before any write.
func (c *Connector) roster(ctx context.Context, p *dsv1.DeviceSyncPolicy) (*roster.Roster, error) {
	rs := p.Spec.Source.Destiny.Roster
	if rs == nil {
		return nil, nil
	}
	var (
		fsys  fs.FS
		where string
	)
	switch {
	case rs.ConfigMapRef != nil:
		var cm corev1.ConfigMap
		where = fmt.Sprintf("ConfigMap %s/%s", p.Namespace, rs.ConfigMapRef.Name)
		if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: rs.ConfigMapRef.Name}, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &ConfigError{Reason: ReasonInvalidRoster, Message: "spec.source.destiny.roster.configMapRef: " + where + " not found"}
			}
			return nil, err
		}
		m := fstest.MapFS{}
		for k, v := range cm.Data {
			m[k] = &fstest.MapFile{Data: []byte(v)}
		}
		for k, v := range cm.BinaryData {
			m[k] = &fstest.MapFile{Data: v}
		}
		fsys = m
	case rs.SecretRef != nil:
		data, err := c.secretData(ctx, p.Namespace, "source.destiny.roster.secretRef", rs.SecretRef.Name)
		if err != nil {
			return nil, err
		}
		where = fmt.Sprintf("Secret %s/%s", p.Namespace, rs.SecretRef.Name)
		m := fstest.MapFS{}
		for k, v := range data {
			m[k] = &fstest.MapFile{Data: v}
		}
		fsys = m
	default:
		where = "directory " + rs.Path
		if err := c.checkRosterPath(rs.Path); err != nil {
			return nil, &ConfigError{Reason: ReasonInvalidRoster, Message: "spec.source.destiny.roster.path: " + err.Error()}
		}
		fsys = os.DirFS(rs.Path)
	}
	opts := roster.Options{KeyField: roster.KeyField(rs.KeyField)}
	var (
		r   *roster.Roster
		err error
	)
	switch rs.Format {
	case dsv1.RosterOneRoster:
		r, err = roster.ReadOneRoster(fsys, opts)
	default:
		r, err = roster.Read(fsys, opts)
	}
	if err != nil {
		return nil, &ConfigError{Reason: ReasonInvalidRoster, Message: fmt.Sprintf("spec.source.destiny.roster: %s: %v", where, err)}
	}
	return r, nil
}

// checkRosterPath allows only directories under RosterRoot.
func (c *Connector) checkRosterPath(path string) error {
	if c.RosterRoot == "" {
		return fmt.Errorf("%q: the manager allows no roster directory (start it with --roster-root and mount the rosters under it, or use configMapRef or secretRef)", path)
	}
	root, err := filepath.Abs(c.RosterRoot)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, filepath.Clean(path))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return fmt.Errorf("%q is not under the manager's roster root %s", path, root)
	}
	return nil
}
