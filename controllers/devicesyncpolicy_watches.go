package controllers

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// The policy watches the Secrets and ConfigMaps it names, so that creating a missing Secret, adding a
// key or labelling it makes the policy Ready within seconds, without an edit of the policy. The watch is
// on metadata only (builder.OnlyMetadata): the manager's cache never holds Secret data, and the
// Connector still reads the data of a Secret a policy names, uncached, when it needs it.

// Field indexes of DeviceSyncPolicy: the names of the Secrets and of the ConfigMaps a policy references.
const (
	indexReferencedSecrets    = "devicesync.k12.dev/referenced-secrets"
	indexReferencedConfigMaps = "devicesync.k12.dev/referenced-configmaps"
)

// referencedSecrets are the names of the Secrets p names: credentials, a roster, caBundles.
func referencedSecrets(p *dsv1.DeviceSyncPolicy) []string {
	src := p.Spec.Source.Destiny
	names := []string{src.CredentialsSecretRef.Name}
	if rs := src.Roster; rs != nil && rs.SecretRef != nil {
		names = append(names, rs.SecretRef.Name)
	}
	cas := []*dsv1.CABundleSource{src.CABundle}
	if _, e, err := targetKind(nil, &p.Spec.Target); err == nil {
		names = append(names, e.CredentialsSecret)
		cas = append(cas, e.CABundle)
	}
	for _, ca := range cas {
		if ca != nil && ca.SecretRef != nil {
			names = append(names, ca.SecretRef.Name)
		}
	}
	return distinct(names)
}

// referencedConfigMaps are the names of the ConfigMaps p names: a roster, caBundles.
func referencedConfigMaps(p *dsv1.DeviceSyncPolicy) []string {
	src := p.Spec.Source.Destiny
	var names []string
	if rs := src.Roster; rs != nil && rs.ConfigMapRef != nil {
		names = append(names, rs.ConfigMapRef.Name)
	}
	cas := []*dsv1.CABundleSource{src.CABundle}
	if _, e, err := targetKind(nil, &p.Spec.Target); err == nil {
		cas = append(cas, e.CABundle)
	}
	for _, ca := range cas {
		if ca != nil && ca.ConfigMapRef != nil {
			names = append(names, ca.ConfigMapRef.Name)
		}
	}
	return distinct(names)
}

func distinct(names []string) []string {
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// indexReferences registers the two field indexes with the manager's cache.
func indexReferences(ctx context.Context, mgr ctrl.Manager) error {
	for index, names := range map[string]func(*dsv1.DeviceSyncPolicy) []string{
		indexReferencedSecrets: referencedSecrets, indexReferencedConfigMaps: referencedConfigMaps,
	} {
		if err := mgr.GetFieldIndexer().IndexField(ctx, &dsv1.DeviceSyncPolicy{}, index, func(o client.Object) []string {
			p, ok := o.(*dsv1.DeviceSyncPolicy)
			if !ok {
				return nil
			}
			return names(p)
		}); err != nil {
			return err
		}
	}
	return nil
}

// policiesReferencing maps a Secret or ConfigMap (its metadata) to the policies of its namespace that
// name it, through the index.
func (r *DeviceSyncPolicyReconciler) policiesReferencing(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list dsv1.DeviceSyncPolicyList
		if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing the policies that reference an object", "namespace", o.GetNamespace(), "name", o.GetName())
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, p := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}})
		}
		return reqs
	}
}

// watchedKinds are the kinds the policy watches (metadata only), with their index.
var watchedKinds = []struct {
	obj   client.Object
	index string
}{{&corev1.Secret{}, indexReferencedSecrets}, {&corev1.ConfigMap{}, indexReferencedConfigMaps}}
