package filter_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/filter"
	"github.com/herald-dev/herald/internal/peakrss"
)

// The reproduction of the ingest-path exhaustion: a list of 10,000 items
// mapped to a concatenation of a large string with itself.
const runaway = `data.l.map(x, data.s + data.s).size() > 0`

func bigEvent(strBytes int) *herald.Event {
	data, _ := json.Marshal(map[string]any{"l": make([]int, 10_000), "s": strings.Repeat("a", strBytes)})
	return &herald.Event{ID: "evt_1", Type: "t", Data: data}
}

func TestMatchStopsAFilterThatBuildsTooManyBytes(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile(runaway)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Match(bigEvent(100_000))
	if !errors.Is(err, filter.ErrLimit) {
		t.Fatalf("Match = %v, want ErrLimit", err)
	}
	// Building small strings stays well inside the limit.
	ok, err := filter.Compile(`data.l.map(x, data.t + data.t).size() == 10000`)
	if err != nil {
		t.Fatal(err)
	}
	ev := &herald.Event{Data: json.RawMessage(`{"l":[1,2,3],"t":"ab"}`)}
	if got, err := ok.Match(ev); err != nil || got {
		t.Fatalf("small filter: %v, %v; want false, nil", got, err)
	}
}

// Three concurrent evaluations of the inputs (100,000 and 400,000
// bytes) stay within a few hundred MB of resident memory; before the bound
// one of 400,000 bytes took the process past 3 GiB.
func TestMatchMemoryIsBounded(t *testing.T) {
	rss := peakrss.Measure(t, func() {
		f, err := filter.Compile(runaway)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{100_000, 400_000} {
			ev := bigEvent(size)
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					if _, err := f.Match(ev); !errors.Is(err, filter.ErrLimit) {
						t.Errorf("Match(%d bytes) = %v, want ErrLimit", size, err)
					}
				})
			}
			wg.Wait()
		}
	})
	peakrss.AtMost(t, rss, 256<<20)
}
