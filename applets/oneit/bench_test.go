package oneit_test

// Benchmarks side by side with Debian's toybox oneit and tini (make bench; the
// README has the figures). Each runs the implementation as PID 1 of a fresh
// PID namespace, as the tier-2 tests do.

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"toybox-go/internal/nstest"
	"toybox-go/internal/testbin"
)

// pid1s returns the argv prefix of each implementation, before the child.
func pid1s(b *testing.B, con string) map[string][]string {
	m := map[string][]string{"toybox-go": {testbin.Applet(b, "oneit"), "-c", con}}
	// make bench also passes the oneit_only build (make oneit).
	if p := os.Getenv("TOYBOX_GO_ONEIT_BIN"); p != "" {
		m["toybox-go-oneit-only"] = []string{p, "oneit", "-c", con}
	}
	if p, err := exec.LookPath("toybox"); err == nil {
		m["toybox"] = []string{p, "oneit", "-c", con}
	}
	if p, err := exec.LookPath("tini"); err == nil {
		m["tini"] = []string{p, "--"}
	}
	return m
}

func benchConsole(b *testing.B) string {
	p := b.TempDir() + "/console"
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkReap10000Orphans: the child makes 10,000 orphans that exit at once,
// then waits until /proc shows no more processes than before: the time is
// how fast PID 1 reaps them (plus their creation, the same for everyone).
func BenchmarkReap10000Orphans(b *testing.B) {
	testbin.RequireRoot(b)
	con := benchConsole(b)
	for name, argv := range pid1s(b, con) {
		b.Run(name, func(b *testing.B) {
			done := b.TempDir() + "/done"
			for i := 0; i < b.N; i++ {
				_ = os.Remove(done)
				script := `base=$(ls -d /proc/[0-9]* | wc -l)
					ONEIT_TEST_ROLE=orphans ONEIT_TEST_N=10000 ONEIT_TEST_DELAY_MS=0 ` + self(b) + ` >/dev/null
					while [ $(ls -d /proc/[0-9]* | wc -l) -gt $base ]; do :; done
					: > ` + done
				cmd := nstest.Command(b, append(append([]string{}, argv...), "sh", "-c", script)...)
				end, err := nstest.EndingOf(cmd.Run())
				if err != nil {
					b.Fatal(err)
				}
				// A PID 1 that did not start (a wrong path) must not pass for a fast one.
				if _, err := os.Stat(done); err != nil {
					b.Fatalf("%s ended (%+v) before its child finished: %v", argv[0], end, err)
				}
			}
		})
	}
}

// BenchmarkIdleRSS reports each PID 1's resident memory while its child
// sleeps: Rss from smaps_rollup (VmRSS under-reports on some kernels), and its
// anonymous part. The rest of Rss is clean pages of the binary (and of libc
// for toybox and tini) mapped from the page cache.
func BenchmarkIdleRSS(b *testing.B) {
	testbin.RequireRoot(b)
	con := benchConsole(b)
	for name, argv := range pid1s(b, con) {
		b.Run(name, func(b *testing.B) {
			var rss, anon float64
			for i := 0; i < b.N; i++ {
				rss, anon = idleRSS(b, argv)
			}
			b.ReportMetric(rss, "KiB-rss")
			b.ReportMetric(anon, "KiB-anon")
		})
	}
}

func idleRSS(b *testing.B, argv []string) (rss, anon float64) {
	dir := b.TempDir()
	ready := dir + "/ready"
	if err := exec.Command("mkfifo", ready).Run(); err != nil {
		b.Fatal(err)
	}
	cmd := nstest.Command(b, append(append([]string{}, argv...), "sh", "-c", "echo > "+ready+"; exec sleep 1000")...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	f, err := os.Open(ready)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = bufio.NewReader(f).ReadString('\n')
	f.Close()
	time.Sleep(200 * time.Millisecond) // let the runtime settle into its idle state
	data, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/smaps_rollup")
	if err != nil {
		b.Fatal(err)
	}
	for _, ln := range strings.Split(string(data), "\n") {
		if f := strings.Fields(ln); len(f) >= 2 {
			kib, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "Rss:":
				rss = kib
			case "Anonymous:":
				anon = kib
			}
		}
	}
	if rss == 0 {
		b.Fatal("no Rss in smaps_rollup")
	}
	return rss, anon
}

// BenchmarkRunOneChild: start PID-1-to-be, which runs /bin/true and, not
// being PID 1, exits when it ends: the cost of oneit's start-up and spawn.
func BenchmarkRunOneChild(b *testing.B) {
	con := benchConsole(b)
	impls := map[string][]string{"toybox-go": {testbin.Applet(b, "oneit"), "-c", con}}
	if p, err := exec.LookPath("toybox"); err == nil {
		impls["toybox"] = []string{p, "oneit", "-c", con}
	}
	if p, err := exec.LookPath("tini"); err == nil {
		impls["tini"] = []string{p, "-s", "--"}
	}
	for name, argv := range impls {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(argv[0], append(argv[1:], "/bin/true")...)
				cmd.Env = testbin.Env()
				_ = cmd.Run() // oneit exits 142 by design
			}
		})
	}
}
