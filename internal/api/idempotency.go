package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/herald-dev/herald/internal/service"
)

// handler is a route's handler (route.h).
type handler = func(w http.ResponseWriter, r *http.Request, c *call) error

// keyed makes a project route's POST honour Idempotency-Key as ingest
// does: the rule (one request per key, what a repeat gets) is
// service.ClaimRequest's; here is only its HTTP side — hashing the route
// and body, answering a repeat with the remembered status and body and
// Idempotent-Replayed: true, and holding the response back until it is
// remembered, so that a client retrying the moment it sees the answer (or
// loses it) finds the request done, not running.
//
// rerender, when not nil, marks a route whose answer holds a secret (an
// endpoint's signing secret): only the created resource's id ("id" of the
// answer) is remembered, and a repeat is answered with rerender's value for
// it, read from the store now. No copy of the secret is kept.
//
// Without the header the handler runs as it is.
func (s *Server) keyed(h handler, rerender func(r *http.Request, c *call, id string) (any, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			return h(w, r, c)
		}
		body, err := readBody(w, r, s.cfg.MaxBodyBytes)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		claim, prior, err := s.svc.ClaimRequest(r.Context(), service.KeyedRequest{
			ProjectID: c.project.ID,
			Key:       key,
			Route:     bodyHash([]byte(r.Method + " " + r.URL.Path)),
			BodyHash:  bodyHash(body),
		})
		if err != nil {
			return err
		}
		if prior != nil {
			return replayResponse(w, r, c, prior, rerender)
		}

		rec := &heldResponse{header: http.Header{}}
		finished := false
		defer func() {
			if !finished { // the handler panicked: free the key
				_ = claim.Release(r.Context())
			}
		}()
		err = h(rec, r, c)
		finished = true
		if err != nil {
			if rerr := claim.Release(r.Context()); rerr != nil {
				s.log.ErrorContext(r.Context(), "idempotency key not released", slog.String("route", s.routeOf(r)), slog.Any("error", rerr))
			}
			return err
		}
		resp := service.Response{Status: rec.status()}
		if rerender != nil {
			var created struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(rec.body.Bytes(), &created)
			resp.ResourceID = created.ID
		} else {
			resp.Body = rec.body.Bytes()
		}
		if rerender != nil && resp.ResourceID == "" {
			err = claim.Release(r.Context()) // no resource to answer a repeat with
		} else {
			err = claim.Finish(r.Context(), resp)
		}
		if err != nil {
			// The request acted: answer it. A repeat finds the key running
			// until service.RequestKeyLease has passed.
			s.log.ErrorContext(r.Context(), "idempotency key not finished", slog.String("route", s.routeOf(r)), slog.Any("error", err))
		}
		for name, vals := range rec.header {
			w.Header()[name] = vals
		}
		w.WriteHeader(rec.status())
		_, _ = w.Write(rec.body.Bytes())
		return nil
	}
}

// replayResponse answers a repeat of a request that succeeded.
func replayResponse(w http.ResponseWriter, r *http.Request, c *call, prior *service.Response, rerender func(r *http.Request, c *call, id string) (any, error)) error {
	if rerender != nil {
		v, err := rerender(r, c, prior.ResourceID)
		if err != nil {
			return err
		}
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, prior.Status, v)
		return nil
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(prior.Status)
	_, _ = w.Write(prior.Body)
	return nil
}

// heldResponse keeps a response in memory until it is written out.
type heldResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	if h.code == 0 {
		h.code = http.StatusOK
	}
	return h.body.Write(b)
}

func (h *heldResponse) status() int {
	if h.code == 0 {
		return http.StatusOK
	}
	return h.code
}
