package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/herald-dev/herald/internal/testkit"
)

// openApp wires Herald on database as serve does, with the admin key
// configured (HERALD_ADMIN_KEY; "" for none), and returns it with what it
// printed on stdout and logged.
func openApp(t *testing.T, database, adminKey string) (a *app, stdout string, logged []map[string]any) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Database = database
	cfg.AdminKey = adminKey
	cfg.LogFormat = "json"
	var out, logs bytes.Buffer
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)), &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.store.Close() })
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		logged = append(logged, m)
	}
	return a, out.String(), logged
}

// status is the answer of the admin-only project list to key.
func (a *app) status(key string) int {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/projects", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	a.handler.ServeHTTP(rec, req)
	return rec.Code
}

// adminKeyLog returns the log line that says where the admin key comes from.
func adminKeyLog(t *testing.T, logged []map[string]any) map[string]any {
	t.Helper()
	for _, m := range logged {
		if m["source"] != nil && strings.Contains(m["msg"].(string), "admin key") {
			return m
		}
	}
	t.Fatalf("no log line names the admin key's source: %v", logged)
	return nil
}

var printedAdminKey = regexp.MustCompile(`"admin_key":"(hk_admin_[^"]+)"`)

func TestServeLogsTheAdminKeySource(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")

	a, out, logged := openApp(t, db, "")
	m := printedAdminKey.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("a first start without HERALD_ADMIN_KEY printed no key: %q", out)
	}
	generated := m[1]
	if l := adminKeyLog(t, logged); l["source"] != adminKeyGenerated || l["level"] != "INFO" {
		t.Errorf("first start: %v, want source %s", l, adminKeyGenerated)
	}
	a.store.Close()

	a, out, logged = openApp(t, db, "")
	if l := adminKeyLog(t, logged); l["source"] != adminKeyFromDatabase || strings.Contains(out, "hk_admin_") {
		t.Errorf("second start: %v, printed %q; want source %s and no key", l, out, adminKeyFromDatabase)
	}
	if a.status(generated) != http.StatusOK {
		t.Error("the stored key is refused")
	}
	a.store.Close()

	// The environment wins over the stored key, and says so with a warning.
	a, _, logged = openApp(t, db, "hk_admin_from_env")
	if l := adminKeyLog(t, logged); l["source"] != adminKeyFromEnvironment || l["level"] != "WARN" {
		t.Errorf("start with HERALD_ADMIN_KEY over a stored key: %v, want a warning with source %s", l, adminKeyFromEnvironment)
	}
	if a.status("hk_admin_from_env") != http.StatusOK || a.status(generated) != http.StatusUnauthorized {
		t.Error("HERALD_ADMIN_KEY is not the key in force")
	}

	_, _, logged = openApp(t, "sqlite:"+filepath.Join(t.TempDir(), "fresh.db"), "hk_admin_from_env")
	if l := adminKeyLog(t, logged); l["source"] != adminKeyFromEnvironment || l["level"] != "INFO" {
		t.Errorf("start with HERALD_ADMIN_KEY on a fresh database: %v", l)
	}
}

func TestAdminKeyCommandReplacesTheStoredKey(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	a, out, _ := openApp(t, db, "")
	lost := printedAdminKey.FindStringSubmatch(out)[1]
	a.store.Close()

	var stdout, stderr bytes.Buffer
	if err := runAdminKey(context.Background(), []string{"--database", db}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	fresh := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(fresh, "hk_admin_") || strings.Contains(fresh, "\n") || fresh == lost {
		t.Fatalf("admin-key printed %q, want one new key", stdout.String())
	}
	if !strings.Contains(stderr.String(), "Restart") {
		t.Errorf("admin-key does not say to restart: %q", stderr.String())
	}

	a, out, logged := openApp(t, db, "")
	if a.status(fresh) != http.StatusOK || a.status(lost) != http.StatusUnauthorized {
		t.Fatal("after admin-key, the new key is not the one in force")
	}
	if strings.Contains(out, "hk_admin_") || adminKeyLog(t, logged)["source"] != adminKeyFromDatabase {
		t.Fatalf("after admin-key, the start printed %q and logged %v", out, logged)
	}
}

func TestServeBannerFollowsLogFormatJSON(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	cmd := exec.Command(heraldBinary(t), "serve", "--log-format", "json", "--addr", addr,
		"--database", "sqlite:"+filepath.Join(t.TempDir(), "herald.db"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no HERALD_ADMIN_KEY: the generated key is printed too
	var stdout, stderr testkit.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	testkit.WaitFor(t, "herald serve to be ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}

	msgs := map[string]bool{}
	for name, out := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("%s line is not JSON: %q", name, sc.Text())
				continue
			}
			msg, _ := m["msg"].(string)
			msgs[msg] = true
		}
	}
	for _, want := range []string{"herald listening", "admin key generated (shown once, keep it safe)"} {
		if !msgs[want] {
			t.Errorf("no JSON line %q among %v", want, msgs)
		}
	}
}
