package hotplug

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"toybox-go/internal/testbin"
)

func TestCallerScripts(t *testing.T) {
	tr := newTree(t)
	for _, f := range []string{"20-b", "01-a", "10 space", "B-upper", ".hidden", "99-z"} {
		tr.write(t, "etc/hotplug.d/net/"+f, "", 0o644)
	}
	if err := os.Mkdir(filepath.Join(tr.etc, "hotplug.d", "net", "50-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(tr.etc, "hotplug.d", "net", "60-fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("01-a", filepath.Join(tr.etc, "hotplug.d", "net", "70-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(tr.etc, "hotplug.d", "net", "80-dangling")); err != nil {
		t.Fatal(err)
	}
	c := &Caller{Etc: tr.etc}
	got, err := c.Scripts("net")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	// Byte order (C locale): digits, then upper case, then lower case.
	if want := "01-a|10 space|20-b|70-link|99-z|B-upper"; strings.Join(names, "|") != want {
		t.Errorf("got %q, want %q", names, want)
	}
	if s, err := c.Scripts("none"); s != nil || err != nil {
		t.Errorf("missing directory: %q, %v", s, err)
	}
	tr.write(t, "etc/hotplug.d/file", "", 0o644)
	if s, err := c.Scripts("file"); s != nil || err != nil {
		t.Errorf("a file, not a directory: %q, %v", s, err)
	}
	for _, bad := range []string{"", ".", "..", "../etc", "a/b", "a\x00b"} {
		if _, err := c.Scripts(bad); !errors.Is(err, ErrBadSubsystem) {
			t.Errorf("Scripts(%q) = %v", bad, err)
		}
	}
}

// TestCallerRunsEachInASubshell: sourced (no run bit, no shebang), in order,
// an exit or a variable in one does not reach the next, functions file first.
func TestCallerRunsEachInASubshell(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	out := filepath.Join(tr.root, "out")
	tr.write(t, "etc/hotplug.d/usb/10-first", `LEAK=first
echo "first $1 $ACTION $DEVICENAME $(greet)" >> `+out+`
exit 3
echo unreachable >> `+out+"\n", 0o644)
	tr.write(t, "etc/hotplug.d/usb/20-second", `echo "second ${LEAK-clean} $HOTPLUG_TYPE $USER $LOGNAME" >> `+out+"\n", 0o600)
	tr.write(t, "etc/hotplug.d/usb/.30-hidden", `echo hidden >> `+out+"\n", 0o644)
	funcs := tr.write(t, "lib/functions.sh", `greet() { echo hello; }`+"\n", 0o644)
	c := &Caller{Etc: tr.etc, Shell: sh, Functions: funcs}
	scripts, err := c.Scripts("usb")
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := c.Command("usb", scripts, []string{"ACTION=add", "DEVPATH=/devices/pci0/usb1/1-1"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := "first usb add 1-1 hello\nsecond clean usb root root\n"
	if got := readFile(t, out); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCallerNoShell(t *testing.T) {
	tr := newTree(t)
	tr.write(t, "etc/hotplug.d/net/10-x", "true", 0o644)
	c := &Caller{Etc: tr.etc, Shell: filepath.Join(tr.root, "bin", "sh")}
	scripts, _ := c.Scripts("net")
	_, err := c.Command("net", scripts, nil)
	if err == nil || !strings.Contains(err.Error(), "no shell "+c.Shell+" to run the 1 scripts of") {
		t.Errorf("got %v", err)
	}
}

func TestCallEnv(t *testing.T) {
	env := CallEnv([]string{"PATH=/x", "DEVPATH=/devices/virtual/net/eth0", "USER=me", "KEEP=1"}, "net")
	want := "DEVPATH=/devices/virtual/net/eth0 KEEP=1 HOTPLUG_TYPE=net PATH=" + CallPath + " LOGNAME=root USER=root DEVICENAME=eth0"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if env := CallEnv(nil, "x"); env[len(env)-1] != "DEVICENAME=" {
		t.Errorf("no DEVPATH: %q", env)
	}
}
