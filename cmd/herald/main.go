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

Usage:
  herald serve      run the server (API, dispatcher, dashboard)
  herald migrate    apply database migrations and exit
  herald listen     a local webhook receiver for development
  herald bench      a built-in load test
  herald projects|endpoints|events|deliveries …
                    a client of the API (HERALD_URL, HERALD_KEY)
  herald version    print the version

Run "herald <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout)
	case "listen":
		return runListen(ctx, rest, stdout)
	case "bench":
		return runBench(ctx, rest, stdout)
	case "projects", "endpoints", "events", "deliveries":
		return runCLI(ctx, cmd, rest, stdout)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
