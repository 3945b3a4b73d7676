package engine_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// elsewhere is a host the policy did not name: it records every request and whether it carried a
// credential (an Authorization header or a client secret in a form).
type elsewhere struct {
	srv         *httptest.Server
	mu          sync.Mutex
	requests    int
	credentials int
}

func newElsewhere(tb testing.TB) *elsewhere {
	e := &elsewhere{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		e.mu.Lock()
		e.requests++
		if r.Header.Get("Authorization") != "" || r.PostForm.Get("client_secret") != "" {
			e.credentials++
		}
		e.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(e.srv.Close)
	return e
}

func (e *elsewhere) seen() (requests, credentials int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests, e.credentials
}
