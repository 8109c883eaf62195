package bodytemplate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/bodytemplate"
	"github.com/stretchr/testify/require"
)

// envelope is what the delivery engine passes: typed Go values, as it
// builds them from an event.
func envelope() map[string]any {
	return map[string]any{
		"id":         "evt_01",
		"type":       "user.created",
		"timestamp":  "2026-11-23T10:00:00Z",
		"project_id": "prj_1",
		"data":       json.RawMessage(`{"user_id":"u_1","age":42,"big":12345678901234567890}`),
		"channels":   []string{"acct_42"},
		"metadata":   map[string]string{"trigger": "signup"},
	}
}

// compile compiles src with a generous time bound: tests that are not about
// time must not fail because the machine is busy.
func compile(t *testing.T, src string) *bodytemplate.Template {
	t.Helper()
	tpl, err := bodytemplate.Compile(src)
	require.NoError(t, err, src)
	return bodytemplate.WithTimeout(tpl, 10*time.Second)
}

func render(t *testing.T, src string, env map[string]any) ([]byte, error) {
	t.Helper()
	return compile(t, src).Render(context.Background(), env)
}

func TestRenderDesignExample(t *testing.T) {
	t.Parallel()
	out, err := render(t, `{event_type: .type, event_time: .timestamp, project_id: .project_id, data: .data}`, envelope())
	require.NoError(t, err)
	require.JSONEq(t, `{"event_type":"user.created","event_time":"2026-11-23T10:00:00Z","project_id":"prj_1",
		"data":{"user_id":"u_1","age":42,"big":12345678901234567890}}`, string(out))
	// Large integers survive exactly: the input keeps JSON numbers as they are.
	require.Contains(t, string(out), "12345678901234567890")
}

func TestRenderScalarOutputs(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`.type`:                          `"user.created"`,
		`.data.age + 1`:                  `43`,
		`.data.age / 8`:                  `5.25`,
		`.channels[0]`:                   `"acct_42"`,
		`.metadata.trigger == "x"`:       `false`,
		`.missing`:                       `null`,
		`"\(.type) by \(.data.user_id)"`: `"user.created by u_1"`,
		`[.channels[], .metadata[]]`:     `["acct_42","signup"]`,
	}
	for src, want := range cases {
		out, err := render(t, src, envelope())
		require.NoError(t, err, src)
		require.Equal(t, want, string(out), src)
	}
}

func TestRenderTakesOnlyTheFirstOutput(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		`.type, .id`:  `"user.created"`,
		`repeat(1)`:   `1`,
		`range(1e9)`:  `0`,
		`.channels[]`: `"acct_42"`,
	} {
		out, err := render(t, src, envelope())
		require.NoError(t, err, src)
		require.Equal(t, want, string(out), src)
	}
}

func TestRenderNoOutputIsAnError(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`empty`, `.channels[] | select(. == "none")`, `halt`} {
		_, err := render(t, src, envelope())
		require.ErrorIs(t, err, bodytemplate.ErrNoOutput, src)
		require.EqualError(t, err, "body template produced no output")
	}
}

func TestCompileRefusesSyntaxErrors(t *testing.T) {
	t.Parallel()
	_, err := bodytemplate.Compile("{\n  a: .b,\n  c: ]")
	require.EqualError(t, err, `syntax error: unexpected token "]" (line 3, column 6)`)

	_, err = bodytemplate.Compile(`{event_type: .type`)
	require.ErrorContains(t, err, "syntax error: unexpected EOF")

	_, err = bodytemplate.Compile(`nosuchfunc(1)`)
	require.EqualError(t, err, "body template: function not defined: nosuchfunc/1")
}

func TestCompileRefusesLongOrEmptySource(t *testing.T) {
	t.Parallel()
	_, err := bodytemplate.Compile(`"` + strings.Repeat("a", bodytemplate.MaxSource) + `"`)
	require.ErrorContains(t, err, "too long")
	_, err = bodytemplate.Compile(" \n")
	require.ErrorContains(t, err, "empty")
}

func TestRenderRuntimeError(t *testing.T) {
	t.Parallel()
	_, err := render(t, `.type + 1`, envelope())
	require.ErrorContains(t, err, "body template: cannot add")

	_, err = render(t, `error("nope")`, envelope())
	require.EqualError(t, err, "body template: error: nope")
}

func TestRenderTimesOut(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`def f: f; f`, `[range(1e12)] | length`, `[range(1e7)]`, `last(range(1e12))`} {
		tpl, err := bodytemplate.Compile(src) // the default RenderTimeout
		require.NoError(t, err)
		_, err = tpl.Render(context.Background(), envelope())
		require.ErrorIs(t, err, bodytemplate.ErrTimeout, src)
		require.EqualError(t, err, "body template timed out after 100ms")
	}
}

func TestRenderHonoursCallerCancellation(t *testing.T) {
	t.Parallel()
	tpl, err := bodytemplate.Compile(`def f: f; f`)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = tpl.Render(ctx, envelope())
	require.ErrorIs(t, err, context.Canceled)
}

func TestRenderBoundsOutput(t *testing.T) {
	t.Parallel()
	// A 2 MB string is built by one operation, well within the time bound.
	_, err := render(t, `"x" * 2000000`, envelope())
	require.ErrorIs(t, err, bodytemplate.ErrTooLarge)
	require.EqualError(t, err, "body template output exceeds 1 MiB")

	// Two copies of a 600 KiB input field: each fits, together they do not.
	env := envelope()
	env["data"] = map[string]any{"blob": strings.Repeat("y", 600<<10)}
	_, err = render(t, `[.data.blob, .data.blob]`, env)
	require.ErrorIs(t, err, bodytemplate.ErrTooLarge)

	out, err := render(t, `.data.blob`, env)
	require.NoError(t, err)
	require.Len(t, out, 600<<10+2)
}

func TestTemplatesCannotReadTheEnvironment(t *testing.T) {
	t.Setenv("HERALD_TEST_SECRET", "hunter2")
	for _, src := range []string{`$ENV`, `env`, `$ENV.HERALD_TEST_SECRET`, `env.HERALD_TEST_SECRET`, `$ENV | tostring`} {
		out, err := render(t, src, envelope())
		require.NoError(t, err, src)
		require.NotContains(t, string(out), "hunter2", src)
		require.Contains(t, []string{`{}`, `null`, `"{}"`}, string(out), src)
	}
	// Nor load files or read inputs.
	for _, src := range []string{`import "x" as x; .`, `include "x"; .`, `input`, `inputs`, `$__prog_args`} {
		_, err := bodytemplate.Compile(src)
		require.Error(t, err, src)
	}
}

func TestTemplateIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	tpl := compile(t, `{n: .n, double: (.n * 2), tags: [.tags[] | ascii_upcase]}`)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 16 {
		wg.Go(func() {
			for i := range 100 {
				n := g*1000 + i
				out, err := tpl.Render(context.Background(), map[string]any{"n": n, "tags": []string{"a", "b"}})
				want := fmt.Sprintf(`{"double":%d,"n":%d,"tags":["A","B"]}`, 2*n, n)
				if err != nil || string(out) != want {
					errs <- fmt.Errorf("n=%d: %s, %v", n, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRenderRefusesUnencodableEnvelope(t *testing.T) {
	t.Parallel()
	_, err := render(t, `.`, map[string]any{"f": func() {}})
	require.ErrorContains(t, err, "body template input")
}

// FuzzTemplate compiles arbitrary templates and renders those that compile:
// no input may panic, and a successful render is valid JSON within bounds.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`{event_type: .type, event_time: .timestamp, project_id: .project_id, data: .data}`,
		`.data | to_entries | map(.key) | join(",")`,
		`reduce .channels[] as $c ({}; .[$c] = true)`,
		`[limit(3; repeat(.id))]`,
		`.data.age | tostring | ltrimstr("4") | tonumber? // 0`,
	} {
		f.Add(s)
	}
	env := envelope()
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := bodytemplate.Compile(src)
		if err != nil {
			return
		}
		out, err := tpl.Render(context.Background(), env)
		if err != nil {
			return
		}
		if len(out) > bodytemplate.MaxOutput || !json.Valid(out) {
			t.Fatalf("%q rendered %d bytes, valid=%v", src, len(out), json.Valid(out))
		}
	})
}
