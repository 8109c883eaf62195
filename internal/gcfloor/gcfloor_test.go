package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"testing"

	"github.com/herald-dev/herald/internal/testkit"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{live: 1 << 20, floor: 64 << 20, base: 100, want: 6300},
		{live: 16 << 20, floor: 64 << 20, base: 100, want: 300},
		{live: 40 << 20, floor: 64 << 20, base: 100, want: 100}, // 60 % would lower it
		{live: 64 << 20, floor: 64 << 20, base: 100, want: 100},
		{live: 1 << 30, floor: 64 << 20, base: 100, want: 100},
		{live: 0, floor: 64 << 20, base: 100, want: 100},
		{live: 10, floor: 64 << 20, base: 100, want: 100_000},
		{live: 16 << 20, floor: 64 << 20, base: 500, want: 500},
	} {
		if got := Percent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

func gogc(t *testing.T) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// collectUntil runs collections until cond holds, failing the test after a
// minute. The tuner runs in a cleanup, after the collection, on another
// goroutine: the test waits for what it does, not for a guessed while.
func collectUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, func() bool {
		if cond() {
			return true
		}
		runtime.GC()
		return false
	})
}

// cleanupsRun waits until a cleanup queued by a collection after this call
// has run: the cleanups of that collection's garbage have had their turn.
func cleanupsRun(t *testing.T) {
	t.Helper()
	var ran atomic.Bool
	runtime.AddCleanup(new([64]byte), func(ran *atomic.Bool) { ran.Store(true) }, &ran)
	collectUntil(t, "a cleanup after the collection", ran.Load)
}

func TestStartRaisesGOGCAfterCollectionsAndStopRestoresIt(t *testing.T) {
	t.Setenv("GOGC", "")
	stop, started := Start()
	if !started {
		t.Fatal("Start did not start with GOGC unset")
	}
	if _, again := Start(); again {
		t.Error("a second Start started while the first runs")
	}
	// The test binary's live heap is far under the floor: after a
	// collection the tuner must have raised GOGC well above 100.
	collectUntil(t, "GOGC raised above 100", func() bool { return gogc(t) > 100 })
	// Re-armed: set back to 100 behind the tuner's back, it is raised
	// again by a later collection.
	debug.SetGCPercent(100)
	collectUntil(t, "GOGC raised again after more collections", func() bool { return gogc(t) > 100 })
	stop()
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC after stop = %d, want 100", got)
	}
	cleanupsRun(t)
	cleanupsRun(t)
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC after stop and collections = %d, want 100 (the tuner must be off)", got)
	}
}

func TestStartLeavesAnOperatorsGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "200")
	stop, started := Start()
	defer stop()
	if started {
		t.Fatal("Start started although GOGC is set")
	}
}
