package bodytemplate

import (
	"testing"

	"github.com/itchyny/gojq"
)

// The guards change no result: each template gives the same outputs (all
// of them, in order, errors included) as gojq without the rewrite.
func TestGuardsKeepResults(t *testing.T) {
	t.Parallel()
	input, err := decode([]byte(`{"a":1,"s":"hello, world","xs":[3,1,2],"o":{"k":"v","n":{"m":2}},
		"big":12345678901234567890,"f":1.10,"rows":[[1,2],[3,4]],"items":[{"id":"x","v":1},{"id":"y","v":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	templates := []string{
		`1 + 2`, `.a + .a`, `.s + "!"`, `.xs + [4]`, `.o + {z: 1}`, `null + 1`, `.xs - [1]`,
		`.a * 3`, `.s * 2`, `2 * .s`, `.s * 0`, `.o * {n: {q: 1}}`, `.a / 4`, `.s / ", "`, `7 % 3`,
		`.big + 1`, `.big * .big`, `-.big`, `.f`, `.f * 2`, `(1,2) + (10,20)`, `[(1,2) * (3,4)]`,
		`.a += 1`, `.xs[] += 10`, `.o.n.m *= 5`, `.a -= 1`, `.a /= 2`, `.a %= 1`, `.x //= 3`, `.a //= 3`, `.xs[] //= 0`,
		`.a = 5`, `.xs[1] = 9`, `.o.n |= . + {p: 1}`, `.xs |= map(. * 2)`, `.xs[5] = 1`,
		`def f: 1; f + 1`, `def g(x): x * 2; g(.a) + g(3)`, `def f: 1; .a = f`, `def f: 2; .a += f`,
		`"a\(.a)b\(.s)"`, `"\(.o)"`, `@base64 "x\(.s)y"`, `@json "v=\(.xs)"`, `@html "<\(.s)>"`, `@base32 "\(.s)"`,
		`@base64`, `@text`, `@json`, `@csv "\(.xs)"`, `.xs | @csv`, `.xs | @sh`, `.s | @uri`,
		`tojson`, `.o | tostring`, `.xs | add`, `[.items[].id] | join("-")`, `[[1,[2]],3] | flatten`,
		`[[1,[2]],3] | flatten(1)`, `.rows | transpose`, `.s | explode | implode`, `"12" | tonumber`,
		`.s | split(", ")`, `.s | split(", "; null)`, `.s | indices("l")`, `.s | index("o")`, `.s | rindex("o")`,
		`.xs | indices(1)`, `setpath(["a"]; 2)`, `null | setpath([2]; 1)`, `0 | strftime("%Y")`,
		`.s | match("o")`, `[.s | match("o"; "g") | .offset]`, `.s | capture("(?<w>w\\w+)")`, `[.s | scan("l+")]`,
		`[.s | splits(", ")]`, `.s | sub("o"; "0")`, `.s | gsub("o"; "0")`, `.s | gsub("(?<x>o)"; "<\(.x)>")`,
		`.s | test("wor")`, `pick(.a)`, `pick(.o.n.m)`, `[tostream] | fromstream(.[])`, `.items | INDEX(.id)`,
		`INDEX(.items[]; .v)`, `add(.xs[])`, `reduce .xs[] as $x (0; . + $x)`, `[foreach .xs[] as $x (0; . + $x)]`,
		`[limit(3; repeat(1))]`, `try error("x") catch .`, `try (.s * 1e9) catch "caught"`,
		`to_entries`, `with_entries(.value |= tostring)`, `[paths]`, `[.. | numbers]`, `del(.o)`, `.o | keys`,
		`[.xs[] | select(. > 1)] | length`, `if .a == 1 then "one" else "other" end`, `.xs | sort | reverse`,
		`{(.s): .a}`, `{a, s}`, `. as {a: $x, $s} | $x + 1`, `. as [$q] ?// $q | $q | type`, `label $out | 1, break $out`,
		`[range(5)] | .[1:3]`, `.s[2:5]`, `.xs | .[1:] = ["z"]`, `path(.a, .o.n)`, `[getpath(["o","n","m"])]`,
		`.items | map(.v) | add`, `.items | group_by(.v) | length`, `ascii_downcase? // "n"`, `.s | ascii_upcase`,
		`[splits("x")]?`, `[.[] | numbers] | min`, `env | length`, `$ENV | length`,
		`.s | ltrimstr("he")`, `.s | tojson | fromjson`, `.xs | combinations(2)?`, `[.rows | combinations]`,
		`walk(if type == "number" then . + 1 else . end)`, `getpath(["xs", 1])`, `[.xs[] as $x | $x * $x]`,
		`.s | .[0:1] * 3`, `"\(1,2)-\(3,4)"`, `[.a, .s] | @tsv`,
	}
	for _, src := range templates {
		tpl, err := Compile(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		q, err := gojq.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := gojq.Compile(q)
		if err != nil {
			t.Errorf("%s: plain: %v", src, err)
			continue
		}
		got, want := outputs(tpl.code, input), outputs(plain, input)
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", src, got, want)
		}
	}
}

func outputs(code *gojq.Code, input any) string {
	var out string
	iter := code.Run(input)
	for i := 0; i < 50; i++ {
		v, ok := iter.Next()
		if !ok {
			break
		}
		if err, ok := v.(error); ok {
			out += "error: " + err.Error() + "\n"
			break
		}
		b, err := gojq.Marshal(v)
		if err != nil {
			out += "marshal: " + err.Error() + "\n"
			continue
		}
		out += string(b) + "\n"
	}
	return out
}
