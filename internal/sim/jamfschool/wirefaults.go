package jamfschool

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// WireFault is a misbehaviour of the network or a proxy in front of Jamf School that simhttp's faults
// do not cover: a Retry-After of any length, an answer too large to read, an answer sent a byte at a
// time, a redirect elsewhere. Set exactly one field. Queue it with InjectNext; FaultsServed counts it.
type WireFault struct {
	// RetryAfter answers 429 {"code":429,"message":"TooManyRequests"} with this Retry-After (whole seconds).
	RetryAfter time.Duration
	// Oversize answers 200 with a JSON body of this many bytes (padding in a "padding" key).
	Oversize int64
	// Drip sends the real answer one byte every Drip, until done or the client hangs up.
	Drip time.Duration
	// RedirectTo answers 307 Temporary Redirect to RedirectTo + the request's path and query.
	RedirectTo string
}

// InjectNext makes the next n requests to pattern (a route pattern such as PatternDevices) meet f,
// before authentication, as a proxy would.
func (s *Server) InjectNext(pattern string, n int, f WireFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wire == nil {
		s.wire = map[string][]WireFault{}
	}
	for range n {
		s.wire[pattern] = append(s.wire[pattern], f)
	}
}

// FaultsServed is how many faulty answers were served: simhttp's faults and the WireFaults.
func (s *Server) FaultsServed() int {
	s.mu.Lock()
	wire := s.wireServed
	s.mu.Unlock()
	return s.Server.FaultsServed() + wire
}

// nextWire pops the next WireFault of pattern.
func (s *Server) nextWire(pattern string) (WireFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.wire[pattern]
	if len(q) == 0 {
		return WireFault{}, false
	}
	s.wire[pattern] = q[1:]
	s.wireServed++
	return q[0], true
}

// serveWire answers r with f; h is the real handler (for Drip).
func serveWire(w http.ResponseWriter, r *http.Request, f WireFault, h http.HandlerFunc) {
	switch {
	case f.RedirectTo != "":
		http.Redirect(w, r, f.RedirectTo+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	case f.RetryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		writeFlat(w, http.StatusTooManyRequests, "TooManyRequests")
	case f.Oversize > 0:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.FormatInt(f.Oversize, 10))
		const head, tail = `{"code":200,"padding":"`, `"}`
		_, _ = w.Write([]byte(head))
		pad := bytes.Repeat([]byte("x"), 64<<10)
		for left := f.Oversize - int64(len(head)+len(tail)); left > 0; {
			n := min(left, int64(len(pad)))
			if _, err := w.Write(pad[:n]); err != nil {
				return // the client stopped reading at its cap
			}
			left -= n
		}
		_, _ = w.Write([]byte(tail))
	case f.Drip > 0:
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		fl, _ := w.(http.Flusher)
		t := time.NewTicker(f.Drip)
		defer t.Stop()
		for _, b := range rec.Body.Bytes() {
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
	}
}
