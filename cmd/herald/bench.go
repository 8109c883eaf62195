package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/gcfloor"
)

// benchScenario is one workload of `herald bench`.
type benchScenario struct {
	name      string
	n         int     // events
	c         int     // concurrent clients
	batch     int     // events per request (1 = single ingest)
	endpoints int     // endpoints subscribed
	failFirst float64 // fraction of first attempts answered 500
	down      bool    // receiver answers 503 until ingest is done (backlog)
	retry     []string
	// stuck adds a second endpoint, subscribed to the same events, whose
	// receiver never answers (timeout 5s): the healthy endpoint's latency
	// beside it, compared with "light", shows there is no head-of-line
	// blocking between endpoints.
	stuck bool
	// tenants: the scenario of bench_tenants.go with this many tenants.
	tenants int
}

var benchScenarios = map[string]benchScenario{
	"burst":     {name: "burst", n: 20000, c: 64, batch: 1, endpoints: 1},
	"light":     {name: "light", n: 2000, c: 4, batch: 1, endpoints: 1},
	"retry":     {name: "retry", n: 5000, c: 32, batch: 1, endpoints: 1, failFirst: 0.2, retry: []string{"1s", "1s", "1s", "1s", "1s"}},
	"batch":     {name: "batch", n: 100000, c: 8, batch: 100, endpoints: 1},
	"fanout":    {name: "fanout", n: 500, c: 8, batch: 1, endpoints: 100},
	"backlog":   {name: "backlog", n: 1000000, c: 8, batch: 100, endpoints: 1, down: true, retry: []string{"1s", "2s", "5s", "10s", "30s", "1m", "5m"}},
	"neighbour": {name: "neighbour", n: 2000, c: 4, batch: 1, endpoints: 1, stuck: true},
	"tenants":   {name: "tenants", n: 20000, c: 64, batch: 1, endpoints: 1, tenants: 100_000},
}

// benchScenarioNames lists the scenarios in the order a full run takes them.
const benchScenarioNames = "burst, light, retry, batch, fanout, backlog, neighbour, tenants"

// benchResult is what one scenario measured.
type benchResult struct {
	Scenario     string  `json:"scenario"`
	Events       int     `json:"events"`
	Accepted     int     `json:"accepted"`
	Rejected     int     `json:"rejected"`
	IngestPerSec float64 `json:"ingest_per_s"`
	Deliveries   int     `json:"deliveries_expected"`
	Delivered    int     `json:"delivered_unique"`
	DeliverPerS  float64 `json:"delivered_per_s"`
	Duplicates   int     `json:"duplicates"`
	Lost         int     `json:"lost"`
	P50ms        float64 `json:"latency_p50_ms"`
	P90ms        float64 `json:"latency_p90_ms"`
	P99ms        float64 `json:"latency_p99_ms"`
	MaxMs        float64 `json:"latency_max_ms"`
	DrainPerS    float64 `json:"drain_per_s,omitempty"`
	// RecoverS is how long after the receiver came back the first delivery
	// arrived (the circuit breaker's next probe); DrainPerS counts from then.
	RecoverS         float64 `json:"recover_s,omitempty"`
	DrainSinceUpPerS float64 `json:"drain_since_up_per_s,omitempty"`
	RSSMB            float64 `json:"server_rss_mb,omitempty"`
	// CPUPerEventUS is the process's CPU time per accepted event (tenants
	// scenario: server, load generator and receiver together).
	CPUPerEventUS float64 `json:"cpu_us_per_event,omitempty"`
}

func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("herald bench", flag.ContinueOnError)
	target := fs.String("url", "", "Herald server to load, or a comma list of the processes of one cluster (default: an embedded server on a temporary database)")
	key := fs.String("key", "", "admin key of --url (HERALD_KEY)")
	scenario := fs.String("scenario", "burst", benchScenarioNames+", or a comma list")
	n := fs.Int("n", 0, "events (0 = the scenario's default)")
	c := fs.Int("c", 0, "concurrent clients (0 = the scenario's default)")
	database := fs.String("database", "", "embedded server's database (default: sqlite in a temp dir)")
	recvAddr := fs.String("receiver", "127.0.0.1:0", "address of the built-in receiver")
	pid := fs.Int("pid", 0, "with --url: the server's pid, to report its RSS")
	jsonOut := fs.Bool("json", false, "print results as JSON lines")
	tenantsFlag := fs.String("tenants", "", "tenants of the tenants scenario (default 100000), or a comma list run one after the other (1000,100000)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *key == "" {
		*key = os.Getenv("HERALD_KEY")
	}
	var tenantCounts []int
	if *tenantsFlag != "" {
		for _, f := range strings.Split(*tenantsFlag, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || v < 1 {
				return fmt.Errorf("--tenants: %q is not a positive number of tenants", f)
			}
			tenantCounts = append(tenantCounts, v)
		}
	}

	rcv, err := startBenchReceiver(*recvAddr)
	if err != nil {
		return err
	}
	defer rcv.close()

	base, adminKey := strings.TrimRight(*target, "/"), *key
	rssPID := *pid
	var embedded *app // the embedded server, for the tenants scenario
	if base == "" {
		dir, err := os.MkdirTemp("", "herald-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg := DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.Database = "sqlite:" + filepath.Join(dir, "bench.db")
		if *database != "" {
			cfg.Database = *database
		}
		cfg.AdminKey = herald.NewKey(herald.AdminKeyPrefix)
		cfg.AllowPrivateNetworks = true
		cfg.APIRateLimit = 0
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		stopGCFloor, _ := gcfloor.Start() // as serve does
		defer stopGCFloor()
		a, err := newApp(ctx, cfg, logger, io.Discard)
		if err != nil {
			return err
		}
		defer a.store.Close()
		embedded = a
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return err
		}
		sctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.serve(sctx, ln) }()
		defer func() { stop(); <-done }()
		base, adminKey = "http://"+ln.Addr().String(), cfg.AdminKey
		rssPID = os.Getpid()
		fmt.Fprintf(stdout, "embedded Herald on %s (%s)\n", base, redactDSN(cfg.Database))
	} else if adminKey == "" {
		return errors.New("--url needs --key (the admin key) or HERALD_KEY")
	}

	for _, name := range strings.Split(*scenario, ",") {
		sc, ok := benchScenarios[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("unknown scenario %q (%s)", name, benchScenarioNames)
		}
		if *n > 0 {
			sc.n = *n
		}
		if *c > 0 {
			sc.c = *c
		}
		var results []*benchResult
		if sc.tenants > 0 {
			results, err = runTenantScenario(ctx, stdout, embedded, base, adminKey, rcv, sc, rssPID, tenantCounts)
		} else {
			var res *benchResult
			res, err = runScenario(ctx, stdout, base, adminKey, rcv, sc, rssPID)
			results = []*benchResult{res}
		}
		if err != nil {
			return err
		}
		for _, res := range results {
			if *jsonOut {
				b, _ := json.Marshal(res)
				fmt.Fprintln(stdout, string(b))
			} else {
				printResult(stdout, res)
			}
		}
	}
	return nil
}

func runScenario(ctx context.Context, out io.Writer, base, adminKey string, rcv *benchReceiver, sc benchScenario, rssPID int) (*benchResult, error) {
	cl := &benchClient{base: base, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}}
	if bases := strings.Split(base, ","); len(bases) > 1 {
		for i := range bases {
			bases[i] = strings.TrimRight(strings.TrimSpace(bases[i]), "/")
		}
		cl.base, cl.more = bases[0], bases[1:]
	}
	var prj struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if err := cl.do(adminKey, "POST", "/v1/projects", map[string]any{"name": "bench " + sc.name}, &prj); err != nil {
		return nil, fmt.Errorf("create project: %w", err)
	}
	defer cl.do(adminKey, "DELETE", "/v1/projects/"+prj.ID, nil, nil)
	for i := 0; i < sc.endpoints; i++ {
		ep := map[string]any{"url": rcv.url + "/" + strconv.Itoa(i), "max_in_flight": 64}
		if sc.retry != nil {
			ep["retry_schedule"] = sc.retry
		}
		if err := cl.do(prj.APIKey, "POST", "/v1/projects/"+prj.ID+"/endpoints", ep, nil); err != nil {
			return nil, fmt.Errorf("create endpoint: %w", err)
		}
	}
	if sc.stuck {
		hang, err := startHangingReceiver()
		if err != nil {
			return nil, err
		}
		defer hang.Close()
		ep := map[string]any{"url": "http://" + hang.Addr().String() + "/stuck", "timeout": "5s"}
		if err := cl.do(prj.APIKey, "POST", "/v1/projects/"+prj.ID+"/endpoints", ep, nil); err != nil {
			return nil, fmt.Errorf("create stuck endpoint: %w", err)
		}
	}
	rcv.reset(sc.failFirst, sc.down)

	res := &benchResult{Scenario: sc.name, Events: sc.n, Deliveries: sc.n * sc.endpoints}
	var accepted, rejected atomic.Int64
	var next atomic.Int64
	start := time.Now()
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				u, _ := rcv.counts()
				fmt.Fprintf(out, "  %s %5.0fs: accepted %d/%d, delivered %d/%d\n", sc.name, time.Since(start).Seconds(), accepted.Load(), sc.n, u, res.Deliveries)
			}
		}
	}()
	defer close(progressDone)

	var wg sync.WaitGroup
	path := "/v1/projects/" + prj.ID + "/events"
	for w := 0; w < sc.c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				first := int(next.Add(int64(sc.batch))) - sc.batch
				if first >= sc.n {
					return
				}
				count := min(sc.batch, sc.n-first)
				var body []byte
				if sc.batch == 1 {
					body = benchEvent(first)
				} else {
					var b bytes.Buffer
					b.WriteString(`{"events":[`)
					for i := 0; i < count; i++ {
						if i > 0 {
							b.WriteByte(',')
						}
						b.Write(benchEvent(first + i))
					}
					b.WriteString(`]}`)
					body = b.Bytes()
				}
				p := path
				if sc.batch > 1 {
					p += "/batch"
				}
				code, err := cl.post(prj.APIKey, p, body)
				if err == nil && code == 202 {
					accepted.Add(int64(count))
				} else {
					rejected.Add(int64(count))
				}
			}
		}()
	}
	wg.Wait()
	ingestDur := time.Since(start)
	res.Accepted, res.Rejected = int(accepted.Load()), int(rejected.Load())
	res.IngestPerSec = float64(res.Accepted) / ingestDur.Seconds()
	if sc.down {
		res.RSSMB = rssMB(rssPID)
		fmt.Fprintf(out, "  backlog of %d deliveries stored; receiver back up\n", res.Accepted)
		rcv.up()
	}
	drainStart := time.Now()
	want := res.Accepted * sc.endpoints
	firstAt := rcv.await(ctx, want)
	total := time.Since(start)
	u, all := rcv.counts()
	res.Delivered, res.Duplicates, res.Lost = u, all-u, want-u
	res.DeliverPerS = float64(u) / total.Seconds()
	if sc.down {
		res.DrainSinceUpPerS = float64(u) / time.Since(drainStart).Seconds()
		res.DrainPerS = res.DrainSinceUpPerS
		if !firstAt.IsZero() {
			res.RecoverS = firstAt.Sub(drainStart).Seconds()
			res.DrainPerS = float64(u) / time.Since(firstAt).Seconds()
		}
		res.DeliverPerS = res.DrainPerS
	} else {
		res.RSSMB = rssMB(rssPID)
	}
	res.P50ms, res.P90ms, res.P99ms, res.MaxMs = rcv.percentiles()
	return res, nil
}

func benchEvent(i int) []byte {
	return []byte(`{"type":"bench.created","data":{"bench_id":"` + strconv.Itoa(i) + `","sent_ns":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}}`)
}

func printResult(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "%s: %d events, accepted %d (%.0f/s), delivered %d of %d (%.0f/s), lost %d, duplicates %d\n",
		r.Scenario, r.Events, r.Accepted, r.IngestPerSec, r.Delivered, r.Deliveries, r.DeliverPerS, r.Lost, r.Duplicates)
	fmt.Fprintf(w, "  end-to-end latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.P50ms, r.P90ms, r.P99ms, r.MaxMs)
	if r.DrainPerS > 0 {
		fmt.Fprintf(w, "  backlog drain: %.0f deliveries/s from the first delivery, %.1f s after the receiver came back (the circuit breaker's probe); %.0f/s counted from its return\n",
			r.DrainPerS, r.RecoverS, r.DrainSinceUpPerS)
	}
	if r.RSSMB > 0 {
		fmt.Fprintf(w, "  RSS: %.0f MB\n", r.RSSMB)
	}
	if r.CPUPerEventUS > 0 {
		fmt.Fprintf(w, "  CPU: %.0f µs per event\n", r.CPUPerEventUS)
	}
}

type benchClient struct {
	base string
	http *http.Client
	// more are further processes of one cluster (--url a,b,…): ingest
	// goes to base and each of them in turn.
	more []string
	turn atomic.Uint64
}

func (c *benchClient) post(key, path string, body []byte) (int, error) {
	base := c.base
	if len(c.more) > 0 {
		if i := c.turn.Add(1) % uint64(len(c.more)+1); i > 0 {
			base = c.more[i-1]
		}
	}
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (c *benchClient) do(key, method, path string, in, out any) error {
	var rd io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// benchReceiver counts unique deliveries by bench_id and measures latency
// from sent_ns, like the whbench receiver (docs/BENCHMARKS.md, "Method").
type benchReceiver struct {
	srv *http.Server
	url string

	mu        sync.Mutex
	seen      map[string]int
	lat       []time.Duration
	failFirst float64
	down      bool
	firsts    int
}

func startBenchReceiver(addr string) (*benchReceiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &benchReceiver{seen: map[string]int{}}
	r.srv = &http.Server{Handler: r}
	r.url = "http://" + ln.Addr().String() + "/webhook"
	go r.srv.Serve(ln)
	return r, nil
}

func (r *benchReceiver) close() { r.srv.Close() }

func (r *benchReceiver) reset(failFirst float64, down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen, r.lat, r.failFirst, r.down, r.firsts = map[string]int{}, nil, failFirst, down, 0
}

func (r *benchReceiver) up() {
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var env struct {
		Data struct {
			BenchID string `json:"bench_id"`
			SentNS  int64  `json:"sent_ns"`
		} `json:"data"`
	}
	b, _ := io.ReadAll(req.Body)
	_ = json.Unmarshal(b, &env)
	// A delivery is one event at one endpoint; each endpoint has its own
	// path, so fan-out deliveries are told apart.
	id := req.URL.Path + "|" + req.Header.Get("webhook-id")
	now := time.Now()
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if req.Header.Get("webhook-attempt") == "1" && r.failFirst > 0 {
		r.firsts++
		// Deterministic: fail every k-th first attempt.
		if k := int(1 / r.failFirst); k > 0 && r.firsts%k == 0 {
			r.mu.Unlock()
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	r.seen[id]++
	if env.Data.SentNS > 0 {
		r.lat = append(r.lat, now.Sub(time.Unix(0, env.Data.SentNS)))
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// await waits until want unique deliveries have arrived, or progress has
// stopped for a minute, and returns when the first one arrived.
func (r *benchReceiver) await(ctx context.Context, want int) (firstAt time.Time) {
	lastU, lastChange := -1, time.Now()
	for ctx.Err() == nil {
		u, _ := r.counts()
		if u > 0 && firstAt.IsZero() {
			firstAt = time.Now()
		}
		if u >= want {
			break
		}
		if u != lastU {
			lastU, lastChange = u, time.Now()
		}
		if time.Since(lastChange) > 60*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return firstAt
}

func (r *benchReceiver) counts() (unique, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		unique++
		total += n
	}
	return
}

func (r *benchReceiver) percentiles() (p50, p90, p99, max float64) {
	r.mu.Lock()
	l := append([]time.Duration(nil), r.lat...)
	r.mu.Unlock()
	if len(l) == 0 {
		return
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	at := func(q float64) float64 {
		return float64(l[min(len(l)-1, int(q*float64(len(l))))].Microseconds()) / 1000
	}
	return at(0.50), at(0.90), at(0.99), float64(l[len(l)-1].Microseconds()) / 1000
}

// startHangingReceiver listens on loopback and never answers a request:
// each one is held until its client gives up.
func startHangingReceiver() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})}
	go srv.Serve(ln)
	return closerListener{ln, srv}, nil
}

// closerListener closes its server (and the connections held) with it.
type closerListener struct {
	net.Listener
	srv *http.Server
}

func (c closerListener) Close() error { return c.srv.Close() }

// rssMB reads a process's resident set size from /proc (Linux).
func rssMB(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
