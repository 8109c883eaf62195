package client

import (
	"context"
	"net/http"
	"time"
)

// Process is one Herald process alive on the database, as GET /v1/cluster
// lists it.
type Process struct {
	ID          string    `json:"id"`
	Address     string    `json:"address"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"last_heartbeat_at"`
	// InFlight is how many deliveries it had claimed at its last heartbeat.
	InFlight int `json:"in_flight"`
	// HeartbeatAgeMS is how long ago it was last heard from, by the
	// answering process's clock.
	HeartbeatAgeMS int64 `json:"heartbeat_age_ms"`
}

// Cluster lists the processes alive on the server's database, oldest
// first (admin key). A single SQLite process lists itself.
func (c *Client) Cluster(ctx context.Context, reqOpts ...RequestOption) (*Page[Process], error) {
	var out Page[Process]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "cluster"), out: &out, opts: reqOpts})
	return result(&out, err)
}
