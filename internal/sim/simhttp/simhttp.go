// Package simhttp is the plumbing the vendor simulators share: a ServeMux whose routes count their
// calls, apply latency, limit concurrency and inject faults, so tests and benchmarks can make a
// simulated Destiny or Jamf slow, flaky or down, and read how many calls each endpoint received.
//
// Faults are deterministic when queued with FailNext (tests) and seeded when drawn from a rate
// (benchmarks, soak runs). What a fault looks like on the wire (a vendor's JSON error, an HTML
// gateway page, a truncated body) is decided here once, so every simulator fails the same way real
// load balancers in front of these products do.
package simhttp

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Fault is one way a request can fail before it reaches the simulated product.
type Fault int

const (
	// FaultNone lets the request through.
	FaultNone Fault = iota
	// FaultStatus503 answers 503 with a plain-text body.
	FaultStatus503
	// FaultStatus500 answers 500 with a plain-text body.
	FaultStatus500
	// FaultHTML502 answers 502 with an HTML gateway page, as a load balancer does.
	FaultHTML502
	// FaultHTML504 answers 504 with an HTML gateway timeout page.
	FaultHTML504
	// FaultTooManyRequests answers 429 with Retry-After: 1.
	FaultTooManyRequests
	// FaultTruncated lets the handler run, then cuts its body in half (malformed JSON on the client side).
	FaultTruncated
	// FaultHang holds the request until the client gives up (its context ends).
	FaultHang
	// FaultResetConnection hijacks and closes the connection without an answer.
	FaultResetConnection
)

// OverloadMode says what happens to a request beyond MaxConcurrent.
type OverloadMode int

const (
	// OverloadQueue makes the request wait for a free slot (the server slows down).
	OverloadQueue OverloadMode = iota
	// OverloadReject answers 503 at once.
	OverloadReject
)

// Knobs are the behaviour a test can change at any time; the zero value is a fast, healthy server.
type Knobs struct {
	// Latency is added to every request before it is handled.
	Latency time.Duration
	// ErrorRate is the fraction (0..1) of requests answered with RateFault.
	ErrorRate float64
	// RateFault is the fault drawn by ErrorRate (default FaultStatus503).
	RateFault Fault
	// MaxConcurrent limits requests in flight (0: unlimited); Overload says what happens past it.
	MaxConcurrent int
	Overload      OverloadMode
}

// Server is an http.Handler whose routes share knobs, faults and counters.
type Server struct {
	mux *http.ServeMux

	mu       sync.Mutex
	knobs    Knobs
	queue    []queuedFault
	counts   map[string]int
	inFlight int
	peak     int
	faults   int
	rnd      *rand.Rand
	slots    chan struct{}
	slotsCap int
}

type queuedFault struct {
	pattern string // "" matches any route
	fault   Fault
}

// NewServer returns a server with no routes; seed makes rate-drawn faults repeatable.
func NewServer(seed uint64) *Server {
	return &Server{
		mux:    http.NewServeMux(),
		counts: map[string]int{},
		rnd:    rand.New(rand.NewPCG(seed, seed^0x5eed)),
	}
}

// Handle registers h for a ServeMux pattern ("GET /api/v1/buildings"); calls are counted under the pattern.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.wrap(pattern, h))
}

// ServeHTTP serves the registered routes; unknown paths get the mux's 404 or 405.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetKnobs replaces the knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobs = k
}

// Knobs returns the current knobs.
func (s *Server) Knobs() Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.knobs
}

// FailNext makes the next n requests to pattern (any route when pattern is "") fail with f.
func (s *Server) FailNext(pattern string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.queue = append(s.queue, queuedFault{pattern: pattern, fault: f})
	}
}

// Calls returns how many requests each route pattern received, faults included.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// CallCount returns the number of requests pattern received.
func (s *Server) CallCount(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[pattern]
}

// TotalCalls returns the number of requests all routes received.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.counts {
		n += v
	}
	return n
}

// FaultsServed is how many requests were answered with a fault (queued or drawn), so a test can tell
// that the faults it armed really happened.
func (s *Server) FaultsServed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// PeakInFlight is the largest number of requests handled at once since the last ResetCounters.
func (s *Server) PeakInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// ResetCounters zeroes call counts and the in-flight peak.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.peak = s.inFlight
}

// FormatCalls renders counts as sorted "pattern: n" lines, for benchmark and test output.
func FormatCalls(calls map[string]int) string {
	keys := make([]string, 0, len(calls))
	for k := range calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for _, k := range keys {
		out += fmt.Sprintf("%s: %d\n", k, calls[k])
	}
	return out
}

func (s *Server) wrap(pattern string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault, knobs, release, rejected := s.admit(pattern, r)
		defer release()
		if rejected {
			writePlain(w, http.StatusServiceUnavailable, "Service Unavailable: too many concurrent requests")
			return
		}
		if knobs.Latency > 0 {
			t := time.NewTimer(knobs.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch fault {
		case FaultNone:
			h(w, r)
		case FaultTruncated:
			tw := &truncatingWriter{header: http.Header{}}
			h(tw, r)
			for k, v := range tw.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			code := tw.code
			if code == 0 {
				code = http.StatusOK
			}
			w.WriteHeader(code)
			_, _ = w.Write(tw.body[:len(tw.body)/2])
		default:
			WriteFault(w, r, fault)
		}
	})
}

// admit counts the request, takes a concurrency slot and picks its fault.
func (s *Server) admit(pattern string, r *http.Request) (Fault, Knobs, func(), bool) {
	s.mu.Lock()
	s.counts[pattern]++
	knobs := s.knobs
	fault := FaultNone
	for i, q := range s.queue {
		if q.pattern == "" || q.pattern == pattern {
			fault = q.fault
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			break
		}
	}
	if fault == FaultNone && knobs.ErrorRate > 0 && s.rnd.Float64() < knobs.ErrorRate {
		fault = knobs.RateFault
		if fault == FaultNone {
			fault = FaultStatus503
		}
	}
	if fault != FaultNone {
		s.faults++
	}
	var slots chan struct{}
	if knobs.MaxConcurrent > 0 {
		if s.slots == nil || s.slotsCap != knobs.MaxConcurrent {
			s.slots = make(chan struct{}, knobs.MaxConcurrent)
			s.slotsCap = knobs.MaxConcurrent
		}
		slots = s.slots
	}
	s.mu.Unlock()

	acquired := false
	if slots != nil {
		if knobs.Overload == OverloadReject {
			select {
			case slots <- struct{}{}:
				acquired = true
			default:
				return fault, knobs, func() {}, true
			}
		} else {
			select {
			case slots <- struct{}{}:
				acquired = true
			case <-r.Context().Done():
				return fault, knobs, func() {}, true
			}
		}
	}
	s.mu.Lock()
	s.inFlight++
	if s.inFlight > s.peak {
		s.peak = s.inFlight
	}
	s.mu.Unlock()
	return fault, knobs, func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
		if acquired {
			<-slots
		}
	}, false
}

// WriteFault writes the wire form of f (everything but FaultNone and FaultTruncated).
func WriteFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f {
	case FaultStatus503:
		writePlain(w, http.StatusServiceUnavailable, "Service Unavailable")
	case FaultStatus500:
		writePlain(w, http.StatusInternalServerError, "Internal Server Error")
	case FaultHTML502:
		writeHTML(w, http.StatusBadGateway, "502 Bad Gateway")
	case FaultHTML504:
		writeHTML(w, http.StatusGatewayTimeout, "504 Gateway Time-out")
	case FaultTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writePlain(w, http.StatusTooManyRequests, "Too Many Requests")
	case FaultHang:
		<-r.Context().Done()
	case FaultResetConnection:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		writePlain(w, http.StatusServiceUnavailable, "Service Unavailable")
	}
}

func writePlain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}

func writeHTML(w http.ResponseWriter, code int, title string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", title, title)
}

type truncatingWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (t *truncatingWriter) Header() http.Header  { return t.header }
func (t *truncatingWriter) WriteHeader(code int) { t.code = code }
func (t *truncatingWriter) Write(b []byte) (int, error) {
	t.body = append(t.body, b...)
	return len(b), nil
}
