// Command herald is Herald's one binary: the server, the local receiver,
// the load test, and a client of the API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `herald — webhooks, delivered.

Usage: herald <command> [flags]

Server:
  serve        run the server (API, dispatcher, dashboard)
  migrate      apply database migrations and exit
  admin-key    replace the admin key stored in the database and print it
  listen       a local webhook receiver for development
  bench        a built-in load test
  version      print the version (also --version)

Client of the API (HERALD_URL, HERALD_KEY, HERALD_PROJECT):
  projects     create, list, get, update, delete
  api-keys     create, list, revoke a project's API keys
  tenants      put, get, list, delete a project's tenants
  event-types  create, list, get, update, delete
  endpoints    create, list, get, update, delete, enable, disable,
               secret, rotate, test, recover, stats
  events       send, batch, list, get, replay
  deliveries   list, get, attempts, retry
  hooks        run a hook: herald hooks run <type> --data JSON
  portal-link  print a customer portal link: --project P --tenant T
  cluster      list the processes sharing the database (admin key)

Run "herald <command> -h" for a command's flags.
`

// errUsage is returned when the command line is incomplete and the usage
// was printed on stderr instead: exit status 2, no further message.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on w and returns the process's exit status: 0 for
// success and for help asked for (-h), 2 for an incomplete command line,
// 1 for any other error.
func exitCode(err error, w io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(w, "herald:", err)
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout)
	case "admin-key":
		return runAdminKey(ctx, rest, stdout, stderr)
	case "listen":
		return runListen(ctx, rest, stdout)
	case "bench":
		return runBench(ctx, rest, stdout)
	case "portal-link":
		return runPortalLink(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return flag.ErrHelp
	}
	if _, ok := cliGroups[cmd]; ok {
		return runCLI(ctx, cmd, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// parseFlags parses args with fs. Asked for help (-h), it prints fs's
// usage on stdout and returns flag.ErrHelp, which exits 0; any other
// error is returned for main to print on stderr, with a pointer to -h.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(io.Discard)
		return flag.ErrHelp
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see %s -h)", fs.Name(), err, fs.Name())
	}
	return nil
}
