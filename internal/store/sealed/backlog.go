package sealed

import (
	"context"

	"github.com/herald-dev/herald/internal/store"
)

// WorstBacklogs passes store.BacklogReader through: backlogs hold nothing
// sealed. A wrapped store without it reports no backlog.
func (s *sealedStore) WorstBacklogs(ctx context.Context, limit int) ([]store.EndpointBacklog, error) {
	br, ok := s.Store.(store.BacklogReader)
	if !ok {
		return nil, nil
	}
	return br.WorstBacklogs(ctx, limit)
}
