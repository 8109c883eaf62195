// Package bodytemplate renders an endpoint's body_template: a jq program
// (gojq) run over the delivery envelope whose first output, JSON-encoded,
// becomes the request body.
//
// A template is user code running inside the server, so it is bounded: in
// source size, in time (RenderTimeout), in output size (MaxOutput), in
// memory (MaxValue per operation, AllocBudget per render; see bound.go),
// and in what it can reach (no environment, no modules, no inputs; gojq
// has no file or network access).
package bodytemplate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Bounds of a template.
const (
	// MaxSource is the longest template source Compile accepts, in bytes.
	MaxSource = 16 << 10
	// RenderTimeout bounds one Render.
	RenderTimeout = 100 * time.Millisecond
	// MaxOutput bounds the encoded body, in bytes.
	MaxOutput = 1 << 20
)

// Errors of Render that do not come from the template's own logic.
var (
	ErrTimeout  = errors.New("body template timed out") // returned as "… after 100ms"
	ErrNoOutput = errors.New("body template produced no output")
	ErrTooLarge = errors.New("body template output exceeds 1 MiB")
)

// Template is a compiled body template. It is safe for concurrent use:
// gojq's *Code holds no per-run state.
type Template struct {
	src     string
	code    *gojq.Code
	timeout time.Duration // RenderTimeout; tests that are not about time raise it
}

// Compile parses and compiles src. Its errors are short messages meant for
// the user (they become the 422 of the endpoint's "body_template" field).
// Templates cannot read the server's environment: $ENV and env are empty.
func Compile(src string) (*Template, error) {
	if len(src) > MaxSource {
		return nil, fmt.Errorf("body template is too long (%d bytes, at most %d)", len(src), MaxSource)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("body template is empty")
	}
	q, err := gojq.Parse(src)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			line, col := position(src, pe.Offset-len(pe.Token))
			return nil, fmt.Errorf("syntax error: %v (line %d, column %d)", err, line, col)
		}
		return nil, fmt.Errorf("syntax error: %v", err)
	}
	if err := bound(q); err != nil {
		return nil, err
	}
	code, err := gojq.Compile(q, append(slices.Clip(guardOptions()),
		// Without a loader gojq already yields an empty $ENV; stating it
		// keeps that true should the library's default change.
		gojq.WithEnvironLoader(func() []string { return nil }),
	)...)
	if err != nil {
		return nil, fmt.Errorf("body template: %v", err)
	}
	return &Template{src: src, code: code, timeout: RenderTimeout}, nil
}

// position returns the 1-based line and column of byte offset off in src.
func position(src string, off int) (line, col int) {
	off = max(0, min(off, len(src)))
	before := src[:off]
	line = strings.Count(before, "\n") + 1
	col = off - strings.LastIndexByte(before, '\n')
	return line, col
}

// String returns the source of the template.
func (t *Template) String() string { return t.src }

// Render runs the template over envelope and returns the JSON encoding of
// its first output; later outputs are never computed, so generators such
// as repeat(1) are harmless. envelope may hold any JSON-encodable values.
// Render fails when the template errors, produces nothing, runs longer than
// RenderTimeout or produces more than MaxOutput bytes.
func (t *Template) Render(ctx context.Context, envelope map[string]any) ([]byte, error) {
	input, err := normalize(envelope)
	if err != nil {
		return nil, fmt.Errorf("body template input: %w", err)
	}
	return t.run(ctx, input)
}

// RenderJSON is Render over an envelope already encoded as JSON. Numbers
// reach the template as their JSON text (json.Number): gojq computes with
// them exactly (big integers included) and writes an untouched number back
// as it came, so 12345678901234567890 and 1.10 leave as they arrived.
func (t *Template) RenderJSON(ctx context.Context, envelope []byte) ([]byte, error) {
	input, err := decode(envelope)
	if err != nil {
		return nil, fmt.Errorf("body template input: %w", err)
	}
	return t.run(ctx, input)
}

func (t *Template) run(ctx context.Context, input any) ([]byte, error) {
	// Wall-clock time: under CPU starvation a cheap template can exceed it
	// too. The delivery then fails as a template error and is retried.
	runCtx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	stopWatch, overBudget := watch(cancel)

	v, ok := t.code.RunWithContext(runCtx, input).Next()
	stopWatch()
	if !ok {
		return nil, ErrNoOutput
	}
	if err, isErr := v.(error); isErr {
		if overBudget() {
			return nil, fmt.Errorf("%w: it allocated more than %d MiB", ErrLimit, AllocBudget>>20)
		}
		return nil, t.runError(ctx, runCtx, err)
	}
	// Encoding a huge value is itself slow (gojq allows 2 GiB strings):
	// refuse it from a cheap lower bound first, then check exactly.
	if atLeast(v, MaxOutput+1) {
		return nil, ErrTooLarge
	}
	out, err := gojq.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("body template output: %w", err)
	}
	if len(out) > MaxOutput {
		return nil, ErrTooLarge
	}
	return out, nil
}

// runError names why a run failed: the caller's context, our time bound,
// or the template itself.
func (t *Template) runError(parent, run context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if parent.Err() != nil {
			return parent.Err()
		}
		if run.Err() != nil {
			return fmt.Errorf("%w after %v", ErrTimeout, t.timeout)
		}
	}
	var he *gojq.HaltError
	if errors.As(err, &he) && he.Value() == nil {
		// halt: a clean stop with no value.
		return ErrNoOutput
	}
	var le *limitError
	if errors.As(err, &le) {
		return le
	}
	return fmt.Errorf("body template: %s", truncate(err.Error(), maxErrorText))
}

// maxErrorText bounds the text of a template's own error, which becomes
// the attempt's error: error("…") may carry a value of megabytes.
const maxErrorText = 1 << 10

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// atLeast reports whether the JSON encoding of v has at least n bytes. It
// counts a lower bound and stops as soon as it reaches n, so its cost is
// bounded by n, not by the size of v.
func atLeast(v any, n int) bool { return textAtLeast(v, n, 1) }

// textAtLeast is atLeast counting each byte of a string that some format
// escapes (controls, quote, backslash, < > & ') as escaped bytes; with
// escaped 6 it covers every format's escaping (\u0000, &#39;).
func textAtLeast(v any, n, escaped int) bool {
	var count func(v any) bool
	count = func(v any) bool {
		switch v := v.(type) {
		case string:
			n -= len(v) + 2
			if escaped > 1 && n > 0 {
				n -= (escaped - 1) * escapes(v, n/(escaped-1)+1)
			}
		case []any:
			n -= 1 + len(v)
			for _, x := range v {
				if n <= 0 || count(x) {
					return true
				}
			}
		case map[string]any:
			n -= 1 + len(v)
			for k, x := range v {
				n -= len(k) + 3
				if n <= 0 || count(x) {
					return true
				}
			}
		default:
			n -= numberText(v)
		}
		return n <= 0
	}
	return count(v)
}

// escapes counts the bytes of s that a format may escape, up to limit.
func escapes(s string, limit int) int {
	c := 0
	for i := 0; i < len(s) && c < limit; i++ {
		switch b := s[i]; {
		case b < 0x20, b == '"', b == '\\', b == '<', b == '>', b == '&', b == '\'':
			c++
		}
	}
	return c
}

// numberText returns the length of a scalar's JSON text, or a lower bound
// of it for big integers; at least 1.
func numberText(v any) int {
	switch v := v.(type) {
	case int:
		return len(strconv.Itoa(v))
	case float64:
		var buf [32]byte
		return max(1, len(strconv.AppendFloat(buf[:0], v, 'g', -1, 64)))
	case *big.Int:
		return max(1, v.BitLen()*3/10) // log10(2) > 0.3
	case json.Number:
		return max(1, len(v))
	case bool:
		return 4
	}
	return 1
}

// normalize turns envelope into the values gojq accepts (maps, slices,
// strings, numbers, bools, nil) by a JSON round trip, so that callers may
// pass []string, map[string]string, structs or json.RawMessage.
func normalize(envelope map[string]any) (any, error) {
	b, err := json.Marshal(envelope)
	if err != nil {
		return nil, err
	}
	return decode(b)
}

// decode reads one JSON value keeping numbers as json.Number.
func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
