package kmodloader

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// bootTree is an OpenWrt-like flat tree with dependency chains, soft
// dependencies, built-ins and modules that fail on command.
func bootTree(t *testing.T) *fakeTree {
	ft := newFakeTree(t)
	ft.module("llc")
	ft.module("stp", "depends=llc")
	ft.module("bridge", "depends=stp,llc", "alias=rtnl-link-bridge")
	ft.module("zsmalloc")
	ft.module("zram", "depends=zsmalloc", "parm=num_devices:Number of devices", "parmtype=num_devices:uint")
	ft.module("nls_iso8859-1")
	ft.module("needs_later")
	ft.module("badparm")
	ft.module("orphan", "depends=ghost")
	ft.module("helper")
	ft.module("after")
	ft.module("fsy", "softdep=pre: helper post: after")
	ft.module("fsx", "softdep=pre: crypto-crc32c")
	ft.module("loaded_already")
	ft.module("blacklisted")
	ft.write("lib/modules/"+fakeRelease+"/modules.builtin", "kernel/fs/ext4/ext4.ko\nkernel/crypto/crc32c_generic.ko\n")
	ft.write("lib/modules/"+fakeRelease+"/modules.builtin.modinfo",
		"ext4.softdep=pre: crc32c\x00crc32c_generic.alias=crypto-crc32c\x00crc32c_generic.alias=crc32c\x00")
	ft.write("proc/modules", "loaded_already 16384 0 - Live 0xffffffffc0000000\n")
	ft.write("etc/modules.conf", "blacklist blacklisted\noptions zram extra=1\nbogus line\n")
	return ft
}

func TestBootOrderAndRetry(t *testing.T) {
	ft := bootTree(t)
	ft.write("early-list", "llc\n")
	if err := os.Symlink("../../early-list", filepath.Join(ft.root, "etc/modules.d/05-early")); err != nil {
		t.Fatal(err)
	}
	ft.write("etc/modules.d/10-boot", "zram num_devices=2\n# a comment\n\n   \nnls-iso8859-1\n")
	ft.write("etc/modules.d/20-net", "bridge\nneeds_later\n")
	ft.write("etc/modules.d/apps", "loaded_already\next4\nfsy\nfsx\nbadparm bad=1\norphan\nunknown_mod\nblacklisted\n")
	ft.fail["needs_later"] = []error{unix.ENOENT} // an undeclared dependency: fine on retry
	ft.fail["badparm"] = []error{unix.EINVAL, unix.EINVAL}
	if code := ft.run("kmodloader"); code != 0 {
		t.Errorf("exit %d, want 0 (as ubox, even with failures)", code)
	}
	want := []string{
		"llc",                                    // 05-early (a symlink), at once
		"zsmalloc", "zram extra=1 num_devices=2", // 10-boot: dependency first, modules.conf options then the line's
		"nls_iso8859-1",
		"stp", "bridge", // 20-net
		"needs_later",            // fails: ENOENT
		"helper", "fsy", "after", // apps: softdep pre, module, softdep post
		"fsx",           // its softdep crypto-crc32c is built in
		"badparm bad=1", // EINVAL: permanent, not retried
		"needs_later",   // retried after others loaded
	}
	if !slices.Equal(ft.calls, want) {
		t.Errorf("load order:\n got %q\nwant %q", ft.calls, want)
	}
	log := ft.log.String()
	for _, s := range []string{
		"modules.conf:3: unknown keyword",
		"failed to load badparm",
		"invalid argument",
		"2 module(s) could not be probed",
		"- badparm:",
		"- orphan: missing dependency ghost",
		"no module unknown_mod",
		"blacklisted is blacklisted",
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
	if strings.Contains(log, "- needs_later") {
		t.Errorf("needs_later loaded on retry but is reported:\n%s", log)
	}
}

// A failure in a lettered file is retried only when something else loaded
// since; without progress there is no retry loop.
func TestNoRetryWithoutProgress(t *testing.T) {
	ft := bootTree(t)
	ft.write("etc/modules.d/apps", "needs_later\n")
	ft.fail["needs_later"] = []error{unix.ENOENT, unix.ENOENT, unix.ENOENT}
	ft.run("kmodloader")
	if !slices.Equal(ft.calls, []string{"needs_later"}) {
		t.Errorf("calls %q", ft.calls)
	}
	if !strings.Contains(ft.log.String(), "unknown symbol") {
		t.Errorf("no hint in the log:\n%s", ft.log.String())
	}
}

func TestBootDirArgument(t *testing.T) {
	ft := bootTree(t)
	ft.write("etc/modules-boot.d/30-zram", "zram\n")
	ft.write("etc/modules.d/99-other", "bridge\n")
	ft.run("kmodloader", filepath.Join(ft.root, "etc/modules-boot.d"))
	if !slices.Equal(ft.calls, []string{"zsmalloc", "zram extra=1"}) {
		t.Errorf("calls %q", ft.calls)
	}
	if !strings.Contains(ft.log.String(), "done loading kernel modules from") {
		t.Errorf("log %s", ft.log.String())
	}
	// A missing directory is one log line and exit 0; a missing module folder
	// is an error, as ubox.
	if code := ft.run("kmodloader", filepath.Join(ft.root, "nope")); code != 0 {
		t.Errorf("missing dir: exit %d", code)
	}
	ft.sys.Release = "other"
	if code := ft.run("kmodloader"); code == 0 || !strings.Contains(ft.log.String(), "no module folder") {
		t.Errorf("missing module folder: exit %d, log %s", code, ft.log.String())
	}
}

func TestNumbered(t *testing.T) {
	for name, want := range map[string]bool{
		"10-boot": true, "50-usb-ohci": true, "-dash": true, ".hidden": true,
		"iptables": false, "Zed": false,
	} {
		if got := numbered(name); got != want {
			t.Errorf("numbered(%q) = %v", name, got)
		}
	}
}

func TestParseModulesFile(t *testing.T) {
	got, err := parseModulesFile(strings.NewReader("bonding max_bonds=0\n# x\n\n\tohci-hcd  a=1\tb=2 \nfoo.ko\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{{Name: "bonding", Params: "max_bonds=0", Line: 1}, {Name: "ohci-hcd", Params: "a=1 b=2", Line: 4}, {Name: "foo.ko", Params: "", Line: 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}

// OpenWrt's own modules.d files (kmod-bonding with MODPARAMS, an AutoLoad
// list, an AutoProbe list) parse into the modules and parameters they name.
func TestOpenWrtFiles(t *testing.T) {
	for text, w := range map[string][]entry{
		"bonding max_bonds=0\n":                {{Name: "bonding", Params: "max_bonds=0", Line: 1}},
		"ohci-at91\nohci-hcd\nohci-platform\n": {{Name: "ohci-at91", Params: "", Line: 1}, {Name: "ohci-hcd", Params: "", Line: 2}, {Name: "ohci-platform", Params: "", Line: 3}},
		"ip_tables\nx_tables\n":                {{Name: "ip_tables", Params: "", Line: 1}, {Name: "x_tables", Params: "", Line: 2}},
	} {
		got, err := parseModulesFile(strings.NewReader(text))
		if err != nil || !reflect.DeepEqual(got, w) {
			t.Errorf("%q: %+v %v", text, got, err)
		}
	}
}

func FuzzParseModulesFile(f *testing.F) {
	f.Add("bonding max_bonds=0\n# c\n\nohci-hcd\n")
	f.Add("\t \n#\x00\nname\tp=1  q=2\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		entries, _ := parseModulesFile(strings.NewReader(text))
		for _, e := range entries {
			if e.Name == "" || strings.ContainsAny(e.Name, " \t\n") || e.Name[0] == '#' {
				t.Fatalf("bad entry %+v", e)
			}
			if strings.Contains(e.Params, "  ") || e.Line < 1 {
				t.Fatalf("bad params %+v", e)
			}
		}
	})
}

// Modules in $LD_LIBRARY_PATH/modules/RELEASE win over /lib/modules/RELEASE.
func TestLibraryPath(t *testing.T) {
	ft := bootTree(t)
	ft.write("overlay/lib/modules/"+fakeRelease+"/zram.ko", string(makeKO("name=zram")))
	ft.sys.LibraryPath = "/nonexistent:" + filepath.Join(ft.root, "overlay/lib")
	ft.write("etc/modules.d/apps", "zram\nbridge\n")
	ft.run("kmodloader")
	// The overlay's zram has no dependency on zsmalloc.
	if want := []string{"zram extra=1", "llc", "stp", "bridge"}; !slices.Equal(ft.calls, want) {
		t.Errorf("calls %q, want %q", ft.calls, want)
	}
}

// Soft dependency cycles (and hard ones) never wedge the loader.
func TestDependencyCycles(t *testing.T) {
	ft := newFakeTree(t)
	ft.module("p", "softdep=pre: q")
	ft.module("q", "softdep=pre: p")
	ft.module("r", "softdep=post: s")
	ft.module("s", "softdep=post: r")
	ft.module("h1", "depends=h2")
	ft.module("h2", "depends=h1")
	ft.write("etc/modules.d/list", "p\nr\nh1\n")
	if code := ft.run("kmodloader"); code != 0 {
		t.Fatal(code)
	}
	got := slices.Clone(ft.calls)
	slices.Sort(got)
	if want := []string{"p", "q", "r", "s"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", ft.calls, want)
	}
	if !strings.Contains(ft.log.String(), "- h1: dependency not loaded h2") {
		t.Errorf("log:\n%s", ft.log.String())
	}
}

// A soft dependency that drives a CPU feature this CPU lacks (crc32c_intel
// without SSE4.2) is not tried: its init could only fail with ENODEV. With the
// feature, or with no CPU modalias to go by, it loads as kmod would load it.
func TestSoftdepCPUFeature(t *testing.T) {
	for _, tc := range []struct {
		name, modalias string
		want           []string
	}{
		{"lacking", "cpu:type:x86,ven0002fam0019mod0001:feature:,0000,0001,0093,0095,00E5\n", []string{"libcrc", "fs"}},
		{"having", "cpu:type:x86,ven0002fam0019mod0001:feature:,0000,0001,0094,0095\n", []string{"crc_fast", "libcrc", "fs"}},
		{"unknown", "", []string{"crc_fast", "libcrc", "fs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTree(t)
			ft.module("crc_fast", "alias=crypto-crc32c", "alias=crc32c", "alias=cpu:type:x86,ven*fam*mod*:feature:*0094*")
			ft.module("libcrc", "softdep=pre: crc32c")
			ft.module("fs", "depends=libcrc")
			ft.write("lib/modules/"+fakeRelease+"/modules.builtin", "kernel/crypto/crc32c_generic.ko\n")
			ft.write("lib/modules/"+fakeRelease+"/modules.builtin.modinfo", "crc32c_generic.alias=crc32c\x00")
			if tc.modalias != "" {
				ft.sys.Sys = filepath.Join(ft.root, "sys")
				ft.write("sys/devices/system/cpu/modalias", tc.modalias)
			}
			ft.write("etc/modules.d/fs", "fs\n")
			ft.run("kmodloader")
			if !slices.Equal(ft.calls, tc.want) {
				t.Errorf("loader: calls %q, want %q\nlog:\n%s", ft.calls, tc.want, ft.log.String())
			}
			if skipped := strings.Contains(ft.log.String(), "crc_fast not loaded (soft dependency crc32c): it drives CPU features this CPU lacks"); skipped != (tc.name == "lacking") {
				t.Errorf("log about crc_fast: %v\n%s", skipped, ft.log.String())
			}
			ft.run("modprobe", "fs")
			if !slices.Equal(ft.calls, tc.want) {
				t.Errorf("modprobe: calls %q, want %q", ft.calls, tc.want)
			}
			ft.run("modprobe", "-D", "fs")
			if !strings.Contains(ft.out.String(), "crc_fast.ko") {
				t.Errorf("modprobe -D leaves out a soft dependency:\n%s", ft.out.String())
			}
		})
	}
}
