package postgres

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// MigrateTo applies the embedded migrations to the database at url up to
// version, as an older Herald left it, for migration tests.
func MigrateTo(ctx context.Context, url string, version int64) error {
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDB(*cc)
	defer sqlDB.Close()
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, dir, goose.WithTableName("herald_schema_version"))
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
