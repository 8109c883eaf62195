package sqlite

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fullScan is a plan line that reads deliveries, events or attempts (or
// the aliases the queries give deliveries) row by row, or builds an
// automatic index on the fly: the work of the whole table.
var fullScan = regexp.MustCompile(`^SCAN (deliveries|events|attempts|d|x|y)$|AUTOMATIC`)

// TestQueryPlansUseIndexes: the claim, the writer's statements and the
// queue's reads find their rows through an index, never by scanning the
// big tables (a partial index is taken only when the query implies its
// condition, and a schema change can turn a join order around). The
// database has no ANALYZE statistics, so an empty one shows the plans.
func TestQueryPlansUseIndexes(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{})
	queries := map[string]string{
		"claim": claimSQL, "claimWindow": claimWindowSQL, "claimExpired": claimExpiredSQL, "otherPending": otherPendingSQL,
		"lease": leaseSQL, "cancelDead": cancelDeadSQL, "claimEvents": claimEventsSQL, "release": releaseSQL,
		"complete":       completeHead + `(?,?,?,?,?,?,?,?)` + completeTail,
		"queueStats":     queueStatsSQL,
		"cancelEndpoint": cancelEndpointSQL,
	}
	// Those without INDEXED BY: the index they must take.
	want := map[string]string{"cancelEndpoint": "SEARCH deliveries USING INDEX deliveries_endpoint (endpoint_id=? AND status=?)"}
	for name, q := range queries {
		rows, err := db.w.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, make([]any, params(q))...)
		require.NoError(t, err, name)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			if fullScan.MatchString(detail) {
				t.Errorf("%s: %s", name, detail)
			}
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Close())
		if w := want[name]; w != "" {
			require.Contains(t, plan, w, name)
		}
	}
}

// params is how many parameters q takes: its highest ?N, and after it one
// for each bare ? (as the bulk statements number theirs, see prepareBulk).
func params(q string) int {
	numbered := regexp.MustCompile(`\?(\d+)`).FindAllStringSubmatch(q, -1)
	n := 0
	for _, m := range numbered {
		k, _ := strconv.Atoi(m[1])
		n = max(n, k)
	}
	return n + strings.Count(q, "?") - len(numbered)
}
