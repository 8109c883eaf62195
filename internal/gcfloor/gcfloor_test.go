package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
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
	deadline := time.Now().Add(5 * time.Second)
	for gogc(t) <= 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(t); got <= 100 {
		t.Fatalf("GOGC after collections = %d, want above 100", got)
	}
	// Re-armed: still raised after more collections.
	for range 3 {
		runtime.GC()
	}
	time.Sleep(20 * time.Millisecond)
	if got := gogc(t); got <= 100 {
		t.Errorf("GOGC after more collections = %d, want above 100", got)
	}
	stop()
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC after stop = %d, want 100", got)
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC after stop and a collection = %d, want 100 (the tuner must be off)", got)
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
