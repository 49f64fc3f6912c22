package kmodloader

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"toybox-go/internal/testbin"
)

func TestModprobe(t *testing.T) {
	ft := bootTree(t)
	ft.write("etc/modprobe.d/local.conf", "options bridge forward_delay=2\nalias my-bridge bridge\n")
	if code := ft.run("modprobe", "-v", "bridge", "x=1"); code != 0 {
		t.Fatalf("exit %d: %s", code, ft.err.String())
	}
	if want := []string{"llc", "stp", "bridge forward_delay=2 x=1"}; !slices.Equal(ft.calls, want) {
		t.Errorf("calls %q, want %q", ft.calls, want)
	}
	if !strings.Contains(ft.out.String(), "insmod "+filepath.Join(ft.sys.ModDir(), "bridge.ko")+" forward_delay=2 x=1\n") {
		t.Errorf("-v output %q", ft.out.String())
	}
	// By the module's own alias, by a modprobe.d alias, by -a.
	for _, args := range [][]string{{"modprobe", "rtnl-link-bridge"}, {"modprobe", "my_bridge"}} {
		if code := ft.run(args...); code != 0 || len(ft.calls) != 3 || ft.calls[2] != "bridge forward_delay=2" {
			t.Errorf("%q: exit %d calls %q", args, code, ft.calls)
		}
	}
	if code := ft.run("modprobe", "-a", "zram", "nls_iso8859-1"); code != 0 || !slices.Equal(ft.calls, []string{"zsmalloc", "zram extra=1", "nls_iso8859-1"}) {
		t.Errorf("-a: exit %d calls %q", code, ft.calls)
	}
	// Dry run: nothing loaded, the plan printed; options cluster as with kmod
	// and busybox.
	for _, args := range [][]string{{"modprobe", "-n", "-v", "fsy"}, {"modprobe", "-nv", "fsy"}} {
		if code := ft.run(args...); code != 0 || len(ft.calls) != 0 {
			t.Errorf("%q: exit %d calls %q", args, code, ft.calls)
		}
		if got := ft.out.String(); strings.Count(got, "insmod ") != 3 || !strings.Contains(got, "helper.ko") {
			t.Errorf("%q output %q", args, got)
		}
	}
	// Built-in, loaded, blacklisted: nothing to do, success.
	for _, m := range []string{"ext4", "loaded_already", "crypto-crc32c", "blacklisted"} {
		if code := ft.run("modprobe", m); code != 0 || len(ft.calls) != 0 {
			t.Errorf("%s: exit %d calls %q err %q", m, code, ft.calls, ft.err.String())
		}
	}
	// Unknown: an error, silenced by -q (the kernel's request_module uses -q).
	if code := ft.run("modprobe", "nosuch"); code != 1 || !strings.Contains(ft.err.String(), "module nosuch not found") {
		t.Errorf("unknown: exit %d err %q", code, ft.err.String())
	}
	if code := ft.run("modprobe", "-q", "--", "nosuch"); code != 1 || ft.err.Len() != 0 {
		t.Errorf("-q: exit %d err %q", code, ft.err.String())
	}
	// Missing dependency and a kernel refusal are reported with their reason.
	if code := ft.run("modprobe", "orphan"); code != 1 || !strings.Contains(ft.err.String(), "missing dependency ghost") {
		t.Errorf("orphan: exit %d err %q", code, ft.err.String())
	}
	ft.fail["badparm"] = []error{unix.EINVAL}
	if code := ft.run("modprobe", "badparm", "x=y"); code != 1 || !strings.Contains(ft.err.String(), "invalid parameter") {
		t.Errorf("badparm: exit %d err %q", code, ft.err.String())
	}
}

func TestModprobeRemove(t *testing.T) {
	ft := bootTree(t)
	ft.write("proc/modules", "bridge 311296 0 - Live 0x0\nstp 16384 1 bridge, Live 0x0\nllc 16384 2 bridge,stp, Live 0x0\nzram 40960 0 - Live 0x0\n")
	// The fake Remove does not change /proc/modules: stp keeps its user, so
	// only bridge goes.
	if code := ft.run("modprobe", "-r", "-v", "bridge"); code != 0 {
		t.Fatalf("exit %d %s", code, ft.err.String())
	}
	if !slices.Equal(ft.removed, []string{"bridge force=false"}) {
		t.Errorf("removed %q", ft.removed)
	}
	ft.removed = nil
	ft.write("proc/modules", "zram 40960 0 - Live 0x0\nzsmalloc 16384 0 - Live 0x0\n")
	if code := ft.run("modprobe", "-r", "zram"); code != 0 || !slices.Equal(ft.removed, []string{"zram force=false", "zsmalloc force=false"}) {
		t.Errorf("exit %d removed %q", code, ft.removed)
	}
	if code := ft.run("modprobe", "-r", "stp"); code != 1 || !strings.Contains(ft.err.String(), "not loaded") {
		t.Errorf("not loaded: exit %d %q", code, ft.err.String())
	}
	if code := ft.run("modprobe", "-r", "ext4"); code != 1 || !strings.Contains(ft.err.String(), "built into") {
		t.Errorf("builtin: exit %d %q", code, ft.err.String())
	}
}

func TestRmmod(t *testing.T) {
	ft := bootTree(t)
	ft.write("proc/modules", "loop 32768 0 - Live 0x0\nbridge 1 0 - Live 0x0\n")
	if code := ft.run("rmmod", "-f", "loop", "bridge.ko"); code != 0 || !slices.Equal(ft.removed, []string{"loop force=true", "bridge force=true"}) {
		t.Errorf("exit %d removed %q", code, ft.removed)
	}
	if code := ft.run("rmmod", "ext4"); code != 1 || !strings.Contains(ft.err.String(), "built into the kernel") {
		t.Errorf("builtin: %d %q", code, ft.err.String())
	}
	if code := ft.run("rmmod", "zram"); code != 1 || !strings.Contains(ft.err.String(), "zram is not loaded") {
		t.Errorf("not loaded: %d %q", code, ft.err.String())
	}
	if code := ft.run("rmmod"); code != 1 {
		t.Errorf("no args: %d", code)
	}
}

func TestLsmod(t *testing.T) {
	ft := newFakeTree(t)
	ft.write("proc/modules", "bridge 311296 0 - Live 0xffffffffc0a00000\nstp 16384 1 bridge, Live 0xffffffffc0990000\nllc 16384 2 bridge,stp, Live 0xffffffffc0980000\nodd 12 - - Live 0x0\n")
	if code := ft.run("kmodloader", "lsmod"); code != 0 {
		t.Fatal(code)
	}
	want := "Module                  Size  Used by\n" +
		"bridge                311296  0\n" +
		"stp                    16384  1 bridge\n" +
		"llc                    16384  2 bridge,stp\n" +
		"odd                       12  -\n"
	if ft.out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", ft.out.String(), want)
	}
}

func TestInsmod(t *testing.T) {
	ft := bootTree(t)
	if code := ft.run("insmod", "zram", "num_devices=2", "x=1"); code != 0 || !slices.Equal(ft.calls, []string{"zram num_devices=2 x=1"}) {
		t.Errorf("by name: exit %d calls %q %s", code, ft.calls, ft.err.String())
	}
	file := filepath.Join(ft.sys.ModDir(), "stp.ko")
	ft.fail["stp"] = []error{unix.ENOENT}
	if code := ft.run("insmod", file); code != 1 || !strings.Contains(ft.err.String(), "stp needs llc, not loaded") {
		t.Errorf("missing dependency: exit %d err %q", code, ft.err.String())
	}
	junk := ft.write("junk.ko", "this is not an ELF file\n")
	short := ft.write("short.ko", string(makeKO("license=GPL")[:70]))
	for file, want := range map[string]string{junk: "not an ELF file", short: "bad ELF"} {
		if code := ft.run("insmod", file); code != 1 || !strings.Contains(ft.err.String(), want) || len(ft.calls) != 0 {
			t.Errorf("%s: exit %d err %q calls %q", file, code, ft.err.String(), ft.calls)
		}
	}
	for args, want := range map[string]string{
		"nosuch":         "cannot find module nosuch",
		"ext4":           "built into the kernel",
		"loaded_already": "module is already loaded - loaded_already",
	} {
		if code := ft.run("insmod", args); code != 1 || !strings.Contains(ft.err.String(), want) {
			t.Errorf("%s: exit %d err %q", args, code, ft.err.String())
		}
	}
	if code := ft.run("insmod"); code != 1 || !strings.Contains(ft.err.String(), "usage: insmod") {
		t.Errorf("no args: %d %q", code, ft.err.String())
	}
}

func TestHints(t *testing.T) {
	for errno, want := range map[unix.Errno]string{
		unix.ENODEV: "hardware or CPU feature", unix.ENOENT: "unknown symbol",
		unix.EINVAL: "invalid parameter", unix.ENOSYS: "no module support",
		unix.EKEYREJECTED: "signature",
	} {
		if got := hint(errno, "/x.ko", ""); !strings.Contains(got, want) {
			t.Errorf("%v: %q", errno, got)
		}
	}
	if got := hint(unix.EOPNOTSUPP, "/x.ko.zst", ".zst"); !strings.Contains(got, "CONFIG_MODULE_DECOMPRESS") {
		t.Errorf("compressed: %q", got)
	}
	// ENOEXEC explains a vermagic mismatch from the file itself.
	dir := t.TempDir()
	p := filepath.Join(dir, "old.ko")
	if err := os.WriteFile(p, makeKO("vermagic=2.6.32-ancient SMP"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := hint(unix.ENOEXEC, p, ""); !strings.Contains(got, "vermagic mismatch: built for kernel 2.6.32-ancient") {
		t.Errorf("ENOEXEC: %q", got)
	}
}

// realTree returns the Debian cloud kernel's module directory.
func realTree(t *testing.T) (modules, release string) {
	t.Helper()
	out, err := exec.Command("sh", filepath.Join(testbin.ModuleRoot(t), "scripts", "fetch-kernel.sh")).Output()
	if err != nil {
		testbin.Unavailable(t, "scripts/fetch-kernel.sh: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	rel, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil {
		testbin.Unavailable(t, "kernel version: %v", err)
	}
	return filepath.Join(dir, "lib", "modules"), strings.TrimSpace(string(rel))
}

// TestModinfoLikeKmod compares the whole modinfo output with Debian's modinfo
// on the same real (signed) files, signature fields included.
func TestModinfoLikeKmod(t *testing.T) {
	modules, rel := realTree(t)
	kmod := testbin.RequireTool(t, "modinfo")
	ft := newFakeTree(t)
	ft.sys.ModulesRoot, ft.sys.Release = modules, rel
	for _, name := range []string{"bridge", "overlay", "zram", "nls_iso8859-1", "virtio_blk", "loop", "squashfs", "virtio_net", "btrfs", "libcrc32c", "vfio"} {
		var path string
		filepath.WalkDir(filepath.Join(modules, rel), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == name+".ko" {
				path = p
			}
			return nil
		})
		if path == "" {
			t.Errorf("%s.ko not found", name)
			continue
		}
		out, err := exec.Command(kmod, path).Output()
		if err != nil {
			t.Fatalf("%s %s: %v", kmod, path, err)
		}
		if !strings.Contains(string(out), "\nsig_id:         PKCS#7\n") || !strings.Contains(string(out), "\nsignature:      ") {
			t.Errorf("%s: Debian's module not signed? kmod says\n%s", path, out)
		}
		for _, arg := range []string{path, name} {
			if code := ft.run("modinfo", arg); code != 0 {
				t.Errorf("modinfo %s: exit %d %s", arg, code, ft.err.String())
			}
			if got := ft.out.String(); got != string(out) {
				t.Errorf("modinfo %s:\n%s\nkmod:\n%s", arg, got, out)
			}
		}
		for _, flags := range [][]string{{"-F", "parm"}, {"-F", "depends"}, {"-F", "alias"}, {"-F", "softdep"},
			{"-F", "name"}, {"-F", "filename"}, {"-a"}, {"-d"}, {"-l"}, {"-n"}, {"-p"},
			{"-F", "signer"}, {"-F", "sig_key"}, {"-F", "sig_id"}, {"-F", "sig_hashalgo"}, {"-F", "signature"}} {
			out, err := exec.Command(kmod, append(flags, path)...).Output()
			if err != nil {
				t.Fatal(err)
			}
			if ft.run(append(append([]string{"modinfo"}, flags...), path)...); ft.out.String() != string(out) {
				t.Errorf("modinfo %q %s: %q, kmod %q", flags, name, ft.out.String(), out)
			}
		}
	}
	// Built-ins show as such.
	if code := ft.run("modinfo", "ext4"); code != 0 || !strings.Contains(ft.out.String(), "filename:       (builtin)\n") {
		t.Errorf("ext4: %d %q", code, ft.out.String())
	}
	if code := ft.run("modinfo", "nosuch"); code != 1 {
		t.Errorf("unknown: %d", code)
	}
}

// TestModprobePlanLikeKmod: `modprobe -n -v` prints the same insmod lines as
// kmod's on a depmod'd copy of the tree (by name, alias and modalias), both from
// the .modinfo scan and from modules.dep.
func TestModprobePlanLikeKmod(t *testing.T) {
	modules, rel := realTree(t)
	kmod := testbin.RequireTool(t, "modprobe")
	base := depmodBase(t, modules, rel)
	// The same tree without depmod's files, at the same path.
	scanBase := t.TempDir()
	if err := os.MkdirAll(filepath.Join(scanBase, "lib", "modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(modules, rel), filepath.Join(scanBase, "lib", "modules", rel)); err != nil {
		t.Fatal(err)
	}
	ft := newFakeTree(t)
	ft.sys.Release = rel
	for _, q := range []string{"bridge", "zram", "overlay", "nls-iso8859-1", "virtio_blk", "squashfs", "fs-overlay", "block-major-7-0", "crypto-crc32c", "ext4", "btrfs", "libcrc32c"} {
		out, err := exec.Command(kmod, "-d", base, "-S", rel, "-n", "-v", q).Output()
		if err != nil {
			t.Fatalf("kmod modprobe %s: %v", q, err)
		}
		want := string(out)
		if out, err := exec.Command(kmod, "-d", base, "-S", rel, "-D", q).Output(); err == nil && q != "btrfs" {
			ft.sys.ModulesRoot = filepath.Join(base, "lib", "modules")
			if ft.run("modprobe", "-D", q); ft.out.String() != string(out) {
				t.Errorf("-D %s:\n%s\nkmod:\n%s", q, ft.out.String(), out)
			}
		}
		for _, b := range []string{base, scanBase} {
			ft.sys.ModulesRoot = filepath.Join(b, "lib", "modules")
			if code := ft.run("modprobe", "-n", "-v", q); code != 0 {
				t.Errorf("%s: exit %d %s", q, code, ft.err.String())
			}
			got := strings.ReplaceAll(ft.out.String(), scanBase, base)
			if q == "btrfs" {
				// btrfs has four softdep lines; kmod honours only the first
				// ("find only the first command"), we honour all: ours is a
				// superset ending with the same module.
				for _, l := range strings.SplitAfter(want, "\n") {
					if !strings.Contains(got, l) || !strings.HasSuffix(got, lastLine(want)) {
						t.Errorf("%s: kmod's %q missing from\n%s", q, l, got)
					}
				}
				for _, extra := range []string{"xxhash_generic.ko", "sha256-ssse3.ko"} {
					if !strings.Contains(got, extra) {
						t.Errorf("%s: later softdep %s not honoured:\n%s", q, extra, got)
					}
				}
				continue
			}
			if b == scanBase {
				// Without modules.dep the dependency order among siblings
				// may differ from depmod's: compare the sets and the target.
				gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
				slices.Sort(gl)
				slices.Sort(wl)
				if !slices.Equal(gl, wl) || (want != "" && !strings.HasSuffix(got, lastLine(want))) {
					t.Errorf("%s (scan):\n%s\nkmod:\n%s", q, got, want)
				}
				continue
			}
			if got != want {
				t.Errorf("%s (depmod):\n%s\nkmod:\n%s", q, got, want)
			}
		}
	}
}

// depmodBase returns BASE with BASE/lib/modules/REL a copy of the real tree
// (its kernel/ a symlink) on which Debian's depmod has run.
func depmodBase(t *testing.T, modules, rel string) string {
	t.Helper()
	depmod := testbin.RequireTool(t, "depmod")
	base := t.TempDir()
	moddir := filepath.Join(base, "lib", "modules", rel)
	if err := os.MkdirAll(moddir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(modules, rel, "kernel"), filepath.Join(moddir, "kernel")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		data, err := os.ReadFile(filepath.Join(modules, rel, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(moddir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(depmod, "-b", base, rel).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v %s", err, out)
	}
	return base
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return l[len(l)-1] + "\n"
}

// The binary answers to all six names.
func TestDispatch(t *testing.T) {
	for _, name := range []string{"kmodloader", "insmod", "rmmod", "lsmod", "modinfo", "modprobe"} {
		out, _ := exec.Command(testbin.Applet(t, name), "--help").CombinedOutput()
		if !strings.Contains(string(out), "usage: "+name) {
			t.Errorf("%s --help: %q", name, out)
		}
	}
	out, err := exec.Command(testbin.Applet(t, "modinfo"), "-F", "license", "/nonexistent/x.ko").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no such file") {
		t.Errorf("modinfo of a missing file: %v %q", err, out)
	}
}

// Without CAP_SYS_MODULE the applets say so before trying.
func TestNotRoot(t *testing.T) {
	setpriv := testbin.RequireTool(t, "setpriv")
	testbin.RequireRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	ko := filepath.Join(dir, "lib", "modules", "r", "x.ko")
	os.MkdirAll(filepath.Dir(ko), 0o755)
	if err := os.WriteFile(ko, makeKO("name=x", "license=GPL"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"insmod", ko}, {"rmmod", "x"}, {"modprobe", "-d", dir, "-S", "r", "x"}, {"kmodloader", dir}} {
		bin := testbin.Applet(t, args[0])
		os.Chmod(filepath.Dir(bin), 0o755)
		cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin}, args[1:]...)...)
		cmd.Env = testbin.Env()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "needs root (CAP_SYS_MODULE)") {
			t.Errorf("%q as nobody: %v %q", args, err, out)
		}
	}
}

// Compressed modules are found and handed to the kernel as they are (it
// decompresses them); their .modinfo is out of reach without depmod's files.
func TestCompressedModule(t *testing.T) {
	ft := newFakeTree(t)
	ft.write("lib/modules/"+fakeRelease+"/kernel/net/ifb.ko.zst", "\x28\xb5\x2f\xfdcompressed")
	if code := ft.run("modprobe", "ifb"); code != 0 {
		t.Fatalf("exit %d: %s", code, ft.err.String())
	}
	if len(ft.calls) != 1 || ft.calls[0] != "ifb.ko.zst" {
		t.Errorf("calls %q", ft.calls)
	}
	if code := ft.run("modinfo", "ifb"); code != 1 || !strings.Contains(ft.err.String(), "compressed module") {
		t.Errorf("modinfo: %d %q", code, ft.err.String())
	}
}

// modprobe.d install and remove commands run (with /bin/sh) instead of the
// module, for a dependency too; -i loads the module itself; a failing command
// is an error; softdeps take precedence; -n -v prints kmod's install lines.
func TestModprobeInstallCommands(t *testing.T) {
	ft := bootTree(t)
	log := filepath.Join(ft.root, "ran")
	ft.write("etc/modprobe.d/cmds.conf", strings.ReplaceAll(`install stp echo STP opts=[$CMDLINE_OPTS] mod=$MODPROBE_MODULE >> LOG
install zram echo ZRAM $CMDLINE_OPTS >> LOG
install usb-storage /bin/false
install fsy /bin/false
remove bridge echo RM $MODPROBE_MODULE >> LOG
`, "LOG", log))
	ran := func() string {
		b, _ := os.ReadFile(log)
		os.Remove(log)
		return string(b)
	}
	check := func(args []string, code int, calls []string, logged string) {
		t.Helper()
		if got := ft.run(append([]string{"modprobe"}, args...)...); got != code {
			t.Errorf("%q: exit %d, want %d (%s)", args, got, code, ft.err.String())
		}
		if !slices.Equal(ft.calls, calls) {
			t.Errorf("%q: loaded %q, want %q", args, ft.calls, calls)
		}
		if got := ran(); got != logged {
			t.Errorf("%q: commands printed %q, want %q", args, got, logged)
		}
	}
	check([]string{"bridge"}, 0, []string{"llc", "bridge"}, "STP opts=[] mod=stp\n")
	check([]string{"zram", "x=1", "q=a b"}, 0, []string{"zsmalloc"}, "ZRAM extra=1 x=1 q=a b\n")
	check([]string{"-i", "zram", "x=1", "q=a b"}, 0, []string{"zsmalloc", `zram extra=1 x=1 q="a b"`}, "")
	check([]string{"--ignore-install", "bridge"}, 0, []string{"llc", "bridge"}, "STP opts=[] mod=stp\n")
	check([]string{"fsy"}, 0, []string{"helper", "fsy", "after"}, "") // softdep wins
	// The hardening idiom, on a name no module file has.
	check([]string{"usb-storage"}, 1, nil, "")
	if !strings.Contains(ft.err.String(), "install command '/bin/false' for module usb_storage: exit status 1") {
		t.Errorf("usb-storage: %q", ft.err.String())
	}
	check([]string{"-i", "usb-storage"}, 1, nil, "")
	// The dry run prints what kmod's prints, runs nothing.
	check([]string{"-n", "-v", "usb-storage"}, 0, nil, "")
	if got := ft.out.String(); got != "install /bin/false \n" {
		t.Errorf("-n -v usb-storage: %q", got)
	}
	check([]string{"-nv", "bridge"}, 0, nil, "")
	dir := ft.sys.ModDir()
	if got, want := ft.out.String(), "insmod "+dir+"/llc.ko \ninstall echo STP opts=[$CMDLINE_OPTS] mod=$MODPROBE_MODULE >> "+log+" \ninsmod "+dir+"/bridge.ko \n"; got != want {
		t.Errorf("-nv bridge:\n%s\nwant\n%s", got, want)
	}
	// A dependency whose command fails stops its users.
	ft.write("etc/modprobe.d/zz.conf", "install llc exit 3\n")
	check([]string{"bridge"}, 1, nil, "")
	if !strings.Contains(ft.err.String(), "exit status 3") {
		t.Errorf("failing dependency command: %q", ft.err.String())
	}
	os.Remove(filepath.Join(ft.root, "etc/modprobe.d/zz.conf"))
	// remove: the command instead of unloading, loaded or not; -i unloads.
	ft.write("proc/modules", "bridge 311296 0 - Live 0x0\n")
	check([]string{"-r", "bridge"}, 0, nil, "RM bridge\n")
	check([]string{"-r", "-n", "-v", "bridge"}, 0, nil, "")
	if got := ft.out.String(); got != "remove echo RM $MODPROBE_MODULE >> "+log+"\n" {
		t.Errorf("-r -n -v: %q", got)
	}
	if len(ft.removed) != 0 {
		t.Errorf("removed %q despite the remove command", ft.removed)
	}
	check([]string{"-r", "-i", "bridge"}, 0, nil, "")
	if !slices.Equal(ft.removed, []string{"bridge force=false"}) {
		t.Errorf("-r -i: removed %q", ft.removed)
	}
	// The boot loader, as ubox's, runs no command and loads the module.
	ft.write("etc/modules.d/a", "zram\n")
	if code := ft.run("kmodloader"); code != 0 || !slices.Equal(ft.calls, []string{"zsmalloc", "zram extra=1"}) || ran() != "" {
		t.Errorf("boot: exit %d calls %q", code, ft.calls)
	}
	if !strings.Contains(ft.log.String(), "install command not run") {
		t.Errorf("boot log: %q", ft.log.String())
	}
}

// TestModprobeCommandsLikeKmod: with the same modprobe.d install, remove and
// options lines, `modprobe -n -v` (and -r, -i, -D) print what kmod's prints on
// the real tree: install lines as written with kmod's options, a dependency's
// command, glob module names, command-only names (the CIS idiom `install
// cramfs /bin/true`), softdep taking precedence (nfsd).
func TestModprobeCommandsLikeKmod(t *testing.T) {
	modules, rel := realTree(t)
	kmod := testbin.RequireTool(t, "modprobe")
	base := depmodBase(t, modules, rel)
	confDir := filepath.Join(base, "etc", "modprobe.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `install stp /bin/echo STP $CMDLINE_OPTS
install bridge   /bin/echo BR [$CMDLINE_OPTS] # kept, as kmod keeps it
options bridge x=1
install cramfs /bin/true
install usb-storage /bin/false
install nls_iso* /bin/true
install nfsd /bin/false
install virtio-blk /sbin/modprobe --ignore-install virtio_blk \
	$CMDLINE_OPTS; /bin/true
remove zram /bin/echo rm zram $CMDLINE_OPTS
`
	if err := os.WriteFile(filepath.Join(confDir, "cmds.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ft := newFakeTree(t)
	ft.sys.Release = rel
	ft.sys.ModulesRoot = filepath.Join(base, "lib", "modules")
	ft.sys.Etc = filepath.Join(base, "etc")
	for _, args := range [][]string{
		{"-n", "-v", "bridge"},
		{"-n", "-v", "bridge", "y=2", "z=a b"},
		{"-n", "-v", "-i", "bridge"},
		{"-n", "-v", "--ignore-install", "bridge", "y=2"},
		{"-n", "-v", "cramfs"},
		{"-n", "-v", "usb-storage"},
		{"-n", "-v", "nls-iso8859-1"},
		{"-n", "-v", "nfsd"},
		{"-n", "-v", "virtio:d00000002v00001AF4"},
		{"-n", "-v", "-a", "cramfs", "usb_storage", "stp"},
		{"-D", "bridge"},
		{"-r", "-n", "-v", "zram"},
	} {
		cmd := exec.Command(kmod, append([]string{"-C", confDir, "-d", base, "-S", rel}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kmod modprobe %q: %v %s", args, err, stderr.String())
		}
		if code := ft.run(append([]string{"modprobe"}, args...)...); code != 0 {
			t.Errorf("%q: exit %d %s", args, code, ft.err.String())
		}
		if got := ft.out.String(); got != string(out) {
			t.Errorf("modprobe %q:\n%s\nkmod:\n%s", args, got, out)
		}
		if !strings.Contains(string(out), "install ") && !strings.Contains(string(out), "remove ") && args[len(args)-1] != "nfsd" && args[2] != "-i" && args[2] != "--ignore-install" {
			t.Errorf("%q: kmod ran no command: the test proves nothing", args)
		}
	}
	// Run for real: commands only (no module reaches the kernel). kmod and
	// we agree on the exit status and on what the commands print.
	for _, args := range [][]string{{"cramfs"}, {"usb-storage"}, {"-r", "zram"}} {
		cmd := exec.Command(kmod, append([]string{"-C", confDir, "-d", base, "-S", rel}, args...)...)
		out, err := cmd.Output()
		kcode := 0
		if ee, ok := err.(*exec.ExitError); ok {
			kcode = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code := ft.run(append([]string{"modprobe"}, args...)...); code != kcode || ft.out.String() != string(out) {
			t.Errorf("%q: exit %d output %q, kmod %d %q", args, code, ft.out.String(), kcode, out)
		}
	}
}

// Made-up signature trailers on a small module, ours against kmod's modinfo:
// the other key identifier types (signer and key id stored plainly), a real
// PKCS#7 message moved onto another module, and trailers kmod refuses (then
// neither prints any signature field).
func TestModinfoSignatureTrailersLikeKmod(t *testing.T) {
	modules, rel := realTree(t)
	kmod := testbin.RequireTool(t, "modinfo")
	real, err := os.ReadFile(filepath.Join(modules, rel, "kernel", "drivers", "block", "loop.ko"))
	if err != nil {
		t.Fatal(err)
	}
	const magic = "~Module signature appended~\n"
	end := len(real) - len(magic) - 12
	pkcs7 := real[end-int(binary.BigEndian.Uint32(real[end+8:])) : end]
	trailer := func(algo, hash, idType byte, signer, keyID, sig []byte) []byte {
		b := append(append(append([]byte(nil), signer...), keyID...), sig...)
		h := []byte{algo, hash, idType, byte(len(signer)), byte(len(keyID)), 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[8:], uint32(len(sig)))
		return append(append(b, h...), magic...)
	}
	cut := append([]byte(nil), pkcs7[:len(pkcs7)-30]...)
	ft := newFakeTree(t)
	dir := t.TempDir()
	for name, tr := range map[string][]byte{
		"x509":         trailer(1, 4, 1, []byte("Some signer"), []byte{0xde, 0xad, 0xbe, 0xef}, bytes.Repeat([]byte{0x42}, 45)),
		"pgp-sha1":     trailer(0, 2, 0, nil, []byte{1}, []byte{7, 7, 7}),
		"no-key-id":    trailer(1, 6, 1, []byte("x"), nil, []byte{1}),
		"pkcs7":        trailer(0, 0, 2, nil, nil, pkcs7),
		"pkcs7-cut":    trailer(0, 0, 2, nil, nil, cut),
		"bad-id-type":  trailer(1, 4, 3, nil, nil, []byte{1}),
		"bad-hash":     trailer(1, 9, 1, nil, nil, []byte{1}),
		"sig-len-zero": trailer(1, 4, 1, []byte("s"), nil, nil),
	} {
		p := filepath.Join(dir, name+".ko")
		if err := os.WriteFile(p, append(makeKO("license=GPL", "name="+name), tr...), 0o644); err != nil {
			t.Fatal(err)
		}
		want, err := exec.Command(kmod, p).Output()
		if err != nil {
			t.Fatalf("kmod modinfo %s: %v", name, err)
		}
		if code := ft.run("modinfo", p); code != 0 || ft.out.String() != string(want) {
			t.Errorf("%s: exit %d\n%s\nkmod:\n%s", name, code, ft.out.String(), want)
		}
		refused := strings.HasPrefix(name, "bad") || name == "pkcs7-cut" || name == "sig-len-zero"
		if hasSig := strings.Contains(string(want), "sig_id:"); hasSig == refused {
			t.Errorf("%s: kmod shows signature fields: %v", name, hasSig)
		}
	}
}
