package controllers

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing/fstest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/httpx"
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

// Connector builds a policy's clients from its spec and Secrets, read when called (so a rotated secret
// is used by the next run). It keeps one Destiny patron cache per policy, shared by the policy's runs.
type Connector struct {
	// Reader reads Secrets and ConfigMaps (the manager's API reader: Secrets are not cached).
	Reader client.Reader
	// Transport, when set, carries every request (tests trust their simulators' certificates with it);
	// the redirect policy, the host limits and the guard still apply. Default: a transport per system
	// with TLS verified against the system's roots plus the policy's caBundle.
	Transport http.RoundTripper
	// Limits caps requests in flight per host across every policy of the manager (Jamf's 5 connections
	// per server hold for all policies together). Nil: no manager-wide cap (each client keeps its own).
	Limits *httpx.HostLimits
	// Guard is the manager's --allowed-hosts and the https-only rule.
	Guard httpx.Guard
	// MaxRequestsPerHost caps every system's in-flight limit (zero: each system's own).
	MaxRequestsPerHost int
	// Kinds are the MDMs policies may target (nil: DefaultTargetKinds).
	Kinds []TargetKind
	// RequireCredentialsLabel makes the manager read only Secrets labelled
	// devicesync.k12.dev/credentials=true (--require-credentials-label).
	RequireCredentialsLabel bool
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
	// Kind is the kind of MDM the target is.
	Kind *TargetKind
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
	const destinyConcurrency = 10
	hc, err := c.httpClient(ctx, p.Namespace, "source.destiny", src.URL, src.Insecure, src.CABundle, destinyConcurrency)
	if err != nil {
		return nil, err
	}
	dc, err := destiny.New(destiny.Config{
		BaseURL:     strings.TrimRight(src.URL, "/") + "/api/v1/rest/context/" + ctxName,
		Credentials: destiny.Credentials{ClientID: creds[keyClientID], ClientSecret: creds[keyClientSecret]},
		HTTPClient:  hc, Concurrency: destinyConcurrency,
	})
	if err != nil {
		return nil, &ConfigError{Reason: ReasonInvalidURL, Message: "spec.source.destiny.url: " + err.Error()}
	}
	ros, err := c.roster(ctx, p)
	if err != nil {
		return nil, err
	}
	kind, e, err := targetKind(c.Kinds, &p.Spec.Target)
	if err != nil {
		return nil, err
	}
	thc, err := c.httpClient(ctx, p.Namespace, kind.Field, e.URL, e.Insecure, e.CABundle, e.Concurrency)
	if err != nil {
		return nil, err
	}
	tgt, err := kind.Connect(ctx, c, p, thc)
	if err != nil {
		return nil, err
	}
	conn := &Connection{Destiny: dc, Source: &engine.DestinySource{Client: dc, Query: q, Patrons: c.patronCache(p), Roster: ros},
		Target: tgt, Kind: kind}
	return conn, nil
}

// references returns the kinds, names and resourceVersions of the Secrets and ConfigMaps p names, read
// as metadata only (no Secret data). ok is false when one cannot be read: Connect then says why.
func (c *Connector) references(ctx context.Context, p *dsv1.DeviceSyncPolicy) (refs string, ok bool) {
	var b strings.Builder
	read := func(kind string, names []string) bool {
		for _, n := range names {
			m := &metav1.PartialObjectMetadata{}
			m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
			if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: n}, m); err != nil {
				return false
			}
			fmt.Fprintf(&b, "%s/%s@%s;", kind, n, m.ResourceVersion)
		}
		return true
	}
	if !read("Secret", referencedSecrets(p)) || !read("ConfigMap", referencedConfigMaps(p)) {
		return "", false
	}
	return b.String(), true
}

// httpClient builds the HTTP client of one system of a policy: the manager's guard on its URL, its CA
// bundle, and the manager-wide limit of requests in flight to its host.
func (c *Connector) httpClient(ctx context.Context, ns, path, rawURL string, insecure bool, ca *dsv1.CABundleSource, limit int) (*http.Client, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Host == "" {
		return nil, &ConfigError{Reason: ReasonInvalidURL, Message: fmt.Sprintf("spec.%s.url: %q is not an absolute URL", path, rawURL)}
	}
	if err := c.Guard.Check(u, insecure); err != nil {
		return nil, &ConfigError{Reason: ReasonHostNotAllowed, Message: fmt.Sprintf("spec.%s.url: %v", path, err)}
	}
	if c.MaxRequestsPerHost > 0 {
		limit = min(limit, c.MaxRequestsPerHost)
	}
	opts := httpx.ClientOptions{MaxConns: limit, Limits: c.Limits, Limit: limit, Base: c.Transport}
	if ca != nil {
		pem, err := c.caBundle(ctx, ns, path+".caBundle", ca)
		if err != nil {
			return nil, err
		}
		if opts.RootCAs, err = httpx.CertPool(pem); err != nil {
			return nil, &ConfigError{Reason: ReasonInvalidCABundle, Message: fmt.Sprintf("spec.%s.caBundle: %v", path, err)}
		}
	}
	return httpx.NewClient(opts), nil
}

// caBundle reads the PEM bundle a caBundle names.
func (c *Connector) caBundle(ctx context.Context, ns, path string, ca *dsv1.CABundleSource) ([]byte, error) {
	ref, kind := ca.ConfigMapRef, "ConfigMap"
	if ref == nil {
		ref, kind = ca.SecretRef, "Secret"
	}
	key := ref.Key
	if key == "" {
		key = "ca.crt"
	}
	var data []byte
	if kind == "Secret" {
		d, err := c.secretData(ctx, ns, path+".secretRef", ref.Name)
		if err != nil {
			return nil, err
		}
		data = d[key]
	} else {
		var cm corev1.ConfigMap
		if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &ConfigError{Reason: ReasonInvalidCABundle, Message: fmt.Sprintf("spec.%s.configMapRef: ConfigMap %s/%s not found", path, ns, ref.Name)}
			}
			return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, ref.Name, err)
		}
		data = []byte(cm.Data[key])
		if len(data) == 0 {
			data = cm.BinaryData[key]
		}
	}
	if len(data) == 0 {
		return nil, &ConfigError{Reason: ReasonInvalidCABundle, Message: fmt.Sprintf("spec.%s: %s %s/%s has no key %s", path, kind, ns, ref.Name, key)}
	}
	return data, nil
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
	if c.RequireCredentialsLabel && s.Labels[dsv1.CredentialsLabel] != "true" {
		return nil, &ConfigError{Reason: ReasonSecretNotLabelled, Message: fmt.Sprintf(
			"spec.%s: Secret %s/%s lacks the label %s=true, which this manager requires on every Secret it reads (--require-credentials-label): label it if this policy may use it",
			path, ns, name, dsv1.CredentialsLabel)}
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
	opts := roster.Options{KeyField: roster.KeyField(rs.KeyField), People: p.Spec.Roster != nil}
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
