package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildInfoIsExported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := string(b.do("GET", "/metrics", "", nil).requireStatus(t, http.StatusOK).Body)
	assert.Contains(t, body, "herald_build_info{")
	assert.Contains(t, body, `version="`+herald.Version+`"`)
}

// Two servers may share a registry's herald_build_info.
func TestBuildInfoOnASharedRegistryIsNoError(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(buildInfo()))
	_, err := newHTTPMetrics(reg)
	require.NoError(t, err)
}

// BenchmarkRequestID is what the request id adds to every request.
func BenchmarkRequestID(b *testing.B) {
	w := httptest.NewRecorder()
	for _, c := range []struct{ name, id string }{{"generated", ""}, {"echoed", "4f1c2e9a-6a7b-4c1d-9e2f-0a1b2c3d4e5f"}} {
		r := httptest.NewRequest("GET", "/v1/projects", nil)
		if c.id != "" {
			r.Header.Set(RequestIDHeader, c.id)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = withRequestID(w, r)
			}
		})
	}
}
