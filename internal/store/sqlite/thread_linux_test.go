package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriterKeepsItsThread: every write transaction runs on the writer's
// own OS thread (see DB.writer), whichever goroutines queue them and
// however the runtime schedules those. Unlocked, the writer runs on the
// thread of whoever woke it, and the transactions below see several.
func TestWriterKeepsItsThread(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{})
	ctx := context.Background()
	var mu sync.Mutex
	threads := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					mu.Lock()
					threads[syscall.Gettid()]++
					mu.Unlock()
					return nil
				})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Len(t, threads, 1, "write transactions ran on threads %v (thread id: transactions)", threads)
}
