package delivery

import (
	"context"

	"github.com/herald-dev/herald"
)

// ProjectEndpoints returns the project's endpoints from the engine's route
// cache (refreshed after EndpointsChanged, or within routeTTL when another
// process changed them), so that a hook run does not read the store each
// time. The endpoints are shared with the dispatcher: do not modify them.
func (e *Engine) ProjectEndpoints(ctx context.Context, projectID string) ([]*herald.Endpoint, error) {
	return e.projectEndpoints(ctx, projectID)
}
