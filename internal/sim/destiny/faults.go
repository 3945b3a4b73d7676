package destiny

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Wire faults beyond simhttp's: the answers that test a client's HTTP layer rather than its retries.
// They are queued per route with InjectNext and counted by FaultsServed, like simhttp's.

// WireFaultKind is one such answer.
type WireFaultKind int

const (
	// WireRetryAfter answers 429 with Retry-After: WireFault.RetryAfter (seconds, or an HTTP date).
	WireRetryAfter WireFaultKind = iota + 1
	// WireRedirect answers 307 to WireFault.Location followed by the request's path and query (another
	// host, or http:// from an https server).
	WireRedirect
	// WireHugeBody answers 200 with a JSON body of WireFault.Size bytes.
	WireHugeBody
	// WireSlowDrip answers 200 and sends the real answer one byte every WireFault.Drip.
	WireSlowDrip
	// WireCount answers a $count=true request with WireFault.Body as its plain-text count (other
	// requests to the route pass and leave the fault queued).
	WireCount
)

// WireFault is a queued wire fault.
type WireFault struct {
	Kind       WireFaultKind
	RetryAfter string
	Location   string
	Size       int
	Drip       time.Duration
	Body       string
}

type wireFaults struct {
	mu     sync.Mutex
	routes *http.ServeMux // the server's patterns, to name a request's route
	queue  map[string][]WireFault
	served int
}

// InjectNext makes the next n requests to route (RouteTypeItems(), RoutePatron(), ...) answer f.
func (s *Server) InjectNext(route string, n int, f WireFault) {
	s.wf.mu.Lock()
	defer s.wf.mu.Unlock()
	for range n {
		s.wf.queue[route] = append(s.wf.queue[route], f)
	}
}

// FaultsServed counts the faulty answers served: simhttp's and the wire faults.
func (s *Server) FaultsServed() int {
	s.wf.mu.Lock()
	defer s.wf.mu.Unlock()
	return s.sim.FaultsServed() + s.wf.served
}

// handle registers a route with simhttp and with the pattern index wire faults use.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.wf.routes.Handle(pattern, http.NotFoundHandler())
	s.sim.Handle(pattern, h)
}

// serveWireFault serves a queued wire fault for r, if any, and reports whether it did.
func (s *Server) serveWireFault(w http.ResponseWriter, r *http.Request) bool {
	_, pattern := s.wf.routes.Handler(r)
	s.wf.mu.Lock()
	q := s.wf.queue[pattern]
	isCount := strings.EqualFold(r.URL.Query().Get("$count"), "true")
	i := 0
	for i < len(q) && (q[i].Kind == WireCount) != isCount {
		i++
	}
	if i == len(q) {
		s.wf.mu.Unlock()
		return false
	}
	f := q[i]
	s.wf.queue[pattern] = append(q[:i:i], q[i+1:]...)
	s.wf.served++
	s.wf.mu.Unlock()
	switch f.Kind {
	case WireRetryAfter:
		w.Header().Set("Retry-After", f.RetryAfter)
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]string{"code": "CODE_TOO_MANY_REQUESTS", "message": "Too many requests"}})
	case WireRedirect:
		http.Redirect(w, r, strings.TrimRight(f.Location, "/")+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	case WireHugeBody:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(f.Size))
		w.WriteHeader(http.StatusOK)
		chunk := []byte(`{"value":[` + strings.Repeat(" ", 4096))
		for sent := 0; sent < f.Size; {
			n := min(len(chunk), f.Size-sent)
			if _, err := w.Write(chunk[:n]); err != nil {
				return true
			}
			sent += n
			chunk = []byte(strings.Repeat(" ", 4096))
		}
	case WireCount:
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(f.Body))
	case WireSlowDrip:
		rec := &recorder{header: http.Header{}}
		s.sim.ServeHTTP(rec, r)
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.code)
		fl, _ := w.(http.Flusher)
		for _, b := range rec.body {
			select {
			case <-r.Context().Done():
				return true
			case <-time.After(f.Drip):
			}
			if _, err := w.Write([]byte{b}); err != nil {
				return true
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
	return true
}

type recorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}
