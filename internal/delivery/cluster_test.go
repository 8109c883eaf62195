package delivery

import (
	"fmt"
	"slices"
	"testing"
)

// The processes' shares of an endpoint's max_in_flight add up to it
// exactly, whatever the number of processes and endpoints, and the
// remainders spread over the processes.
func TestSharesOfMaxInFlightAddUpToIt(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 5; n++ {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("hrd_%02d", i)
		}
		m := &members{ids: slices.Clone(ids)}
		got := make(map[string]int) // process → endpoints of max_in_flight 1 it sends to
		for _, total := range []int{1, 2, 3, 7, 10} {
			for e := range 50 {
				ep := fmt.Sprintf("ep_%d", e)
				sum := 0
				for _, id := range ids {
					s := m.share(ep, total, id)
					if s < total/n || s > total/n+1 {
						t.Fatalf("n=%d total=%d: %s's share %d", n, total, id, s)
					}
					sum += s
					if total == 1 && s == 1 {
						got[id]++
					}
				}
				if sum != total {
					t.Fatalf("n=%d total=%d %s: shares add up to %d", n, total, ep, sum)
				}
			}
		}
		for _, id := range ids {
			if got[id] == 0 {
				t.Errorf("n=%d: %s never sends to any of 50 endpoints of max_in_flight 1", n, id)
			}
		}
	}
}

// A process whose row the list does not hold yet takes a part as the last
// of N+1: with the others' parts it may exceed the total only until they
// read its row (it waits for that before dispatching).
func TestShareOfAProcessNotYetListed(t *testing.T) {
	t.Parallel()
	m := &members{ids: []string{"a", "b"}}
	if s := m.share("ep", 9, "c"); s != 3 {
		t.Fatalf("share of an unlisted process: %d, want 3", s)
	}
	if s := (&members{}).share("ep", 9, "c"); s != 9 {
		t.Fatalf("share of a process alone: %d, want 9", s)
	}
}
