// Package v1alpha1 contains the API of devicesync-operator: DeviceSyncPolicy, which says when and how
// Jamf is reconciled against Follett Destiny, and SyncRun, one execution of a policy.
//
// +kubebuilder:object:generate=true
// +groupName=devicesync.k12.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of these objects.
	GroupVersion = schema.GroupVersion{Group: "devicesync.k12.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
