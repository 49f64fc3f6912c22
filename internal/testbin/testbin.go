// Package testbin gives tests the toybox-go binary and the gates of the test
// tiers. Tests that need root, a tool or the kernel skip when run by a developer
// without them, and fail when TOYBOX_GO_STRICT=1 (set by `make test` and CI), so
// that a missing prerequisite never silently passes there.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	once    sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// Strict reports whether missing prerequisites fail tests instead of skipping.
func Strict() bool { return os.Getenv("TOYBOX_GO_STRICT") == "1" }

// Unavailable skips the test, or fails it in strict mode, saying why.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("prerequisite missing (TOYBOX_GO_STRICT=1): "+format, args...)
	}
	t.Skipf("prerequisite missing: "+format, args...)
}

// RequireRoot gates a test on euid 0. In -short mode (the cross-architecture
// runs under qemu-user) only the unit tier runs, so it always skips.
func RequireRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: unit tier only")
	}
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root")
	}
}

// RequireTool gates a test on an executable in PATH and returns its path.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "needs %s in PATH (make deps installs it)", name)
	}
	return p
}

// ModuleRoot returns the repository's top directory (where go.mod is).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Path returns the toybox-go binary: $TOYBOX_GO_BIN when set (the Makefile
// passes the one it built), else one built once per test process.
func Path(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: unit tier only (no binary built)")
	}
	if p := os.Getenv("TOYBOX_GO_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	once.Do(func() {
		dir, err := os.MkdirTemp("", "toybox-go-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "toybox-go")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
		cmd.Dir = ModuleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		binOut, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("building toybox-go: %v\n%s", binErr, binOut)
	}
	return binPath
}

// Applet returns a path named like the applet (a symlink to the binary in a
// temporary directory), for tests that run it by argv[0].
func Applet(t testing.TB, name string) string {
	t.Helper()
	bin := Path(t)
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.Symlink(bin, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Env returns os.Environ() with the given KEY=VALUE pairs replacing any
// existing ones, and TOYBOX_GO_LOG=stderr so a PID 1 under test never writes
// into the host's kernel log.
func Env(kv ...string) []string {
	kv = append([]string{"TOYBOX_GO_LOG=stderr"}, kv...)
	var out []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		keep := true
		for _, n := range kv {
			if nk, _, _ := strings.Cut(n, "="); nk == k {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return append(out, kv...)
}

// OpenPTY opens a pseudo-terminal and returns its master, on Go's poller so
// that reads take deadlines, and the path of its slave (/dev/pts/N). The
// master is closed when the test ends.
func OpenPTY(t testing.TB) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		Unavailable(t, "no /dev/ptmx: %v", err)
	}
	m := os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("TIOCGPTN: %v", err)
	}
	return m, "/dev/pts/" + strconv.Itoa(n)
}
