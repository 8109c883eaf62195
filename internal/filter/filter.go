// Package filter compiles and evaluates an endpoint's filter: a CEL
// expression over an event that decides whether the endpoint receives it.
//
// The expression sees four variables:
//
//	type     string              the event type, e.g. "user.created"
//	data     map(string, dyn)    the event's data, decoded from JSON
//	channels list(string)        the event's channels
//	metadata map(string, string) the event's metadata
//
// and must produce a bool: true delivers, false skips. JSON numbers that
// are whole and fit in 64 bits are ints, others doubles, so that both
// `data.count == 3` and `data.price > 9.5` read as a user expects.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/herald-dev/herald"
)

// MaxLen is the longest expression Compile accepts, in bytes.
const MaxLen = 4096

// CostLimit bounds the work of one evaluation, in CEL cost units (roughly
// one per visited value), so that a filter cannot stall routing: filters
// run for every event on the ingest path. Typical filters cost under 100;
// a scan of a 10,000-element list fits; nested loops over one do not.
//
// Memory is charged in the same units: a call that builds a string or
// bytes value costs one unit per BytesPerUnit bytes of its result, so one
// evaluation builds at most CostLimit*BytesPerUnit (about 1 MB) of new
// strings before it is stopped.
const CostLimit = 100_000

// BytesPerUnit is how many bytes of a string or bytes value built by a
// call cost one unit of CostLimit.
const BytesPerUnit = 10

// ErrLimit is returned (wrapped) by Match when an evaluation exceeds
// CostLimit, in work or in the bytes of the strings it builds.
var ErrLimit = errors.New("filter: cost limit exceeded")

// maxReported is how many compile errors a message lists: the first ones
// explain the rest.
const maxReported = 3

// Filter is a compiled expression. It is safe for concurrent use.
type Filter struct {
	expr string
	prg  cel.Program
}

// env is built once: declaring the variables is the costly part of a
// cel.Env, and an Env is safe for concurrent use.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("type", cel.StringType),
		cel.Variable("data", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("channels", cel.ListType(cel.StringType)),
		cel.Variable("metadata", cel.MapType(cel.StringType, cel.StringType)),
	)
})

// Compile parses and type-checks expr. Its errors are short messages meant
// for the user (they become the 422 of the endpoint's "filter" field).
//
// An expression whose type is only known at run time (e.g. `data.active`,
// whose type is dyn) is accepted; Match reports an error if it then yields
// something other than a bool.
func Compile(expr string) (*Filter, error) {
	if len(expr) > MaxLen {
		return nil, fmt.Errorf("expression is too long (%d bytes, at most %d)", len(expr), MaxLen)
	}
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("expression is empty")
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("filter environment: %w", err)
	}
	var (
		ast *cel.Ast
		iss *cel.Issues
	)
	// The parser and checker are not expected to panic, but the input is
	// user-controlled: turn a panic into an error rather than a 500.
	if perr := protect(func() { ast, iss = e.Compile(expr) }); perr != nil {
		return nil, perr
	}
	if iss != nil && iss.Err() != nil {
		return nil, issuesError(iss)
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("expression must produce a bool, not %s", t)
	}
	prg, err := e.Program(ast, cel.CostLimit(CostLimit), cel.CostTracking(sizeCost{}))
	if err != nil {
		return nil, fmt.Errorf("invalid expression: %v", err)
	}
	return &Filter{expr: expr, prg: prg}, nil
}

// issuesError turns CEL's multi-line diagnostics (with source snippets)
// into one line: "undeclared reference to 'foo' (line 1, column 1)".
func issuesError(iss *cel.Issues) error {
	errs := iss.Errors()
	msgs := make([]string, 0, maxReported)
	for i, e := range errs {
		if i == maxReported {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(errs)-maxReported))
			break
		}
		msg := e.Message
		if l := e.Location; l != nil && l.Line() > 0 {
			msg = fmt.Sprintf("%s (line %d, column %d)", msg, l.Line(), l.Column()+1)
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return errors.New("invalid expression")
	}
	return errors.New(strings.Join(msgs, "; "))
}

// String returns the source expression.
func (f *Filter) String() string { return f.expr }

// Match evaluates the filter against ev. An evaluation error (a missing
// key, a type mismatch, the cost limit) is returned as is: the caller skips
// the endpoint for this event.
func (f *Filter) Match(ev *herald.Event) (bool, error) {
	data, err := decodeData(ev.Data)
	if err != nil {
		return false, err
	}
	channels := ev.Channels
	if channels == nil {
		channels = []string{}
	}
	metadata := ev.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	vars := map[string]any{
		"type":     ev.Type,
		"data":     data,
		"channels": channels,
		"metadata": metadata,
	}
	var out any
	perr := protect(func() {
		val, _, evalErr := f.prg.Eval(vars)
		if evalErr != nil {
			err = evalErr
			return
		}
		out = val.Value()
	})
	if perr != nil {
		return false, perr
	}
	if err != nil {
		var ce interpreter.EvalCancelledError
		if errors.As(err, &ce) && ce.Cause == interpreter.CostLimitExceeded {
			return false, fmt.Errorf("%w (%d units; a string or bytes value built costs 1 unit per %d bytes)", ErrLimit, CostLimit, BytesPerUnit)
		}
		return false, fmt.Errorf("filter: %w", err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("filter: expression produced %T, not a bool", out)
	}
	return b, nil
}

// sizeCost charges a call that returns a string or bytes value by the size
// of that value. CEL's own estimate does so for string concatenation only
// when the checker knows the operands are strings; on data's dyn values
// (`data.s + data.s`) the call costs 1 whatever it builds, so a loop could
// build gigabytes within the limit.
type sizeCost struct{}

func (sizeCost) CallCost(_, _ string, _ []ref.Val, result ref.Val) *uint64 {
	var n int
	switch v := result.(type) {
	case types.String:
		n = len(v)
	case types.Bytes:
		n = len(v)
	default:
		return nil // CEL's standard cost
	}
	c := 1 + uint64(n)/BytesPerUnit
	return &c
}

// decodeData decodes an event's data for CEL: an object becomes a map,
// absent data an empty one.
func decodeData(raw json.RawMessage) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("filter: event data: %w", err)
	}
	m, ok := numbers(v).(map[string]any)
	if !ok {
		return nil, errors.New("filter: event data is not a JSON object")
	}
	return m, nil
}

// numbers replaces json.Number in v: whole numbers that fit become int64,
// the rest float64.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, err := v.Float64()
		if err != nil && !math.IsInf(f, 0) {
			return v.String()
		}
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
		return v
	default:
		return v
	}
}

// protect runs fn and turns a panic into an error.
func protect(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("filter: internal error: %v", r)
		}
	}()
	fn()
	return nil
}
