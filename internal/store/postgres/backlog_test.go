package postgres_test

import (
	"testing"

	"github.com/herald-dev/herald/internal/store/storetest"
)

func TestBacklogConformance(t *testing.T) {
	storetest.RunBacklog(t, schemaStores(t))
}
