package filter_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/filter"
	"github.com/stretchr/testify/require"
)

func event() *herald.Event {
	return &herald.Event{
		ID:       "evt_1",
		Type:     "order.paid",
		Data:     json.RawMessage(`{"amount": 1250, "price": 12.5, "currency": "EUR", "customer": {"id": "c_7", "vip": true, "tags": ["b2b", "eu"]}, "items": [{"sku": "a"}, {"sku": "b"}]}`),
		Channels: []string{"acct_1", "acct_2"},
		Metadata: map[string]string{"trigger": "checkout", "region": "eu-west"},
	}
}

func TestMatchSelectsEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		want bool
	}{
		{`type == "order.paid"`, true},
		{`type == "order.refunded"`, false},
		{`type.startsWith("order.")`, true},
		{`data.amount > 1000`, true},
		{`data.amount == 1250`, true},
		{`data.price > 12.0 && data.price < 13.0`, true},
		{`data.currency == "USD"`, false},
		{`data.customer.vip`, true},
		{`data.customer.id == "c_7" && "b2b" in data.customer.tags`, true},
		{`data.items.exists(i, i.sku == "b")`, true},
		{`size(data.items) == 3`, false},
		{`"acct_1" in channels`, true},
		{`"acct_9" in channels`, false},
		{`metadata.trigger == "checkout"`, true},
		{`metadata["region"].endsWith("-west")`, true},
		{`has(data.coupon)`, false},
		{`has(metadata.missing) || type.matches("^order\\.")`, true},
	}
	for _, c := range cases {
		f, err := filter.Compile(c.expr)
		require.NoError(t, err, c.expr)
		got, err := f.Match(event())
		require.NoError(t, err, c.expr)
		require.Equal(t, c.want, got, c.expr)
	}
}

func TestMatchEmptyEventFields(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile(`size(data) == 0 && size(channels) == 0 && size(metadata) == 0 && type == ""`)
	require.NoError(t, err)
	got, err := f.Match(&herald.Event{})
	require.NoError(t, err)
	require.True(t, got)
}

func TestCompileRefusesNonBool(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{`type`, `1 + 2`, `channels`, `metadata`} {
		_, err := filter.Compile(expr)
		require.Error(t, err, expr)
		require.Contains(t, err.Error(), "must produce a bool", expr)
	}
}

func TestMatchRefusesNonBoolAtRunTime(t *testing.T) {
	t.Parallel()
	// data.amount is dyn: only evaluation shows it is not a bool.
	f, err := filter.Compile(`data.amount`)
	require.NoError(t, err)
	_, err = f.Match(event())
	require.ErrorContains(t, err, "not a bool")
}

func TestCompileRefusesUndeclaredNames(t *testing.T) {
	t.Parallel()
	_, err := filter.Compile(`foo == 1`)
	require.EqualError(t, err, "undeclared reference to 'foo' (line 1, column 1)")

	_, err = filter.Compile("type == \"a\" &&\n  event.type == \"b\"")
	require.ErrorContains(t, err, "undeclared reference to 'event' (line 2, column 3)")
}

func TestCompileErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{`type ==`, `((`, `"unterminated`, `type == "a" &&& true`, `a + b + c + d + e == 1`} {
		_, err := filter.Compile(expr)
		require.Error(t, err, expr)
		require.NotContains(t, err.Error(), "\n", expr)
		require.NotContains(t, err.Error(), "<input>", expr)
	}
}

func TestCompileRefusesLongExpressions(t *testing.T) {
	t.Parallel()
	long := `type == "` + strings.Repeat("a", filter.MaxLen) + `"`
	_, err := filter.Compile(long)
	require.ErrorContains(t, err, "too long")

	_, err = filter.Compile("   ")
	require.ErrorContains(t, err, "empty")
}

func TestCostLimitStopsRunawayExpressions(t *testing.T) {
	t.Parallel()
	// 1000 × 1000 × 1000 iterations: far past the limit, stopped early.
	f, err := filter.Compile(`data.xs.all(a, data.xs.all(b, data.xs.all(c, a + b + c >= 0)))`)
	require.NoError(t, err)
	xs := make([]int, 1000)
	data, _ := json.Marshal(map[string]any{"xs": xs})
	_, err = f.Match(&herald.Event{Type: "t", Data: data})
	require.ErrorContains(t, err, "cost limit exceeded")
}

func TestCostLimitAdmitsLinearScans(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile(`data.xs.exists(x, x == 9999)`)
	require.NoError(t, err)
	xs := make([]int, 10000)
	for i := range xs {
		xs[i] = i
	}
	data, _ := json.Marshal(map[string]any{"xs": xs})
	got, err := f.Match(&herald.Event{Type: "t", Data: data})
	require.NoError(t, err)
	require.True(t, got)
}

func TestMatchMissingKeyIsAnError(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile(`data.coupon == "FREE"`)
	require.NoError(t, err)
	_, err = f.Match(event())
	require.ErrorContains(t, err, "no such key: coupon")

	f, err = filter.Compile(`metadata.nope == "x"`)
	require.NoError(t, err)
	_, err = f.Match(event())
	require.ErrorContains(t, err, "no such key: nope")
}

func TestMatchRefusesMalformedData(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile(`true`)
	require.NoError(t, err)
	for _, data := range []string{`[1,2]`, `"x"`, `{"a":`} {
		_, err := f.Match(&herald.Event{Data: json.RawMessage(data)})
		require.Error(t, err, data)
	}
}

func TestFilterIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	f, err := filter.Compile(`data.n % 2 == 0 && "c" in channels`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				n := g*1000 + i
				got, err := f.Match(&herald.Event{Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)), Channels: []string{"c"}})
				if err != nil {
					errs <- err
					return
				}
				if got != (n%2 == 0) {
					errs <- fmt.Errorf("n=%d: got %v", n, got)
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

// FuzzCompile compiles arbitrary expressions and runs those that compile
// against a fixed event: neither step may panic, and Match must return a
// bool or an error, never both silently.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`type == "order.paid"`,
		`data.customer.tags.exists(t, t == "eu")`,
		`"acct_1" in channels && metadata.trigger == "checkout"`,
		`data.items.map(i, i.sku).size() > 1`,
		`int(data.amount) / 0 == 1`,
	} {
		f.Add(s)
	}
	ev := event()
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := filter.Compile(expr)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", expr)
			}
			return
		}
		_, _ = flt.Match(ev)
	})
}
