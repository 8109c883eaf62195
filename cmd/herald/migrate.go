package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// runMigrate implements `herald migrate`: it applies the database
// migrations (opening the store does) and exits.
func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("herald migrate", flag.ContinueOnError)
	dsn := databaseFlag(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: herald migrate [--database DSN]\n\nApply the database migrations and exit; serve applies them too.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", fs.Arg(0))
	}
	database := dsn()
	st, err := openStore(ctx, database)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is migrated\n", redactDSN(database))
	return st.Close()
}

// databaseFlag declares --database for the commands that work on the
// database without serving it; the returned func gives the value in
// force after parsing: the flag, else HERALD_DATABASE, else the default.
// The default is not read from the environment before parsing, so that
// -h never prints a database password.
func databaseFlag(fs *flag.FlagSet) func() string {
	v := fs.String("database", "", "sqlite:PATH or postgres://… (HERALD_DATABASE; default "+DatabaseDefault+")")
	return func() string {
		if *v != "" {
			return *v
		}
		if env := lookupEnv("HERALD_DATABASE"); env != "" {
			return env
		}
		return DatabaseDefault
	}
}
