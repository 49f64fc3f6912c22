package kmsg

import (
	"bytes"
	"fmt"
	"os"
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
