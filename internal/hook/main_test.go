package hook_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/herald-dev/herald/webhook"
)

// hookServerEnv, set in the environment of this test binary, makes it a
// hook server instead of running tests: see startHookProcess.
const hookServerEnv = "HERALD_TEST_HOOK_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(hookServerEnv) == "1" {
		serveHooks()
		return
	}
	os.Exit(m.Run())
}

// serveHooks answers every request with an allow, on a loopback port it
// prints on its first line of output, until its standard input closes.
func serveHooks() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("http://" + ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	_ = http.Serve(ln, allowAll)
}

// allowAll is a hook that reads the call and allows it.
var allowAll = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	webhook.Allow(w)
})

// startHookProcess runs a hook server that allows everything in a process
// of its own — as a real hook runs — and returns its URL. Its allocations
// and goroutines are then not the benchmark's: only the cores are shared.
func startHookProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), hookServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("hook process: %v", err)
	}
	return strings.TrimSpace(line)
}
