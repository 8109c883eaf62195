package delivery

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// rawReceiver is a TCP server that reads each HTTP request and answers
// with whatever bytes answer returns for its path, then hangs up: a
// receiver that need not speak HTTP correctly.
func rawReceiver(t testing.TB, answer func(path string) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				conn.Write(answer(req.URL.Path))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// hostileAnswers are receivers' answers chosen to break what an attempt
// stores: bytes that are not UTF-8, NULs, sizes past every bound, headers
// and status lines that are not HTTP.
func hostileAnswers() [][]byte {
	high := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x80 + i%0x80)
		}
		return string(b)
	}
	var manyHeaders, hugeHeaders, repeated strings.Builder
	for i := range 240 { // 240 KB of headers, each value raw high bytes
		fmt.Fprintf(&manyHeaders, "X-H%d: %s\r\n", i, high(1000))
	}
	for i := range 1100 { // past the 1 MiB the client reads
		fmt.Fprintf(&hugeHeaders, "X-H%d: %s\r\n", i, strings.Repeat("a", 1000))
	}
	for range 2000 {
		repeated.WriteString("Set-Cookie: " + strings.Repeat("c", 60) + "\xff\r\n")
	}
	euro := strings.Repeat("€", ResponseBodyMax/3+1) // a body cut inside a character
	answers := []string{
		"HTTP/1.1 302 Found\r\nLocation: /x\xff\xfe\xfd\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 301 Moved\r\nLocation: /" + strings.Repeat("\xff", 100_000) + "\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n" + manyHeaders.String() + "Content-Length: 0\r\n\r\n",
		"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\n" + manyHeaders.String() + "Content-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n" + hugeHeaders.String() + "\r\n",
		"HTTP/1.1 200 OK\r\n" + repeated.String() + "Content-Length: 0\r\n\r\n",
		"HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\n\r\n" + high(1<<20) + "\x00\x00" + high(100),
		"HTTP/1.1 500 Oops\r\nContent-Length: " + strconv.Itoa(len(euro)) + "\r\n\r\n" + euro,
		"HTTP/1.1 400 Bad\r\nContent-Length: 6\r\n\r\na\x00b\xffc\xfe",
		"HTTP/1.1 2\xff0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A\xff: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: b\x00c\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\xff\xfe\xfd\x00 no colon\r\n\r\n",
		"\xff\xfe\x00\x01 not HTTP at all \x80\x81\r\n\r\n",
		"HTTP/1.1 999 Whatever\xff\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 101 Switching\r\nUpgrade: x\xff\r\nConnection: upgrade\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\xff\x00c\r\nzz\xff",
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort\xff",
		"HTTP/1.1 429 Slow\r\nRetry-After: \xff\xfe\r\nContent-Length: 0\r\n\r\n",
		"",
	}
	// And some noise: a status line, header lines and a body of random
	// bytes, from a fixed seed so that a failure can be run again.
	r := rand.New(rand.NewPCG(18, 2026))
	junk := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return string(b)
	}
	for range 20 {
		var b strings.Builder
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", 100+r.IntN(900), junk(r.IntN(20)))
		for range r.IntN(20) {
			fmt.Fprintf(&b, "X-%s: %s\r\n", strings.Map(func(c rune) rune { return 'a' + c%26 }, junk(1+r.IntN(10))), strings.NewReplacer("\r", "", "\n", "").Replace(junk(r.IntN(5000))))
		}
		b.WriteString("\r\n")
		b.WriteString(junk(r.IntN(100_000)))
		answers = append(answers, b.String())
	}
	out := make([][]byte, len(answers))
	for i, a := range answers {
		out[i] = []byte(a)
	}
	return out
}

// attemptsStorable checks every attempt of the project: each delivery has
// exactly one, and what it holds from the receiver is storable.
func attemptsStorable(t *testing.T, b *testBundle, eps []*herald.Endpoint) {
	t.Helper()
	for _, ep := range eps {
		as, err := b.st.ListEndpointAttempts(b.ctx, b.project.ID, ep.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(as) != 1 {
			t.Errorf("endpoint %s: %d attempts recorded, want 1", ep.URL, len(as))
		}
		for _, a := range as {
			storable(t, a)
		}
	}
}

// Whatever receivers answer, every attempt is recorded, and what it keeps
// of the answer is valid UTF-8 within its bounds, on both stores.
func TestHostileAnswersAreRecordedStorable(t *testing.T) {
	t.Parallel()
	answers := hostileAnswers()
	eachStore(t, patient, func(t *testing.T, b *testBundle, _ string) {
		url := rawReceiver(t, func(path string) []byte {
			i, _ := strconv.Atoi(strings.TrimPrefix(path, "/"))
			return answers[i]
		})
		eps := make([]*herald.Endpoint, len(answers))
		for i := range answers {
			eps[i] = b.endpoint(fmt.Sprintf("%s/%d", url, i), func(ep *herald.Endpoint) {
				once(ep)
				ep.ResponseMode = herald.ResponseData // keep every body
			})
		}
		b.run(b.e)
		b.ingest("user.created", `{}`)
		testkit.WaitFor(t, "every delivery finished", func() bool { return b.finished(len(eps)) })
		attemptsStorable(t, b, eps)
	})
}

// FuzzReceiverAnswer sends one event to a receiver answering with the
// fuzzed bytes, through the engine over both stores, and checks the
// attempt is recorded and storable.
func FuzzReceiverAnswer(f *testing.F) {
	for _, a := range hostileAnswers() {
		f.Add(a)
	}
	var answer atomic.Value
	answer.Store([]byte(nil))
	bundles := []*testBundle{setup(f, patient)}
	if b, ok := postgresIfAny(f, patient); ok {
		bundles = append(bundles, b)
	}
	url := rawReceiver(f, func(string) []byte { return answer.Load().([]byte) })
	type target struct {
		b  *testBundle
		ep *herald.Endpoint
	}
	var targets []target
	for _, b := range bundles {
		targets = append(targets, target{b, b.endpoint(url, once)})
		b.run(b.e)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		answer.Store(bytes.Clone(data))
		for _, tg := range targets {
			// (the bundle's helpers report to f, not to t)
			res, err := tg.b.e.Ingest(tg.b.ctx, tg.b.project, []EventInput{{Type: "user.created", Data: []byte(`{}`)}})
			if err != nil || res[0].Err != nil {
				t.Fatal(err, res)
			}
			var d *herald.Delivery
			testkit.WaitFor(t, "the delivery finished", func() bool {
				ds, _, err := tg.b.st.ListDeliveries(tg.b.ctx, tg.b.project.ID, store.DeliveryFilter{EventID: res[0].Event.ID}, store.Page{Limit: 10})
				if err == nil && len(ds) == 1 && (ds[0].Status == herald.DeliverySucceeded || ds[0].Status == herald.DeliveryExhausted) {
					d = ds[0]
					return true
				}
				return false
			})
			as, err := tg.b.st.ListAttempts(tg.b.ctx, tg.b.project.ID, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(as) != 1 {
				t.Fatalf("%d attempts recorded, want 1", len(as))
			}
			storable(t, as[0])
		}
	})
}

// A receiver's 240 KB of headers are cut to ResponseHeadersMax, and the
// short ones the retry policy reads (Retry-After) are among those kept.
func TestSendKeepsRetryAfterPastHugeHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var h strings.Builder
	for i := range 240 {
		fmt.Fprintf(&h, "X-H%03d: %s\r\n", i, strings.Repeat("v", 1000))
	}
	url := rawReceiver(t, func(string) []byte {
		return []byte("HTTP/1.1 503 Busy\r\n" + h.String() + "Retry-After: 7\r\nContent-Length: 0\r\n\r\n")
	})
	res, _, _ := sendTo(t, b, url, nil)
	a := res.Attempt
	storable(t, a)
	if a.ResponseStatus != 503 || a.ResponseHeaders["Retry-After"] != "7" {
		t.Errorf("status %d, Retry-After %q; want 503 and 7 kept", a.ResponseStatus, a.ResponseHeaders["Retry-After"])
	}
	if n := len(a.ResponseHeaders); n < 50 || n > 100 {
		t.Errorf("%d headers kept of 243; want about 64 KiB of them", n)
	}
}
