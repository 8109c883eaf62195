package delivery

import (
	"context"
	"time"
)

// validityInterval is how often the engine ends the deliveries of
// endpoints whose validity period has ended. The sweep is one read when
// there is nothing to end.
const validityInterval = time.Second

// endValidity cancels, until ctx ends, the pending deliveries of endpoints
// whose validity period (active_until) has ended: they could never be
// sent, and would otherwise wait forever (a retry due after active_until,
// a backlog held past it). An endpoint whose period has not begun keeps
// its deliveries waiting: the dispatcher sends them once it begins.
func (e *Engine) endValidity(ctx context.Context) {
	every(ctx, validityInterval, func(ctx context.Context) {
		n, err := e.store.CancelEndedDeliveries(ctx, e.now())
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Warn("ending deliveries past their endpoint's validity period failed", "error", err)
		case n > 0:
			e.log.Info("deliveries canceled: their endpoint's validity period ended", "count", n)
		}
	})
}
