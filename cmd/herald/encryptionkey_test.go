package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveFails runs `herald serve` on database, expects it to exit with an
// error before serving, and returns what it printed.
func serveFails(t *testing.T, database string, extraEnv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, heraldBinary(t), "serve")
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR="+freeAddr(t),
		"HERALD_DATABASE="+database,
		"HERALD_ADMIN_KEY="+testAdminKey,
		"HERALD_ENCRYPTION_KEY=",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("herald serve did not refuse to start (err %v):\n%s", err, out)
	}
	return string(out)
}

// A database whose endpoint secrets are encrypted does not start without
// its key, or with another: the refusal names HERALD_ENCRYPTION_KEY. With
// its key it starts and reads the endpoint.
func TestServeRefusesToStartWithoutTheEncryptionKey(t *testing.T) {
	t.Parallel()
	database := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	const right = "HERALD_ENCRYPTION_KEY=the-right-key-0123456789abcdef"
	srv := startServer(t, database, right)
	var proj struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if code := call(t, srv.addr, testAdminKey, "POST", "/v1/projects", map[string]any{"name": "shop"}, &proj); code != 201 {
		t.Fatalf("create project: %d", code)
	}
	if code := call(t, srv.addr, proj.APIKey, "POST", "/v1/projects/"+proj.ID+"/endpoints", map[string]any{"url": "https://example.com/hook"}, nil); code != 201 {
		t.Fatalf("create endpoint: %d", code)
	}
	srv.kill()

	out := serveFails(t, database)
	if !strings.Contains(out, "HERALD_ENCRYPTION_KEY is not set") {
		t.Errorf("without a key, the refusal does not say the variable is unset:\n%s", out)
	}
	out = serveFails(t, database, "HERALD_ENCRYPTION_KEY=another-key-0123456789abcdef")
	if !strings.Contains(out, "HERALD_ENCRYPTION_KEY cannot decrypt") {
		t.Errorf("with another key, the refusal does not name the variable:\n%s", out)
	}

	srv = startServer(t, database, right)
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if code := call(t, srv.addr, proj.APIKey, "GET", "/v1/projects/"+proj.ID+"/endpoints", nil, &list); code != 200 || len(list.Data) != 1 {
		t.Fatalf("with its key: endpoints %d, %v", code, list.Data)
	}
}
