package postgres

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// PostgreSQL keeps microseconds. Times written are truncated to them (pgx
// truncates the same way) and times read are in UTC, so a value reads back
// equal to what was written after tm.
func tm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func tmp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := tm(*t)
	return &v
}

// utc normalises times scanned from the database.
func utc(ts ...*time.Time) {
	for _, t := range ts {
		*t = t.UTC()
	}
}

func utcp(ts ...**time.Time) {
	for _, t := range ts {
		if *t != nil {
			v := (*t).UTC()
			*t = &v
		}
	}
}

// jsonText marshals v for a json/jsonb parameter. nil slices and maps are
// stored as JSON null so that they read back as nil, not empty.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// The values marshalled here are strings, lists and maps of
		// strings: they always marshal.
		panic(err)
	}
	return string(b)
}

// rawText is a raw JSON document as a nullable parameter.
func rawText(r json.RawMessage) *string {
	if r == nil {
		return nil
	}
	s := string(r)
	return &s
}

// unjson decodes a json/jsonb column into v; NULL and "null" leave v nil.
func unjson(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// raw copies a scanned json column (pgx reuses its buffers).
func raw(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(append([]byte(nil), b...))
}

// limit clamps a page size (herald.PageLimit).
func limit(p store.Page) int { return herald.PageLimit(p.Limit) }

// A cursor is the sort key of the last row of a page: its created_at in
// Unix microseconds and its id (or name), base64url-encoded.
func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + ":" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	bad := herald.Errorf(herald.EINVALID, "cursor %q is not valid", c)
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	us, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return time.Time{}, "", bad
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// query is a SQL statement built from optional conditions.
type query struct {
	where []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) and(cond string) { q.where = append(q.where, cond) }

func (q *query) whereSQL() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// page adds the keyset condition of cursor on (created_at, key) and returns
// the ORDER BY … LIMIT clause, one row more than the page to tell whether
// there is a next one.
func (q *query) page(p store.Page, keyCol string) (string, int, error) {
	n := limit(p)
	if p.Cursor != "" {
		t, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return "", 0, err
		}
		q.and("(created_at, " + keyCol + ") < (" + q.arg(t) + ", " + q.arg(id) + ")")
	}
	return " ORDER BY created_at DESC, " + keyCol + " DESC LIMIT " + strconv.Itoa(n+1), n, nil
}

// nextPage trims items to n and returns the cursor after them.
func nextPage[T any](items []T, n int, key func(T) (time.Time, string)) ([]T, string) {
	if len(items) <= n {
		return items, ""
	}
	items = items[:n]
	t, id := key(items[n-1])
	return items, encodeCursor(t, id)
}
