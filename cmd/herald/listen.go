package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald/webhook"
)

// Limits of `herald listen`.
const (
	listenAddrDefault    = "127.0.0.1:9000"
	listenMaxBody        = 8 << 20 // a request or forwarded answer larger than this is cut
	listenForwardTimeout = 30 * time.Second
	listenShutdown       = 5 * time.Second
)

// listenOptions configure the local receiver.
type listenOptions struct {
	secret  string // "" = signatures are not checked
	status  int    // answer when not forwarding
	forward string // "" = answer with status
}

// runListen implements `herald listen`: a receiver for developers that
// prints every webhook it gets, checks its signature when given the
// endpoint's secret, and answers with a chosen status or relays the request
// to a local app.
func runListen(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("herald listen", flag.ContinueOnError)
	addr := fs.String("addr", listenAddrDefault, "address to listen on")
	var opts listenOptions
	fs.StringVar(&opts.secret, "secret", "", "endpoint secret (whsec_…) to check signatures with; without it they are reported as unchecked")
	fs.IntVar(&opts.status, "status", http.StatusOK, "status code to answer with")
	fs.StringVar(&opts.forward, "forward", "", "relay each request to this URL and answer with its response")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: herald listen [--addr 127.0.0.1:9000] [--secret whsec_…] [--status 200] [--forward URL]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("listen: unexpected argument %q", fs.Arg(0))
	}
	if err := opts.validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serveListen(ctx, ln, opts, stdout)
}

func (o listenOptions) validate() error {
	if o.secret != "" {
		if _, err := webhook.ParseSecret(o.secret); err != nil {
			return fmt.Errorf("listen: --secret: %w", err)
		}
	}
	if o.status < 100 || o.status > 599 {
		return fmt.Errorf("listen: --status %d is not an HTTP status", o.status)
	}
	if o.forward != "" {
		u, err := url.Parse(o.forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("listen: --forward %q: want an http(s) URL", o.forward)
		}
	}
	return nil
}

// serveListen serves the receiver on ln until ctx is cancelled. It is
// separate from runListen so that tests can listen on a free port.
func serveListen(ctx context.Context, ln net.Listener, opts listenOptions, stdout io.Writer) error {
	h := &listenHandler{
		opts: opts,
		out:  stdout,
		client: &http.Client{
			Timeout: listenForwardTimeout,
			// The relayed answer is the app's own, redirects included.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: time.Now,
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}

	mode := fmt.Sprintf("answering %d", opts.status)
	if opts.forward != "" {
		mode = "forwarding to " + opts.forward
	}
	check := "signatures unchecked (no --secret)"
	if opts.secret != "" {
		check = "checking signatures"
	}
	h.print(fmt.Sprintf("Listening on http://%s, %s, %s. Ctrl-C to stop.\n\n", ln.Addr(), mode, check))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), listenShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("listen: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("listen: %w", err)
	}
	return nil
}

// listenHandler prints each request and answers it.
type listenHandler struct {
	opts   listenOptions
	out    io.Writer
	client *http.Client
	now    func() time.Time

	mu sync.Mutex // one request's block is printed whole
}

func (h *listenHandler) print(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, _ = io.WriteString(h.out, s)
}

func (h *listenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, listenMaxBody))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s %s\n", h.now().Format("2006-01-02 15:04:05"), r.Method, r.URL.RequestURI())
	fmt.Fprintf(&b, "  webhook-id: %s  type: %s  attempt: %s  signature: %s\n",
		listenOrDash(r.Header.Get(webhook.HeaderID)), listenOrDash(listenEventType(body)),
		listenOrDash(r.Header.Get(webhook.HeaderAttempt)), h.signature(r.Header, body))
	listenWriteBody(&b, body)

	if h.opts.forward == "" {
		fmt.Fprintf(&b, "  → answered %d\n\n", h.opts.status)
		h.print(b.String())
		w.WriteHeader(h.opts.status)
		return
	}

	status, header, respBody, err := h.relay(r, body)
	if err != nil {
		fmt.Fprintf(&b, "  → forward to %s failed: %v; answered 502\n\n", h.opts.forward, err)
		h.print(b.String())
		http.Error(w, "herald listen: forward failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintf(&b, "  → forwarded to %s: %d %s\n", h.opts.forward, status, http.StatusText(status))
	listenWriteBody(&b, respBody)
	b.WriteString("\n")
	h.print(b.String())

	listenCopyHeader(w.Header(), header)
	w.WriteHeader(status)
	_, _ = w.Write(respBody)
}

// signature says what the signature check found: valid, invalid (with
// the reason), unsigned (no signature header) or unchecked (no secret).
func (h *listenHandler) signature(header http.Header, body []byte) string {
	if h.opts.secret == "" {
		return "unchecked"
	}
	if header.Get(webhook.HeaderSignature) == "" {
		return "unsigned"
	}
	if err := webhook.Verify(h.opts.secret, header, body); err != nil {
		return "invalid (" + strings.TrimPrefix(err.Error(), "webhook: ") + ")"
	}
	return "valid"
}

// relay sends the request on to the forward URL and returns the answer.
func (h *listenHandler) relay(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, h.opts.forward, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	listenCopyHeader(req.Header, r.Header)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, listenMaxBody))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, respBody, nil
}

// listenHopHeaders belong to one connection and are not relayed (RFC 9110
// section 7.6.1), nor are the lengths the HTTP stack sets itself.
var listenHopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Content-Length": true,
}

func listenCopyHeader(dst, src http.Header) {
	for k, vs := range src {
		if listenHopHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// eventType returns the "type" of a JSON body, or "".
func listenEventType(body []byte) string {
	var env struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	return env.Type
}

// listenWriteBody prints a body indented under its request: JSON pretty-printed,
// other text as it is, anything else quoted.
func listenWriteBody(b *strings.Builder, body []byte) {
	if len(bytes.TrimSpace(body)) == 0 {
		b.WriteString("  (empty body)\n")
		return
	}
	var text string
	var pretty bytes.Buffer
	switch {
	case json.Indent(&pretty, body, "", "  ") == nil:
		text = pretty.String()
	case utf8.Valid(body):
		text = string(body)
	default:
		text = fmt.Sprintf("%q", body)
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
}

func listenOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
