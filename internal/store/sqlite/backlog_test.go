package sqlite

import (
	"testing"

	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/storetest"
)

func TestBacklogConformance(t *testing.T) {
	storetest.RunBacklog(t, func(t *testing.T) store.Store { return openTemp(t, Options{}) })
}
