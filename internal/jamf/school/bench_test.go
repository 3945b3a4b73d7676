package school

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/k12dev/devicesync-operator/internal/httpx"
	"github.com/k12dev/devicesync-operator/internal/sim/district"
	"github.com/k12dev/devicesync-operator/internal/sim/jamfschool"
)

// BenchmarkDevices50k lists a district of 50,000 devices from the simulator: one unpaged answer larger
// than a buffered body may be (httpx.MaxBodyBytes), read as it arrives. It reports the answer's size,
// and what the listing keeps (MiB of live heap after a collection: the devices and nothing of the answer).
func BenchmarkDevices50k(b *testing.B) {
	d := district.Generate(district.Options{Seed: 1, Schools: 20, Devices: 50000})
	srv := httptest.NewServer(jamfschool.New(d, jamfschool.Options{}))
	defer srv.Close()
	size := answerSize(b, srv.URL+"/api/devices")
	if size <= httpx.MaxBodyBytes {
		b.Fatalf("the answer is %d bytes, not over the %d a buffered body may be: the benchmark no longer shows a large district", size, httpx.MaxBodyBytes)
	}
	b.SetBytes(size)
	c := newTestClient(b, srv.URL+"/api", func(c *Config) { c.HTTPClient.Timeout = 5 * time.Minute })
	list := func() []Device {
		devs, err := c.Devices(context.Background())
		if err != nil || len(devs) < 45000 {
			b.Fatalf("%d devices, %v", len(devs), err)
		}
		return devs
	}
	// What the listing keeps: the live heap with its devices less the live heap once they are dropped.
	var held, dropped runtime.MemStats
	devs := list()
	runtime.GC()
	runtime.ReadMemStats(&held)
	runtime.KeepAlive(devs)
	devs = nil
	runtime.GC()
	runtime.ReadMemStats(&dropped)
	b.ResetTimer()
	for b.Loop() {
		list()
	}
	b.ReportMetric(float64(int64(held.HeapAlloc)-int64(dropped.HeapAlloc))/(1<<20), "retained-MiB")
	b.ReportMetric(float64(size)/(1<<20), "answer-MiB")
}

func answerSize(b *testing.B, url string) int64 {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth(jamfschool.DefaultNetworkID, jamfschool.DefaultAPIKey)
	req.Header.Set("X-Server-Protocol-Version", DefaultProtocolVersion)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return n
}
