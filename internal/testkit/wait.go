// Package testkit holds the helpers that tests of several packages share:
// a poll for a condition and a real webhook receiver. It is ordinary code
// (not _test.go) so that any package's tests can import it; production
// code does not.
package testkit

import (
	"testing"
	"time"
)

// Patience is how long WaitFor waits for a condition before it fails the
// test: long, because a condition that is certain to come true only comes
// late on a busy machine, never wrongly.
const Patience = time.Minute

// WaitFor polls cond with short real waits until it holds and fails the
// test naming what after Patience.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, Patience, what, cond)
}

// WaitWithin is WaitFor with its own deadline, for a test whose point is
// that the condition comes within timeout.
func WaitWithin(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
