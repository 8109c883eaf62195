package hook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/herald-dev/herald"
)

// decode reads a run's request body strictly: a JSON object with "data"
// (required, an object), "metadata" (an object of strings), "timeout" (a
// positive duration string) and "tenant_id" (a tenant id); any other field
// is refused.
func (r *Runner) decode(body []byte) (Request, error) {
	var in struct {
		Data     json.RawMessage `json:"data"`
		Metadata json.RawMessage `json:"metadata"`
		Timeout  json.RawMessage `json:"timeout"`
		TenantID json.RawMessage `json:"tenant_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Request{}, bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, invalid("body", nil, "unexpected data after the JSON object")
	}

	var v herald.Validation
	var req Request
	switch {
	case len(in.Data) == 0:
		v.Add("body.data", nil, "is required")
	case !isObject(in.Data):
		v.Add("body.data", in.Data, "must be a JSON object")
	default:
		req.Data = in.Data
	}
	if !isNull(in.Metadata) {
		if err := json.Unmarshal(in.Metadata, &req.Metadata); err != nil {
			v.Add("body.metadata", in.Metadata, "must be an object of string values")
		}
	}
	if !isNull(in.Timeout) {
		if err := req.Timeout.UnmarshalJSON(in.Timeout); err != nil {
			v.Add("body.timeout", in.Timeout, "%v", err)
		} else if req.Timeout <= 0 {
			v.Add("body.timeout", req.Timeout.String(), "must be positive")
		}
	}
	if !isNull(in.TenantID) {
		if err := json.Unmarshal(in.TenantID, &req.TenantID); err != nil {
			v.Add("body.tenant_id", in.TenantID, "must be a string")
		}
	}
	return req, v.Err()
}

// bodyError turns a decoding error into an EINVALID naming the problem.
func bodyError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return invalid("body", nil, "is empty (send a JSON object such as {\"data\":{}})")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", nil, "malformed JSON: unexpected end of input")
	case errors.As(err, &syn):
		return invalid("body", nil, "malformed JSON at byte "+strconv.FormatInt(syn.Offset, 10)+": "+syn.Error())
	case errors.As(err, &typ):
		loc := "body"
		if typ.Field != "" {
			loc += "." + typ.Field
		}
		return invalid(loc, nil, "must be a JSON object")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if s, uerr := strconv.Unquote(name); uerr == nil {
			name = s
		}
		return invalid("body."+name, nil, "unknown field (allowed: data, metadata, timeout)")
	}
	return invalid("body", nil, "malformed JSON: "+err.Error())
}

func invalid(location string, value any, message string) error {
	return &herald.Error{Code: herald.EINVALID, Message: "validation failed",
		Fields: []herald.FieldError{{Location: location, Message: message, Value: value}}}
}

// validateMetadata applies ingest's limits to a run's metadata, which is
// stored with its event the same way.
func validateMetadata(v *herald.Validation, md map[string]string) {
	herald.ValidateEventMetadata(v, "body.metadata", md)
}
