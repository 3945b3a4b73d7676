package destiny_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/destiny"
	"github.com/k12dev/devicesync-operator/internal/httpx"
	simdestiny "github.com/k12dev/devicesync-operator/internal/sim/destiny"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/simhttp"
)

// BenchmarkListItems50k lists the iPads of a 50,000-device district (the size of issue 17) in pages of
// 1000, ten in flight: its B/op is mostly what the item pages cost on their way to the list.
func BenchmarkListItems50k(b *testing.B) {
	d := district.Generate(district.Options{Seed: 1, Schools: 30, Devices: 50000})
	sim := simdestiny.New(d, simdestiny.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := destiny.New(destiny.Config{BaseURL: srv.URL + sim.BasePath(), Credentials: destiny.Credentials{ClientID: "sim-client", ClientSecret: "sim-secret"},
		HTTPClient: srv.Client(), Concurrency: 10})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		items, err := c.ListItems(context.Background(), destiny.ItemQuery{ResourceTypes: []string{district.ResourceTypeIPad}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(items)), "items")
	}
}

// BenchmarkListItemsAndPatrons100k lists a 100,000-device district and looks every borrower up,
// against a simulator with 1 ms latency per call, and reports the calls made next to the lower
// bound calls x latency / concurrency.
func BenchmarkListItemsAndPatrons100k(b *testing.B) {
	const latency, concurrency = time.Millisecond, 10
	d := district.Generate(district.Options{Seed: 1, Schools: 60, Devices: 100000})
	sim := simdestiny.New(d, simdestiny.Options{})
	sim.Sim().SetKnobs(simhttp.Knobs{Latency: latency})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := destiny.New(destiny.Config{BaseURL: srv.URL + sim.BasePath(), Credentials: destiny.Credentials{ClientID: "sim-client", ClientSecret: "sim-secret"},
		HTTPClient: srv.Client(), Concurrency: concurrency, Backoff: httpx.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sim.Sim().ResetCounters()
		items, err := c.ListItems(context.Background(), destiny.ItemQuery{ResourceTypes: []string{district.ResourceTypeIPad}})
		if err != nil {
			b.Fatal(err)
		}
		_, errs := c.Patrons(context.Background(), nil, items)
		if len(errs) != 0 {
			b.Fatal(errs[0])
		}
		b.ReportMetric(float64(len(items)), "items")
		calls := sim.Sim().TotalCalls()
		b.ReportMetric(float64(calls), "calls")
		b.ReportMetric(float64(time.Duration(calls)*latency/concurrency/time.Millisecond), "lowerbound-ms")
	}
}
