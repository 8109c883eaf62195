package api

import (
	"net/http"

	"github.com/herald-dev/herald/internal/store"
)

// processView is one live process in GET /v1/cluster.
type processView struct {
	*store.Process
	// HeartbeatAgeMS is how long ago the process was last heard from, as
	// this process's clock sees it.
	HeartbeatAgeMS int64 `json:"heartbeat_age_ms"`
}

// cluster lists the processes alive on the database: those that have
// heartbeat within the engine's DeadAfter, oldest first.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request, _ *call) error {
	ps, err := s.svc.Processes(r.Context())
	if err != nil {
		return err
	}
	now := s.now()
	views := make([]processView, len(ps))
	for i, p := range ps {
		views[i] = processView{Process: p, HeartbeatAgeMS: max(now.Sub(p.HeartbeatAt), 0).Milliseconds()}
	}
	writeJSON(w, http.StatusOK, newList(views, ""))
	return nil
}
