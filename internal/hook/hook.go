// Package hook runs synchronous hooks (docs/HOOKS.md): before an
// operation, a product asks Herald to call the endpoints subscribed to a
// hook's event type, in order, and gets back a verdict — allowed or denied —
// and the data as the hooks changed it.
//
// A run is one pass over the selected endpoints. Endpoints in response_mode
// "wait" and "data" are called one after the other through the delivery
// engine (same envelope, headers and signature as a delivery); "ignore"
// endpoints are not awaited but queued as ordinary deliveries. The first
// deny stops the run. The whole run, its calls and its queued deliveries are
// then stored as one event in a single commit.
//
// When that commit happens depends on what the run queued. A run that
// queued a delivery (an "ignore" endpoint was reached) is committed before
// the verdict is returned: the delivery must be durable once the caller
// hears "queued". A run that queued nothing is answered first and its
// record stored right after, by a background recorder that stores several
// runs per commit; its answer does not wait for an fsync. A crash between
// that answer and the commit loses the run's log record: the verdict was
// already given, and the run queued no delivery that could be lost. Close
// (on shutdown) and Flush wait until the records queued so far are stored.
package hook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/oplog"
	"github.com/herald-dev/herald/internal/store"
)

// Defaults of Config.
const (
	// DefaultTimeoutDefault bounds a run whose request names no timeout.
	DefaultTimeoutDefault = 10 * time.Second
	// MaxTimeoutDefault is the longest timeout a request may ask for.
	MaxTimeoutDefault = 60 * time.Second
)

// DeadlineHeader tells a hook how many milliseconds Herald will wait for
// its answer: the smaller of the endpoint's timeout and what is left of the
// run's timeout.
const DeadlineHeader = "Herald-Deadline-Ms"

// Outcomes of one endpoint in a run.
const (
	OutcomeAllowed = "allowed" // answered ok
	OutcomeDenied  = "denied"  // answered error: the run stopped here
	OutcomeFailed  = "failed"  // failed under fail_closed: the run stopped here
	OutcomeSkipped = "skipped" // failed under fail_open, or its filter could not be evaluated
	OutcomeQueued  = "queued"  // response_mode ignore: queued as a delivery
)

// Codes of a deny that Herald makes itself.
const (
	// CodeDenied is the code of a deny whose answer names none.
	CodeDenied = "denied"
	// CodeHookFailed is the code of a fail_closed hook's failure.
	CodeHookFailed = "hook_failed"
)

// Config configures a Runner. Zero values take the …Default constants.
type Config struct {
	// Now is the clock for timestamps and validity periods; tests inject
	// one. Time budgets always use the real clock.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// DefaultTimeout bounds a run whose request names no timeout.
	DefaultTimeout time.Duration
	// MaxTimeout is the longest timeout a request may ask for.
	MaxTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = DefaultTimeoutDefault
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = MaxTimeoutDefault
	}
	c.DefaultTimeout = min(c.DefaultTimeout, c.MaxTimeout)
}

// Runner runs hooks. It is safe for concurrent use. Close it on shutdown,
// after the last Run, so that the runs recorded in the background are
// stored.
type Runner struct {
	eng     *delivery.Engine
	cfg     Config
	filters filterCache
	rec     *recorder
	failLog oplog.Limiter // of the hook-failure log lines, per endpoint
}

// New returns a Runner that reads endpoints from eng's route cache, and
// calls hooks and records runs through eng.
func New(eng *delivery.Engine, cfg Config) *Runner {
	cfg.setDefaults()
	return &Runner{eng: eng, cfg: cfg, rec: newRecorder(eng, cfg.Logger)}
}

// Flush waits until the records of the runs answered before the call are
// stored (a failure to store one is logged, not returned), or ctx ends.
func (r *Runner) Flush(ctx context.Context) error {
	return r.rec.flush(ctx)
}

// Close stores the runs whose records are still queued and stops the
// background recorder; it returns when they are stored or ctx ends. Runs
// after Close still work, each stored before its answer.
func (r *Runner) Close(ctx context.Context) error {
	return r.rec.close(ctx)
}

// Request is the caller's input to a run.
type Request struct {
	// Data is the operation's data; it must be a JSON object.
	Data json.RawMessage `json:"data"`
	// Metadata is stored with the run's event and sent to the hooks.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Timeout bounds the whole run; zero means Config.DefaultTimeout.
	Timeout herald.Duration `json:"timeout,omitempty"`
	// TenantID: the run is for this tenant: its endpoints and the
	// project-wide ones are called, never another tenant's. Empty: only
	// the project-wide ones.
	TenantID string `json:"tenant_id,omitempty"`
}

// Result is the verdict of a run.
type Result struct {
	Allowed bool `json:"allowed"`
	// Data is the data after the changes of the hooks that ran (the
	// request's data when none changed it).
	Data json.RawMessage `json:"data"`
	// DeniedBy, Code and Message describe the deny that stopped the run.
	DeniedBy string `json:"denied_by,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
	// EventID is the run's event (in the store before the answer or just
	// after it: see the package comment), also the webhook-id of every
	// call.
	EventID string `json:"event_id"`
	// Results has one entry per endpoint that was called, queued or
	// skipped, in the order of the run. Endpoints after a deny are not
	// listed: they were not called.
	Results []CallResult `json:"results"`
}

// CallResult is what one endpoint did in a run.
type CallResult struct {
	EndpointID string `json:"endpoint_id"`
	Outcome    string `json:"outcome"`
	// Status is the HTTP status of the answer; 0 when none came (timeout,
	// network error) or the endpoint was queued.
	Status     int    `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// RunJSON decodes a request body {"data":{…},"metadata":{…},"timeout":"5s"}
// strictly and runs the hooks. Malformed input is a *herald.Error EINVALID
// naming the field.
func (r *Runner) RunJSON(ctx context.Context, p *herald.Project, eventType string, body []byte) (*Result, error) {
	req, err := r.decode(body)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, p, eventType, req)
}

// Decode reads a request body as RunJSON does, for a caller that adjusts
// the Request (its tenant) before Run.
func (r *Runner) Decode(body []byte) (Request, error) { return r.decode(body) }

// Run calls the hooks subscribed to eventType in p and returns the verdict.
// A deny is not an error. Errors are invalid input (*herald.Error
// EINVALID), a failure to read the endpoints, or a failure to store a run
// that is stored before its answer (see the package comment); a run
// recorded after its answer logs such a failure instead.
func (r *Runner) Run(ctx context.Context, p *herald.Project, eventType string, req Request) (*Result, error) {
	if p == nil {
		return nil, herald.Errorf(herald.ENOTFOUND, "project not found")
	}
	var v herald.Validation
	validateEventType(&v, eventType)
	if !isObject(req.Data) {
		v.Add("body.data", nil, "must be a JSON object")
	}
	validateMetadata(&v, req.Metadata)
	herald.CheckTenantID(&v, "body.tenant_id", req.TenantID)
	timeout := req.Timeout.D()
	switch {
	case timeout < 0:
		v.Add("body.timeout", req.Timeout.String(), "must be positive")
	case timeout > r.cfg.MaxTimeout:
		v.Add("body.timeout", req.Timeout.String(), "must be at most %s", r.cfg.MaxTimeout)
	case timeout == 0:
		timeout = r.cfg.DefaultTimeout
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	// The budget runs on the real (monotonic) clock, whatever Config.Now
	// says: it bounds real waiting.
	deadline := time.Now().Add(timeout)
	now := r.cfg.Now().UTC()
	eps, err := r.eng.Endpoints(ctx, p.ID, req.TenantID)
	if err != nil {
		return nil, fmt.Errorf("hook: project endpoints: %w", err)
	}
	eps = candidates(eps, eventType, req.TenantID, now)

	ev := &herald.Event{
		ID:         herald.NewID(herald.PrefixEvent),
		ProjectID:  p.ID,
		TenantID:   req.TenantID,
		Type:       eventType,
		Data:       req.Data,
		Metadata:   req.Metadata,
		OccurredAt: now,
		CreatedAt:  now,
		Hook:       true,
		// The queued (ignore) deliveries continue the run's trace.
		TraceParent: r.eng.TraceParent(ctx),
	}
	run := &run{r: r, ev: ev, data: req.Data, deadline: deadline, timeout: timeout}
	run.res = &Result{Allowed: true, EventID: ev.ID, Results: []CallResult{}}
	for _, ep := range eps {
		if !run.step(ctx, ep) {
			break
		}
	}
	run.res.Data = run.data
	r.eng.ObserveHookRun(run.res.Allowed, run.res.Code, CodeHookFailed, timeout-time.Until(deadline))
	ev.HookVerdict = &herald.HookVerdict{Allowed: run.res.Allowed, DeniedBy: run.res.DeniedBy, Code: run.res.Code, Message: run.res.Message}

	// One commit for the whole record. A run that queued nothing is
	// answered first and recorded in the background. One that queued a
	// delivery commits before answering: the delivery must be durable
	// once the caller hears "queued". So does any run when the background
	// queue is full or the runner closed. The caller's cancellation must
	// not lose the record of calls already made.
	ne := &store.NewEvent{Event: ev, Deliveries: run.deliveries, Attempts: run.attempts}
	if !run.queued && r.rec.add(ne) {
		return run.res, nil
	}
	if _, err := r.eng.Insert(context.WithoutCancel(ctx), []*store.NewEvent{ne}); err != nil {
		r.cfg.Logger.Error("hook run not stored", oplog.ProjectID, p.ID, oplog.EventID, ev.ID, "event_type", eventType, "error", err)
		return nil, fmt.Errorf("hook: store run %s: %w", ev.ID, err)
	}
	return run.res, nil
}

// run is the state of one Run.
type run struct {
	r        *Runner
	ev       *herald.Event   // the stored event: the request's data
	data     json.RawMessage // the data as modified so far
	deadline time.Time
	timeout  time.Duration // of the whole run, for messages

	res        *Result
	deliveries []*herald.Delivery
	attempts   []*herald.Attempt
	queued     bool // a delivery was queued: the record commits before the answer
}

// step handles one endpoint; it reports whether the run goes on.
func (rn *run) step(ctx context.Context, ep *herald.Endpoint) bool {
	cur := rn.current()
	if ep.Filter != "" {
		ok, err := rn.r.match(ep.Filter, cur)
		if err != nil {
			// A filter that cannot be evaluated on this data neither
			// calls the hook nor blocks the operation.
			rn.res.Results = append(rn.res.Results, CallResult{EndpointID: ep.ID, Outcome: OutcomeSkipped, Error: err.Error()})
			return true
		}
		if !ok {
			return true
		}
	}
	if ep.ResponseMode == herald.ResponseIgnore {
		rn.queue(ep)
		return true
	}

	remaining := time.Until(rn.deadline)
	if remaining < time.Millisecond {
		// Nothing left to give it: the same as a timeout, not sent.
		msg := fmt.Sprintf("not called: the run's timeout (%s) was spent before its turn", rn.timeout)
		d := rn.delivery(ep, herald.DeliveryExhausted)
		d.LastError = msg
		return rn.failed(ep, CallResult{EndpointID: ep.ID, Error: msg}, nil)
	}
	epTimeout := ep.Timeout.D()
	if epTimeout <= 0 {
		epTimeout = herald.TimeoutDefault
	}
	callTimeout := min(epTimeout, remaining, herald.TimeoutMax)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	sent := rn.r.eng.Send(cctx, delivery.SendRequest{
		Endpoint: ep,
		Event:    cur,
		Attempt:  1,
		Trigger:  herald.TriggerHook,
		Header:   map[string]string{DeadlineHeader: strconv.FormatInt(callTimeout.Milliseconds(), 10)},
		KeepBody: true,
	})
	cancel()
	att := sent.Attempt
	rn.record(ep, att)

	cr := CallResult{EndpointID: ep.ID, Status: att.ResponseStatus, DurationMS: att.DurationMS}
	a := decide(att, sent.Body)
	switch a.verdict {
	case verdictAllow:
		cr.Outcome = OutcomeAllowed
		if ep.ResponseMode == herald.ResponseData && a.patch != nil {
			data, err := mergePatch(rn.data, a.patch)
			if err != nil {
				// decide checked the patch is an object; the current data
				// is ours. Treat the impossible as the hook's failure.
				cr.Error = "applying the answer's data: " + err.Error()
				return rn.failed(ep, cr, att)
			}
			rn.data = data
		}
		rn.res.Results = append(rn.res.Results, cr)
		return true
	case verdictDeny:
		cr.Outcome = OutcomeDenied
		rn.res.Results = append(rn.res.Results, cr)
		rn.deny(ep, a.code, a.message)
		return false
	default:
		cr.Error = a.cause
		if att.ErrorClass == herald.ErrorTimeout && callTimeout < epTimeout {
			cr.Error += fmt.Sprintf(" (the run's timeout of %s was reached)", rn.timeout)
		}
		return rn.failed(ep, cr, att)
	}
}

// failed applies the endpoint's failure policy to a failed call (att is
// its attempt, nil when it was not called) and logs it.
func (rn *run) failed(ep *herald.Endpoint, cr CallResult, att *herald.Attempt) bool {
	cr.Outcome = OutcomeFailed
	if ep.FailurePolicy == herald.FailOpen {
		cr.Outcome = OutcomeSkipped
	}
	rn.r.logFailure(rn.ev, ep, cr, att)
	if cr.Outcome == OutcomeSkipped {
		rn.res.Results = append(rn.res.Results, cr)
		return true
	}
	rn.res.Results = append(rn.res.Results, cr)
	rn.deny(ep, CodeHookFailed, fmt.Sprintf("hook %s failed: %s", ep.ID, cr.Error))
	return false
}

func (rn *run) deny(ep *herald.Endpoint, code, message string) {
	rn.res.Allowed = false
	rn.res.DeniedBy = ep.ID
	rn.res.Code = code
	rn.res.Message = message
}

// current is the event a hook sees now: the run's, with the data as
// modified so far.
func (rn *run) current() *herald.Event {
	ev := *rn.ev
	ev.Data = rn.data
	return &ev
}

// queue records an ignore endpoint's delivery: pending and due now, sent
// by the dispatcher once the run is stored, like any delivery of its endpoint.
func (rn *run) queue(ep *herald.Endpoint) {
	now := rn.r.cfg.Now().UTC()
	d := rn.delivery(ep, herald.DeliveryPending)
	d.NextAttemptAt = &now
	rn.queued = true
	rn.res.Results = append(rn.res.Results, CallResult{EndpointID: ep.ID, Outcome: OutcomeQueued})
}

// record stores a call as a finished delivery with its one attempt. Hook
// calls are not retried: a failure is final (exhausted).
func (rn *run) record(ep *herald.Endpoint, att *herald.Attempt) {
	status := herald.DeliveryExhausted
	if att.Succeeded() {
		status = herald.DeliverySucceeded
	}
	d := rn.delivery(ep, status)
	d.Attempts = 1
	started := att.StartedAt
	d.LastAttemptAt = &started
	d.LastStatus = att.ResponseStatus
	d.LastError = att.LastError()
	if status == herald.DeliverySucceeded {
		done := started.Add(time.Duration(att.DurationMS) * time.Millisecond)
		d.SucceededAt = &done
	}
	att.DeliveryID = d.ID
	rn.attempts = append(rn.attempts, att)
}

func (rn *run) delivery(ep *herald.Endpoint, status string) *herald.Delivery {
	now := rn.r.cfg.Now().UTC()
	d := &herald.Delivery{
		ID:         herald.NewID(herald.PrefixDelivery),
		ProjectID:  rn.ev.ProjectID,
		TenantID:   ep.TenantID,
		EventID:    rn.ev.ID,
		EndpointID: ep.ID,
		EventType:  rn.ev.Type,
		Status:     status,
		Priority:   ep.Order,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	rn.deliveries = append(rn.deliveries, d)
	return d
}

// logFailure tells the operator, at info, that a hook call failed and what
// the failure policy made of it; lines are rate-limited per endpoint, so
// that a dead hook cannot flood the log. The error is the transport error
// without the endpoint's URL; the attempt (attempt_id) has the rest.
func (r *Runner) logFailure(ev *herald.Event, ep *herald.Endpoint, cr CallResult, att *herald.Attempt) {
	ok, suppressed := r.failLog.Allow(ep.ID, time.Now())
	if !ok {
		return
	}
	class, msg := herald.ErrorTimeout, cr.Error // not called: the run's time was spent
	attrs := []any{oplog.ProjectID, ev.ProjectID, oplog.EndpointID, ep.ID, oplog.EventID, ev.ID, "event_type", ev.Type}
	if att != nil {
		class = att.ErrorClass
		if class == "" {
			class = "invalid_answer" // a 2xx whose body is not a hook answer
		}
		if att.Error != "" {
			msg = oplog.WithoutURL(att.Error)
		}
		attrs = append(attrs, oplog.AttemptID, att.ID)
		if att.ResponseStatus != 0 {
			attrs = append(attrs, "status", att.ResponseStatus)
		}
	}
	attrs = append(attrs, oplog.ErrorClass, class, "outcome", cr.Outcome, "error", msg)
	if suppressed > 0 {
		attrs = append(attrs, oplog.Suppressed, suppressed)
	}
	r.cfg.Logger.Info("hook call failed", attrs...)
}
