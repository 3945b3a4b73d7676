package httpx

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
)

// HostLimits caps the requests in flight to each host across every client that shares it: the manager
// holds one, so Jamf's guidance of 5 connections per server holds across all policies, connection tests,
// inventory reads and writes together. A request to a host is admitted while fewer requests than its own
// client's limit are in flight there, so the count never exceeds the largest limit any client of that
// host asked for (Jamf Pro policies default to 5). A slot is held until the response body is closed.
type HostLimits struct {
	mu    sync.Mutex
	hosts map[string]*hostSlots
}

// NewHostLimits returns an empty registry.
func NewHostLimits() *HostLimits { return &HostLimits{hosts: map[string]*hostSlots{}} }

type hostSlots struct {
	inFlight, peak int
	changed        chan struct{} // closed and replaced whenever a slot frees
}

func (h *HostLimits) slots(host string) *hostSlots {
	host = strings.ToLower(host)
	s := h.hosts[host]
	if s == nil {
		s = &hostSlots{changed: make(chan struct{})}
		h.hosts[host] = s
	}
	return s
}

// Acquire waits for a slot to host under limit and returns its release (call it once).
func (h *HostLimits) Acquire(ctx context.Context, host string, limit int) (func(), error) {
	limit = max(limit, 1)
	for {
		h.mu.Lock()
		s := h.slots(host)
		if s.inFlight < limit {
			s.inFlight++
			s.peak = max(s.peak, s.inFlight)
			h.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { h.release(s) }) }, nil
		}
		wait := s.changed
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (h *HostLimits) release(s *hostSlots) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.inFlight--
	close(s.changed)
	s.changed = make(chan struct{})
}

// Peak returns the most requests ever in flight at once to host (for tests and benchmarks).
func (h *HostLimits) Peak(host string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.hosts[strings.ToLower(host)]; s != nil {
		return s.peak
	}
	return 0
}

// Peaks returns Peak for every host seen.
func (h *HostLimits) Peaks() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.hosts))
	for host, s := range h.hosts {
		out[host] = s.peak
	}
	return out
}

// Transport wraps base so each request holds a slot of its host under limit until its body is closed.
func (h *HostLimits) Transport(base http.RoundTripper, limit int) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		release, err := h.Acquire(req.Context(), req.URL.Host, limit)
		if err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err
		}
		resp, err := base.RoundTrip(req)
		if err != nil || resp.Body == nil {
			release()
			return resp, err
		}
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
		return resp, nil
	})
}

type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
