package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/store"
)

// Where the admin key in force comes from, as `serve` logs it.
const (
	adminKeyFromEnvironment = "environment"          // HERALD_ADMIN_KEY
	adminKeyFromDatabase    = "database"             // stored: generated on an earlier start, or by `herald admin-key`
	adminKeyGenerated       = "generated_and_stored" // generated on this start, printed once
)

// runAdminKey implements `herald admin-key`: it replaces the admin key
// stored in the database with a new one and prints it, once. It is how an
// operator recovers a lost generated key: the old one stops working when
// the servers restart.
func runAdminKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald admin-key", flag.ContinueOnError)
	dsn := databaseFlag(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: herald admin-key [--database DSN]

Replace the admin key stored in the database with a new one and print it,
once. Restart every herald serve on the database for it to take effect; the
old key stops working then. While HERALD_ADMIN_KEY is set, servers use that
key instead of the stored one.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("admin-key: unexpected argument %q", fs.Arg(0))
	}
	database := dsn()
	st, err := openStore(ctx, database)
	if err != nil {
		return err
	}
	defer st.Close()
	key := herald.NewKey(herald.AdminKeyPrefix)
	if err := st.SetSetting(ctx, herald.SettingAdminKeyHash, herald.HashKey(key)); err != nil {
		return fmt.Errorf("admin-key: %w", err)
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "The admin key stored in %s is replaced by the key above (shown once, keep it safe).\nRestart every herald serve on this database for it to take effect.\n", redactDSN(database))
	if lookupEnv("HERALD_ADMIN_KEY") != "" {
		fmt.Fprintln(stderr, "HERALD_ADMIN_KEY is set here: a server started with it uses that key, not the stored one.")
	}
	return nil
}

// resolveAdminKey returns the hash of the admin key in force and says
// where the key comes from: HERALD_ADMIN_KEY when set, else the key stored
// in the database, else a new one, stored, and printed once on out.
func resolveAdminKey(ctx context.Context, st store.Store, configured string, logger *slog.Logger, out banner) (string, error) {
	stored, err := st.GetSetting(ctx, herald.SettingAdminKeyHash)
	if err != nil && !herald.IsNotFound(err) {
		return "", fmt.Errorf("admin key: %w", err)
	}
	hash, generated, err := api.EnsureAdminKey(ctx, st, configured)
	if err != nil {
		return "", fmt.Errorf("admin key: %w", err)
	}
	switch {
	case configured != "" && stored != "" && stored != hash:
		logger.Warn("admin key from HERALD_ADMIN_KEY; the key stored in the database is not accepted while it is set",
			"source", adminKeyFromEnvironment)
	case configured != "":
		logger.Info("admin key from HERALD_ADMIN_KEY", "source", adminKeyFromEnvironment)
	case generated != "":
		logger.Info("admin key generated and stored in the database; printed once on stdout", "source", adminKeyGenerated)
		out.print(fmt.Sprintf("\n  Admin key (shown once, keep it safe): %s\n\n", generated),
			"admin key generated (shown once, keep it safe)", "admin_key", generated)
	case hash != "":
		logger.Info("admin key stored in the database (generated on first start or by herald admin-key)", "source", adminKeyFromDatabase)
	default:
		return "", errors.New("admin key: none in force")
	}
	return hash, nil
}

// banner is what `serve` prints on stdout for a person: plain lines, or
// with --log-format json, JSON lines like the log's.
type banner struct {
	w    io.Writer
	json bool
}

// print writes text, or in JSON msg with attrs.
func (b banner) print(text, msg string, attrs ...any) {
	if b.json {
		slog.New(slog.NewJSONHandler(b.w, nil)).Info(msg, attrs...)
		return
	}
	fmt.Fprint(b.w, text)
}
