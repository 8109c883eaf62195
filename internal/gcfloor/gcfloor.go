// Package gcfloor keeps the garbage collector from running every few
// milliseconds while the live heap is small.
//
// Go sets the next collection at the live heap times 1+GOGC/100, and at
// least 4 MB. Herald's live heap is a few megabytes (the work in progress
// is in the database, not in memory) while it allocates tens of kilobytes
// per event, so with the defaults it collects many times a second, and each
// collection takes part of a core and delays the requests that run during
// it — on two cores that is what sets the tail latency of hook runs.
// Start raises GOGC after each collection so that the next one comes no
// sooner than at Floor bytes of heap, and never lowers it below 100: a
// large live heap grows as it would by default, so the floor adds at most
// Floor bytes to the process's memory.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the smallest heap at which a collection starts once Start runs.
const Floor = 64 << 20

// Percent returns the GOGC value that puts the next collection at about
// floor bytes for a live heap of live bytes, and at no less than base.
func Percent(live, floor uint64, base int) int {
	if live == 0 || live >= floor {
		return base
	}
	p := (floor - live) * 100 / live
	const most = 100_000 // a live heap of bytes, not megabytes: keep it finite
	if p > most {
		p = most
	}
	return max(base, int(p))
}

var (
	mu      sync.Mutex
	running *tuner // the tuner started and not stopped, guarded by mu
)

// Start keeps the heap floor at Floor until the returned stop is called. It
// does nothing when the GOGC environment variable is set (the operator's
// choice wins) or when it is already running; stop then does nothing
// either. It reports whether it started.
func Start() (stop func(), started bool) {
	if os.Getenv("GOGC") != "" {
		return func() {}, false
	}
	mu.Lock()
	if running != nil {
		mu.Unlock()
		return func() {}, false
	}
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	t := &tuner{base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	running = t
	mu.Unlock()
	t.adjust()
	t.arm()
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			t.stopped = true
			running = nil
			debug.SetGCPercent(base)
		})
	}, true
}

type tuner struct {
	base    int
	sample  []metrics.Sample // read by one adjust at a time: Start's, then the cleanups', one after another
	stopped bool             // guarded by mu
}

// sentinel is garbage the moment it is made; its cleanup runs after the
// collection that freed it, and arms the next one.
type sentinel struct{ _ [64]byte }

func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		if t.adjust() {
			t.arm()
		}
	}, t)
}

// adjust sets GOGC from the live heap of the last collection. It reports
// false, and changes nothing, once the tuner is stopped.
func (t *tuner) adjust() bool {
	metrics.Read(t.sample)
	mu.Lock()
	defer mu.Unlock()
	if t.stopped {
		return false
	}
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		debug.SetGCPercent(Percent(t.sample[0].Value.Uint64(), Floor, t.base))
	}
	return true
}
