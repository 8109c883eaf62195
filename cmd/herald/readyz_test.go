package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// From SIGTERM on, /readyz answers 503 while the server still serves other
// requests for the shutdown delay. (TestSIGTERMExitsCleanly covers the
// exit, without a delay.)
func TestReadyzAnswers503WhileDraining(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	srv := startServer(t, db, "HERALD_SHUTDOWN_DELAY=20s")
	base := "http://" + srv.addr
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz during the shutdown delay: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after SIGTERM", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while draining: %v %v", resp, err)
	}
	resp.Body.Close()

	// The process's metrics say which build runs.
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "herald_build_info{") {
		t.Error("no herald_build_info in /metrics")
	}
	srv.kill()
}
