package ui

import "github.com/herald-dev/herald/api"

// prepareEndpoint fills an endpoint's defaults and validates it with the
// API's rules (URL guard, CEL filter, jq template, secret and all), so that
// the dashboard and the API accept exactly the same endpoints.
var prepareEndpoint = api.PrepareEndpoint
