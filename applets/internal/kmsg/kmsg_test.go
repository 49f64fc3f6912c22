package kmsg

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecords(t *testing.T) {
	var b bytes.Buffer
	l := NewWriter("oneit", &b)
	l.Infof("hello %d", 1)
	l.Errorf("two\nlines\n")
	want := fmt.Sprintf("oneit[%d]: hello 1\noneit[%[1]d]: two\noneit[%[1]d]: lines\n", os.Getpid())
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestKmsgPrefixAndSplit(t *testing.T) {
	var b bytes.Buffer
	l := &Logger{w: &b, kmsg: true, tag: "pid2"}
	l.Warnf("%s", strings.Repeat("x", 2*maxRecord+5))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 records, got %d", len(lines))
	}
	for _, ln := range lines {
		if !strings.HasPrefix(ln, fmt.Sprintf("<4>pid2[%d]: ", os.Getpid())) {
			t.Fatalf("bad record prefix: %.40q", ln)
		}
	}
}

func TestForcedStderr(t *testing.T) {
	t.Setenv("TOYBOX_GO_LOG", "stderr")
	if New("x").ToKmsg() {
		t.Fatal("TOYBOX_GO_LOG=stderr still logs to kmsg")
	}
}

// TestRetryAfterDevMounted: init's logger is made before init mounts /dev, so
// at boot from an initramfs without a /dev/kmsg node it falls back to stderr;
// once the node is there, Retry must move it to the kernel log.
func TestRetryAfterDevMounted(t *testing.T) {
	t.Setenv("TOYBOX_GO_LOG", "")
	dev := filepath.Join(t.TempDir(), "kmsg")
	old := devKmsg
	devKmsg = dev
	defer func() { devKmsg = old }()

	l := New("init")
	if l.ToKmsg() {
		t.Fatal("logs to a /dev/kmsg that does not exist")
	}
	if err := os.WriteFile(dev, nil, 0o600); err != nil { // the node init made
		t.Fatal(err)
	}
	if !l.Retry() || !l.ToKmsg() {
		t.Fatal("Retry did not move the logger to /dev/kmsg")
	}
	l.Noticef("Console is alive")
	b, _ := os.ReadFile(dev)
	if want := fmt.Sprintf("<5>init[%d]: Console is alive\n", os.Getpid()); string(b) != want {
		t.Fatalf("/dev/kmsg got %q, want %q", b, want)
	}

	t.Setenv("TOYBOX_GO_LOG", "stderr")
	if forced := New("init"); forced.Retry() || forced.ToKmsg() {
		t.Fatal("Retry overrode TOYBOX_GO_LOG=stderr")
	}
	var buf bytes.Buffer
	if w := NewWriter("x", &buf); w.Retry() {
		t.Fatal("Retry replaced a logger's own writer")
	}
}
