// Package memlimit sets the Go runtime's soft memory limit from the container's memory limit.
//
// The manager's Deployment passes its container's limits.memory through the downward API
// (resourceFieldRef, divisor 1: a count of bytes) in the environment variable EnvVar. Without a soft
// limit the runtime lets the heap grow to twice the live heap (GOGC=100) whatever the container may
// use; with one set a little below the container's limit it collects harder as the heap nears it,
// instead of the kernel killing the pod. A GOMEMLIMIT set explicitly always wins.
package memlimit

import (
	"fmt"
	"runtime/debug"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// EnvVar holds the container's memory limit, as the downward API writes limits.memory.
const EnvVar = "DEVICESYNC_MEMORY_LIMIT"

// Share is the part of the container's limit given to the Go heap and runtime: the rest is left for
// what the runtime does not count (thread stacks outside Go, the binary's text, fragmentation).
const Share = 0.9

// FromContainerLimit turns the value of EnvVar into a soft memory limit in bytes: Share of it,
// rounded down to whole MiB. ok is false when there is no limit to follow (an empty value). The value is a
// byte count (the downward API's form with the default divisor) or a Kubernetes quantity ("512Mi");
// anything else, zero or a negative value is an error naming the variable.
func FromContainerLimit(v string) (limit int64, ok bool, err error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0, false, fmt.Errorf("%s=%q is not a memory size (want bytes, as the downward API writes limits.memory, or a quantity such as 512Mi)", EnvVar, v)
	}
	if q.Sign() <= 0 {
		return 0, false, fmt.Errorf("%s=%q is not a positive memory size", EnvVar, v)
	}
	const mib = 1 << 20
	b := q.Value() // whole bytes, rounded up
	limit = int64(float64(b)*Share) / mib * mib
	if limit <= 0 {
		return 0, false, fmt.Errorf("%s=%q is smaller than 1 MiB once %d%% of it is taken: too small for the manager", EnvVar, v, int(Share*100))
	}
	return limit, true, nil
}

// Apply sets the runtime's soft memory limit from EnvVar unless GOMEMLIMIT is set (the runtime has
// read it already), as getenv reads them, and says which limit is in force and where it came from
// ("" when there is none: neither variable is set).
func Apply(getenv func(string) string) (limit int64, from string, err error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT=" + v, nil
	}
	v := getenv(EnvVar)
	limit, ok, err := FromContainerLimit(v)
	if err != nil || !ok {
		return 0, "", err
	}
	debug.SetMemoryLimit(limit)
	return limit, fmt.Sprintf("%d%% of %s=%s", int(Share*100), EnvVar, strings.TrimSpace(v)), nil
}
