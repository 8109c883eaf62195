package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/herald-dev/herald/internal/store/postgres/pgtest"
	"github.com/herald-dev/herald/internal/testkit"
)

// These tests take the storage away from a running `herald serve` (the real
// binary): its SQLite file deleted or its disk full, its PostgreSQL
// database refusing sessions. Ingest must answer 503 with Retry-After, not
// 500, /readyz must fail meanwhile, and 202 must mean stored.

// faultProject creates a project and returns its id and key.
func faultProject(t *testing.T, srv *serverProc) (id, key string) {
	t.Helper()
	var p struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if code := call(t, srv.addr, testAdminKey, "POST", "/v1/projects", map[string]any{"name": "faults"}, &p); code != 201 {
		t.Fatalf("create project: %d", code)
	}
	return p.ID, p.APIKey
}

// ingestAnswer posts one event with data of about size bytes and returns
// the status and the Retry-After header.
func ingestAnswer(t *testing.T, srv *serverProc, project, key string, size int) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "a.b", "data": map[string]any{"pad": strings.Repeat("x", size)}})
	req, _ := http.NewRequest("POST", "http://"+srv.addr+"/v1/projects/"+project+"/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func readyz(srv *serverProc) int {
	resp, err := http.Get("http://" + srv.addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// unavailable fails the test unless status and retryAfter are a 503 with
// a Retry-After.
func unavailable(t *testing.T, what string, status int, retryAfter string) {
	t.Helper()
	if status != http.StatusServiceUnavailable || retryAfter == "" {
		t.Fatalf("%s: %d with Retry-After %q, want 503 with a Retry-After", what, status, retryAfter)
	}
}

func TestSQLiteFileDeletedIsNoticed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	srv := startServer(t, "sqlite:"+path)
	project, key := faultProject(t, srv)
	if code, _ := ingestAnswer(t, srv, project, key, 10); code != 202 {
		t.Fatalf("ingest before: %d", code)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	code, ra := ingestAnswer(t, srv, project, key, 10)
	unavailable(t, "ingest after the file was deleted", code, ra)
	testkit.WaitFor(t, "/readyz 503", func() bool { return readyz(srv) == http.StatusServiceUnavailable })
	if log := srv.log.String(); !strings.Contains(log, "database file was deleted") {
		t.Errorf("nothing logged about the deleted file:\n%s", log)
	}
}

func TestSQLiteFileReplacedIsNoticed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "herald.db")
	srv := startServer(t, "sqlite:"+path)
	project, key := faultProject(t, srv)
	// Replaced, with nothing written since: noticed all the same.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "/readyz 503", func() bool { return readyz(srv) == http.StatusServiceUnavailable })
	code, ra := ingestAnswer(t, srv, project, key, 10)
	unavailable(t, "ingest after the file was replaced", code, ra)
	if log := srv.log.String(); !strings.Contains(log, "database file was replaced") {
		t.Errorf("nothing logged about the replaced file:\n%s", log)
	}
}

// smallDisk mounts a tmpfs of size bytes for the test, or skips it where
// mounting is not allowed.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for n := len(chunk) / 2; n > 0; n /= 2 { // the last partial blocks too
		f.Write(chunk[:n])
	}
	return path
}

func TestSQLiteDiskFullAnswers503(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, "16m")
	srv := startServer(t, "sqlite:"+filepath.Join(dir, "herald.db"))
	project, key := faultProject(t, srv)
	if code, _ := ingestAnswer(t, srv, project, key, 10); code != 202 {
		t.Fatalf("ingest before: %d", code)
	}
	filler := fill(t, dir)
	full := false
	for range 200 {
		code, ra := ingestAnswer(t, srv, project, key, 20_000)
		if code == 202 {
			continue // into pages SQLite had already
		}
		unavailable(t, "ingest on a full disk", code, ra)
		full = true
		break
	}
	if !full {
		t.Fatal("ingest never failed on a full disk")
	}
	testkit.WaitFor(t, "/readyz 503", func() bool { return readyz(srv) == http.StatusServiceUnavailable })
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "/readyz 200 once there is room", func() bool { return readyz(srv) == http.StatusOK })
	if code, _ := ingestAnswer(t, srv, project, key, 10); code != 202 {
		t.Errorf("ingest once there is room: %d", code)
	}
}

func TestPostgresOutageAnswers503(t *testing.T) {
	t.Parallel()
	base := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the PostgreSQL tests")
	}
	dbURL, drop, err := pgtest.CreateTestDatabase(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	srv := startServer(t, dbURL)
	project, key := faultProject(t, srv)
	if code, _ := ingestAnswer(t, srv, project, key, 10); code != 202 {
		t.Fatalf("ingest before: %d", code)
	}
	restore := pgtest.RefuseSessions(t, dbURL)
	code, ra := ingestAnswer(t, srv, project, key, 10)
	unavailable(t, "ingest while PostgreSQL refuses sessions", code, ra)
	if got := readyz(srv); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while PostgreSQL refuses sessions: %d, want 503", got)
	}
	restore()
	testkit.WaitFor(t, "/readyz 200 once PostgreSQL is back", func() bool { return readyz(srv) == http.StatusOK })
	if code, _ := ingestAnswer(t, srv, project, key, 10); code != 202 {
		t.Errorf("ingest once PostgreSQL is back: %d", code)
	}
}

// postRaw posts body as is and decodes the JSON answer into out.
func postRaw(t *testing.T, srv *serverProc, key, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+srv.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %d %q", path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// Data that is not UTF-8, or a NUL in a channel, is a 422 of that event on
// both stores, and the events beside it in a batch are accepted; what was
// accepted reads back as JSON a strict parser takes.
func TestBadBytesAreRefusedPerEvent(t *testing.T) {
	t.Parallel()
	dbs := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "herald.db") },
		"postgres": func(t *testing.T) string {
			base := os.Getenv("HERALD_TEST_POSTGRES_URL")
			if base == "" {
				t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the PostgreSQL tests")
			}
			dbURL, drop, err := pgtest.CreateTestDatabase(context.Background(), base)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(drop)
			return dbURL
		},
	}
	for name, database := range dbs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, database(t))
			project, key := faultProject(t, srv)
			events := "/v1/projects/" + project + "/events"
			var problem struct {
				Errors []struct{ Location string } `json:"errors"`
			}
			if code := postRaw(t, srv, key, events, "{\"type\":\"a.b\",\"data\":{\"s\":\"\xff\xfe\"}}", &problem); code != 422 ||
				len(problem.Errors) != 1 || problem.Errors[0].Location != "body.data" {
				t.Errorf("one event with bad bytes: %d %+v, want 422 at body.data", code, problem)
			}
			var batch struct {
				Data []struct {
					ID    string `json:"id"`
					Error *struct {
						Status int `json:"status"`
					} `json:"error"`
				} `json:"data"`
			}
			code := postRaw(t, srv, key, events+"/batch", `{"events":[{"type":"a.b","data":{"ok":1}},`+
				"{\"type\":\"a.b\",\"data\":{\"s\":\"\xff\"}},"+
				`{"type":"a.b","data":{},"channels":["a\u0000b"]},{"type":"a.b","data":{"ok":2}}]}`, &batch)
			if code != 202 || len(batch.Data) != 4 {
				t.Fatalf("batch: %d %+v", code, batch)
			}
			for i, want := range []int{0, 422, 422, 0} {
				got := 0
				if e := batch.Data[i].Error; e != nil {
					got = e.Status
				}
				if got != want || (want == 0) != (batch.Data[i].ID != "") {
					t.Errorf("batch event %d: error status %d, id %q; want %d", i, got, batch.Data[i].ID, want)
				}
			}
			resp, err := http.NewRequest("GET", "http://"+srv.addr+events, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Header.Set("Authorization", "Bearer "+key)
			r, err := http.DefaultClient.Do(resp)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			var list struct{ Data []json.RawMessage }
			if !utf8.Valid(b) || json.Unmarshal(b, &list) != nil || len(list.Data) != 2 {
				t.Errorf("events listed: %d events in %q, want 2 in valid UTF-8 JSON", len(list.Data), b)
			}
		})
	}
}
