package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// readBody reads the request body, at most limit bytes: beyond it ETOOLARGE
// (413). The Content-Type is not checked: a JSON body is accepted whatever
// the client labelled it.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, herald.Errorf(herald.ETOOLARGE, "the request body is larger than %d bytes", limit)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) { // the server's read timeout
			return nil, herald.Errorf(herald.ETIMEOUT, "the request body did not arrive in time")
		}
		return nil, herald.Errorf(herald.EINVALID, "the request body could not be read")
	}
	return body, nil
}

// decodeBody reads the request body as the JSON object "body" (an empty
// body is an empty object when emptyOK), lets fields take the fields it
// knows, refuses the others by name, and returns every error at once.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, emptyOK bool, fields func(o *object)) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	if o, ok := decodeObject(body, "body", &v, emptyOK); ok {
		fields(o)
		o.done()
	}
	return v.Err()
}

// object decodes one JSON object field by field, so that every error can
// name its field ("body.timeout"), unknown fields are refused by name, and
// PATCH can tell an absent field from a null one. Errors accumulate in v;
// check them once with v.Err().
type object struct {
	loc    string
	fields map[string]json.RawMessage
	used   map[string]bool
	v      *herald.Validation
}

// decodeObject parses data as a JSON object located at loc ("body"). An
// empty body is an empty object when emptyOK (bodies that are optional).
func decodeObject(data []byte, loc string, v *herald.Validation, emptyOK bool) (*object, bool) {
	o := &object{loc: loc, fields: map[string]json.RawMessage{}, used: map[string]bool{}, v: v}
	if len(bytes.TrimSpace(data)) == 0 {
		if emptyOK {
			return o, true
		}
		v.Add(loc, nil, "required: a JSON object")
		return o, false
	}
	if err := json.Unmarshal(data, &o.fields); err != nil {
		v.Add(loc, nil, "%s", jsonMessage(err, "a JSON object"))
		return o, false
	}
	if o.fields == nil { // the JSON was null
		v.Add(loc, nil, "must be a JSON object")
		return o, false
	}
	return o, true
}

// sub decodes the field name, which must be an object, as a nested object.
func (o *object) sub(name string) (*object, bool) {
	raw, ok := o.take(name)
	if !ok {
		return nil, false
	}
	return decodeObject(raw, o.loc+"."+name, o.v, false)
}

// has reports whether the field is present (null included).
func (o *object) has(name string) bool { _, ok := o.fields[name]; return ok }

// null reports whether the field is present and null.
func (o *object) null(name string) bool {
	raw, ok := o.fields[name]
	return ok && isNull(raw)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// take marks the field used and returns it unless absent or null.
func (o *object) take(name string) (json.RawMessage, bool) {
	o.used[name] = true
	raw, ok := o.fields[name]
	if !ok || isNull(raw) {
		return nil, false
	}
	return raw, true
}

// get decodes the field into dst when it is present and not null. It
// reports whether dst was set; a decoding error is recorded under the
// field's location.
func (o *object) get(name string, dst any) bool {
	raw, ok := o.take(name)
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		o.v.Add(o.loc+"."+name, nil, "%s", jsonMessage(err, expected(dst)))
		return false
	}
	return true
}

// raw returns the field's JSON as is (marking it used).
func (o *object) raw(name string) (json.RawMessage, bool) { return o.take(name) }

// durations decodes a list of duration strings, naming the bad entry.
func (o *object) durations(name string) ([]herald.Duration, bool) {
	var items []json.RawMessage
	if !o.get(name, &items) {
		return nil, false
	}
	out := make([]herald.Duration, len(items))
	ok := true
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err != nil {
			o.v.Add(fmt.Sprintf("%s.%s[%d]", o.loc, name, i), nil, "%s", jsonMessage(err, "a duration string"))
			ok = false
		}
	}
	return out, ok
}

// readOnly refuses fields a client may not set (they are in the resource's
// JSON, so a client may send them back).
func (o *object) readOnly(names ...string) {
	for _, n := range names {
		if o.has(n) {
			o.used[n] = true
			o.v.Add(o.loc+"."+n, nil, "is read-only")
		}
	}
}

// done records every field that was not consumed as unknown.
func (o *object) done() {
	var unknown []string
	for name := range o.fields {
		if !o.used[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		o.v.Add(o.loc+"."+herald.Clip(name), nil, "unknown field")
	}
}

// jsonMessage turns a decoding error into a message for the client,
// without Go type names.
func jsonMessage(err error, want string) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		w := want
		if typ.Field != "" {
			return fmt.Sprintf("%s: expected %s, got %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return fmt.Sprintf("expected %s, got %s", w, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input"):
		return "malformed JSON: unexpected end of input"
	default:
		// Errors of UnmarshalJSON methods (durations, times) are written
		// for users already; drop the "parsing time" noise of time.Time.
		msg := err.Error()
		if strings.HasPrefix(msg, "parsing time") || strings.Contains(msg, "Time.UnmarshalJSON") {
			return "expected an RFC 3339 time such as \"2026-11-23T10:00:00Z\""
		}
		return strings.TrimPrefix(msg, "json: ")
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "another type"
}

// expected names the JSON that decodes into dst, for error messages.
func expected(dst any) string {
	switch dst.(type) {
	case *string:
		return "a string"
	case *bool:
		return "a boolean"
	case *int, *int64:
		return "an integer"
	case *[]string:
		return "an array of strings"
	case *map[string]string:
		return "an object of strings"
	case *time.Time:
		return "an RFC 3339 time"
	case *herald.Duration:
		return "a duration string"
	case *[]json.RawMessage:
		return "an array"
	case *map[string]json.RawMessage:
		return "an object"
	}
	return "another type"
}

// Query parameters.

// cursorMaxLen bounds a cursor: longer is no cursor of any list.
const cursorMaxLen = 1024

// query reads and validates query parameters, collecting errors in v.
type query struct {
	q    url.Values
	v    *herald.Validation
	path string // the list's, which its cursors name
}

// newQuery parses the query string. Parameters not in known are refused
// by name, as unknown JSON fields are: a misspelt filter would otherwise
// be ignored and answer the whole list.
func newQuery(r *http.Request, v *herald.Validation, known ...string) query {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		v.Add("query", nil, "malformed query string")
	}
	var unknown []string
	for name := range q {
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		if len(known) == 0 {
			v.Add("query."+herald.Clip(name), nil, "unknown query parameter (this route takes none)")
		} else {
			v.Add("query."+herald.Clip(name), nil, "unknown query parameter (known: %s)", strings.Join(known, ", "))
		}
	}
	return query{q: q, v: v, path: r.URL.Path}
}

func (q query) str(name string) string { return q.q.Get(name) }

// page reads limit and cursor. A cursor is one the same list handed out
// (see next): anything else is refused by name, whatever the store would
// make of it.
func (q query) page() store.Page {
	p := store.Page{Limit: herald.PageLimitDefault}
	if s := q.q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > herald.PageLimitMax {
			q.v.Add("query.limit", herald.Clip(s), "must be an integer from 1 to %d", herald.PageLimitMax)
		} else {
			p.Limit = n
		}
	}
	if c := q.q.Get("cursor"); c != "" {
		inner, ok := q.openCursor(c)
		if !ok {
			q.v.Add("query.cursor", nil, "not a cursor of this list")
		}
		p.Cursor = inner
	}
	return p
}

// next wraps a store's cursor of the next page ("" on the last) for the
// client: the list's path and the store's cursor, base64url-encoded.
func (q query) next(storeCursor string) string {
	if storeCursor == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(q.path + "\n" + storeCursor))
}

func (q query) openCursor(c string) (string, bool) {
	if len(c) > cursorMaxLen {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	path, inner, ok := strings.Cut(string(b), "\n")
	if !ok || path != q.path || inner == "" {
		return "", false
	}
	return inner, true
}

// listError names the cursor when a store refuses a page's input: the
// cursor is the only part of a page the store interprets.
func listError(err error) error {
	if herald.ErrorCode(err) == herald.EINVALID {
		return invalid("query.cursor", nil, "not a cursor of this list")
	}
	return err
}

// time reads an RFC 3339 time; nil when absent.
func (q query) time(name string) *time.Time {
	s := q.q.Get(name)
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.v.Add("query."+name, herald.Clip(s), "expected an RFC 3339 time such as \"2026-11-23T10:00:00Z\"")
		return nil
	}
	t = t.UTC()
	return &t
}

// list is the JSON of one page of a list.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Data: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}
