package delivery

import (
	"context"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-dev/herald/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Several processes on one database: what each process does so that the
// others know it is alive, take over its claims when it dies, and share an
// endpoint's limits with it (docs/CLUSTER.md).
//
// Every Heartbeat a process writes its row (processes: id, address, start,
// last heartbeat, claims held), declares dead every process silent for
// DeadAfter — their rows go, and the leases of deliveries held by an owner
// with no row end now, so that the claim takes them at once — and reads
// who is alive. A live process's claims are never taken whatever its
// attempts take: liveness is its heartbeat, not the lease.
//
// While another process is alive the dispatcher is in cluster mode: each
// process sends to an endpoint at most its share of max_in_flight (share),
// and a rate-limited endpoint's deliveries go through Cluster claims,
// which give them turns on one schedule in the database (they are not
// leased at ingest, where they would get none). Alone, a process holds the
// limits in memory, as ever. A process that finds others alive when it
// starts does not dispatch before every one of them has seen it, and
// shrunk its shares (join); it checks every joinPoll.
const joinPoll = 100 * time.Millisecond

// forever: for an Exclusive process, every other process's last
// heartbeat is older than now + forever.
const forever = 100 * 365 * 24 * time.Hour

// members is this process's view of the cluster.
type members struct {
	started time.Time
	mu      sync.Mutex
	live    []*store.Process // at the last heartbeat, oldest first
	ids     []string         // their ids, sorted
	others  atomic.Bool      // another live process was seen at the last heartbeat
	regOnce sync.Once
}

// join records this process and takes over what dead processes held. When
// others are alive it then waits, beating every joinPoll, until every one
// of them sees it (their rows' Sees, written after they have taken it into
// their shares), or DeadAfter passes: only then may it dispatch.
func (e *Engine) join(ctx context.Context) {
	e.members.regOnce.Do(func() {
		if e.cfg.Registerer != nil {
			_ = e.cfg.Registerer.Register(clusterCollector{members: &e.members, disp: e.disp})
		}
	})
	e.members.started = e.now()
	deadline := time.Now().Add(e.cfg.DeadAfter)
	for {
		e.beat(ctx)
		if !e.members.others.Load() || e.seenByAll() {
			return
		}
		if time.Now().After(deadline) {
			e.log.Warn("joining the cluster: not every process sees this one yet; dispatching anyway")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(joinPoll):
		}
	}
}

// seenByAll reports whether every other live process, at its last
// heartbeat, saw this one.
func (e *Engine) seenByAll() bool {
	e.members.mu.Lock()
	defer e.members.mu.Unlock()
	for _, p := range e.members.live {
		if p.ID != e.cfg.Owner && !slices.Contains(p.Sees, e.cfg.Owner) {
			return false
		}
	}
	return true
}

// beat is one heartbeat: take over the claims of the dead, read who is
// alive (and so this process's shares), then write this process's row with
// what it saw — in that order, so that a row that sees a process promises
// shares that make room for it.
func (e *Engine) beat(ctx context.Context) {
	now := e.now()
	st := e.store
	since := now.Add(-e.cfg.DeadAfter)
	deadBefore := since
	if e.cfg.Exclusive {
		deadBefore = now.Add(forever)
	}
	n, err := st.TakeOver(ctx, e.cfg.Owner, deadBefore, now)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			e.log.Warn("taking over the claims of stopped processes failed", "error", err)
		}
	case n > 0:
		e.log.Info("took over the claims of stopped processes", "deliveries", n)
		e.disp.wakeNow()
		e.notes.notify()
	}
	m := &e.members
	live, err := st.ListProcesses(ctx, since)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("reading the cluster's processes failed", "error", err)
		}
	} else {
		others := false
		ids := []string{e.cfg.Owner} // alive, whether its row was read or not
		for _, p := range live {
			if p.ID != e.cfg.Owner {
				others = true
				ids = append(ids, p.ID)
			}
		}
		slices.Sort(ids)
		m.mu.Lock()
		m.live = live
		changed := !slices.Equal(ids, m.ids)
		m.ids = ids
		m.mu.Unlock()
		m.others.Store(others)
		if changed {
			e.log.Info("cluster changed", "processes", len(ids), "cluster_mode", others)
			e.disp.membersChanged()
		}
	}
	m.mu.Lock()
	sees := m.ids
	m.mu.Unlock()
	err = st.Heartbeat(ctx, &store.Process{ID: e.cfg.Owner, Address: e.cfg.Address,
		StartedAt: m.started, HeartbeatAt: now, InFlight: e.disp.holding(), Sees: sees})
	if err != nil && ctx.Err() == nil {
		e.log.Warn("heartbeat failed", "error", err)
	}
}

// share is this process's part of an endpoint's max_in_flight m among the
// live processes: m/N each, and the remainder one each to m%N of them,
// which ones depending on the endpoint (so that with many endpoints of
// max_in_flight 1 the work spreads over the processes). Every process
// computes the same parts from the same list of processes, so together
// they never exceed m. The list changes at heartbeats; a process joining
// waits before dispatching until the others have shrunk their parts to make
// room for it (join; a request they had in progress still runs to its
// end). A process not in the list takes a part as the last of N+1.
func (m *members) share(endpointID string, total int, self string) int {
	m.mu.Lock()
	ids := m.ids
	m.mu.Unlock()
	n := len(ids)
	i, found := slices.BinarySearch(ids, self)
	if !found {
		n++
		i = n - 1
	}
	if n <= 1 {
		return total
	}
	h := fnv.New32a()
	h.Write([]byte(endpointID))
	pos := (i + int(h.Sum32()%uint32(n))) % n
	part := total / n
	if pos < total%n {
		part++
	}
	return part
}

// heartbeats beats every Heartbeat until ctx ends.
func (e *Engine) heartbeats(ctx context.Context) { every(ctx, e.cfg.Heartbeat, e.beat) }

// leave removes this process's row after a clean stop (its claims were
// finished or handed back).
func (e *Engine) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.store.RemoveProcess(ctx, e.cfg.Owner); err != nil {
		e.log.Warn("removing this process from the cluster failed", "error", err)
	}
}

// processes is Processes (engine.go).
func (e *Engine) processes(ctx context.Context) ([]*store.Process, error) {
	return e.store.ListProcesses(ctx, e.now().Add(-e.cfg.DeadAfter))
}

// clusterCollector exports the processes seen at the last heartbeat.
type clusterCollector struct {
	members *members
	disp    *dispatcher
}

var (
	descProcesses = prometheus.NewDesc("herald_cluster_processes",
		"Live processes on the database, at this process's last heartbeat.", nil, nil)
	descInFlight = prometheus.NewDesc("herald_cluster_process_in_flight",
		"Deliveries claimed by each live process, at its last heartbeat.", []string{"process", "address"}, nil)
	descHeartbeat = prometheus.NewDesc("herald_cluster_process_heartbeat_timestamp_seconds",
		"Each live process's last heartbeat, Unix time.", []string{"process", "address"}, nil)
	descMode = prometheus.NewDesc("herald_cluster_mode",
		"1 while this process dispatches with other processes alive, the endpoints' limits held in the database.", nil, nil)
)

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descProcesses
	ch <- descInFlight
	ch <- descHeartbeat
	ch <- descMode
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.members
	m.mu.Lock()
	live := m.live
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descProcesses, prometheus.GaugeValue, float64(len(live)))
	mode := 0.0
	if c.disp.clusterMode() && c.disp.dispatching() {
		mode = 1
	}
	ch <- prometheus.MustNewConstMetric(descMode, prometheus.GaugeValue, mode)
	for _, p := range live {
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(p.InFlight), p.ID, p.Address)
		ch <- prometheus.MustNewConstMetric(descHeartbeat, prometheus.GaugeValue,
			float64(p.HeartbeatAt.UnixNano())/1e9, p.ID, p.Address)
	}
}
