package delivery

import (
	"context"
	"hash/fnv"
	"log/slog"
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

// members is this process's view of the cluster, kept by its heartbeats.
type members struct {
	deps    membersDeps
	started time.Time
	mu      sync.Mutex
	live    []*store.Process // at the last heartbeat, oldest first
	ids     []string         // their ids, sorted
	others  atomic.Bool      // another live process was seen at the last heartbeat
	regOnce sync.Once
}

// membersDeps is what the heartbeats use: the store's process table and
// claim takeover, the clock, the logger, this process's identity, and the
// dispatcher's functions they call.
type membersDeps struct {
	store      clusterStore
	now        func() time.Time
	log        *slog.Logger
	registerer prometheus.Registerer

	owner, address       string
	heartbeat, deadAfter time.Duration
	exclusive            bool

	wakeNowFunc        func()     // claims taken over: claim now
	notifyFunc         func()     // and tell the other processes
	membersChangedFunc func()     // the shares changed
	holdingFunc        func() int // deliveries this process holds
	collector          prometheus.Collector
}

type clusterStore interface {
	TakeOver(ctx context.Context, owner string, deadBefore, now time.Time) (int, error)
	ListProcesses(ctx context.Context, since time.Time) ([]*store.Process, error)
	Heartbeat(ctx context.Context, p *store.Process) error
	RemoveProcess(ctx context.Context, id string) error
}

// join records this process and takes over what dead processes held. When
// others are alive it then waits, beating every joinPoll, until every one
// of them sees it (their rows' Sees, written after they have taken it into
// their shares), or DeadAfter passes: only then may it dispatch.
func (m *members) join(ctx context.Context) {
	m.regOnce.Do(func() {
		if m.deps.registerer != nil && m.deps.collector != nil {
			_ = m.deps.registerer.Register(m.deps.collector)
		}
	})
	m.started = m.deps.now()
	deadline := time.Now().Add(m.deps.deadAfter)
	for {
		m.beat(ctx)
		if !m.others.Load() || m.seenByAll() {
			return
		}
		if time.Now().After(deadline) {
			m.deps.log.Warn("joining the cluster: not every process sees this one yet; dispatching anyway")
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
func (m *members) seenByAll() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.live {
		if p.ID != m.deps.owner && !slices.Contains(p.Sees, m.deps.owner) {
			return false
		}
	}
	return true
}

// beat is one heartbeat: take over the claims of the dead, read who is
// alive (and so this process's shares), then write this process's row with
// what it saw — in that order, so that a row that sees a process promises
// shares that make room for it.
func (m *members) beat(ctx context.Context) {
	now := m.deps.now()
	st, owner := m.deps.store, m.deps.owner
	since := now.Add(-m.deps.deadAfter)
	deadBefore := since
	if m.deps.exclusive {
		deadBefore = now.Add(forever)
	}
	n, err := st.TakeOver(ctx, owner, deadBefore, now)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			m.deps.log.Warn("taking over the claims of stopped processes failed", "error", err)
		}
	case n > 0:
		m.deps.log.Info("took over the claims of stopped processes", "deliveries", n)
		m.deps.wakeNowFunc()
		m.deps.notifyFunc()
	}
	live, err := st.ListProcesses(ctx, since)
	if err != nil {
		if ctx.Err() == nil {
			m.deps.log.Warn("reading the cluster's processes failed", "error", err)
		}
	} else {
		others := false
		ids := []string{owner} // alive, whether its row was read or not
		for _, p := range live {
			if p.ID != owner {
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
			m.deps.log.Info("cluster changed", "processes", len(ids), "cluster_mode", others)
			m.deps.membersChangedFunc()
		}
	}
	m.mu.Lock()
	sees := m.ids
	m.mu.Unlock()
	err = st.Heartbeat(ctx, &store.Process{ID: owner, Address: m.deps.address,
		StartedAt: m.started, HeartbeatAt: now, InFlight: m.deps.holdingFunc(), Sees: sees})
	if err != nil && ctx.Err() == nil {
		m.deps.log.Warn("heartbeat failed", "error", err)
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
func (m *members) heartbeats(ctx context.Context) { every(ctx, m.deps.heartbeat, m.beat) }

// leave removes this process's row after a clean stop (its claims were
// finished or handed back).
func (m *members) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.deps.store.RemoveProcess(ctx, m.deps.owner); err != nil {
		m.deps.log.Warn("removing this process from the cluster failed", "error", err)
	}
}

// processes is Processes (engine.go): the live processes, read now.
func (m *members) processes(ctx context.Context) ([]*store.Process, error) {
	return m.deps.store.ListProcesses(ctx, m.deps.now().Add(-m.deps.deadAfter))
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
