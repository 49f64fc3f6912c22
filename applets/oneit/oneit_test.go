package oneit

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/internal/testbin"
)

// TestPanicInLoopIsRecovered: a bug that panics in the main loop is logged and
// the loop goes on (a zero initState has nil timers, so a shutdown signal
// panics in signal()).
func TestPanicInLoopIsRecovered(t *testing.T) {
	var logb bytes.Buffer
	s := &initState{log: kmsg.NewWriter("oneit", &logb), sigs: make(chan os.Signal, 1), o: &options{argv: []string{"x"}}}
	s.sigs <- syscall.SIGTERM
	code, done := s.step()
	if done || code != 0 {
		t.Fatalf("step after a panic returned (%d, %v), want to go on", code, done)
	}
	if !strings.Contains(logb.String(), "recovered panic in the main loop") {
		t.Fatalf("panic not logged: %q", logb.String())
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want options
		err  bool
	}{
		{args: []string{"sh"}, want: options{argv: []string{"sh"}}},
		{args: []string{"-n3", "-c/dev/ttyS0", "pid2", "-x"}, want: options{relaunch: true, pidPipe: true, console: "/dev/ttyS0", argv: []string{"pid2", "-x"}}},
		{args: []string{"-r", "-c", "con", "-H", "2", "sh", "-c", "x"}, want: options{relaunch: true, console: "con", heartbeat: 2 * time.Second, argv: []string{"sh", "-c", "x"}}},
		{args: []string{"-p", "--", "-weird"}, want: options{poweroff: true, argv: []string{"-weird"}}},
		{args: []string{"-H0.25", "x"}, want: options{heartbeat: 250 * time.Millisecond, argv: []string{"x"}}},
		{args: []string{}, err: true},
		{args: []string{"-p", "-r", "sh"}, err: true},
		{args: []string{"-pn", "sh"}, err: true},
		{args: []string{"-x", "sh"}, err: true},
		{args: []string{"-c"}, err: true},
		{args: []string{"-H", "0", "sh"}, err: true},
		{args: []string{"-H", "x", "sh"}, err: true},
	} {
		got, err := parseArgs(tc.args)
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error", tc.args)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.args, *got, tc.want)
		}
	}
}

func TestUsageErrorsExit1(t *testing.T) {
	for _, args := range [][]string{{"oneit"}, {"oneit", "-p", "-r", "x"}, {"oneit", "-Z", "x"}} {
		if rc := Main(args); rc != 1 {
			t.Errorf("%q: exit %d, want 1", args, rc)
		}
	}
}

func TestActiveConsole(t *testing.T) {
	root := t.TempDir()
	if got := activeConsole(root); got != "/dev/console" {
		t.Errorf("no sysfs: got %q", got)
	}
	dir := filepath.Join(root, "class/tty/console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for content, want := range map[string]string{
		"tty0 ttyS0\n":    "/dev/ttyS0",
		"ttyS0\n":         "/dev/ttyS0",
		"tty1\nhvc0 \n":   "/dev/hvc0",
		"/dev/ttyAMA0\n":  "/dev/ttyAMA0",
		"   \n":           "/dev/console",
		"ttyS0 /dev/tty1": "/dev/tty1",
	} {
		if err := os.WriteFile(filepath.Join(dir, "active"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := activeConsole(root); got != want {
			t.Errorf("active %q: got %q, want %q", content, got, want)
		}
	}
}

// TestIsTTY runs in `make cross` under qemu-mipsel-static too, where a wrong
// TCGETS number (pkg/term v1.1.0 on MIPS) makes a pty look like a file.
func TestIsTTY(t *testing.T) {
	m, _ := testbin.OpenPTY(t)
	if !isTTY(m.Fd()) {
		t.Fatal("a pty master is not seen as a tty")
	}
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTTY(f.Fd()) {
		t.Fatal("a regular file is seen as a tty")
	}
}

// TestSaneTTY: a raw pty comes back cooked. Under qemu-mipsel-static this
// fails with pkg/term v1.1.0, whose TCSETS number is TCSETA on MIPS.
func TestSaneTTY(t *testing.T) {
	m, _ := testbin.OpenPTY(t)
	raw, err := unix.IoctlGetTermios(int(m.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	raw.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG
	if err := unix.IoctlSetTermios(int(m.Fd()), unix.TCSETS, raw); err != nil {
		t.Fatal(err)
	}
	if err := saneTTY(m.Fd()); err != nil {
		t.Fatal(err)
	}
	got, err := unix.IoctlGetTermios(int(m.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint32(unix.ICANON | unix.ECHO | unix.ISIG); got.Lflag&want != want {
		t.Fatalf("lflag %#x lacks ICANON|ECHO|ISIG after saneTTY", got.Lflag)
	}
	if got.Cc[unix.VINTR] != 3 {
		t.Fatalf("VINTR = %d, want 3 (^C)", got.Cc[unix.VINTR])
	}
}

// records reads n 4-byte native-endian records.
func records(t *testing.T, r io.Reader, n int) []uint32 {
	t.Helper()
	buf := make([]byte, 4*n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("reading %d records: %v", n, err)
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.NativeEndian.Uint32(buf[4*i:])
	}
	return out
}

func TestPIDQueueOrder(t *testing.T) {
	r, w := io.Pipe()
	q := newPIDQueue(1000)
	go q.drain(w)
	for pid := 1; pid <= 500; pid++ {
		q.push(pid)
	}
	got := records(t, r, 500)
	for i, pid := range got {
		if pid != uint32(i+1) {
			t.Fatalf("record %d is %d, want %d", i, pid, i+1)
		}
	}
}

func TestPIDQueueOverflowRescan(t *testing.T) {
	r, w := io.Pipe()
	q := newPIDQueue(10)
	for pid := 1; pid <= 25; pid++ { // nobody drains yet: 15 are dropped
		q.push(pid)
	}
	go q.drain(w)
	got := records(t, r, 11)
	want := []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	q.push(99) // after the rescan record, records flow again
	if got := records(t, r, 1); got[0] != 99 {
		t.Fatalf("after overflow got %v", got)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dropped != 15 {
		t.Fatalf("dropped %d, want 15", q.dropped)
	}
}

func TestPIDQueueNeverBlocksPusher(t *testing.T) {
	q := newPIDQueue(1 << 20)
	done := make(chan struct{})
	go func() {
		for pid := 1; pid <= 100000; pid++ {
			q.push(pid) // no reader at all
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("push blocked without a reader")
	}
}

func BenchmarkPIDQueuePush(b *testing.B) {
	q := newPIDQueue(1 << 30)
	go q.drain(io.Discard)
	for i := 0; i < b.N; i++ {
		q.push(i + 1)
	}
}
