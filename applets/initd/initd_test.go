package initd

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/internal/testbin"
)

func TestMakeDevNodesFromFakeSysfs(t *testing.T) {
	testbin.RequireRoot(t)
	sys, dev := t.TempDir(), t.TempDir()
	links := map[string]string{
		"block/8:1":  "../../devices/pci0000:00/host0/block/sda/sda1",
		"char/1:3":   "../../devices/virtual/mem/null",
		"char/189:1": "../../devices/pci/usb1/1-1/bus/usb/001/002", // flattened to its base name
		"char/bogus": "../../devices/virtual/whatever/x",
		"char/4:64":  "../../devices/platform/serial8250/tty/ttyS0",
	}
	for l, target := range links {
		p := filepath.Join(sys, "dev", l)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	// A regular file named like a device is not a link: ignored.
	_ = os.WriteFile(filepath.Join(sys, "dev", "char", "5:1"), nil, 0o644)
	old := unix.Umask(0)
	defer unix.Umask(old)
	if n := MakeDevNodes(sys, dev, t.Logf); n != 4 {
		t.Fatalf("made %d nodes, want 4", n)
	}
	for name, want := range map[string]struct {
		kind     uint32
		maj, min uint32
	}{"sda1": {unix.S_IFBLK, 8, 1}, "null": {unix.S_IFCHR, 1, 3}, "002": {unix.S_IFCHR, 189, 1}, "ttyS0": {unix.S_IFCHR, 4, 64}} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(dev, name), &st); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Mode&unix.S_IFMT != want.kind || unix.Major(uint64(st.Rdev)) != want.maj || unix.Minor(uint64(st.Rdev)) != want.min || st.Mode&0o777 != 0o600 {
			t.Fatalf("%s: mode %o rdev %d:%d", name, st.Mode, unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
		}
	}
	// A second pass keeps what is there.
	if n := MakeDevNodes(sys, dev, t.Logf); n != 0 {
		t.Fatalf("second pass made %d", n)
	}
}

func TestCommandLineOptions(t *testing.T) {
	in := &Init{Root: t.TempDir(), Log: kmsg.NewWriter("init", os.Stderr),
		Cmdline: []string{"console=tty0", "console=ttyS1,115200n8", "init.oneit=/x", "quiet"}}
	if c := in.consoleName(); c != "/dev/ttyS1" {
		t.Fatalf("console %q", c)
	}
	if v, ok := in.param("init.oneit"); !ok || v != "/x" {
		t.Fatalf("init.oneit %q %v", v, ok)
	}
	if _, ok := in.param("quiet"); !ok {
		t.Fatal("bare word")
	}
	in.Cmdline = []string{}
	if c := in.consoleName(); c != "" {
		t.Fatalf("no console= gave %q", c)
	}
	_ = os.MkdirAll(filepath.Join(in.Root, "tmp"), 0o755)
	for content, want := range map[string]int{"3\n": 3, "9": 0, "x": 0, "": 0} {
		_ = os.WriteFile(filepath.Join(in.Root, "tmp", "debug_level"), []byte(content), 0o644)
		if n := in.debugLevel(); n != want {
			t.Fatalf("debug_level %q: %d, want %d", content, n, want)
		}
		if _, err := os.Stat(filepath.Join(in.Root, "tmp", "debug_level")); !os.IsNotExist(err) {
			t.Fatal("debug_level not removed")
		}
	}
}

func TestEnvEdits(t *testing.T) {
	in := &Init{env: []string{"A=1", "PREINIT=1", "B=2"}}
	in.unsetenv("PREINIT")
	in.setenv("A", "3")
	if got := in.env; len(got) != 2 || got[0] != "B=2" || got[1] != "A=3" {
		t.Fatalf("env %q", got)
	}
}

// mountOn makes the mount point first; when it cannot, its error comes back
// unchanged and mount(2) is not tried (it would fail with ENOENT or ENOTDIR
// and name the mount instead).
func TestMountOnMkdirFailureStopsTheMount(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in := &Init{Root: root, Log: kmsg.NewWriter("init", os.Stderr)}
	err := in.mountOn("/file/sub", "none", "tmpfs", "", 0)
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "mkdir" || !errors.Is(err, unix.ENOTDIR) {
		t.Fatalf("mountOn = %v, want mkdir's ENOTDIR error", err)
	}
}
