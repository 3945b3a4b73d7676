// Command demo runs the operator end to end on a laptop: the local control plane (kube-apiserver and
// etcd built from their Go modules), the Destiny and Jamf simulators seeded with a generated district,
// the sample policy, and the manager in-process. It triggers one run, shows it as kubectl does, checks
// the simulated Jamf against the district's oracle, and keeps running until Ctrl-C.
//
//	go run ./hack/demo [--once] [--target jamfpro|jamfschool] [--devices 3000]
//
// With --once it exits after the first run: status 0 only when the run Succeeded and (Jamf Pro) every
// device is in the expected state, or (Jamf School, which also syncs the roster) every user and class
// is as the roster's rules say, the ASM-managed class was left alone and reported, the new students'
// iPads have them as owners, and a second run changed no user, group or class.
//
// The control plane comes from hack/build-control-plane.sh (built the first time, about 4 minutes), or
// from KUBEBUILDER_ASSETS when that is set. The kubeconfig and the manager's log go to bin/demo/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(realMain()) }

func realMain() int {
	cfg := defaultConfig()
	flag.BoolVar(&cfg.Once, "once", false, "exit after the first run: status 0 only if it succeeded and Jamf is in the expected state")
	flag.StringVar(&cfg.Target, "target", cfg.Target, "the MDM to simulate: jamfpro or jamfschool")
	flag.IntVar(&cfg.Devices, "devices", cfg.Devices, "devices in the generated district")
	flag.IntVar(&cfg.Schools, "schools", cfg.Schools, "schools in the generated district")
	flag.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the generated district")
	flag.StringVar(&cfg.MetricsAddr, "metrics-bind-address", cfg.MetricsAddr, "address of the manager's plain-HTTP metrics endpoint (0 disables it)")
	flag.DurationVar(&cfg.RunTimeout, "run-timeout", cfg.RunTimeout, "how long to wait for the run to finish")
	flag.StringVar(&cfg.LogLevel, "log-level", "error", "level of the manager's log in bin/demo/manager.log: error, info or debug")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if cfg.Target != TargetJamfPro && cfg.Target != TargetJamfSchool {
		fmt.Fprintf(os.Stderr, "demo: --target must be %s or %s, not %q\n", TargetJamfPro, TargetJamfSchool, cfg.Target)
		return 2
	}
	if cfg.Devices < 1 || cfg.Schools < 1 {
		fmt.Fprintln(os.Stderr, "demo: --devices and --schools must be at least 1")
		return 2
	}

	// A control plane chosen by the caller (as for envtest) is used as is; otherwise the script finds or builds it.
	cfg.Assets = os.Getenv("KUBEBUILDER_ASSETS")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	d := newDemo(cfg)
	defer d.stop()
	outcome, err := d.run(ctx)
	switch {
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		fmt.Fprintln(d.out, "\nInterrupted: stopping the manager, the simulators and the control plane.")
		return 1
	case err != nil:
		fmt.Fprintf(os.Stderr, "\ndemo: %v\n", err)
		return 1
	}
	if cfg.Once {
		if !outcome.OK {
			fmt.Fprintf(os.Stderr, "\ndemo --once: FAILED: %s\n", outcome.Reason)
			return 1
		}
		fmt.Fprintf(d.out, "\ndemo --once: OK: %s\n", outcome.Reason)
		return 0
	}
	if !outcome.OK {
		fmt.Fprintf(d.out, "\nThe run did not end as expected: %s\n", outcome.Reason)
	}
	d.printHowToLookAround()
	<-ctx.Done()
	fmt.Fprintln(d.out, "\nStopping the manager, the simulators and the control plane.")
	return 0
}
