package engine_test

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
)

// Benchmark parameters: the vendors' guidance (Jamf: at most 5 connections; Destiny: 10 concurrent requests
// observed fine) and a 50 ms round trip on every call.
const (
	benchLatency            = 50 * time.Millisecond
	destinyConcurrency      = 10
	jamfConcurrency         = 5
	benchSchools            = 20
	patronCacheWarm, cold   = true, false
	driftNone, driftTwoPct  = 0, 2
	defaultDeviceCountSmall = 10000
	defaultDeviceCountLarge = 50000
)

// driftWeights generates pct % of devices in need of a change (spread over the kinds of drift a
// district sees between two hourly runs) and the rest in sync.
func driftWeights(pct int) map[string]int {
	if pct == 0 {
		return map[string]int{district.CaseNormal: 1}
	}
	drift := map[string]int{
		district.CaseStaleName: 4, district.CaseWrongUser: 3, district.CaseNoUser: 3, district.CaseWrongBuilding: 2,
		district.CaseReturned: 3, district.CaseLost: 2, district.CaseFound: 1, district.CaseTeacherCheckout: 1,
		district.CaseInactiveStudent: 1,
	} // 20 parts
	w := map[string]int{district.CaseNormal: 20 * (100 - pct) / pct}
	maps.Copy(w, drift)
	return w
}

// BenchmarkRun runs the whole engine (snapshot, plan, apply) against the Destiny and Jamf Pro simulators
// with 50 ms latency, and prints the wall time next to the lower bound:
//
//	max(Destiny calls / 10, Jamf reads / 5) x latency  +  Jamf writes / 5 x latency
//
// (both systems are read at once; writes follow the reads). The calls counted are the ones the run made,
// one per page, per distinct borrower (cold cache) and per write: none is redundant, so the bound is the
// best any client could do with these calls. Peak heap is the process's, simulators included.
//
//	go test -run '^$' -bench BenchmarkRun -benchtime=1x -timeout 30m ./internal/sync/engine
func BenchmarkRun(b *testing.B) {
	cases := []struct {
		devices, drift int
		warm           bool
		latency        time.Duration
	}{
		{defaultDeviceCountSmall, driftTwoPct, cold, benchLatency},
		{defaultDeviceCountSmall, driftTwoPct, patronCacheWarm, benchLatency},
		{defaultDeviceCountSmall, driftNone, patronCacheWarm, benchLatency},
		{defaultDeviceCountLarge, driftTwoPct, patronCacheWarm, benchLatency},
		{defaultDeviceCountLarge, driftNone, patronCacheWarm, benchLatency},
		{defaultDeviceCountLarge, driftTwoPct, cold, benchLatency},
		// No latency: the CPU floor of this machine (simulators included), to read the rows above against.
		{defaultDeviceCountSmall, driftNone, patronCacheWarm, 0},
		{defaultDeviceCountLarge, driftNone, patronCacheWarm, 0},
	}
	for _, tc := range cases {
		cache := "cold"
		if tc.warm {
			cache = "warm"
		}
		b.Run(fmt.Sprintf("devices=%d/drift=%d%%/patrons=%s/latency=%s", tc.devices, tc.drift, cache, tc.latency), func(b *testing.B) {
			for range b.N {
				benchRun(b, tc.devices, tc.drift, tc.warm, tc.latency)
			}
		})
	}
}

func benchRun(b *testing.B, devices, drift int, warm bool, latency time.Duration) {
	b.StopTimer()
	d := district.Generate(district.Options{Seed: 11, Schools: benchSchools, Devices: devices, Weights: driftWeights(drift), Now: genNow})
	dsim, src := destinySideN(b, d, destinyConcurrency)
	jsim, tgt := jamfProSide(b, d, jamfConcurrency)
	tgt.PendingLostMode = true // as the controller sets it when the policy manages lostMode
	run := engine.Run{Policy: defaultPolicy(b, d), Source: src, Target: tgt, Retry: time.Millisecond}
	if warm { // the previous hourly run filled the patron cache
		if _, err := src.Read(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	knobs := simhttp.Knobs{Latency: latency}
	dsim.Sim().SetKnobs(knobs)
	jsim.HTTP().SetKnobs(knobs)
	dsim.Sim().ResetCounters()
	jsim.HTTP().ResetCounters()
	runtime.GC()

	peak := sampleHeap()
	b.StartTimer()
	start := time.Now()
	rep, err := engine.Execute(context.Background(), run)
	wall := time.Since(start)
	b.StopTimer()
	heap := peak()
	if err != nil || rep.Outcome != engine.Succeeded {
		b.Fatalf("outcome %s: %v", rep.Outcome, err)
	}

	dCalls := dsim.Sim().Calls()
	jCalls := jsim.HTTP().Calls()
	dTotal := dsim.Sim().TotalCalls()
	jWrites := jsim.WriteCalls()
	jReads := jsim.HTTP().TotalCalls() - jWrites // reads and token requests
	if drift == 0 && jWrites != 0 {
		b.Fatalf("a run with nothing to change made %d writes", jWrites)
	}
	lower := time.Duration(max(float64(dTotal)/destinyConcurrency, float64(jReads)/jamfConcurrency)*float64(latency)) +
		time.Duration(float64(jWrites)/jamfConcurrency*float64(latency))
	ratio := 0.0 // no latency, no bound
	if lower > 0 {
		ratio = wall.Seconds() / lower.Seconds()
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "%d devices, %d%% drift: %d changes, wall %.2fs, lower bound %.2fs, ratio %.2f, peak heap %d MiB (plan %.0f ms, snapshot %.2fs, apply %.2fs); peak in flight Destiny %d, Jamf %d\n",
		devices, drift, len(rep.Plan.Changes), wall.Seconds(), lower.Seconds(), ratio, heap>>20,
		float64(rep.PlanTime.Microseconds())/1000, rep.SnapshotTime.Seconds(), rep.ApplyTime.Seconds(),
		dsim.Sim().PeakInFlight(), jsim.HTTP().PeakInFlight())
	for _, side := range []struct {
		name  string
		calls map[string]int
	}{{"Destiny", dCalls}, {"Jamf Pro", jCalls}} {
		for _, p := range slices.Sorted(maps.Keys(side.calls)) {
			fmt.Fprintf(&sb, "  %-9s %7d  %s\n", side.name, side.calls[p], p)
		}
	}
	b.Log("\n" + sb.String())
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(lower.Seconds(), "lowerbound-s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(heap>>20), "peakheap-MiB")
	b.ReportMetric(float64(dTotal+jReads+jWrites), "calls")
	b.StartTimer()
}

// sampleHeap samples the live heap every 20 ms until the returned function is called, which returns the peak.
func sampleHeap() func() uint64 {
	var (
		mu   gosync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	read := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		read()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// BenchmarkSnapshotRetained50k reports what a run holds once it has read both sides of a 50,000-device
// district (patron cache warm, no latency): the Destiny snapshot and the Jamf Pro inventory, in MiB of
// live heap after a collection. The roster and the patron cache are read before and not counted. This
// is most of what a run's peak live heap is made of (issue 17's memory target).
func BenchmarkSnapshotRetained50k(b *testing.B) {
	d := district.Generate(district.Options{Seed: 11, Schools: benchSchools, Devices: defaultDeviceCountLarge, Weights: driftWeights(driftTwoPct), Now: genNow})
	_, src := destinySideN(b, d, destinyConcurrency)
	_, tgt := jamfProSide(b, d, jamfConcurrency)
	if _, err := src.Read(context.Background()); err != nil { // fills the patron cache
		b.Fatal(err)
	}
	live := func() float64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	var source, inventory float64
	for b.Loop() {
		start := live()
		snap, err := src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		read := live()
		devices, err := tgt.Inventory(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		source, inventory = read-start, live()-read
		runtime.KeepAlive(snap)
		runtime.KeepAlive(devices)
	}
	b.ReportMetric(source, "destiny-MiB")
	b.ReportMetric(inventory, "jamf-MiB")
}
