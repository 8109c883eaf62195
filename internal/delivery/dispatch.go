package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"golang.org/x/time/rate"
)

// Claim loop tuning.
const (
	// claimBatchMax bounds one ClaimDeliveries call.
	claimBatchMax = 256
	// claimPerEndpoint caps one call's claims per endpoint, so that one
	// endpoint's backlog does not take every slot; it is half a batch so
	// that a busy endpoint's backlog drains in large claims (each claim is
	// a write transaction).
	claimPerEndpoint = claimBatchMax / 2
	// laneHoldMin is the least a lane may hold: a claim is a write
	// transaction, so a busy endpoint needs room for many claims at a time
	// to be fed faster than one claim per commit allows.
	laneHoldMin = 128
	// leaseMargin: a claim is sent only if its lease outlives the attempt
	// by this much; otherwise it goes back, so another process could not
	// take it while it is still being sent here.
	leaseMargin = 5 * time.Second
)

// dispatcher sends deliveries through per-endpoint lanes. A lane holds its
// endpoint's claimed work and sends it with at most max_in_flight requests
// at a time and at most rate_limit per second; lanes run independently, so a
// slow endpoint only ever occupies its own slots (and at most Workers in
// all). Work held in memory is bounded (2 × Workers claims): the backlog
// stays in the database and is claimed as lanes free up.
type dispatcher struct {
	deps    dispatcherDeps
	workers chan struct{} // one token per HTTP request in flight

	mu      sync.Mutex
	lanes   map[string]*lane
	held    int // claims in memory: reserved, queued and being sent
	maxHeld int
	active  bool // Run is dispatching
	backlog bool // the last claim suggests more due work in the database
	ctx     context.Context
	sendCtx context.Context
	wg      sync.WaitGroup // lane goroutines and sends

	wake    chan struct{}
	timerMu sync.Mutex
	timerAt time.Time
	timer   *time.Timer
}

// dispatcherDeps is what the dispatcher uses.
type dispatcherDeps struct {
	store        dispatchStore
	notifier     store.Notifier // other processes' wake-ups; nil: none
	now          func() time.Time
	log          *slog.Logger
	owner        string // this process, in leases
	lease        time.Duration
	pollInterval time.Duration
	workers      int
	members      *members    // the cluster: shares of max_in_flight
	health       *healthBook // breakers: may a request go to an endpoint now
	// endpointFunc reads an endpoint through the engine's cache (nil, nil:
	// deleted).
	endpointFunc func(ctx context.Context, id string) (*herald.Endpoint, error)
	// sendFunc makes one signed attempt; completeFunc takes its outcome
	// (retry policy, health, recorder).
	sendFunc     func(ctx context.Context, r SendRequest) *SendResult
	completeFunc func(ep *herald.Endpoint, c *store.Claim, att *herald.Attempt)
}

// dispatchStore is the part of store.Store the dispatcher uses.
type dispatchStore interface {
	ClaimDeliveries(ctx context.Context, p store.ClaimParams) ([]*store.Claim, error)
	ReleaseDeliveries(ctx context.Context, owner string, deliveryIDs []string) error
}

// lane is one endpoint's share of the dispatcher.
type lane struct {
	id       string
	ep       *herald.Endpoint
	queue    []*store.Claim
	reserved int // leased at insert time, not yet handed off
	sending  int
	limiter  *rate.Limiter
	rate     int
	running  bool          // a goroutine serves the lane
	signal   chan struct{} // wakes the lane goroutine
	blocked  bool          // the endpoint is off: nothing is claimed for it
	starved  bool          // skipped by a claim for being full: wake the claim loop when it has room
}

func newDispatcher(deps dispatcherDeps) *dispatcher {
	return &dispatcher{
		deps:    deps,
		workers: make(chan struct{}, deps.workers),
		lanes:   make(map[string]*lane),
		maxHeld: 2 * deps.workers,
		wake:    make(chan struct{}, 1),
		ctx:     context.Background(),
		sendCtx: context.Background(),
	}
}

// maxInFlight is the endpoint's concurrency: max_in_flight, or one for an
// ordered endpoint.
func maxInFlight(ep *herald.Endpoint) int {
	if ep.Ordered {
		return 1
	}
	if ep.MaxInFlight > 0 {
		return ep.MaxInFlight
	}
	return herald.MaxInFlightDefault
}

// holdCap is how many claims a lane keeps in memory: enough to start the
// next request as soon as one finishes and to take a backlog in large
// claims, little enough that waiting work stays claimable by other
// processes; a rate-limited endpoint holds at most about a second of work.
//
// Beyond twice its max_in_flight, a lane may hold more only while the
// dispatcher is less than half full: otherwise a few stuck endpoints could
// fill every slot with work they cannot send, and the healthy endpoints
// would wait behind them (head-of-line blocking).
func (d *dispatcher) holdCapLocked(ep *herald.Endpoint) int {
	m := d.concurrency(ep)
	if m == 0 {
		return 0 // the endpoint is other processes' to send to
	}
	c := 2 * m
	if d.held < d.maxHeld/2 {
		c = max(c, laneHoldMin)
	}
	if ep.RateLimit > 0 {
		c = min(c, max(ep.RateLimit, m))
	}
	if ep.Ordered {
		c = 1
	}
	return c
}

// concurrency is how many requests this process may have in progress to
// the endpoint: its maxInFlight alone, its share of it in a cluster
// (members.share). An ordered endpoint's one is held by the database.
func (d *dispatcher) concurrency(ep *herald.Endpoint) int {
	m := maxInFlight(ep)
	if ep.Ordered || !d.clusterMode() {
		return m
	}
	return d.deps.members.share(ep.ID, m, d.deps.owner)
}

func (l *lane) load() int { return l.reserved + len(l.queue) + l.sending }

// laneLocked returns the endpoint's lane, creating it; d.mu is held.
func (d *dispatcher) laneLocked(ep *herald.Endpoint) *lane {
	l := d.lanes[ep.ID]
	if l == nil {
		l = &lane{id: ep.ID, signal: make(chan struct{}, 1)}
		d.lanes[ep.ID] = l
	}
	if ep != l.ep {
		l.ep = ep
		if ep.RateLimit != l.rate {
			l.rate = ep.RateLimit
			l.limiter = nil
			if ep.RateLimit > 0 {
				// Burst 1: requests are spaced evenly, never bunched.
				l.limiter = rate.NewLimiter(rate.Limit(ep.RateLimit), 1)
			}
		}
	}
	l.blocked = !ep.Enabled || ep.Status == herald.EndpointDisabled || !ep.ActiveAt(d.deps.now())
	return l
}

// reserve takes a slot for a delivery to ep that is about to be inserted
// already leased to this process. It fails when Run is not dispatching or
// the lane or the dispatcher is full: the delivery is then inserted pending.
func (d *dispatcher) reserve(ep *herald.Endpoint) bool {
	if ep.RateLimit > 0 && d.clusterMode() {
		// Leased at ingest it would have no turn on the endpoint's
		// schedule, which the cluster keeps in the database: the claim
		// takes it instead.
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.active || d.held >= d.maxHeld {
		return false
	}
	l := d.laneLocked(ep)
	if l.blocked || l.load() >= d.holdCapLocked(ep) || d.deps.health.paused(ep.ID, d.deps.now()) {
		return false
	}
	l.reserved++
	d.held++
	return true
}

// clusterMode reports whether other processes are alive on the database:
// then an endpoint's max_in_flight is shared among them and its rate_limit
// kept in the database, through Cluster claims (cluster.go).
func (d *dispatcher) clusterMode() bool { return d.deps.members.others.Load() }

// dispatching reports whether Run is dispatching.
func (d *dispatcher) dispatching() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.active
}

// holding is how many claims the dispatcher holds (queued and being sent).
func (d *dispatcher) holding() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held
}

// hasRoom reports whether a claim now could give the endpoint's lane work.
func (d *dispatcher) hasRoom(endpointID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.active {
		return false
	}
	if d.held >= d.maxHeld {
		d.backlog = true // ask when sends complete
		return false
	}
	l := d.lanes[endpointID]
	if l == nil || l.ep == nil {
		return true
	}
	if l.load() >= d.holdCapLocked(l.ep) {
		l.starved = true // ask when it frees up
		return false
	}
	return !l.blocked
}

// unreserve gives back a reservation whose delivery was not inserted.
func (d *dispatcher) unreserve(endpointID string) {
	d.mu.Lock()
	if l := d.lanes[endpointID]; l != nil && l.reserved > 0 {
		l.reserved--
		d.held--
	}
	d.mu.Unlock()
}

// handoff queues a committed, leased delivery on its lane.
func (d *dispatcher) handoff(c *store.Claim) {
	d.mu.Lock()
	l := d.lanes[c.Delivery.EndpointID]
	if l == nil || l.reserved == 0 {
		d.mu.Unlock()
		d.release([]*store.Claim{c})
		return
	}
	l.reserved--
	if !d.active {
		d.held--
		d.mu.Unlock()
		d.release([]*store.Claim{c})
		return
	}
	l.queue = append(l.queue, c)
	d.startLocked(l)
	d.mu.Unlock()
}

// startLocked makes sure a goroutine serves l; d.mu is held.
func (d *dispatcher) startLocked(l *lane) {
	if l.running {
		select {
		case l.signal <- struct{}{}:
		default:
		}
		return
	}
	if !d.active {
		return
	}
	l.running = true
	d.wg.Add(1)
	go d.runLane(l)
}

// wakeNow makes the claim loop look for due work at once.
func (d *dispatcher) wakeNow() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// wakeAt makes the claim loop look for due work at t (a retry's time), so
// that short retry delays do not wait for the poll.
func (d *dispatcher) wakeAt(t time.Time) {
	delay := t.Sub(d.deps.now())
	if delay <= 0 {
		d.wakeNow()
		return
	}
	if delay > d.deps.pollInterval {
		return // the poll comes first
	}
	d.timerMu.Lock()
	defer d.timerMu.Unlock()
	if !d.timerAt.IsZero() && !t.Before(d.timerAt) {
		return
	}
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timerAt = t
	d.timer = time.AfterFunc(delay, func() {
		d.timerMu.Lock()
		d.timerAt = time.Time{}
		d.timerMu.Unlock()
		d.wakeNow()
	})
}

// kick wakes the endpoint's lane (its breaker closed).
func (d *dispatcher) kick(endpointID string) {
	d.mu.Lock()
	if l := d.lanes[endpointID]; l != nil && len(l.queue) > 0 {
		d.startLocked(l)
	}
	d.mu.Unlock()
}

// membersChanged wakes every lane and the claim loop: the endpoints'
// shares of max_in_flight moved.
func (d *dispatcher) membersChanged() {
	d.mu.Lock()
	for _, l := range d.lanes {
		if len(l.queue) > 0 {
			d.startLocked(l)
		}
	}
	d.mu.Unlock()
	d.wakeNow()
}

// endpointsChanged refreshes the lanes' view of their endpoints.
func (d *dispatcher) endpointsChanged() {
	d.mu.Lock()
	for _, l := range d.lanes {
		l.blocked = false
	}
	d.mu.Unlock()
	d.wakeNow()
}

// claimLoop claims due deliveries whenever woken (ingest, results, retry
// timers, other processes through the store's Notifier) or every
// PollInterval.
func (d *dispatcher) claimLoop(ctx context.Context) {
	poll := time.NewTicker(d.deps.pollInterval)
	defer poll.Stop()
	var wakeups <-chan struct{}
	if n := d.deps.notifier; n != nil {
		wakeups = n.Wakeups(ctx)
	}
	for {
		for d.claimOnce(ctx) && ctx.Err() == nil {
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-poll.C:
			d.refreshBlocked(ctx)
		case <-wakeups:
		}
	}
}

// claimOnce claims what the lanes have room for; it reports whether
// another call may find more at once.
func (d *dispatcher) claimOnce(ctx context.Context) bool {
	now := d.deps.now()
	d.mu.Lock()
	room := d.maxHeld - d.held
	// Past half full, one endpoint's backlog must not take what is left;
	// below it, one claim must not carry an endpoint's backlog far past the
	// half either (holdCapLocked), or a stuck endpoint's backlog could fill
	// every slot at once and leave none for the healthy endpoints.
	perEndpointLimit := max(1, room/4)
	if d.held < d.maxHeld/2 {
		perEndpointLimit = min(claimPerEndpoint, max(perEndpointLimit, d.maxHeld/2-d.held))
	}
	var skip []string
	for id, l := range d.lanes {
		if l.ep == nil {
			continue
		}
		switch {
		case l.load() >= d.holdCapLocked(l.ep):
			l.starved = true
			skip = append(skip, id)
		case l.blocked:
			skip = append(skip, id)
		}
	}
	d.mu.Unlock()
	skip = d.deps.health.pausedIDs(now, skip)
	if room <= 0 {
		d.setBacklog(true)
		return false
	}
	limit := min(room, claimBatchMax)
	claims, err := d.deps.store.ClaimDeliveries(ctx, store.ClaimParams{
		Owner:            d.deps.owner,
		Now:              now,
		Lease:            d.deps.lease,
		Limit:            limit,
		PerEndpointLimit: perEndpointLimit,
		SkipEndpoints:    skip,
		Cluster:          d.clusterMode(),
	})
	if err != nil {
		if ctx.Err() == nil {
			d.deps.log.Error("claiming deliveries failed", "error", err)
		}
		return false
	}
	perEndpoint := make(map[string]int)
	var capped []string
	for _, c := range claims {
		n := perEndpoint[c.Delivery.EndpointID] + 1
		perEndpoint[c.Delivery.EndpointID] = n
		if n == perEndpointLimit {
			capped = append(capped, c.Delivery.EndpointID)
		}
		d.accept(ctx, c)
	}
	// A full batch suggests more due work, and so does an endpoint that
	// reached its cap — but only if its lane can take more now: asking
	// again for a lane the claim just filled finds nothing, and behind a
	// large backlog such an empty claim costs as much as a full one.
	more := d.anyRoom(capped) || len(claims) == limit
	d.setBacklog(more)
	return more
}

// anyRoom reports whether one of the endpoints' lanes is under its hold
// cap; a full one is marked starved, so that it asks for more once it has
// sent half of what it holds.
func (d *dispatcher) anyRoom(endpointIDs []string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	room := false
	for _, id := range endpointIDs {
		l := d.lanes[id]
		if l == nil || l.ep == nil {
			continue
		}
		if l.load() < d.holdCapLocked(l.ep) {
			room = true
		} else {
			l.starved = true
		}
	}
	return room
}

func (d *dispatcher) setBacklog(b bool) {
	d.mu.Lock()
	d.backlog = b
	d.mu.Unlock()
}

// accept queues a claim from the database on its lane.
func (d *dispatcher) accept(ctx context.Context, c *store.Claim) {
	ep, err := d.deps.endpointFunc(ctx, c.Delivery.EndpointID)
	if err != nil || ep == nil {
		// Deleted (its deliveries are canceled) or unreadable: hand it back
		// for later rather than send without configuration.
		if err != nil {
			d.deps.log.Error("loading endpoint failed", "endpoint_id", c.Delivery.EndpointID, "error", err)
			d.release([]*store.Claim{c})
		}
		return
	}
	d.mu.Lock()
	if !d.active {
		d.mu.Unlock()
		d.release([]*store.Claim{c})
		return
	}
	l := d.laneLocked(ep)
	l.queue = append(l.queue, c)
	d.held++
	d.startLocked(l)
	d.mu.Unlock()
}

// refreshBlocked rechecks endpoints that were off, so that re-enabling one
// in another process resumes its deliveries.
func (d *dispatcher) refreshBlocked(ctx context.Context) {
	d.mu.Lock()
	var ids []string
	for id, l := range d.lanes {
		if l.blocked {
			ids = append(ids, id)
		}
	}
	d.mu.Unlock()
	for _, id := range ids {
		ep, err := d.deps.endpointFunc(ctx, id)
		if err != nil || ep == nil {
			continue
		}
		d.mu.Lock()
		d.laneLocked(ep)
		d.mu.Unlock()
	}
}

// runLane serves one lane until it is empty or the dispatcher stops.
func (d *dispatcher) runLane(l *lane) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if !d.active || d.ctx.Err() != nil || len(l.queue) == 0 {
			// Stopping: what is queued is handed back by stop.
			l.running = false
			d.mu.Unlock()
			return
		}
		ep := l.ep
		now := d.deps.now()
		var wait time.Duration // 0: until signalled
		ready := false
		limit := d.concurrency(ep)
		if limit == 0 && len(l.queue) > 0 && l.sending == 0 {
			// Its share went to other processes: hand back what it holds.
			q := l.queue
			l.queue = nil
			d.held -= len(q)
			d.mu.Unlock()
			d.release(q)
			continue
		}
		if l.sending < limit {
			ok, until := d.deps.health.allow(ep.ID, now)
			if ok {
				ready = true
			} else if !until.IsZero() {
				wait = max(until.Sub(now), time.Millisecond)
			}
		}
		if !ready {
			d.mu.Unlock()
			d.waitLane(l, wait)
			continue
		}
		c := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		l.sending++
		limiter := l.limiter
		d.mu.Unlock()

		if !c.NotBefore.IsZero() {
			// Its turn on the endpoint's schedule, shared by the cluster.
			if !d.sleepUntil(c.NotBefore) {
				d.requeue(l, c)
				continue
			}
		} else if limiter != nil {
			if err := limiter.Wait(d.ctx); err != nil {
				d.requeue(l, c)
				continue
			}
		}
		select {
		case d.workers <- struct{}{}:
		case <-d.ctx.Done():
			d.requeue(l, c)
			continue
		}
		d.wg.Add(1)
		go d.send(l, c)
	}
}

// sleepUntil waits until t; false if the dispatcher stopped first.
func (d *dispatcher) sleepUntil(t time.Time) bool {
	wait := t.Sub(d.deps.now())
	if wait <= 0 {
		return d.ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-d.ctx.Done():
		return false
	}
}

func (d *dispatcher) waitLane(l *lane, wait time.Duration) {
	var tc <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-l.signal:
	case <-tc:
	case <-d.ctx.Done():
	}
}

// requeue puts a claim that was not sent back at the head of its lane.
func (d *dispatcher) requeue(l *lane, c *store.Claim) {
	d.deps.health.unprobe(l.id)
	d.mu.Lock()
	l.sending--
	l.queue = append([]*store.Claim{c}, l.queue...)
	d.mu.Unlock()
}

// send makes one attempt of a claimed delivery and hands the outcome to the
// recorder and the health book.
func (d *dispatcher) send(l *lane, c *store.Claim) {
	defer d.wg.Done()
	defer func() { <-d.workers }()
	deps := &d.deps
	ctx := d.sendCtx

	ep, err := deps.endpointFunc(ctx, l.id)
	switch {
	case err != nil:
		deps.log.Error("loading endpoint failed", "endpoint_id", l.id, "error", err)
		d.done(l, c, true)
		return
	case ep == nil:
		// Deleted: the store canceled its deliveries.
		d.done(l, c, false)
		return
	case !ep.Enabled || ep.Status == herald.EndpointDisabled || !ep.ActiveAt(deps.now()):
		// Off or outside its validity period: keep the delivery pending
		// and stop claiming for the endpoint until it changes.
		d.mu.Lock()
		l.blocked = true
		d.mu.Unlock()
		d.done(l, c, true)
		return
	}
	timeout := min(max(ep.Timeout.D(), 0), herald.TimeoutMax)
	if timeout == 0 {
		timeout = herald.TimeoutDefault
	}
	// A claim that waited so long in its lane that the lease could run out
	// mid-attempt goes back instead (another process could take it while
	// it is still being sent here). Short configured leases scale it down.
	need := min(timeout+leaseMargin, deps.lease/2)
	if lu := c.Delivery.LockedUntil; lu != nil && deps.now().Add(need).After(*lu) {
		d.done(l, c, true)
		return
	}

	res := deps.sendFunc(ctx, SendRequest{Endpoint: ep, Event: c.Event, Attempt: c.Delivery.Attempts + 1, Trigger: herald.TriggerScheduled})
	att := res.Attempt
	if ctx.Err() != nil && !att.Succeeded() {
		// Cut off by the drain deadline: not the receiver's failure.
		d.done(l, c, true)
		return
	}
	att.DeliveryID = c.Delivery.ID
	deps.completeFunc(ep, c, att)
	d.done(l, c, false)
}

// done ends a claim's stay in memory; release hands it back to the
// database (pending, due now).
func (d *dispatcher) done(l *lane, c *store.Claim, release bool) {
	if release {
		d.release([]*store.Claim{c})
		d.deps.health.unprobe(l.id) // if it was the probe, the next one is
	}
	d.mu.Lock()
	l.sending--
	d.held--
	// Ask the database for more only when it may have some for us: the
	// last claim was full, or this lane was passed over for being full.
	// A starved lane asks once it is half empty, so that its claims come
	// in large batches rather than one per finished send.
	wake := d.backlog || (l.starved && l.load() <= d.holdCapLocked(l.ep)/2)
	if wake {
		l.starved = false
	}
	if len(l.queue) > 0 {
		d.startLocked(l)
	}
	d.dropIdleLocked(l)
	d.mu.Unlock()
	if wake {
		d.wakeNow()
	}
}

// dropIdleLocked forgets a lane that holds nothing and has no state worth
// keeping (not blocked, no rate limiter), so that the lanes the claim loop
// walks are the endpoints with work, not every endpoint ever sent to: with
// many tenants most endpoints get an event now and then, and each claim
// walked them all. Its goroutine, if still running, finds it empty and
// ends; the endpoint's next delivery makes a new lane. d.mu is held.
func (d *dispatcher) dropIdleLocked(l *lane) {
	if l.load() == 0 && !l.blocked && !l.starved && l.limiter == nil && d.lanes[l.id] == l {
		delete(d.lanes, l.id)
	}
}

// release hands claims back to the database.
func (d *dispatcher) release(cs []*store.Claim) {
	if len(cs) == 0 {
		return
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.deps.store.ReleaseDeliveries(ctx, d.deps.owner, ids); err != nil {
		// The leases expire and the deliveries are claimed again.
		d.deps.log.Warn("releasing deliveries failed", "count", len(ids), "error", err)
	}
}

// releaseQueued hands back a lane's queued (not yet sent) claims: when its
// breaker opens, or on drain.
func (d *dispatcher) releaseQueued(endpointID string) {
	d.mu.Lock()
	l := d.lanes[endpointID]
	if l == nil || len(l.queue) == 0 {
		d.mu.Unlock()
		return
	}
	q := l.queue
	l.queue = nil
	d.held -= len(q)
	d.mu.Unlock()
	d.release(q)
}

// start begins dispatching; ctx ends lanes, sendCtx the attempts in flight.
func (d *dispatcher) start(ctx, sendCtx context.Context) {
	d.mu.Lock()
	d.ctx, d.sendCtx = ctx, sendCtx
	d.active = true
	d.mu.Unlock()
}

// stop waits for the attempts in flight (cancelSends cuts them off after
// the drain timeout) and hands every claim still queued back.
func (d *dispatcher) stop(timeout time.Duration, cancelSends context.CancelFunc) {
	d.mu.Lock()
	d.active = false
	for _, l := range d.lanes {
		select {
		case l.signal <- struct{}{}:
		default:
		}
	}
	d.mu.Unlock()

	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cancelSends()
		<-done
	}

	d.mu.Lock()
	var q []*store.Claim
	for _, l := range d.lanes {
		q = append(q, l.queue...)
		d.held -= len(l.queue)
		l.queue = nil
	}
	d.mu.Unlock()
	d.release(q)
	d.timerMu.Lock()
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timerMu.Unlock()
}
