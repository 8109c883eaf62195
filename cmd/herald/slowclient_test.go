package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// trickle opens a connection to addr, writes head at once, then the rest
// of a request a byte at a time every 20 ms, and returns the answer the
// server gave before hanging up (nil if it hung up without one). The test
// fails if the server is still reading after the whole request's worth of
// trickling (more than 20 s).
func trickle(t *testing.T, addr, head, rest string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	answered := make(chan *http.Response, 1)
	go func() {
		resp, _ := http.ReadResponse(bufio.NewReader(conn), nil)
		answered <- resp
	}()
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case resp := <-answered:
			return resp
		case <-tick.C:
		}
		if i >= len(rest) {
			t.Fatalf("the server read a request trickled over %d bytes to its end", len(rest))
		}
		if _, err := conn.Write([]byte{rest[i]}); err != nil {
			return <-answered // hung up
		}
	}
}

// A client that trickles a request is cut off at the read timeout: an API
// body gets 408, a dashboard login form is refused (400) or the connection
// closed, and headers trickled past the header timeout close it.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "sqlite:"+t.TempDir()+"/herald.db", "HERALD_READ_TIMEOUT=1s", "HERALD_READ_HEADER_TIMEOUT=1s")
	project, key := faultProject(t, srv)
	body := `{"type":"a.b","data":{"pad":"` + strings.Repeat("x", 1000) + `"}}`

	t.Run("api body", func(t *testing.T) {
		head := fmt.Sprintf("POST /v1/projects/%s/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			project, key, len(body))
		resp := trickle(t, srv.addr, head, body)
		if resp == nil || resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("answer: %v, want 408", status(resp))
		}
	})
	t.Run("dashboard login", func(t *testing.T) {
		form := "key=" + strings.Repeat("k", 1000)
		head := fmt.Sprintf("POST /ui/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", len(form))
		if resp := trickle(t, srv.addr, head, form); resp != nil && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("answer: %v, want 400, 408 or a hang-up", status(resp))
		}
	})
	t.Run("headers", func(t *testing.T) {
		if resp := trickle(t, srv.addr, "POST /ui/login HTTP/1.1\r\n", "Host: x\r\nX-Slow: "+strings.Repeat("s", 1000)+"\r\n\r\n"); resp != nil && resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("answer: %v, want a hang-up or 408", status(resp))
		}
	})
}

func status(resp *http.Response) string {
	if resp == nil {
		return "none (hung up)"
	}
	return resp.Status
}
