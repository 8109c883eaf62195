// Package service is Herald's one layer of use cases: every change a
// transport (the HTTP API, the dashboard, the CLI) can ask for — create an
// endpoint, disable it, rotate its secret, recover, replay, create an API
// key… — is a method of Service, which validates, writes through
// store.Store, tells the delivery engine what changed (its caches of
// endpoints and event types) and cancels deliveries, in one place and with
// one clock.
//
// The transports decode their input (JSON, a form) into domain values,
// call a method, and encode the result or the *herald.Error. A rule —
// a bound, a default, what disabling does — goes here (or, when it needs
// no other package, in the root package's Validate); never in a transport.
// Reads that apply no rule (a page of events, an endpoint's stats) go to the
// store directly.
//
// Field locations in errors are "body.<field>", the JSON of the API; the
// dashboard maps them to its form fields.
package service

import (
	"context"
	"errors"
	"time"

	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store"
)

// Config configures a Service.
type Config struct {
	// Store is required.
	Store store.Store
	// Engine is required: ingest, tests, retries, replays, recovery, and
	// its caches, which the Service keeps current.
	Engine *delivery.Engine
	// Hooks runs synchronous hooks (RunHook); nil: RunHook answers
	// EUNAVAILABLE.
	Hooks *hook.Runner
	// Guard checks endpoint URLs; default netguard.New(false, nil), which
	// refuses private networks.
	Guard *netguard.Guard
	// AdminKeyHash is herald.HashKey of the admin key. Empty: no admin key
	// authenticates.
	AdminKeyHash string
	// Now is the clock of every timestamp the Service writes; default
	// time.Now.
	Now func() time.Time
}

// Service runs Herald's use cases. It is safe for concurrent use.
type Service struct {
	st        store.Store
	eng       *delivery.Engine
	hooks     *hook.Runner
	guard     *netguard.Guard
	adminHash string
	now       func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("service: Config.Store is required")
	}
	if cfg.Engine == nil {
		return nil, errors.New("service: Config.Engine is required")
	}
	if cfg.Guard == nil {
		cfg.Guard = netguard.New(false, nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{st: cfg.Store, eng: cfg.Engine, hooks: cfg.Hooks, guard: cfg.Guard, adminHash: cfg.AdminKeyHash, now: cfg.Now}, nil
}

// Now returns the Service's clock reading in UTC.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Processes lists the Herald processes alive on the database, oldest
// first (GET /v1/cluster).
func (s *Service) Processes(ctx context.Context) ([]*store.Process, error) {
	return s.eng.Processes(ctx)
}
