package hook

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The examples of RFC 7386, appendix A, with object targets and patches
// (the only kind a hook run applies), plus number preservation.
func TestMergePatchFollowsRFC7386(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{`{"a":{"b":1,"c":2}}`, `{"a":{"c":{"d":3}}}`, `{"a":{"b":1,"c":{"d":3}}}`},
		{`{"n":12345678901234567890,"f":0.1}`, `{"x":"<&>"}`, `{"f":0.1,"n":12345678901234567890,"x":"<&>"}`},
	} {
		got, err := mergePatch(json.RawMessage(tc.target), json.RawMessage(tc.patch))
		require.NoError(t, err)
		assert.JSONEq(t, tc.want, string(got), "%s + %s", tc.target, tc.patch)
	}
}

func TestMergePatchKeepsNumbersAndHTMLUnescaped(t *testing.T) {
	t.Parallel()
	got, err := mergePatch(json.RawMessage(`{"n":12345678901234567890}`), json.RawMessage(`{"x":"<&>"}`))
	require.NoError(t, err)
	assert.Equal(t, `{"n":12345678901234567890,"x":"<&>"}`, string(got))
}
