package herald

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of the fields Validate checks. The HTTP layer documents them in
// the OpenAPI document; they are generous for real use and small enough
// that one endpoint cannot make routing or a delivery expensive.
const (
	EventTypeNameMaxLen = 128
	ProjectNameMaxLen   = 256
	NameMaxLen          = 256  // endpoint name
	DescriptionMaxLen   = 4096 // endpoint and event type description
	TimeoutMin          = time.Second
	RetryScheduleMaxLen = 100
	RetryDelayMin       = time.Second
	RetryDelayMax       = 7 * 24 * time.Hour
	MaxInFlightMax      = 1000
	RateLimitMax        = 100_000
	EventTypesMaxLen    = 100 // entries of an endpoint's event_types
	ChannelsMaxLen      = 100 // entries of an endpoint's channels
	ChannelMaxLen       = 128
	HeadersMaxLen       = 50
	HeaderValueMaxLen   = 4096
	MetadataMaxLen      = 50
	MetadataKeyMaxLen   = 128
	MetadataValueMaxLen = 1024
	AuthValueMaxLen     = 4096
)

// Bounds of an ingested event (and of a synchronous hook run's input, which
// is stored as an event). Its type is an event type name
// (EventTypeNameMaxLen); a channel and a metadata key or value have the
// same bounds as an endpoint's (ChannelMaxLen, MetadataKeyMaxLen,
// MetadataValueMaxLen).
const (
	EventChannelsMaxLen  = 10
	EventMetadataMaxLen  = 32
	IdempotencyKeyMaxLen = 255 // also an event's client id
	EventBatchMaxLen     = 1000
)

// Bounds of a page of a list: a caller asks for 1 to PageLimitMax items;
// PageLimitDefault when it does not say.
const (
	PageLimitDefault = 50
	PageLimitMax     = 1000
)

// PageLimit clamps a requested page size to 1..PageLimitMax, with
// PageLimitDefault for zero or less. Stores clamp with it; the transports
// refuse what is out of range before asking.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return PageLimitDefault
	case n > PageLimitMax:
		return PageLimitMax
	}
	return n
}

// ValidateEventMetadata checks an event's metadata against the event
// bounds, recording errors at loc ("metadata", "body.metadata").
func ValidateEventMetadata(v *Validation, loc string, md map[string]string) {
	if len(md) > EventMetadataMaxLen {
		v.Add(loc, len(md), "at most %d keys", EventMetadataMaxLen)
	}
	for k, val := range md {
		if k == "" || len(k) > MetadataKeyMaxLen {
			v.Add(loc, Clip(k), "keys must be 1 to %d characters", MetadataKeyMaxLen)
		} else if !IsText(k) {
			v.Add(loc, Clip(k), "keys: "+NotText)
		}
		if len(val) > MetadataValueMaxLen {
			v.Add(loc+"."+Clip(k), nil, "is longer than %d characters", MetadataValueMaxLen)
		} else if !IsText(val) {
			v.Add(loc+"."+Clip(k), nil, NotText)
		}
	}
}

// ValidateEventChannels checks an event's channels, recording errors at
// loc ("channels") and loc[i].
func ValidateEventChannels(v *Validation, loc string, channels []string) {
	if len(channels) > EventChannelsMaxLen {
		v.Add(loc, len(channels), "at most %d channels", EventChannelsMaxLen)
	}
	for i, c := range channels {
		if c == "" || len(c) > ChannelMaxLen {
			v.Add(fmt.Sprintf("%s[%d]", loc, i), Clip(c), "must be 1 to %d characters", ChannelMaxLen)
		} else if !IsText(c) {
			v.Add(fmt.Sprintf("%s[%d]", loc, i), Clip(c), NotText)
		}
	}
}

// ValidEventTypeName reports whether s can name an event type: 1 to 128
// letters, digits, '_', '.', ':' and '-' ("user.created",
// "before_registration"). The delivery engine accepts the same names.
func ValidEventTypeName(s string) bool {
	if s == "" || len(s) > EventTypeNameMaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidEventTypePattern reports whether s can appear in an endpoint's
// event_types: an event type name, or a prefix followed by a trailing
// wildcard, which matches every type starting with the prefix ("user.*",
// "herald.*"). "*" alone matches every type but Herald's own, as an empty
// list does.
func ValidEventTypePattern(s string) bool {
	if s == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(s, "*"); ok {
		return ValidEventTypeName(prefix)
	}
	return ValidEventTypeName(s)
}

// projectSlug is a caller-chosen project id.
var projectSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidProjectID reports whether s can be a caller-chosen project id: 1 to
// 63 characters of lowercase letters, digits, '_' and '-', starting with a
// letter or digit. Generated ids ("prj_…") have this form too.
func ValidProjectID(s string) bool { return projectSlug.MatchString(s) }

// SetDefaults fills the zero fields of a new or edited endpoint with their
// defaults. Enabled is not touched: false is a valid choice, so the caller
// decides (the API defaults it to true).
func (e *Endpoint) SetDefaults() {
	if e.Timeout == 0 {
		e.Timeout = Duration(TimeoutDefault)
	}
	if e.ResponseMode == "" {
		e.ResponseMode = ResponseWait
	}
	if e.FailurePolicy == "" {
		e.FailurePolicy = FailClosed
	}
	if e.RetrySchedule == nil {
		e.RetrySchedule = append([]Duration(nil), RetryScheduleDefault...)
	}
	if e.MaxInFlight == 0 {
		e.MaxInFlight = MaxInFlightDefault
	}
	if e.RetryJitter == nil {
		on := true
		e.RetryJitter = &on
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	if e.Channels == nil {
		e.Channels = []string{}
	}
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	if e.Metadata == nil {
		e.Metadata = map[string]string{}
	}
	if e.Status == "" {
		e.Status = EndpointHealthy
	}
}

// forbiddenHeaders are set by Herald itself on every delivery (or would
// break the request's framing); an endpoint's headers may not override them.
var forbiddenHeaders = map[string]bool{
	"content-type":      true,
	"content-length":    true,
	"host":              true,
	"authorization":     true,
	"transfer-encoding": true,
	"connection":        true,
}

// Validate checks the endpoint's configuration for what needs no other
// package: bounds, enumerations, header names, the validity period, auth.
// URL reachability (netguard), the filter (CEL), the body template (jq)
// and the secret's encoding are checked by the api package on top of this.
// Field locations are "body.<field>", as in the JSON of the endpoint.
func (e *Endpoint) Validate() error {
	var v Validation
	validateURL(&v, e.URL)
	checkText(&v, "body.name", e.Name, NameMaxLen)
	checkText(&v, "body.description", e.Description, DescriptionMaxLen)

	if len(e.EventTypes) > EventTypesMaxLen {
		v.Add("body.event_types", nil, "at most %d entries", EventTypesMaxLen)
	}
	for i, t := range e.EventTypes {
		if !ValidEventTypePattern(t) {
			v.Add(fmt.Sprintf("body.event_types[%d]", i), Clip(t), "not an event type name or a pattern such as \"user.*\"")
		}
	}
	if len(e.Channels) > ChannelsMaxLen {
		v.Add("body.channels", nil, "at most %d entries", ChannelsMaxLen)
	}
	for i, c := range e.Channels {
		if c == "" || len(c) > ChannelMaxLen || !printable(c) {
			v.Add(fmt.Sprintf("body.channels[%d]", i), Clip(c), "a channel is 1 to %d printable characters", ChannelMaxLen)
		}
	}

	if e.ActiveFrom != nil && e.ActiveUntil != nil && !e.ActiveFrom.Before(*e.ActiveUntil) {
		v.Add("body.active_until", e.ActiveUntil.UTC().Format(time.RFC3339), "must be after active_from")
	}
	if t := e.Timeout.D(); t < TimeoutMin || t > TimeoutMax {
		v.Add("body.timeout", e.Timeout.String(), "must be between %s and %s", TimeoutMin, TimeoutMax)
	}
	switch e.ResponseMode {
	case ResponseWait, ResponseIgnore, ResponseData:
	default:
		v.Add("body.response_mode", Clip(e.ResponseMode), "must be one of %q, %q, %q", ResponseWait, ResponseIgnore, ResponseData)
	}
	switch e.FailurePolicy {
	case FailClosed, FailOpen:
	default:
		v.Add("body.failure_policy", Clip(e.FailurePolicy), "must be %q or %q", FailClosed, FailOpen)
	}
	if len(e.RetrySchedule) > RetryScheduleMaxLen {
		v.Add("body.retry_schedule", nil, "at most %d delays", RetryScheduleMaxLen)
	} else {
		for i, d := range e.RetrySchedule {
			if d.D() < RetryDelayMin || d.D() > RetryDelayMax {
				v.Add(fmt.Sprintf("body.retry_schedule[%d]", i), d.String(), "each delay must be between %s and %s", RetryDelayMin, RetryDelayMax)
			}
		}
	}
	if e.RateLimit < 0 || e.RateLimit > RateLimitMax {
		v.Add("body.rate_limit", e.RateLimit, "must be between 0 (no limit) and %d", RateLimitMax)
	}
	if e.MaxInFlight < 1 || e.MaxInFlight > MaxInFlightMax {
		v.Add("body.max_in_flight", e.MaxInFlight, "must be between 1 and %d", MaxInFlightMax)
	}
	validateAuth(&v, e.Auth)
	validateHeaders(&v, e.Headers)

	validateMetadata(&v, e.Metadata)
	return v.Err()
}

// validateMetadata checks the metadata of an endpoint or a tenant, at
// "body.metadata".
func validateMetadata(v *Validation, md map[string]string) {
	if len(md) > MetadataMaxLen {
		v.Add("body.metadata", nil, "at most %d keys", MetadataMaxLen)
	}
	for k, val := range md {
		if k == "" || len(k) > MetadataKeyMaxLen {
			v.Add("body.metadata", Clip(k), "keys are 1 to %d characters", MetadataKeyMaxLen)
		}
		if len(val) > MetadataValueMaxLen {
			v.Add("body.metadata."+Clip(k), nil, "values are at most %d characters", MetadataValueMaxLen)
		}
	}
}

func validateURL(v *Validation, raw string) {
	const loc = "body.url"
	switch {
	case raw == "":
		v.Add(loc, nil, "required")
		return
	case len(raw) > URLMaxLen:
		v.Add(loc, nil, "at most %d characters", URLMaxLen)
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.Add(loc, Clip(raw), "not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		v.Add(loc, Clip(raw), "the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		v.Add(loc, Clip(raw), "the URL has no host")
	case u.User != nil:
		v.Add(loc, nil, "credentials in the URL are not allowed (use auth)")
	case u.Fragment != "":
		v.Add(loc, Clip(raw), "a URL fragment is not allowed")
	}
}

func validateAuth(v *Validation, a *Auth) {
	if a == nil {
		return
	}
	switch {
	case a.Basic != nil && a.Bearer != "":
		v.Add("body.auth", nil, "give exactly one of basic or bearer")
	case a.Basic == nil && a.Bearer == "":
		v.Add("body.auth", nil, "give one of basic or bearer")
	case a.Basic != nil:
		u := a.Basic.Username
		if u == "" || strings.Contains(u, ":") || len(u) > AuthValueMaxLen || !printable(u) {
			v.Add("body.auth.basic.username", nil, "required, printable, without ':'")
		}
		if len(a.Basic.Password) > AuthValueMaxLen || !printable(a.Basic.Password) {
			v.Add("body.auth.basic.password", nil, "must be printable and at most %d characters", AuthValueMaxLen)
		}
	default:
		if len(a.Bearer) > AuthValueMaxLen || !validHeaderValue(a.Bearer) {
			v.Add("body.auth.bearer", nil, "must be printable and at most %d characters", AuthValueMaxLen)
		}
	}
}

func validateHeaders(v *Validation, h map[string]string) {
	if len(h) > HeadersMaxLen {
		v.Add("body.headers", nil, "at most %d headers", HeadersMaxLen)
	}
	for name, val := range h {
		loc := "body.headers." + Clip(name)
		lower := strings.ToLower(name)
		switch {
		case !validHeaderName(name):
			v.Add("body.headers", Clip(name), "not a valid header name")
		case forbiddenHeaders[lower] || strings.HasPrefix(lower, "webhook-"):
			v.Add(loc, nil, "%s is set by Herald and cannot be overridden", name)
		case len(val) > HeaderValueMaxLen || !validHeaderValue(val):
			v.Add(loc, nil, "header values are printable and at most %d characters", HeaderValueMaxLen)
		}
	}
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters (CR and LF above all, which
// would split the request), allowing horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

func printable(s string) bool { return validHeaderValue(s) }

func checkText(v *Validation, loc, s string, max int) {
	if len(s) > max {
		v.Add(loc, nil, "at most %d characters", max)
	} else if !utf8.ValidString(s) {
		v.Add(loc, nil, "not valid UTF-8")
	}
}

// Clip bounds a value echoed in an error, so that a huge input does not
// make a huge error.
func Clip(s string) string {
	const max = 100
	// Quoted back in JSON, an invalid byte or a NUL would make the error
	// itself unreadable to strict parsers.
	s = Text(s)
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// NotText is the complaint about a string that is not text: both stores
// must be able to keep what is accepted (PostgreSQL's text holds neither
// invalid UTF-8 nor NUL), and what is served back must parse as JSON.
const NotText = "must be valid UTF-8 text without NUL characters"

// Text returns s with each invalid byte sequence and each NUL replaced by
// U+FFFD: what both stores can keep and strict JSON parsers can read.
func Text(s string) string {
	if IsText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// IsText reports whether s is valid UTF-8 without NUL.
func IsText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// Has reports whether v already has an error at loc.
func (v *Validation) Has(loc string) bool {
	for _, f := range v.Fields {
		if f.Location == loc {
			return true
		}
	}
	return false
}

// DeliveryStates are a delivery's states, in the order of its life.
var DeliveryStates = []string{DeliveryPending, DeliveryInFlight, DeliverySucceeded, DeliveryExhausted, DeliveryCanceled}

// ValidDeliveryStatus reports whether s is one of DeliveryStates.
func ValidDeliveryStatus(s string) bool { return slices.Contains(DeliveryStates, s) }
