package kmodloader

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// vmModules are the module files the VM gets: about thirty, with dependency
// chains (bridge -> stp -> llc, 8021q -> garp/mrp -> stp, vxlan -> udp tunnels,
// udf -> cdrom crc-itu-t, xfs -> libcrc32c with a softdep on crc32c), a
// name spelt with '-', one with a parameter, one with a bad parameter.
var vmModules = []string{
	"virtio_ring", "virtio", "virtio_blk", "zsmalloc", "zram", "nls_iso8859-1",
	"overlay", "squashfs", "loop", "cdrom", "isofs",
	"llc", "stp", "bridge", "mrp", "garp", "8021q", "udp_tunnel", "ip6_udp_tunnel", "vxlan",
	"crc-itu-t", "udf", "fuse", "tun", "veth", "dummy", "nbd", "libcrc32c", "crc32c-intel", "xfs",
	"fat", "vfat", "virtio_net", "net_failover", "failover",
}

// vmInit is /init: mount, run the loader twice as init and S10boot do, then
// exercise the applets and print what the kernel says, then power off. The
// applets are called by path: Debian's busybox sh runs its own modprobe,
// insmod... for bare names (FEATURE_SH_STANDALONE).
const vmInit = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
export TOYBOX_GO_LOG=stderr
t0=$(cut -d' ' -f1 /proc/uptime)
/sbin/kmodloader /etc/modules-boot.d
t1=$(cut -d' ' -f1 /proc/uptime)
/sbin/kmodloader
t2=$(cut -d' ' -f1 /proc/uptime)
echo "TIMING boot.d=$t0..$t1 modules.d=$t1..$t2"
echo "=== modules after boot"
cut -d' ' -f1 /proc/modules | sort | tr '\n' ' '
echo
echo "=== end"
[ -d /sys/block/zram1 ] && echo "ZRAM1 present"
echo "=== modprobe alias"
/sbin/modprobe -v fs-vfat
/sbin/modprobe -v 'virtio:d00000001v00001AF4'
/sbin/modprobe nosuchmodule; echo "nosuch status $?"
/sbin/modprobe -q nosuchmodule; echo "quiet status $?"
/sbin/modprobe ifb; echo "compressed status $?"
/sbin/insmod /lib/modules/*/kernel/drivers/block/nbd.ko nbds_max=abc; echo "insmod status $?"
/sbin/insmod /root/macvlan-other-kernel.ko; echo "vermagic status $?"
/sbin/lsmod | grep -E '^(vfat|virtio_net) ' | tr -s ' ' | cut -d' ' -f1 | tr '\n' ' '
echo
echo "=== remove"
/sbin/rmmod vfat; echo "rmmod status $?"
/sbin/modprobe -r 8021q; echo "modprobe -r status $?"
/sbin/rmmod vfat; echo "rmmod again status $?"
echo "=== install commands"
mkdir -p /etc/modprobe.d
printf 'install nbd /bin/false\nremove nbd echo REMOVE-CMD $MODPROBE_MODULE\n' > /etc/modprobe.d/cis.conf
/sbin/modprobe nbd; echo "install false status $?"
echo "nbd after install: $(grep -c '^nbd ' /proc/modules)"
/sbin/modprobe -i nbd nbds_max=2; echo "ignore-install status $?"
echo "nbd after -i: $(grep -c '^nbd ' /proc/modules)"
/sbin/modprobe -r nbd; echo "remove cmd status $?"
echo "nbd after remove command: $(grep -c '^nbd ' /proc/modules)"
echo "=== modules at the end"
cut -d' ' -f1 /proc/modules | sort | tr '\n' ' '
echo
echo "=== end"
poweroff -f
`

func TestVMLoadRealModules(t *testing.T) {
	k := vmtest.GetKernel(t)
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	if err := ir.Modules(k.Dir, k.Release, vmModules...); err != nil {
		t.Fatal(err)
	}
	// A zstd-compressed module: the kernel must decompress it
	// (MODULE_INIT_COMPRESSED_FILE); Debian's has no CONFIG_MODULE_DECOMPRESS,
	// so the error must say so.
	zstd := testbin.RequireTool(t, "zstd")
	comp, err := exec.Command(zstd, "-q", "-c", filepath.Join(k.ModulesDir(), "kernel/drivers/net/ifb.ko")).Output()
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	ir.File(filepath.Join("lib/modules", k.Release, "kernel/drivers/net/ifb.ko.zst"), comp, 0o644)
	// A module whose vermagic does not match the kernel's (same release, other
	// flags: the kernel compares those even with modversions).
	mac, err := os.ReadFile(filepath.Join(k.ModulesDir(), "kernel/drivers/net/macvlan.ko"))
	if err != nil {
		t.Fatal(err)
	}
	// Drop the appended signature first: a broken one is refused before the
	// vermagic is looked at; a missing one only taints (not enforced here).
	const marker = "~Module signature appended~\n"
	if body, ok := strings.CutSuffix(string(mac), marker); ok && len(body) > 12 {
		sigLen := binary.BigEndian.Uint32([]byte(body[len(body)-4:]))
		if int(sigLen)+12 <= len(body) {
			mac = []byte(body[:len(body)-12-int(sigLen)])
		}
	}
	bad := strings.Replace(string(mac), " SMP preempt mod_unload", " SMP preemXt mod_unload", 1)
	if bad == string(mac) {
		t.Fatal("macvlan.ko: vermagic flags not found")
	}
	ir.File("root/macvlan-other-kernel.ko", []byte(bad), 0o644)
	ir.File("init", []byte(vmInit), 0o755)
	// init's list: a numbered file, linked from modules.d as OpenWrt does.
	ir.File("etc/modules.d/10-boot", []byte("virtio_blk\nzram num_devices=2\nnls-iso8859-1\n"), 0o644)
	ir.Symlink("etc/modules-boot.d/10-boot", "../modules.d/10-boot")
	ir.File("etc/modules.d/20-fs", []byte("overlay\nsquashfs\nloop\next4\nisofs\n"), 0o644)
	ir.File("etc/modules.d/30-net", []byte("# bridges and VLANs\nbridge\n8021q\nvxlan\n"), 0o644)
	ir.File("etc/modules.d/apps", []byte("udf\nfuse\ntun\nveth\ndummy numdummies=3\nnbd nbds_max=abc\nxfs\n"), 0o644)
	ir.File("etc/modules.conf", []byte("options tun bogus_but_harmless=1\nblacklist nosuch\n"), 0o644)

	res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Append: "rdinit=/init loglevel=1"}) // no kernel lines amid ours
	res.Healthy(t)
	t.Logf("console:\n%s", res.Console)

	after := section(t, res.Console, "=== modules after boot")
	for _, m := range []string{
		"virtio_ring", "virtio", "virtio_blk", "zsmalloc", "zram", "nls_iso8859_1",
		"overlay", "squashfs", "loop", "cdrom", "isofs", "llc", "stp", "bridge", "mrp", "garp",
		"8021q", "udp_tunnel", "ip6_udp_tunnel", "vxlan", "crc_itu_t", "udf", "fuse", "tun",
		"veth", "dummy", "libcrc32c", "xfs",
	} {
		if !hasWord(after, m) {
			t.Errorf("%s not loaded at boot; /proc/modules: %s", m, after)
		}
	}
	for _, m := range []string{"nbd", "crc32c_intel", "vfat"} {
		if hasWord(after, m) {
			t.Errorf("%s loaded at boot, should not be: %s", m, after)
		}
	}
	res.Contains(t,
		// The bad parameter is reported with the kernel's reason, the rest load.
		"failed to load nbd", "invalid parameter",
		"1 module(s) could not be probed", "- nbd:",
		"ZRAM1 present",
		"=== modprobe alias",
		"nosuch status 1", "quiet status 1",
		"ifb.ko.zst", "CONFIG_MODULE_DECOMPRESS", "compressed status 1",
		"insmod status 1",
		"invalid module format", "version magic", "vermagic status 1",
		"virtio_net vfat", // lsmod: newest first
		"=== remove", "rmmod status 0", "modprobe -r status 0", "not loaded", "rmmod again status 1",
		// modprobe.d install and remove commands, the hardening idiom:
		// /bin/false instead of the module, an error; -i loads it; the
		// remove command runs instead of unloading.
		"=== install commands", "install command '/bin/false' for module nbd: exit status 1",
		"install false status 1", "nbd after install: 0",
		"ignore-install status 0", "nbd after -i: 1",
		"REMOVE-CMD nbd", "remove cmd status 0", "nbd after remove command: 1",
	)
	// crc32c_intel is a soft dependency of libcrc32c (xfs's): qemu's CPU
	// lacks SSE4.2, which /sys/devices/system/cpu/modalias shows, so the
	// loader does not try it (it could only fail with ENODEV), says why, and
	// xfs loads anyway.
	res.Contains(t, "crc32c_intel not loaded (soft dependency crc32c): it drives CPU features this CPU lacks")
	res.Lacks(t, "failed to load crc32c_intel")
	end := section(t, res.Console, "=== modules at the end")
	for _, m := range []string{"vfat", "8021q", "garp", "mrp"} {
		if hasWord(end, m) {
			t.Errorf("%s still loaded after removal: %s", m, end)
		}
	}
	for _, m := range []string{"fat", "stp", "llc", "bridge", "virtio_net"} {
		if !hasWord(end, m) {
			t.Errorf("%s should still be loaded: %s", m, end)
		}
	}
	if m := regexp.MustCompile(`TIMING boot.d=([0-9.]+)\.\.([0-9.]+) modules.d=([0-9.]+)\.\.([0-9.]+)`).FindStringSubmatch(res.Console); m != nil {
		t.Logf("loader timing under TCG (uptime): modules-boot.d %s..%s, modules.d %s..%s", m[1], m[2], m[3], m[4])
	}
	if os.Getenv("TOYBOX_GO_VM_CONSOLE") != "" {
		os.WriteFile(os.Getenv("TOYBOX_GO_VM_CONSOLE"), []byte(res.Console), 0o644)
	}
}

// section returns the console text between a marker line and "=== end".
func section(t *testing.T, console, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(console, marker+"\n")
	if !ok {
		t.Fatalf("console lacks %q:\n%s", marker, console)
	}
	body, _, _ := strings.Cut(rest, "=== end")
	return body
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}
