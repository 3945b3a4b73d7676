package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

// Sharding, the way Flux does it: each manager replica takes the policies whose labels match its
// --watch-label-selector (for example sharding.devicesync.k12.dev/key=shard1; the main replica takes
// !sharding.devicesync.k12.dev/key), and with them their runs: a policy copies its ShardLabel to every
// run it creates, so the same selector picks the runs. Each shard elects its own leader.

// ShardLabel on a DeviceSyncPolicy names the shard (manager replica) that handles it; the policy's runs
// carry it too.
const ShardLabel = "sharding.devicesync.k12.dev/key"

// ParseShardSelector parses a --watch-label-selector value ("" selects everything).
func ParseShardSelector(s string) (labels.Selector, error) {
	if s == "" {
		return labels.Everything(), nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--watch-label-selector %q: %w", s, err)
	}
	return sel, nil
}

// ShardCache restricts a manager's cache of policies and runs to sel: the manager then reconciles only
// those (the controllers' watches are fed from this cache).
func ShardCache(sel labels.Selector) map[client.Object]cache.ByObject {
	if sel == nil || sel.Empty() {
		return nil
	}
	return map[client.Object]cache.ByObject{
		&dsv1.DeviceSyncPolicy{}: {Label: sel},
		&dsv1.SyncRun{}:          {Label: sel},
	}
}

// LeaderElectionID is the leader election lease of a shard: one per selector, so each shard has its
// own leader and the unsharded manager keeps the plain ID.
func LeaderElectionID(sel labels.Selector) string {
	const id = "devicesync-operator.devicesync.k12.dev"
	if sel == nil || sel.Empty() {
		return id
	}
	sum := sha256.Sum256([]byte(sel.String()))
	return id + "-" + hex.EncodeToString(sum[:4])
}
