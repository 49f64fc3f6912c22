package pid2

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/internal/testbin"
)

// fakeWatchdog is a pty: a character device like /dev/watchdog, whose writes
// can be read back from the master. It returns the master (non-blocking, on
// the poller, so reads take deadlines) and the slave's path.
func fakeWatchdog(t *testing.T) (*os.File, string) {
	t.Helper()
	return testbin.OpenPTY(t)
}

// fed reads what was written to the fake within wait.
func fed(t *testing.T, m *os.File, wait time.Duration) string {
	t.Helper()
	m.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64)
	n, _ := m.Read(buf)
	return string(buf[:n])
}

func closeOnExec(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil && fl&unix.FD_CLOEXEC != 0
}

func TestHandedWatchdogRefuses(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	reg, err := os.CreateTemp(t.TempDir(), "reg")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	closed, _ := unix.Dup(int(r.Fd()))
	unix.Close(closed)
	for _, tc := range []struct{ value, want string }{
		{"", "not a descriptor"},
		{"ten", "not a descriptor"},
		{"-1", "not a descriptor"},
		{"1", "not a descriptor"}, // stdio is the console, a tty: never the watchdog
		{strconv.Itoa(closed), "bad file descriptor"},
		{strconv.Itoa(int(r.Fd())), "not a character device"},
		{strconv.Itoa(int(reg.Fd())), "not a character device"},
	} {
		if fd, err := handedWatchdog(tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: fd %d, error %v, want %q", tc.value, fd, err, tc.want)
		}
	}
	null, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if fd, err := handedWatchdog(strconv.Itoa(int(null.Fd()))); err != nil || fd != int(null.Fd()) {
		t.Errorf("a character device: fd %d, %v", fd, err)
	}
}

// TestWatchdogHandedOver: the fd in WDTFD is fed at once and every
// watchdogEvery; it is made close-on-exec, WDTFD leaves the environment, and
// keepAcrossExec hands both on.
func TestWatchdogHandedOver(t *testing.T) {
	m, slave := fakeWatchdog(t)
	fd, err := unix.Open(slave, unix.O_WRONLY|unix.O_NOCTTY, 0) // as init leaves it
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	t.Setenv(WatchdogEnv, strconv.Itoa(fd))
	var logb bytes.Buffer
	log := kmsg.NewWriter("pid2", &logb)
	w := takeWatchdog("/nonexistent/watchdog", log)
	if w == nil || w.fd != fd {
		t.Fatalf("watchdog %+v; log %q", w, logb.String())
	}
	if !strings.Contains(logb.String(), fmt.Sprintf("watchdog: feeding fd %d (WDTFD)", fd)) {
		t.Errorf("log %q", logb.String())
	}
	if _, ok := os.LookupEnv(WatchdogEnv); ok {
		t.Error("WDTFD still in the environment: services would see it")
	}
	if !closeOnExec(fd) {
		t.Error("the watchdog fd would leak into services")
	}
	if got := fed(t, m, 2*time.Second); got != "X" {
		t.Fatalf("first feed: %q", got)
	}
	w.feed(w.last.Add(watchdogEvery-time.Second), log)
	w.feed(w.last.Add(watchdogEvery), log)
	if got := fed(t, m, 2*time.Second); got != "X" {
		t.Errorf("after a period: %q, want one feed", got)
	}
	if got := fed(t, m, 200*time.Millisecond); got != "" {
		t.Errorf("fed before the period was over: %q", got)
	}
	kv, undo := w.keepAcrossExec()
	if kv != WatchdogEnv+"="+strconv.Itoa(fd) || closeOnExec(fd) {
		t.Errorf("across exec: %q, close-on-exec %v", kv, closeOnExec(fd))
	}
	undo()
	if !closeOnExec(fd) {
		t.Error("undo left the fd open across exec")
	}
}

// TestWatchdogFallback: a WDTFD naming no character device is refused with a
// warning, and the device is opened instead (close-on-exec).
func TestWatchdogFallback(t *testing.T) {
	m, slave := fakeWatchdog(t)
	t.Setenv(WatchdogEnv, "1")
	var logb bytes.Buffer
	w := takeWatchdog(slave, kmsg.NewWriter("pid2", &logb))
	if w == nil {
		t.Fatalf("no watchdog; log %q", logb.String())
	}
	defer unix.Close(w.fd)
	if !strings.Contains(logb.String(), "WDTFD=\"1\"") || !strings.Contains(logb.String(), "watchdog: feeding "+slave) {
		t.Errorf("log %q", logb.String())
	}
	if !closeOnExec(w.fd) {
		t.Error("opened watchdog not close-on-exec")
	}
	if got := fed(t, m, 2*time.Second); got != "X" {
		t.Errorf("first feed: %q", got)
	}
	// Nothing at all: no watchdog, nothing logged.
	os.Unsetenv(WatchdogEnv)
	logb.Reset()
	if w := takeWatchdog("/nonexistent/watchdog", kmsg.NewWriter("pid2", &logb)); w != nil || logb.Len() != 0 {
		t.Errorf("without a watchdog: %+v, log %q", w, logb.String())
	}
}
