package ui

import (
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/netguard"
)

// TEMPORARY (development only, while api does not compile): replaced by
// `var prepareEndpoint = api.PrepareEndpoint`.
func prepareEndpoint(ep *herald.Endpoint, g *netguard.Guard) error {
	ep.SetDefaults()
	var v herald.Validation
	if err := ep.Validate(); err != nil {
		v.Fields = append(v.Fields, err.(*herald.Error).Fields...)
	}
	if err := g.CheckURL(ep.URL); err != nil && ep.URL != "" {
		v.Add("body.url", nil, "%s", strings.TrimPrefix(err.Error(), "url: "))
	}
	return v.Err()
}
