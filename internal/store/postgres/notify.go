package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// channel is the LISTEN/NOTIFY channel that says deliveries are due.
const channel = "herald_work"

// Notify tells every process listening on the database (this one too) that
// deliveries are due. Inside PostgreSQL, notifications of one transaction
// are folded together and delivered on commit.
func (db *DB) Notify(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, "SELECT pg_notify($1, '')", channel)
	return dbErr(err, "notify")
}

// Wakeups listens on a connection of its own (a LISTEN must stay on one
// session, so it cannot share the pool) and sends on the returned channel
// each time a notification arrives, until ctx ends or the DB is closed.
// Notifications that arrive while the receiver is busy fold into one: the
// channel holds at most one wake-up. When the connection fails it
// reconnects with a growing pause and sends a wake-up once listening again,
// since work may have arrived unannounced in between. The channel is never
// closed.
func (db *DB) Wakeups(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	wake := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	select {
	case <-db.closed:
		return ch
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	db.listeners.Add(2)
	go func() {
		defer db.listeners.Done()
		select {
		case <-ctx.Done():
		case <-db.closed:
			cancel()
		}
	}()
	go func() {
		defer db.listeners.Done()
		defer cancel()
		pause := 100 * time.Millisecond
		for first := true; ctx.Err() == nil; first = false {
			if !first {
				select {
				case <-ctx.Done():
					return
				case <-time.After(pause):
				}
				pause = min(2*pause, 5*time.Second)
			}
			err := db.listen(ctx, channel, func() {
				pause = 100 * time.Millisecond
				if !first {
					wake()
				}
			}, wake)
			_ = err // a broken connection is retried; ctx's end stops the loop
		}
	}()
	return ch
}

// listen runs one LISTEN session on ch until it fails or ctx ends: ready is
// called once listening, wake on every notification.
func (db *DB) listen(ctx context.Context, ch string, ready, wake func()) error {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
		return err
	}
	ready()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
