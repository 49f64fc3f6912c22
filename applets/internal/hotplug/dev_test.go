package hotplug

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"toybox-go/internal/testbin"
)

const fixtures = "../rules/testdata"

// currentRules is OpenWrt's hotplug.json of today, with isdir under root.
func currentRules(t testing.TB, root string) Rules {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "current", "hotplug.json"))
	if err != nil {
		t.Fatal(err)
	}
	return script(t, root, string(b))
}

type node struct {
	typ   uint32 // S_IFCHR, S_IFBLK
	mode  uint32
	major uint32
	minor uint32
	gid   uint32
}

func statNode(t *testing.T, p string) (node, bool) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return node{}, false
	}
	return node{st.Mode & unix.S_IFMT, st.Mode & 0o7777, unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)), st.Gid}, true
}

// TestMakedevWithOpenWrtRules routes recorded device events through the
// current hotplug.json: the nodes, modes and groups procd would make.
func TestMakedevWithOpenWrtRules(t *testing.T) {
	testbin.RequireRoot(t) // mknod
	tr := newTree(t)
	tr.write(t, "etc/group", "root:x:0:\n# comment\ndialout:x:20:\nbroken line\naudio:x:29:pulse\n", 0o644)
	// An existing file is never replaced.
	tr.write(t, "dev/ttyS1", "not a node", 0o644)
	p, lb, _ := newPlug(t, tr, currentRules(t, tr.root), Config{})

	add := func(devpath, subsystem, devname string, major, minor string) {
		p.Handle(event(t, "ACTION=add", "DEVPATH="+devpath, "SUBSYSTEM="+subsystem,
			"MAJOR="+major, "MINOR="+minor, "DEVNAME="+devname, "SEQNUM=1"))
	}
	add("/devices/virtual/mem/zero", "mem", "zero", "1", "5")
	add("/devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda", "block", "sda", "8", "0")
	add("/devices/platform/serial8250/tty/ttyS0", "tty", "ttyS0", "4", "64")
	add("/devices/platform/serial8250/tty/ttyS1", "tty", "ttyS1", "4", "65")
	add("/devices/pci0000:00/0000:00:05.0/sound/card0/controlC0", "sound", "snd/controlC0", "116", "0")
	add("/devices/pci0000:00/0000:00:06.0/usb1/1-1", "usb", "bus/usb/001/002", "189", "1")
	add("/devices/virtual/misc/ptmx", "tty", "ptmx", "5", "2")
	// No MAJOR/MINOR: nothing to make.
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/virtual/net/lo", "SUBSYSTEM=net", "INTERFACE=lo"))

	want := map[string]node{
		"zero":            {unix.S_IFCHR, 0o666, 1, 5, 0},
		"sda":             {unix.S_IFBLK, 0o600, 8, 0, 0},
		"ttyS0":           {unix.S_IFCHR, 0o660, 4, 64, 20},
		"snd/controlC0":   {unix.S_IFCHR, 0o660, 116, 0, 29},
		"bus/usb/001/002": {unix.S_IFCHR, 0o600, 189, 1, 0},
		"ptmx":            {unix.S_IFCHR, 0o666, 5, 2, 0},
	}
	for name, w := range want {
		got, ok := statNode(t, filepath.Join(tr.dev, name))
		if !ok || got != w {
			t.Errorf("/dev/%s = %+v (exists %v), want %+v", name, got, ok, w)
		}
	}
	if got := readFile(t, filepath.Join(tr.dev, "ttyS1")); got != "not a node" {
		t.Errorf("existing /dev/ttyS1 replaced: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(tr.dev, "bus", "usb", "001")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("parent directory: %v %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(tr.dev, "lo")); err == nil {
		t.Error("a node made for an event without a device number")
	}

	p.Handle(event(t, "ACTION=remove", "DEVPATH=/devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda",
		"SUBSYSTEM=block", "MAJOR=8", "MINOR=0", "DEVNAME=sda"))
	if _, err := os.Lstat(filepath.Join(tr.dev, "sda")); err == nil {
		t.Error("/dev/sda still there after remove")
	}
	if strings.Contains(lb.String(), "refused") {
		t.Errorf("unexpected refusal: %s", lb)
	}
}

func TestMakedevMissingGroupKeepsRoot(t *testing.T) {
	testbin.RequireRoot(t)
	tr := newTree(t) // no etc/group at all
	p, lb, _ := newPlug(t, tr, emitter{{"makedev", "/dev/%DEVNAME%", "0640", "nogroup"}}, Config{})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x/ttyX", "SUBSYSTEM=tty", "MAJOR=4", "MINOR=1", "DEVNAME=ttyX"))
	got, ok := statNode(t, filepath.Join(tr.dev, "ttyX"))
	if !ok || got.mode != 0o640 || got.gid != 0 {
		t.Errorf("got %+v", got)
	}
	if !strings.Contains(lb.String(), `group "nogroup"`) {
		t.Errorf("missing group not logged: %s", lb)
	}
}

// TestMakedevRefusals: hostile DEVNAMEs make nothing anywhere and are logged.
func TestMakedevRefusals(t *testing.T) {
	testbin.RequireRoot(t)
	tr := newTree(t)
	outside := filepath.Join(tr.root, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(tr.dev, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(tr.dev, "abs")); err != nil {
		t.Fatal(err)
	}
	p, lb, _ := newPlug(t, tr, currentRules(t, tr.root), Config{})
	hostile := []string{
		"../../etc/passwd", "../outside/x", "/etc/passwd", "a/../../x", "escape/x", "abs/tmp/x",
		"a//b", "./x", "x/", "..",
	}
	for i, name := range hostile {
		p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/virtual/mem/h", "SUBSYSTEM=mem",
			"MAJOR=1", "MINOR="+string(rune('0'+i)), "DEVNAME="+name))
		if n := strings.Count(lb.String(), `makedev "/dev/`); n != i+1 {
			t.Errorf("DEVNAME %q: %d makedev errors logged, want %d:\n%s", name, n, i+1, lb)
		}
	}
	// Not one node anywhere in the tree, nor in the real /etc.
	err := filepath.Walk(tr.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&(os.ModeDevice|os.ModeCharDevice) != 0 {
			t.Errorf("node made at %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// remove is refused the same way: the target outside stays.
	victim := filepath.Join(outside, "keep")
	if err := os.WriteFile(victim, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.Handle(event(t, "ACTION=remove", "DEVPATH=/devices/virtual/mem/h", "SUBSYSTEM=mem",
		"MAJOR=1", "MINOR=1", "DEVNAME=../outside/keep"))
	p.Handle(event(t, "ACTION=remove", "DEVPATH=/devices/virtual/mem/h", "SUBSYSTEM=mem",
		"MAJOR=1", "MINOR=1", "DEVNAME=escape/keep"))
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("rm reached outside /dev: %v", err)
	}
}

func TestMakedevBadArguments(t *testing.T) {
	tr := newTree(t)
	p, lb, _ := newPlug(t, tr, emitter{
		{"makedev", "/dev/a", "0999"},   // not octal
		{"makedev", "/dev/b", "017777"}, // beyond permission bits
		{"makedev", "/etc/c", "0600"},   // not under /dev
		{"makedev", "/dev/d"},           // no mode
	}, Config{})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=mem", "MAJOR=1", "MINOR=3", "DEVNAME=x"))
	ents, _ := os.ReadDir(tr.dev)
	if len(ents) != 0 {
		t.Errorf("made %v", ents)
	}
	for _, want := range []string{`bad mode "0999"`, `bad mode "017777"`, `"/etc/c" refused`, "needs a path and a mode"} {
		if !strings.Contains(lb.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, lb)
		}
	}
}

func TestFindGroup(t *testing.T) {
	in := "root:x:0:\n\n#dialout:x:99:\ndialout:x:20:a,b\nbad:x:zz:\nshort\n"
	for name, want := range map[string]int{"root": 0, "dialout": 20, "bad": -1, "short": -1, "none": -1} {
		got, err := findGroup(strings.NewReader(in), "group", name)
		if got != want || (want < 0) != (err != nil) {
			t.Errorf("%s: %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := findGroup(strings.NewReader(in), "/etc/group", "bad"); err == nil || !strings.Contains(err.Error(), "/etc/group:5:") {
		t.Errorf("error without file:line: %v", err)
	}
}

func FuzzFindGroup(f *testing.F) {
	f.Add("root:x:0:\ndialout:x:20:\n", "dialout")
	f.Add("a:b\n:::\n\x00:x:1:\n", "")
	f.Add("big:x:99999999999999999999:\n", "big")
	f.Fuzz(func(t *testing.T, file, name string) {
		gid, err := findGroup(strings.NewReader(file), "group", name)
		if (err == nil) != (gid >= 0) {
			t.Fatalf("gid %d with error %v", gid, err)
		}
	})
}

// FuzzHandle sends hostile device events through makedev, rm and
// load-firmware: whatever the variables, nothing may appear outside the dev
// root of the fake tree.
func FuzzHandle(f *testing.F) {
	f.Add("sda", "8", "0", "block", "fw.bin")
	f.Add("../../etc/passwd", "1", "3", "mem", "../../x")
	f.Add("/etc/passwd", "1", "3", "mem", "/etc/passwd")
	f.Add("a/b/c/d", "189", "1", "usb", "a/../../b")
	f.Add("escape/x", "1", "1", "mem", "")
	f.Add("snd/../../x", "116", "0", "sound", "..")
	f.Fuzz(func(t *testing.T, devname, major, minor, subsystem, firmware string) {
		tr := newTree(t)
		if err := os.Symlink("../outside", filepath.Join(tr.dev, "escape")); err != nil {
			t.Fatal(err)
		}
		r := emitter{
			{"makedev", "/dev/%DEVNAME%", "0600", "root"},
			{"load-firmware", "/lib/firmware"},
			{"rm", "/dev/%DEVNAME%"},
			{"makedev", "/dev/%DEVNAME%", "0660"},
		}
		p, _, _ := newPlug(t, tr, r, Config{})
		ev, err := parseKV([]string{"ACTION=add", "DEVPATH=/devices/virtual/x/y", "SUBSYSTEM=" + subsystem,
			"MAJOR=" + major, "MINOR=" + minor, "DEVNAME=" + devname, "FIRMWARE=" + firmware})
		if err != nil {
			return
		}
		p.Handle(ev)
		waitIdle(t, p)
		err = filepath.Walk(tr.root, func(path string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(tr.root, path)
			switch rel {
			case ".", "dev", "dev/escape", "sys", "etc", "lib", "lib/firmware":
				return nil
			}
			if !strings.HasPrefix(rel, "dev/") {
				t.Errorf("%s created outside the dev root (DEVNAME %q)", rel, devname)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestNullLinksInProcess: OpenWrt's rules for /dev/null exec /bin/ln four
// times; the links appear below the dev root of the tree (a real ln would
// have written to the host's /dev).
func TestNullLinksInProcess(t *testing.T) {
	tr := newTree(t)
	p, lb, _ := newPlug(t, tr, currentRules(t, tr.root), Config{})
	null := event(t, "ACTION=add", "DEVPATH=/devices/virtual/mem/null", "SUBSYSTEM=mem", "MAJOR=1", "MINOR=3", "DEVNAME=null")
	p.Handle(null)
	waitIdle(t, p)
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if l, err := os.Readlink(filepath.Join(tr.dev, name)); err != nil || l != target {
			t.Errorf("/dev/%s -> %q, %v; want %s", name, l, err, target)
		}
	}
	p.Handle(null) // again: the links exist, as ln -s would say
	waitIdle(t, p)
	if !strings.Contains(lb.String(), "ln -s /proc/self/fd fd") {
		t.Errorf("existing link not reported:\n%s", lb)
	}
}

func TestDevSymlinkArgs(t *testing.T) {
	for _, argv := range [][]string{
		{"/bin/ln", "-s", "a", "/etc/x"}, {"/bin/ln", "-s", "a", "/dev/../x"}, {"/bin/ln", "-sf", "a", "/dev/x"},
		{"ln", "-s", "a", "/dev/x"}, {"/bin/ln", "-s", "", "/dev/x"}, {"/bin/ln", "-s", "a", "/dev/x", "y"},
	} {
		if _, _, ok := devSymlinkArgs(argv); ok {
			t.Errorf("%q taken for an in-process link", argv)
		}
	}
	if target, name, ok := devSymlinkArgs([]string{"/bin/ln", "-s", "/proc/self/fd", "/dev/fd"}); !ok || target != "/proc/self/fd" || name != "fd" {
		t.Errorf("got %q %q %v", target, name, ok)
	}
}
