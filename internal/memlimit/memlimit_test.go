package memlimit_test

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/k12dev/devicesync-operator/internal/memlimit"
)

func TestFromContainerLimit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name    string
		value   string
		want    int64
		wantOK  bool
		wantErr string
	}{
		{name: "no value: no limit to follow", value: "", wantOK: false},
		{name: "blank value: no limit to follow", value: "  ", wantOK: false},
		{name: "the downward API's byte count of 1Gi gives 90% of it in whole MiB", value: "1073741824", want: 921 * mib, wantOK: true},
		{name: "a byte count of 256Mi gives 230 MiB", value: "268435456", want: 230 * mib, wantOK: true},
		{name: "a quantity is read like the byte count it names", value: "1Gi", want: 921 * mib, wantOK: true},
		{name: "a decimal quantity", value: "200M", want: 171 * mib, wantOK: true},
		{name: "surrounding space is ignored", value: " 268435456\n", want: 230 * mib, wantOK: true},
		{name: "zero is refused", value: "0", wantErr: "not a positive memory size"},
		{name: "a negative size is refused", value: "-1Gi", wantErr: "not a positive memory size"},
		{name: "a size under a MiB once reduced is refused", value: "1000", wantErr: "smaller than 1 MiB"},
		{name: "a word is refused, naming the variable", value: "lots", wantErr: memlimit.EnvVar + `="lots" is not a memory size`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := memlimit.FromContainerLimit(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if ok {
					t.Errorf("ok is true with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("got %d MiB (ok %v), want %d MiB (ok %v)", got/mib, ok, tc.want/mib, tc.wantOK)
			}
		})
	}
}

func TestApply(t *testing.T) {
	const mib = 1 << 20
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	for _, tc := range []struct {
		name      string
		env       map[string]string
		want      int64 // the runtime's limit afterwards
		wantFrom  string
		wantError bool
	}{
		{name: "the container's limit sets the runtime's to 90% of it",
			env: map[string]string{memlimit.EnvVar: "268435456"}, want: 230 * mib, wantFrom: "90% of " + memlimit.EnvVar + "=268435456"},
		{name: "an explicit GOMEMLIMIT wins: the runtime's limit is left as it is",
			env: map[string]string{"GOMEMLIMIT": "100MiB", memlimit.EnvVar: "268435456"}, want: prev, wantFrom: "GOMEMLIMIT=100MiB"},
		{name: "neither variable: no limit is set", env: map[string]string{}, want: prev},
		{name: "a container limit that is not a size is an error, and sets nothing",
			env: map[string]string{memlimit.EnvVar: "lots"}, want: prev, wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(prev)
			_, from, err := memlimit.Apply(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantError {
				t.Fatalf("error %v, want one: %v", err, tc.wantError)
			}
			if from != tc.wantFrom {
				t.Errorf("from %q, want %q", from, tc.wantFrom)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("runtime limit %d, want %d", got, tc.want)
			}
		})
	}
}
