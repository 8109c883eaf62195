package delivery

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store"
)

// newClient is the HTTP client of attempts: private networks refused
// (unless allowed), redirects never followed.
func newClient(cfg *Config) *http.Client {
	guard := netguard.New(cfg.AllowPrivateNetworks, cfg.AllowedNetworks)
	tr := guard.Transport()
	// Many deliveries go to few hosts: keep enough idle connections per
	// host that a busy endpoint reuses them instead of redialling.
	tr.MaxIdleConns = max(tr.MaxIdleConns, 1024)
	tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, 64)
	// A receiver's headers are read up to a bound, and kept up to a
	// smaller one (ResponseHeadersMax).
	tr.MaxResponseHeaderBytes = responseHeaderReadMax
	if tr.IdleConnTimeout == 0 {
		tr.IdleConnTimeout = 90 * time.Second
	}
	return &http.Client{
		Transport: tr,
		// Redirects are never followed: a 3xx is a failure of class redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// wire builds the components, each given what it uses and no more: the
// store (through the narrow interface it writes with), the clock, the
// logger, metrics, and functions for what it asks of another component.
func (e *Engine) wire() {
	cfg, st := &e.cfg, e.store
	notifier, _ := st.(store.Notifier)
	e.routes = newRouter(cfg.RouteCacheMax, routerDeps{store: st, log: e.log})
	e.health = newHealthBook(healthDeps{
		store: st, now: e.now, log: e.log,
		disableAfter: cfg.DisableAfter, breakerThreshold: cfg.BreakerThreshold, breakerCooldown: cfg.BreakerCooldown,
		routeChangedFunc: e.routes.invalidate,
	})
	e.m = newMetrics(cfg.Registerer, e.health, e.now)
	e.commit.deps = committerDeps{store: st, tracer: cfg.Tracer,
		commitSeconds: e.m.commitSeconds, commitEvents: e.m.commitEvents}
	e.notes.deps = notifierDeps{notifier: notifier, log: e.log}
	e.ops = newOpQueue(opQueueDeps{ingestFunc: e.ingestOwn, log: e.log, dropped: e.m.opDropped})
	e.disp = newDispatcher(dispatcherDeps{
		store: st, notifier: notifier, now: e.now, log: e.log,
		owner: cfg.Owner, lease: cfg.Lease, pollInterval: cfg.PollInterval, workers: cfg.Workers,
		members: &e.members, health: e.health,
		endpointFunc: e.routes.endpoint, sendFunc: e.Send, completeFunc: e.complete,
	})
	e.routes.deps.changedFunc = e.disp.endpointsChanged
	e.members.deps = membersDeps{store: st, now: e.now, log: e.log, registerer: cfg.Registerer,
		owner: cfg.Owner, address: cfg.Address, heartbeat: cfg.Heartbeat, deadAfter: cfg.DeadAfter, exclusive: cfg.Exclusive,
		wakeNowFunc: e.disp.wakeNow, notifyFunc: e.notes.notify, membersChangedFunc: e.disp.membersChanged,
		holdingFunc: e.disp.holding, collector: clusterCollector{members: &e.members, disp: e.disp}}
	e.health.deps.releaseQueuedFunc = e.disp.releaseQueued
	e.health.deps.kickFunc = e.disp.kick
	e.health.deps.reportFunc = e.ops.add
	e.recDeps = recorderDeps{store: st, log: e.log, lease: cfg.Lease, drainTimeout: cfg.DrainTimeout,
		wakeAtFunc: e.disp.wakeAt, wakeNowFunc: e.disp.wakeNow, reportFunc: e.ops.add}
}

// setDefaults fills zero fields with the …Default constants.
func (c *Config) setDefaults() {
	if c.Owner == "" {
		c.Owner = "hrd_" + herald.NewID("")
	}
	if c.Workers <= 0 {
		c.Workers = WorkersDefault
	}
	if c.RouteCacheMax <= 0 {
		c.RouteCacheMax = RouteCacheMaxDefault
	}
	if c.Lease <= 0 {
		c.Lease = LeaseDefault
	}
	if c.PollInterval <= 0 {
		c.PollInterval = PollIntervalDefault
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = DisableAfterDefault
	}
	if c.Retention <= 0 {
		c.Retention = RetentionDefault
	}
	if c.BreakerThreshold <= 0 {
		c.BreakerThreshold = BreakerThresholdDefault
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = BreakerCooldownDefault
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DrainTimeoutDefault
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = HeartbeatDefault
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = DeadAfterDefault
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
