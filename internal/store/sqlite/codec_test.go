package sqlite

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJSONColumnsReadBackAsEncodingJSONWould: the hand-written encoders of
// list and map columns give values that read back exactly as those of
// json.Marshal, escapes and invalid UTF-8 included.
func TestJSONColumnsReadBackAsEncodingJSONWould(t *testing.T) {
	t.Parallel()
	values := []string{"", "plain", "Content-Type", `quo"te`, `back\slash`, "tab\there", "nl\n", "\x00\x1f",
		"<script>&amp;", "caf\u00e9", "\u2028\u2029", "emoji \U0001F600", "bad \xff utf8", "trailing \xe2\x82"}
	m := map[string]string{}
	for i, v := range values {
		m[v] = values[len(values)-1-i]
	}
	// readBack parses ours and encoding/json's text of v with parse.
	readBack := func(ours string, v any, parse func(string) (any, error)) {
		t.Helper()
		want, err := json.Marshal(v)
		require.NoError(t, err)
		wantV, err := parse(string(want))
		require.NoError(t, err)
		got, err := parse(ours)
		require.NoError(t, err, ours)
		require.Equal(t, wantV, got)
	}
	readBack(jsonMap(m), m, func(s string) (any, error) { return parseMap(s) })
	readBack(jsonList(values), values, func(s string) (any, error) { return parseList(s) })

	require.Equal(t, "{}", jsonMap(nil))
	require.Equal(t, "{}", jsonMap(map[string]string{}))
	require.Equal(t, "[]", jsonList(nil))
	require.Equal(t, `{"A":"1","B":"2"}`, jsonMap(map[string]string{"B": "2", "A": "1"}), "sorted keys, as json.Marshal writes them")
}
