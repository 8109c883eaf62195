package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Request is one request as a Receiver saw it.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time
}

// Respond answers the n-th request (counted from 1) a Receiver got. One
// that writes nothing answers 200.
type Respond func(n int, r *http.Request, w http.ResponseWriter)

// Status answers every request with code.
func Status(code int) Respond {
	return func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(code) }
}

// Receiver is a real HTTP server on loopback that records every request
// and answers with its Respond, which a test may change while it runs.
type Receiver struct {
	*httptest.Server

	mu       sync.Mutex
	reqs     []Request
	respond  atomic.Pointer[Respond]
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

// NewReceiver starts a Receiver answering with respond (200 when nil); it
// stops when the test ends.
func NewReceiver(t testing.TB, respond Respond) *Receiver {
	t.Helper()
	rc := &Receiver{}
	rc.SetRespond(respond)
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	cur := rc.inFlight.Add(1)
	defer rc.inFlight.Add(-1)
	for {
		m := rc.maxSeen.Load()
		if cur <= m || rc.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()})
	n := len(rc.reqs)
	rc.mu.Unlock()
	(*rc.respond.Load())(n, r, w)
}

// SetRespond changes how the requests from now on are answered (200 when
// respond is nil).
func (rc *Receiver) SetRespond(respond Respond) {
	if respond == nil {
		respond = func(int, *http.Request, http.ResponseWriter) {}
	}
	rc.respond.Store(&respond)
}

// Requests returns a copy of the requests received so far, in order.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.reqs...)
}

// Count is the number of requests received so far.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// MaxInFlight is the most requests the Receiver was serving at once.
func (rc *Receiver) MaxInFlight() int64 { return rc.maxSeen.Load() }

// InFlight is the number of requests the Receiver is serving now.
func (rc *Receiver) InFlight() int64 { return rc.inFlight.Load() }
