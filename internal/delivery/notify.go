package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/herald-dev/herald/internal/store"
)

// notifyTimeout bounds one Notify call.
const notifyTimeout = 5 * time.Second

// notifier tells other processes (through the store's Notifier) that
// deliveries are waiting. A notification is only a hint — every process
// polls as well — so it is sent in the background and coalesced: at most
// one call in flight and one more owed, however many ingests ask. Under a
// burst on PostgreSQL that turns a round trip per request into about one
// per round trip time, and no ingest waits for it.
type notifier struct {
	deps  notifierDeps
	mu    sync.Mutex
	state int // notifyIdle, notifySending, notifyOwed
}

// notifierDeps is what the notifier uses.
type notifierDeps struct {
	notifier store.Notifier // nil: the store cannot notify (SQLite: one process)
	log      *slog.Logger
}

const (
	notifyIdle = iota
	notifySending
	notifyOwed // sending, and another was asked for meanwhile
)

// notify asks for a notification; it never blocks.
func (x *notifier) notify() {
	n := x.deps.notifier
	if n == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	switch x.state {
	case notifyIdle:
		x.state = notifySending
		go x.send(n)
	case notifySending:
		x.state = notifyOwed
	}
}

func (x *notifier) send(n store.Notifier) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		err := n.Notify(ctx)
		cancel()
		if err != nil {
			x.deps.log.Warn("notify failed", "error", err)
		}
		x.mu.Lock()
		if x.state == notifyOwed {
			x.state = notifySending
			x.mu.Unlock()
			continue
		}
		x.state = notifyIdle
		x.mu.Unlock()
		return
	}
}
