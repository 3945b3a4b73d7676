package schedule

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// MaxRunNameLength keeps SyncRun names usable as label values too (DNS-1123 label length).
const MaxRunNameLength = 63

// runNameSuffixLen is len("-20260310-1040z").
const runNameSuffixLen = 15

// RunName is the name of the SyncRun of a scheduled slot: "<policy>-<yyyymmdd>-<hhmm>z", the slot's
// instant in UTC to the minute ("z" as in Zulu, the UTC marker), for example
// "district-ipads-20260310-0940z" for 05:40 EDT on 10 March 2026.
//
// UTC keeps the name the same whichever Location the slot time carries (it comes back from the API
// server in UTC) and distinct across DST fall-back, where a local wall time happens twice (01:40 EDT
// is "0540z", 01:40 EST is "0640z"). The name sorts in run order.
//
// The result is a valid DNS-1123 subdomain of at most 63 characters. A policy name that would not
// fit (over 48 characters), or that is not a lowercase DNS-1123 name, is shortened and sanitised and
// followed by 8 hex characters of the SHA-256 of the full policy name, so two long names that share
// a prefix still give different run names.
func RunName(policyName string, slot time.Time) string {
	suffix := "-" + strings.ToLower(slot.UTC().Format("20060102-1504")) + "z"
	maxPrefix := MaxRunNameLength - runNameSuffixLen
	clean := sanitizeName(policyName)
	if clean == policyName && len(clean) <= maxPrefix && clean != "" {
		return clean + suffix
	}
	sum := sha256.Sum256([]byte(policyName))
	hash := hex.EncodeToString(sum[:4])
	keep := maxPrefix - len(hash) - 1
	if len(clean) > keep {
		clean = strings.TrimRight(clean[:keep], "-.")
	}
	if clean == "" {
		return hash + suffix
	}
	return clean + "-" + hash + suffix
}

// sanitizeName lowercases name and keeps it a DNS-1123 subdomain: characters outside [a-z0-9.-]
// become '-', and each dot-separated part starts and ends with a letter or digit.
func sanitizeName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	parts := strings.Split(b.String(), ".")
	kept := parts[:0]
	for _, p := range parts {
		if p = strings.Trim(p, "-"); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}
