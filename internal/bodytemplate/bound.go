package bodytemplate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"runtime/metrics"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Memory bounds of a render. gojq has no allocation limit of its own and
// its context check runs between instructions, so one instruction such as
// "x" * 1000000000 could allocate a gigabyte before the time bound is
// looked at. Compile therefore rewrites the template so that every
// operation able to build a value much larger than its inputs first checks
// the size of what it would build (the checks below), and Render stops a
// run whose allocations, counted by the runtime, pass AllocBudget (for the
// many small allocations of a loop).
const (
	// MaxValue bounds the size of one value an operation builds: a
	// string's bytes, an array's elements at 16 bytes each, the text a
	// serialization (tojson, tostring, @base64, interpolation …) would
	// write.
	MaxValue = 8 << 20
	// AllocBudget bounds what one render allocates in all.
	AllocBudget = 64 << 20
	// MaxIndex is the largest array index a path assignment may create:
	// .[n] = x on a shorter array allocates n elements.
	MaxIndex = 1 << 20
	// MaxBits bounds the size of an integer built by + - * (20,000
	// decimal digits).
	MaxBits = 1 << 16
	// MaxRegexInput bounds the string that match, capture, scan, splits,
	// split/2, sub and gsub work on: each match is an object of its own.
	// test has no bound.
	MaxRegexInput = 64 << 10
	// maxDigits bounds the string tonumber parses: a long run of digits
	// parses as a big integer, in time that grows faster than its length.
	maxDigits = 4096
	// maxCompared bounds array subtraction, which compares every pair.
	maxCompared = 1 << 24
	// elemBytes is what one array element or object entry is counted at.
	elemBytes = 16
)

// ErrLimit is returned (wrapped) by Render when a template passes one of
// the memory bounds above.
var ErrLimit = errors.New("body template exceeds its memory bound")

// limitError is the value a guard returns to stop an operation; templates
// can catch it with try like any error, but the operation never ran.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return ErrLimit }

func tooLarge(format string, args ...any) error {
	return &limitError{msg: fmt.Sprintf("body template exceeds its memory bound: "+format, args...)}
}

// guardPrefix starts the names of the functions the rewrite inserts.
// Templates may not define or call names that begin with "_": gojq's own
// internal functions (_add, _modify, …) would bypass the guards.
const guardPrefix = "_herald_"

// guard checks the operands of an operation before it runs.
type guard struct {
	arity int
	// input: the function's input is checked and its arguments are left
	// as closures (sub's replacement runs once per match).
	input bool
	check func(in any, args []any) error
}

// binops are the operators whose result can be far larger than their
// operands, with the name of their guard.
var binops = map[gojq.Operator]string{
	gojq.OpAdd: "add", gojq.OpSub: "subtract", gojq.OpMul: "multiply", gojq.OpDiv: "divide",
}

// funcGuards are keyed by name/arity. Functions not listed build values no
// larger than a small multiple of their input, which the template had to
// build first; AllocBudget bounds loops of them.
var funcGuards = map[string]guard{
	"tojson/0":        {check: checkSerialize},
	"tostring/0":      {check: checkSerialize},
	"add/0":           {check: checkSerialize},
	"flatten/0":       {check: checkSerialize},
	"flatten/1":       {arity: 1, check: checkSerialize},
	"format/1":        {arity: 1, check: checkSerialize},
	"join/1":          {arity: 1, check: checkJoin},
	"transpose/0":     {check: checkTranspose},
	"explode/0":       {check: checkExplode},
	"tonumber/0":      {check: checkToNumber},
	"split/1":         {arity: 1, check: checkSplit},
	"indices/1":       {arity: 1, check: checkIndices},
	"index/1":         {arity: 1, check: checkIndices},
	"rindex/1":        {arity: 1, check: checkIndices},
	"setpath/2":       {arity: 2, check: checkSetpath},
	"strftime/1":      {arity: 1, check: checkTimeFormat},
	"strflocaltime/1": {arity: 1, check: checkTimeFormat},
	"match/1":         {arity: 1, check: checkRegexInput},
	"match/2":         {arity: 2, check: checkRegexInput},
	"capture/1":       {arity: 1, check: checkRegexInput},
	"capture/2":       {arity: 2, check: checkRegexInput},
	"scan/1":          {arity: 1, check: checkRegexInput},
	"scan/2":          {arity: 2, check: checkRegexInput},
	"splits/1":        {arity: 1, check: checkRegexInput},
	"splits/2":        {arity: 2, check: checkRegexInput},
	"split/2":         {arity: 2, check: checkRegexInput},
	"sub/2":           {arity: 2, input: true, check: checkRegexInput},
	"sub/3":           {arity: 3, input: true, check: checkRegexInput},
	"gsub/2":          {arity: 2, input: true, check: checkRegexInput},
	"gsub/3":          {arity: 3, input: true, check: checkRegexInput},
}

// prelude redefines the builtins written in jq that call an unguarded
// operation on values of the template's choosing (setpath with its paths,
// add, tostring); being part of the template, these definitions are
// rewritten like it. A template's own definitions still take precedence.
const prelude = `
def add(f): [f] | add;
def pick(f): . as $v | reduce path(f) as $p (null; setpath($p; $v | getpath($p)));
def fromstream(f): foreach f as $pv (null;
    if .e then null end | $pv as [$p, $v] |
    if $pv | length == 2 then setpath(["v"] + $p; $v) | setpath(["e"]; $p | length == 0)
    else setpath(["e"]; $p | length == 1) end;
    if .e then .v else empty end);
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] = $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
.`

// guardOptions registers the guard functions with gojq.
var guardOptions = sync.OnceValue(func() []gojq.CompilerOption {
	var opts []gojq.CompilerOption
	for op, name := range binops {
		check := opChecks[op]
		opts = append(opts, gojq.WithFunction(guardPrefix+name, 2, 2, func(_ any, args []any) any {
			if err := check(args[0], args[1]); err != nil {
				return err
			}
			return []any{args[0], args[1]}
		}))
	}
	for key, g := range funcGuards {
		name, _, _ := strings.Cut(key, "/")
		check := g.check
		if g.input || g.arity == 0 {
			opts = append(opts, gojq.WithFunction(guardPrefix+name+"_in", 0, 0, func(in any, _ []any) any {
				if err := check(in, nil); err != nil {
					return err
				}
				return in
			}))
			continue
		}
		opts = append(opts, gojq.WithFunction(guardPrefix+name, g.arity, g.arity, func(in any, args []any) any {
			if err := check(in, args); err != nil {
				return err
			}
			return append([]any(nil), args...)
		}))
	}
	opts = append(opts,
		gojq.WithFunction(guardPrefix+"serialize", 0, 0, func(in any, _ []any) any {
			if err := checkSerialize(in, nil); err != nil {
				return err
			}
			return in
		}),
		gojq.WithFunction(guardPrefix+"path", 1, 1, func(_ any, args []any) any {
			if err := checkPath(args[0]); err != nil {
				return err
			}
			return nil
		}),
	)
	return opts
})

// bound validates q and rewrites it in place so that every guarded
// operation checks its operands first.
func bound(q *gojq.Query) error {
	if err := refuseInternal(q); err != nil {
		return err
	}
	pre, err := gojq.Parse(prelude)
	if err != nil {
		return fmt.Errorf("body template prelude: %v", err) // a bug, caught by the tests
	}
	q.FuncDefs = append(pre.FuncDefs, q.FuncDefs...)
	walk(reflect.ValueOf(q), rewrite)
	return nil
}

// refuseInternal refuses definitions and calls of names that begin with
// "_": gojq resolves a call to its internal functions (_add, _multiply,
// _modify …) before anything else, so a template could reach an operation
// without its guard, or shadow a guard. It also refuses an assignment
// written inside the left side of another: the rewrite copies a left side
// once, so nesting them would double the program at every level.
func refuseInternal(q *gojq.Query) error {
	var err error
	walk(reflect.ValueOf(q), func(n any) {
		switch n := n.(type) {
		case *gojq.Query:
			if isAssignment(n.Op) && err == nil {
				walk(reflect.ValueOf(n.Left), func(m any) {
					if m, ok := m.(*gojq.Query); ok && isAssignment(m.Op) && err == nil {
						err = fmt.Errorf("body template: an assignment inside the left side of %s is not supported", n.Op)
					}
				})
			}
		case *gojq.FuncDef:
			if strings.HasPrefix(n.Name, "_") && err == nil {
				err = fmt.Errorf("body template: function names beginning with _ are reserved (%s)", n.Name)
			}
		case *gojq.Func:
			if strings.HasPrefix(n.Name, "_") && err == nil {
				err = fmt.Errorf("body template: function %s/%d is not available", n.Name, len(n.Args))
			}
		}
	})
	return err
}

func isAssignment(op gojq.Operator) bool {
	switch op {
	case gojq.OpAssign, gojq.OpModify, gojq.OpUpdateAdd, gojq.OpUpdateSub, gojq.OpUpdateMul,
		gojq.OpUpdateDiv, gojq.OpUpdateMod, gojq.OpUpdateAlt:
		return true
	}
	return false
}

// walk visits every node reachable from v after its children (post-order),
// so a node is rewritten once, over children already rewritten. Being
// reflective it reaches every field of every node type gojq has.
func walk(v reflect.Value, visit func(any)) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		walk(v.Elem(), visit)
		visit(v.Interface())
	case reflect.Struct:
		for i := range v.NumField() {
			walk(v.Field(i), visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walk(v.Index(i), visit)
		}
	}
}

// clone deep-copies an AST node: gojq's compiler edits the AST it compiles,
// so a subtree compiled twice must be two copies.
func clone[T any](x T) T {
	return cloneValue(reflect.ValueOf(x)).Interface().(T)
}

func cloneValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(cloneValue(v.Elem()))
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			c.Field(i).Set(cloneValue(v.Field(i)))
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			c.Index(i).Set(cloneValue(v.Index(i)))
		}
		return c
	default:
		return v
	}
}

// rewrite replaces one node, in place, by its guarded form.
func rewrite(n any) {
	switch n := n.(type) {
	case *gojq.Query:
		rewriteQuery(n)
	case *gojq.Term:
		rewriteTerm(n)
	}
}

func rewriteQuery(q *gojq.Query) {
	switch q.Op {
	case gojq.OpAdd, gojq.OpSub, gojq.OpMul, gojq.OpDiv:
		g := guardedBinop(q.Op, q.Left, q.Right)
		g.FuncDefs, g.Imports, g.Meta = q.FuncDefs, q.Imports, q.Meta
		*q = *g
	case gojq.OpUpdateAdd, gojq.OpUpdateSub, gojq.OpUpdateMul, gojq.OpUpdateDiv, gojq.OpUpdateMod, gojq.OpUpdateAlt:
		// l op= r is r as $x | l |= . op $x, as gojq compiles it, with
		// the operation guarded.
		op := map[gojq.Operator]gojq.Operator{
			gojq.OpUpdateAdd: gojq.OpAdd, gojq.OpUpdateSub: gojq.OpSub, gojq.OpUpdateMul: gojq.OpMul,
			gojq.OpUpdateDiv: gojq.OpDiv, gojq.OpUpdateMod: gojq.OpMod, gojq.OpUpdateAlt: gojq.OpAlt,
		}[q.Op]
		update := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeIdentity}}
		update = &gojq.Query{Left: update, Op: op, Right: variable("$__herald_x")}
		rewriteQuery(update) // no-op for //
		modify := &gojq.Query{Left: q.Left, Op: gojq.OpModify, Right: update}
		*q = gojq.Query{FuncDefs: q.FuncDefs, Imports: q.Imports, Meta: q.Meta, Left: q.Right, Op: gojq.OpPipe,
			Patterns: []*gojq.Pattern{{Name: "$__herald_x"}}, Right: pathChecked(modify)}
	case gojq.OpAssign, gojq.OpModify:
		g := pathChecked(&gojq.Query{Left: q.Left, Op: q.Op, Right: q.Right})
		g.FuncDefs, g.Imports, g.Meta = q.FuncDefs, q.Imports, q.Meta
		*q = *g
	}
}

// guardedBinop is guard(l; r) as [$l, $r] | $l op $r: the operands are
// evaluated as the operator would (a guard compiles as gojq's internal
// operator functions do), checked, then combined.
func guardedBinop(op gojq.Operator, l, r *gojq.Query) *gojq.Query {
	return &gojq.Query{
		Left: call(guardPrefix+binops[op], l, r),
		Op:   gojq.OpPipe,
		Patterns: []*gojq.Pattern{{Array: []*gojq.Pattern{
			{Name: "$__herald_l"}, {Name: "$__herald_r"},
		}}},
		Right: &gojq.Query{Left: variable("$__herald_l"), Op: op, Right: variable("$__herald_r")},
	}
}

// pathChecked precedes an assignment with a check of every path it will
// set: (reduce path(L) as $p (null; guard($p))) as $_ | assignment.
func pathChecked(assign *gojq.Query) *gojq.Query {
	check := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeReduce, Reduce: &gojq.Reduce{
		Query:    call("path", clone(assign.Left)),
		Patterns: []*gojq.Pattern{{Name: "$__herald_p"}},
		Start:    &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeNull}},
		Update:   call(guardPrefix+"path", variable("$__herald_p")),
	}}}
	return &gojq.Query{Left: check, Op: gojq.OpPipe,
		Patterns: []*gojq.Pattern{{Name: "$__herald_ok"}}, Right: assign}
}

func rewriteTerm(t *gojq.Term) {
	var q *gojq.Query
	switch {
	case t.Type == gojq.TermTypeFunc:
		q = guardedCall(t.Func)
	case t.Type == gojq.TermTypeFormat && t.Str == nil:
		// @base64 and the like serialize their input.
		q = pipe(call(guardPrefix+"serialize"), &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFormat, Format: t.Format}})
	case (t.Type == gojq.TermTypeString || t.Type == gojq.TermTypeFormat) && t.Str != nil && t.Str.Queries != nil:
		q = interpolation(t.Format, t.Str)
	}
	if q != nil {
		*t = gojq.Term{Type: gojq.TermTypeQuery, Query: q, SuffixList: t.SuffixList}
	}
}

// guardedCall returns the guarded form of a call to a guarded function, or
// nil for the others.
func guardedCall(f *gojq.Func) *gojq.Query {
	g, ok := funcGuards[fmt.Sprintf("%s/%d", f.Name, len(f.Args))]
	if !ok {
		return nil
	}
	orig := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: f}}
	if g.input || g.arity == 0 {
		return pipe(call(guardPrefix+f.Name+"_in"), orig)
	}
	// guard(a; b) as [$a, $b] | f($a; $b)
	pats := make([]*gojq.Pattern, len(f.Args))
	vars := make([]*gojq.Query, len(f.Args))
	for i := range f.Args {
		name := fmt.Sprintf("$__herald_a%d", i)
		pats[i] = &gojq.Pattern{Name: name}
		vars[i] = variable(name)
	}
	return &gojq.Query{
		Left:     call(guardPrefix+f.Name, f.Args...),
		Op:       gojq.OpPipe,
		Patterns: []*gojq.Pattern{{Array: pats}},
		Right:    call(f.Name, vars...),
	}
}

// interpolation builds "a\(x)b" as gojq does, "a" + (x | tostring) + "b",
// with the additions and the serialization guarded.
func interpolation(format string, s *gojq.String) *gojq.Query {
	var out *gojq.Query
	for _, e := range s.Queries {
		if e.Term == nil || e.Term.Str == nil {
			var f *gojq.Query
			if format == "" || format == "@text" {
				f = call("tostring")
			} else {
				f = &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFormat, Format: format}}
			}
			e = pipe(e, pipe(call(guardPrefix+"serialize"), f))
		}
		if out == nil {
			out = e
		} else {
			out = guardedBinop(gojq.OpAdd, out, e)
		}
	}
	return out
}

func call(name string, args ...*gojq.Query) *gojq.Query {
	return &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: args}}}
}

func variable(name string) *gojq.Query { return call(name) }

func pipe(l, r *gojq.Query) *gojq.Query {
	return &gojq.Query{Left: l, Op: gojq.OpPipe, Right: r}
}

// The checks. Each estimates the size of what the operation would build
// from its operands, cheaply, and refuses past the bound.

var opChecks = map[gojq.Operator]func(l, r any) error{
	gojq.OpAdd: func(l, r any) error {
		switch l := l.(type) {
		case string:
			if r, ok := r.(string); ok && len(l)+len(r) > MaxValue {
				return tooLarge("string of %d bytes (at most %d)", len(l)+len(r), MaxValue)
			}
		case []any:
			if r, ok := r.([]any); ok && (len(l)+len(r))*elemBytes > MaxValue {
				return tooLarge("array of %d elements (at most %d)", len(l)+len(r), MaxValue/elemBytes)
			}
		case map[string]any:
			if r, ok := r.(map[string]any); ok && (len(l)+len(r))*elemBytes > MaxValue {
				return tooLarge("object of %d keys (at most %d)", len(l)+len(r), MaxValue/elemBytes)
			}
		}
		return checkBits(l, r, func(a, b int) int { return max(a, b) + 1 })
	},
	gojq.OpSub: func(l, r any) error {
		if l, ok := l.([]any); ok {
			if r, ok := r.([]any); ok && len(l)*len(r) > maxCompared {
				return tooLarge("array subtraction of %d by %d elements (at most %d comparisons)", len(l), len(r), maxCompared)
			}
		}
		return checkBits(l, r, func(a, b int) int { return max(a, b) + 1 })
	},
	gojq.OpMul: func(l, r any) error {
		if s, ok := l.(string); ok {
			return checkRepeat(s, r)
		}
		if s, ok := r.(string); ok {
			return checkRepeat(s, l)
		}
		if _, ok := l.(map[string]any); ok {
			// Deep merge copies every object on the way, shared or not.
			if err := checkSerialize(l, nil); err != nil {
				return err
			}
			return checkSerialize(r, nil)
		}
		return checkBits(l, r, func(a, b int) int { return a + b })
	},
	gojq.OpDiv: func(l, r any) error {
		if l, ok := l.(string); ok {
			if r, ok := r.(string); ok {
				return checkSplit(l, []any{r})
			}
		}
		return nil
	},
}

func checkRepeat(s string, n any) error {
	f, ok := gojq.ToFloat64(n)
	if !ok || math.IsNaN(f) || f <= 0 {
		return nil
	}
	if f*float64(len(s)) > MaxValue {
		return tooLarge("string of %.0f bytes (at most %d)", f*float64(len(s)), MaxValue)
	}
	return nil
}

// checkBits refuses integer arithmetic whose result could pass MaxBits;
// size gives the result's bit length from the operands'.
func checkBits(l, r any, size func(a, b int) int) error {
	a, aok := bitLen(l)
	b, bok := bitLen(r)
	if aok && bok && size(a, b) > MaxBits {
		return tooLarge("integer of %d bits (at most %d)", size(a, b), MaxBits)
	}
	return nil
}

func bitLen(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		if v < 0 {
			v = -v
		}
		return bits.Len64(uint64(v)), true
	case *big.Int:
		return v.BitLen(), true
	case interface{ String() string }: // json.Number
		if s := v.String(); !strings.ContainsAny(s, ".eE") {
			return int(float64(len(s)) * math.Log2(10)), true
		}
	}
	return 0, false
}

// checkSerialize refuses a value whose text would pass MaxValue in any
// format, escapes counted at their longest. Values may share parts (reduce range(30) as $_ ("x"; [., .]) is a few
// bytes in memory and a gigabyte as text), so the text is counted, with a
// cost bounded by MaxValue.
func checkSerialize(v any, _ []any) error {
	if textAtLeast(v, MaxValue+1, 6) {
		return tooLarge("value whose text has more than %d bytes", MaxValue)
	}
	return nil
}

func checkJoin(in any, args []any) error {
	a, ok := in.([]any)
	if !ok {
		return nil
	}
	sep, _ := args[0].(string)
	if len(a)*len(sep) > MaxValue || atLeast(in, MaxValue+1-len(a)*len(sep)) {
		return tooLarge("joined string of more than %d bytes", MaxValue)
	}
	return nil
}

func checkTranspose(in any, _ []any) error {
	rows, ok := in.([]any)
	if !ok {
		return nil
	}
	width := 0
	for _, r := range rows {
		if r, ok := r.([]any); ok {
			width = max(width, len(r))
		}
	}
	if len(rows)*width*elemBytes > MaxValue {
		return tooLarge("transposed array of %d by %d elements", width, len(rows))
	}
	return nil
}

func checkExplode(in any, _ []any) error {
	if s, ok := in.(string); ok && utf8.RuneCountInString(s)*elemBytes > MaxValue {
		return tooLarge("array of %d code points (at most %d)", utf8.RuneCountInString(s), MaxValue/elemBytes)
	}
	return nil
}

func checkToNumber(in any, _ []any) error {
	if s, ok := in.(string); ok && len(s) > maxDigits {
		return tooLarge("tonumber of a string of %d bytes (at most %d)", len(s), maxDigits)
	}
	return nil
}

func checkSplit(in any, args []any) error {
	s, ok := in.(string)
	sep, ok2 := args[0].(string)
	if !ok || !ok2 {
		return nil
	}
	n := len(s) + 1
	if sep != "" {
		n = strings.Count(s, sep) + 1
	}
	if n*elemBytes > MaxValue {
		return tooLarge("split into %d strings (at most %d)", n, MaxValue/elemBytes)
	}
	return nil
}

func checkIndices(in any, args []any) error {
	switch s := in.(type) {
	case string:
		sub, _ := args[0].(string)
		n := len(s) + 1
		if sub != "" {
			n = strings.Count(s, sub)
		}
		if n*elemBytes > MaxValue {
			return tooLarge("%d indices (at most %d)", n, MaxValue/elemBytes)
		}
	case []any:
		if len(s)*elemBytes > MaxValue {
			return tooLarge("indices in an array of %d elements (at most %d)", len(s), MaxValue/elemBytes)
		}
	}
	return nil
}

func checkSetpath(_ any, args []any) error { return checkPath(args[0]) }

// checkPath refuses a path whose array indices (or slice bounds) would
// grow an array past MaxIndex elements.
func checkPath(p any) error {
	path, ok := p.([]any)
	if !ok {
		return nil
	}
	for _, k := range path {
		if m, ok := k.(map[string]any); ok {
			if err := checkIndex(m["start"]); err != nil {
				return err
			}
			k = m["end"]
		}
		if err := checkIndex(k); err != nil {
			return err
		}
	}
	return nil
}

func checkIndex(k any) error {
	if f, ok := gojq.ToFloat64(k); ok && f > MaxIndex {
		return tooLarge("array index %.0f (at most %d)", f, MaxIndex)
	}
	return nil
}

func checkTimeFormat(_ any, args []any) error {
	if f, ok := args[0].(string); ok && len(f)*32 > MaxValue {
		return tooLarge("time format of %d bytes", len(f))
	}
	return nil
}

func checkRegexInput(in any, _ []any) error {
	if s, ok := in.(string); ok && len(s) > MaxRegexInput {
		return tooLarge("regular expression over a string of %d bytes (at most %d)", len(s), MaxRegexInput)
	}
	return nil
}

// watchInterval is how often a running render's allocations are read.
const watchInterval = time.Millisecond

// watch calls cancel once the process has allocated AllocBudget bytes
// since the render's first watchInterval, and reports through exceeded
// whether it did (what the first interval allocates is bounded by time
// and by MaxValue per operation). The count
// is the runtime's, for the whole process: what runs beside a render counts
// against it too, which over a render's usual sub-millisecond life is
// little, and makes concurrent runaway renders stop sooner, not later.
// stop ends the watch.
func watch(cancel context.CancelFunc) (stop func(), exceeded func() bool) {
	var (
		mu      sync.Mutex
		stopped bool
		over    bool
		timer   *time.Timer
	)
	// The count starts at the first check, not at once: most renders end
	// within watchInterval and so never read it.
	var start uint64
	var check func()
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if start == 0 {
			start = allocated()
		} else if allocated()-start > AllocBudget {
			over = true
			cancel()
			return
		}
		timer = time.AfterFunc(watchInterval, check)
	}
	mu.Lock()
	timer = time.AfterFunc(watchInterval, check)
	mu.Unlock()
	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
	exceeded = func() bool {
		mu.Lock()
		defer mu.Unlock()
		return over
	}
	return stop, exceeded
}

// allocated returns the bytes the process has allocated on the heap since
// it started.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
