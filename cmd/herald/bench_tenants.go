package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/webhook"
)

// runTenantScenario measures what routing costs in a project of many
// tenants: the same load (sc.n events from sc.c clients, one delivery each)
// first into a project with one endpoint, then, for each count of counts
// (sc.tenants alone when counts is empty), twice into a project of that
// many tenants with two endpoints each, the events spread over the
// tenants. Two counts taken back to back (--tenants 1000,100000) show
// whether the cost grows with the number of tenants. Each tenant's second
// endpoint subscribes to another type, so every row delivers one request
// per event. The first pass over the
// tenants ("cold") is mostly first events of their tenant, whose
// endpoints routing reads from the store; the second ("warm") finds the
// tenants it met in the cache, and so shows routing's cost with many
// tenants.
//
// Events are ingested in the embedded server's process, through the engine
// (as the API does after decoding), so that the figure is routing's and the
// store's, not HTTP's; endpoints are created through its store, many at
// once (200,000 through the API would take longer than the load).
func runTenantScenario(ctx context.Context, out io.Writer, a *app, base, adminKey string, rcv *benchReceiver, sc benchScenario, rssPID int, counts []int) ([]*benchResult, error) {
	if a == nil {
		return nil, errors.New("the tenants scenario needs the embedded server (no --url): it ingests through the engine and creates its endpoints through the store")
	}
	if len(counts) == 0 {
		counts = []int{sc.tenants}
	}
	cl := &benchClient{base: base, http: &http.Client{Timeout: 30 * time.Second}}
	var results []*benchResult
	for _, tenants := range append([]int{0}, counts...) {
		res, err := tenantPhase(ctx, out, a, cl, adminKey, rcv, sc, rssPID, tenants)
		if err != nil {
			return nil, err
		}
		results = append(results, res...)
	}
	return results, nil
}

// tenantPhase runs the load into a new project of tenants tenants (0: one
// project-wide endpoint, one pass).
func tenantPhase(ctx context.Context, out io.Writer, a *app, cl *benchClient, adminKey string, rcv *benchReceiver, sc benchScenario, rssPID, tenants int) ([]*benchResult, error) {
	name := "tenants/one-endpoint"
	if tenants > 0 {
		name = fmt.Sprintf("tenants/%d×2", tenants)
	}
	var prj struct {
		ID string `json:"id"`
	}
	if err := cl.do(adminKey, "POST", "/v1/projects", map[string]any{"name": "bench " + name}, &prj); err != nil {
		return nil, fmt.Errorf("create project: %w", err)
	}
	defer cl.do(adminKey, "DELETE", "/v1/projects/"+prj.ID, nil, nil)
	p, err := a.store.GetProject(ctx, prj.ID)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	if err := createTenantEndpoints(ctx, out, a, p.ID, rcv.url+"/tenants", tenants); err != nil {
		return nil, err
	}
	a.engine.EndpointsChanged(p.ID)
	if tenants > 0 {
		fmt.Fprintf(out, "  %s: %d endpoints created in %.1f s; RSS %.0f MB\n", name, 2*tenants, time.Since(start).Seconds(), rssMB(rssPID))
	}
	if tenants == 0 {
		return []*benchResult{tenantLoad(ctx, a, p, rcv, sc, rssPID, tenants, name)}, nil
	}
	return []*benchResult{
		tenantLoad(ctx, a, p, rcv, sc, rssPID, tenants, name+"/cold"),
		tenantLoad(ctx, a, p, rcv, sc, rssPID, tenants, name+"/warm"),
	}, nil
}

// tenantLoad ingests sc.n events into p, spread over its tenants (none
// when tenants is 0), and waits for their deliveries.
func tenantLoad(ctx context.Context, a *app, p *herald.Project, rcv *benchReceiver, sc benchScenario, rssPID, tenants int, name string) *benchResult {
	rcv.reset(0, false)
	res := &benchResult{Scenario: name, Events: sc.n, Deliveries: sc.n}
	var accepted, rejected, next atomic.Int64
	stopProfile := startPhaseProfile(name)
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range sc.c {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= sc.n {
					return
				}
				var in delivery.EventInput
				_ = json.Unmarshal(benchEvent(i), &in)
				if tenants > 0 {
					// A prime stride spreads consecutive events over the tenants.
					in.TenantID = "t" + strconv.Itoa(i*7919%tenants)
				}
				r, err := a.engine.Ingest(ctx, p, []delivery.EventInput{in})
				if err == nil && r[0].Err == nil && r[0].Deliveries == 1 {
					accepted.Add(1)
				} else {
					rejected.Add(1)
				}
			}
		})
	}
	wg.Wait()
	ingestDur := time.Since(start)
	res.Accepted, res.Rejected = int(accepted.Load()), int(rejected.Load())
	res.IngestPerSec = float64(res.Accepted) / ingestDur.Seconds()
	rcv.await(ctx, res.Accepted)
	u, all := rcv.counts()
	res.Delivered, res.Duplicates, res.Lost = u, all-u, res.Accepted-u
	res.DeliverPerS = float64(u) / time.Since(start).Seconds()
	res.CPUPerEventUS = (processCPU() - cpu0).Seconds() * 1e6 / float64(max(res.Accepted, 1))
	stopProfile()
	res.RSSMB = rssMB(rssPID)
	res.P50ms, res.P90ms, res.P99ms, res.MaxMs = rcv.percentiles()
	return res
}

// createTenantEndpoints creates, in the project, tenants tenants of two
// endpoints to url (the first subscribed to the bench's events, the second
// to another type), or with tenants 0 one project-wide endpoint. Many at
// once, so that the store commits them in groups.
func createTenantEndpoints(ctx context.Context, out io.Writer, a *app, projectID, url string, tenants int) error {
	newEP := func(tenant string, types ...string) *herald.Endpoint {
		now := time.Now().UTC()
		ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: projectID, TenantID: tenant, URL: url,
			EventTypes: types, Enabled: true, MaxInFlight: 64, Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
		ep.SetDefaults()
		return ep
	}
	if tenants == 0 {
		return a.store.CreateEndpoint(ctx, newEP("", "bench.*"))
	}
	var next, done atomic.Int64
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= tenants {
					return
				}
				tenant := "t" + strconv.Itoa(i)
				for _, ep := range []*herald.Endpoint{newEP(tenant, "bench.*"), newEP(tenant, "other.*")} {
					if err := a.store.CreateEndpoint(ctx, ep); err != nil {
						select {
						case errs <- fmt.Errorf("create endpoint: %w", err):
						default:
						}
						return
					}
				}
				if n := done.Add(1); n%20000 == 0 {
					fmt.Fprintf(out, "  %d of %d tenants created\n", n, tenants)
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// processCPU is the user and system CPU time of this process so far: the
// embedded server with its load generator and receiver. Per event it is
// the steadier measure on a shared machine, where wall time moves with
// the other work.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startPhaseProfile writes a CPU profile of one phase of the scenario to
// $HERALD_BENCH_CPUPROFILE-<phase>.pprof when that variable is set; the
// returned function ends it.
func startPhaseProfile(phase string) func() {
	prefix := os.Getenv("HERALD_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(prefix + "-" + strings.NewReplacer("/", "-", "×", "x").Replace(phase) + ".pprof")
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
