package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// These tests run the real binary: what a user sees, exit status included.

// runBinary runs herald with args and only the environment env.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(heraldBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("herald %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// everyHelp is -h of every command and subcommand.
func everyHelp() [][]string {
	all := [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"migrate", "-h"}, {"admin-key", "-h"},
		{"listen", "-h"}, {"bench", "-h"}}
	groups := make([]string, 0, len(cliGroups))
	for g := range cliGroups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		all = append(all, []string{g, "-h"})
		for v := range cliGroups[g] {
			if v == "" {
				continue // a command of its own: g -h above
			}
			all = append(all, []string{g, v, "-h"})
		}
	}
	return all
}

// Secrets in the environment, as an operator's shell may hold them.
var secretEnv = []string{
	"HERALD_KEY=hk_secret_project_key",
	"HERALD_ADMIN_KEY=hk_admin_secret_admin_key",
	"HERALD_ENCRYPTION_KEY=secret_encryption_key",
	"HERALD_DATABASE=postgres://herald:secret_db_password@127.0.0.1:1/herald",
}

func TestHelpGoesToStdoutWithExitZero(t *testing.T) {
	t.Parallel()
	for _, args := range everyHelp() {
		stdout, stderr, code := runBinary(t, nil, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage") {
			t.Errorf("herald %s: exit %d, stderr %q, stdout %q; want the usage on stdout and exit 0",
				strings.Join(args, " "), code, stderr, stdout)
		}
	}
}

func TestHelpNeverPrintsAKey(t *testing.T) {
	t.Parallel()
	for _, args := range everyHelp() {
		stdout, stderr, _ := runBinary(t, secretEnv, args...)
		if strings.Contains(stdout+stderr, "secret_") {
			t.Errorf("herald %s printed a secret of the environment:\n%s%s", strings.Join(args, " "), stdout, stderr)
		}
	}
}

func TestVersionFlagPrintsTheVersion(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--version", "version"} {
		stdout, stderr, code := runBinary(t, nil, arg)
		if code != 0 || stderr != "" || stdout != versionString()+"\n" {
			t.Errorf("herald %s: exit %d, stdout %q, stderr %q; want %q", arg, code, stdout, stderr, versionString())
		}
	}
}

func TestMigrateHelpListsOnlyItsOwnFlags(t *testing.T) {
	t.Parallel()
	stdout, _, _ := runBinary(t, nil, "migrate", "-h")
	if !strings.Contains(stdout, "-database") {
		t.Errorf("migrate -h lacks --database:\n%s", stdout)
	}
	for _, other := range []string{"-addr", "-workers", "-lease", "-log-format", "-retention", "-pprof"} {
		if strings.Contains(stdout, other) {
			t.Errorf("migrate -h lists serve's %s:\n%s", other, stdout)
		}
	}
}

func TestServeHelpListsTheEnvironmentOnlySettings(t *testing.T) {
	t.Parallel()
	stdout, _, _ := runBinary(t, []string{"HERALD_ADMIN_KEY=hk_admin_secret_admin_key"}, "serve", "-h")
	for _, s := range envOnlySettings {
		if !strings.Contains(stdout, s.name) {
			t.Errorf("serve -h does not name %s:\n%s", s.name, stdout)
		}
	}
	if !strings.Contains(stdout, "HERALD_ADMIN_KEY (set)") || !strings.Contains(stdout, "HERALD_ENCRYPTION_KEY (not set)") {
		t.Errorf("serve -h does not say which are set:\n%s", stdout)
	}
}

func TestIncompleteCommandLinePrintsUsageOnStderrWithExitTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"endpoints"}} {
		stdout, stderr, code := runBinary(t, nil, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "Usage") {
			t.Errorf("herald %s: exit %d, stdout %q, stderr %q; want the usage on stderr and exit 2",
				strings.Join(args, " "), code, stdout, stderr)
		}
	}
	_, stderr, code := runBinary(t, nil, "endpoints", "list", "--nope")
	if code != 1 || !strings.Contains(stderr, "flag provided but not defined: -nope") || strings.Contains(stderr, "Usage") {
		t.Errorf("an unknown flag: exit %d, stderr %q; want the error alone and exit 1", code, stderr)
	}
}
