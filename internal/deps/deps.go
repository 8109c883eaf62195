// Package deps pins the project's dependencies while packages are being
// written in parallel. Removed once every dependency is imported for real.
package deps

import (
	_ "cel.dev/cel-go/cel"
	_ "code.dny.dev/ssrf"
	_ "github.com/chromedp/chromedp"
	_ "github.com/itchyny/gojq"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/oklog/ulid/v2"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/standard-webhooks/standard-webhooks/libraries/go"
	_ "github.com/stretchr/testify/require"
	_ "github.com/svix/svix-webhooks/go"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
