// Package peakrss measures the peak resident memory of a piece of work in
// a child process, for tests that bound memory: the test binary re-runs
// the calling test alone, under an address-space cap so that a regression
// fails the test instead of exhausting the machine, and reports the
// child's high-water mark of resident memory (VmHWM). Linux only.
package peakrss

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// envChild names the test a child process runs fn for.
const envChild = "HERALD_PEAKRSS_CHILD"

// Cap is the child's address-space limit. The Go runtime reserves some
// address space beyond what it touches, so this is well above the RSS a
// test expects; a runaway allocation hits it and the child dies.
const Cap = 3 << 30

const marker = "peakrss-bytes="

// Measure runs fn in a child process and returns the child's peak RSS in
// bytes. It fails t if the child fails (for instance out of memory under
// Cap), quoting its output. In the child, Measure runs fn, reports, and
// ends the test there: code after Measure runs only in the parent.
func Measure(t *testing.T, fn func()) int64 {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS is read from /proc")
	}
	if child := os.Getenv(envChild); child != "" && child != t.Name() {
		// A child runs only its own test, never spawns another.
		t.Skip("child process of another test")
	}
	if os.Getenv(envChild) == t.Name() {
		lim := syscall.Rlimit{Cur: Cap, Max: Cap}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
		fn()
		hwm, err := highWater()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("\n%s%d\n", marker, hwm)
		t.SkipNow()
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envChild+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process failed: %v\n%s", err, tail(out))
	}
	m := regexp.MustCompile(marker + `(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("child process reported no peak RSS:\n%s", tail(out))
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// highWater reads this process's peak RSS.
func highWater() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// tail keeps the end of a child's output, where a fatal error is.
func tail(b []byte) string {
	const n = 4000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// AtMost fails t if rss, as Measure returned it, passes limit bytes. Under
// the race detector, whose shadow memory multiplies RSS, it only logs.
func AtMost(t *testing.T, rss, limit int64) {
	t.Helper()
	t.Logf("peak RSS %d MiB", rss>>20)
	if rss > limit && !race {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, limit>>20)
	}
}
