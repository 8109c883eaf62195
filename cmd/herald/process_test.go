package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/store/postgres/pgtest"
	"github.com/herald-dev/herald/internal/testkit"
)

// These tests run the real binary as a separate process, so that it can be
// killed with SIGKILL mid-load and started again.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func heraldBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "herald-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "herald")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

const testAdminKey = "hk_admin_test_key_for_process_tests"

// serverProc is one running `herald serve`.
type serverProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *testkit.Buffer
	done chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, database string, extraEnv ...string) *serverProc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(heraldBinary(t), "serve")
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+addr,
		"HERALD_DATABASE="+database,
		"HERALD_ADMIN_KEY="+testAdminKey,
		"HERALD_ALLOW_PRIVATE_NETWORKS=true",
		"HERALD_API_RATE_LIMIT=0",
		"HERALD_LOG_LEVEL=warn",
		"HERALD_LEASE=3s",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	p := &serverProc{t: t, cmd: cmd, addr: addr, log: &testkit.Buffer{}, done: make(chan struct{})}
	cmd.Stdout = p.log
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("herald serve exited early:\n%s", p.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("herald serve not ready after 30s:\n%s", p.log.String())
	return nil
}

func (p *serverProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// call makes one API request and decodes the JSON answer into out.
func call(t *testing.T, addr, key, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// receiver counts deliveries by webhook-id.
type receiver struct {
	*testkit.Receiver
	url string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := testkit.NewReceiver(t, testkit.Status(204))
	return &receiver{Receiver: rc, url: rc.URL + "/hook"}
}

func (r *receiver) counts() (unique, total int, missing func(ids []string) []string) {
	snapshot := map[string]int{}
	for _, req := range r.Requests() {
		snapshot[req.Header.Get("webhook-id")]++
	}
	for _, n := range snapshot {
		unique++
		total += n
	}
	return unique, total, func(ids []string) []string {
		var m []string
		for _, id := range ids {
			if snapshot[id] == 0 {
				m = append(m, id)
			}
		}
		return m
	}
}

// setupProject creates a project and an endpoint to rcv; returns the
// project id and its key.
func setupProject(t *testing.T, addr string, rcv *receiver) (string, string) {
	t.Helper()
	var p struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if code := call(t, addr, testAdminKey, "POST", "/v1/projects", map[string]any{"name": "crash"}, &p); code != 201 {
		t.Fatalf("create project: %d", code)
	}
	var ep map[string]any
	if code := call(t, addr, p.APIKey, "POST", "/v1/projects/"+p.ID+"/endpoints", map[string]any{
		"url": rcv.url, "retry_schedule": []string{"1s", "1s", "1s", "1s", "1s"},
	}, &ep); code != 201 {
		t.Fatalf("create endpoint: %d %v", code, ep)
	}
	return p.ID, p.APIKey
}

// loadUntil posts events from several goroutines until stop is closed and
// returns the ids of those that got a 202; accepted counts them as they come.
func loadUntil(t *testing.T, addrs []string, project, key string, stop <-chan struct{}, counter *atomic.Int64) []string {
	var mu sync.Mutex
	var accepted []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				addr := addrs[(g+i)%len(addrs)]
				body := fmt.Sprintf(`{"type":"load.test","data":{"g":%d,"i":%d}}`, g, i)
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/projects/"+project+"/events", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue // the server is being killed: not accepted
				}
				var out struct {
					ID string `json:"id"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode == 202 && out.ID != "" {
					mu.Lock()
					accepted = append(accepted, out.ID)
					mu.Unlock()
					counter.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	return accepted
}

// waitAccepted waits until the load has had n events accepted in all.
func waitAccepted(t *testing.T, counter *atomic.Int64, n int64) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("%d events accepted", n), func() bool { return counter.Load() >= n })
}

func waitDelivered(t *testing.T, rcv *receiver, ids []string, timeout time.Duration) {
	t.Helper()
	var m []string
	defer func() { // runs also when WaitWithin fails the test: name the missing
		if len(m) > 0 {
			t.Logf("%d of %d accepted events never delivered, e.g. %v", len(m), len(ids), m[:min(5, len(m))])
		}
	}()
	testkit.WaitWithin(t, timeout, fmt.Sprintf("all %d accepted events delivered", len(ids)), func() bool {
		_, _, missing := rcv.counts()
		m = missing(ids)
		return len(m) == 0
	})
}

// Every event that got a 202 is delivered, even when the server is killed
// with SIGKILL under load and started again on the same database.
func TestKilledServerLosesNoAcceptedEvent(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	rcv := newReceiver(t)
	srv := startServer(t, db)
	project, key := setupProject(t, srv.addr, rcv)

	stop := make(chan struct{})
	result := make(chan []string)
	var counter atomic.Int64
	go func() { result <- loadUntil(t, []string{srv.addr}, project, key, stop, &counter) }()
	waitAccepted(t, &counter, 100) // killed mid-load, not before it began
	srv.kill()
	close(stop)
	accepted := <-result
	if len(accepted) == 0 {
		t.Fatal("no event was accepted before the kill")
	}

	srv2 := startServer(t, db)
	// Leases of the killed process expire (default lease) before its
	// claimed deliveries are sent again, so allow for that.
	waitDelivered(t, rcv, accepted, time.Minute)
	unique, total, _ := rcv.counts()
	t.Logf("accepted %d, delivered %d unique, %d requests (%d duplicates)", len(accepted), unique, total, total-unique)
	_ = srv2
}

// SIGTERM stops the server cleanly: it exits 0.
func TestSIGTERMExitsCleanly(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	srv := startServer(t, db)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(time.Minute):
		t.Fatal("herald serve did not exit within a minute of SIGTERM")
	}
	if code := srv.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, srv.log.String())
	}
}

// Two processes on one PostgreSQL share the load; when one is killed with
// SIGKILL mid-load, the survivor delivers every event either accepted, and
// duplicates stay rare.
func TestTwoProcessesOnPostgresSurviveAKill(t *testing.T) {
	base := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the PostgreSQL tests")
	}
	url, drop, err := pgtest.CreateTestDatabase(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)

	rcv := newReceiver(t)
	a := startServer(t, url)
	b := startServer(t, url)
	project, key := setupProject(t, a.addr, rcv)

	stop := make(chan struct{})
	result := make(chan []string)
	var counter atomic.Int64
	go func() { result <- loadUntil(t, []string{a.addr, b.addr}, project, key, stop, &counter) }()
	waitAccepted(t, &counter, 100)
	a.kill()
	// The survivor goes on accepting while a is dead.
	waitAccepted(t, &counter, counter.Load()+50)
	close(stop)
	accepted := <-result
	if len(accepted) == 0 {
		t.Fatal("no event was accepted")
	}
	waitDelivered(t, rcv, accepted, time.Minute)
	unique, total, _ := rcv.counts()
	dups := total - unique
	t.Logf("accepted %d, delivered %d unique, %d duplicates", len(accepted), unique, dups)
	// Duplicates come only from attempts the killed process had in flight
	// (sent, not yet recorded): a few batches at most.
	if limit := max(50, unique/50); dups > limit {
		t.Fatalf("%d duplicates for %d events: more than %d", dups, unique, limit)
	}
}

// With HERALD_ENCRYPTION_KEY set, the database files hold none of the
// endpoint secrets, credentials or API keys in clear, and delivery still
// works (signed with the real secret) after a restart.
func TestEncryptionKeyKeepsSecretsOutOfTheDatabaseFiles(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "herald.db")
	encKey := "HERALD_ENCRYPTION_KEY=correct horse battery staple 42"
	rcv := newReceiver(t)
	srv := startServer(t, db, encKey)

	var p struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if code := call(t, srv.addr, testAdminKey, "POST", "/v1/projects", map[string]any{"name": "enc"}, &p); code != 201 {
		t.Fatalf("create project: %d", code)
	}
	const password, bearerHeader = "pa55-w0rd-in-clear", "header-value-in-clear"
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if code := call(t, srv.addr, p.APIKey, "POST", "/v1/projects/"+p.ID+"/endpoints", map[string]any{
		"url":     rcv.url,
		"auth":    map[string]any{"basic": map[string]any{"username": "u", "password": password}},
		"headers": map[string]string{"X-Custom": bearerHeader},
	}, &ep); code != 201 {
		t.Fatalf("create endpoint: %d", code)
	}
	send := func(addr string) string {
		var ev struct {
			ID string `json:"id"`
		}
		if code := call(t, addr, p.APIKey, "POST", "/v1/projects/"+p.ID+"/events", map[string]any{"type": "a.b", "data": map[string]any{"n": 1}}, &ev); code != 202 {
			t.Fatalf("ingest: %d", code)
		}
		return ev.ID
	}
	first := send(srv.addr)
	waitDelivered(t, rcv, []string{first}, 30*time.Second)

	// Restart on the same files: the secret still decrypts and signs.
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	srv2 := startServer(t, db, encKey)
	second := send(srv2.addr)
	waitDelivered(t, rcv, []string{second}, 30*time.Second)
	var got struct {
		Secret string `json:"secret"`
	}
	call(t, srv2.addr, p.APIKey, "GET", "/v1/projects/"+p.ID+"/endpoints/"+ep.ID+"/secret", nil, &got)
	if got.Secret != ep.Secret {
		t.Fatalf("secret after restart = %q, want the one returned at creation", got.Secret)
	}
	srv2.kill() // leave the WAL as it is: it must not leak either

	files, _ := filepath.Glob(filepath.Join(dir, "herald.db*"))
	if len(files) == 0 {
		t.Fatal("no database files found")
	}
	secrets := map[string]string{
		"endpoint secret": strings.TrimPrefix(ep.Secret, "whsec_"),
		"basic password":  password,
		"header value":    bearerHeader,
		"project API key": p.APIKey,
		"admin key":       testAdminKey,
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for what, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s found in clear in %s", what, filepath.Base(f))
			}
		}
	}
}
