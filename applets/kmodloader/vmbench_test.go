package kmodloader

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"toybox-go/internal/initramfs"
	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// benchSet is what every loader loads in BenchmarkVMLoad: 16 names, 28
// modules with their dependencies (and crc32c_intel, xfs's soft dependency,
// which fails with ENODEV under qemu for everyone).
var benchSet = []string{"virtio_blk", "zram", "nls_iso8859-1", "overlay", "squashfs", "loop", "isofs",
	"bridge", "8021q", "vxlan", "udf", "fuse", "tun", "veth", "dummy", "xfs"}

// depmodFiles runs depmod over a tree holding just the VM's modules and returns
// the directory with its modules.* files.
func depmodFiles(b *testing.B, k *vmtest.Kernel) string {
	depmod := testbin.RequireTool(b, "depmod")
	base := b.TempDir()
	dst := filepath.Join(base, "lib", "modules", k.Release)
	want := map[string]bool{}
	for _, n := range vmModules {
		want[strings.ReplaceAll(n, "-", "_")] = true
	}
	err := filepath.WalkDir(k.ModulesDir(), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !want[strings.ReplaceAll(strings.TrimSuffix(d.Name(), ".ko"), "-", "_")] {
			return err
		}
		rel, _ := filepath.Rel(k.ModulesDir(), p)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.Symlink(p, filepath.Join(dst, rel))
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		data, err := os.ReadFile(filepath.Join(k.ModulesDir(), f))
		if err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, f), data, 0o644)
	}
	if out, err := exec.Command(depmod, "-b", base, k.Release).CombinedOutput(); err != nil {
		b.Fatalf("depmod: %v %s", err, out)
	}
	return dst
}

// addKmod puts Debian's kmod (dynamically linked) and its libraries into the
// initramfs as /usr/local/bin/modprobe.
func addKmod(b *testing.B, ir *initramfs.Builder) {
	kmod := testbin.RequireTool(b, "kmod")
	out, err := exec.Command("ldd", kmod).Output()
	if err != nil {
		testbin.Unavailable(b, "ldd kmod: %v", err)
	}
	ir.HostFile("usr/local/bin/kmod", kmod, 0o755)
	ir.Symlink("usr/local/bin/modprobe", "kmod")
	for _, m := range regexp.MustCompile(`(/\S+)`).FindAllString(string(out), -1) {
		if real, err := filepath.EvalSymlinks(m); err == nil {
			if err := ir.HostFile(m, real, 0o755); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkVMLoad boots the VM once per iteration and times, with
// /proc/uptime inside the guest, one tool loading benchSet: our kmodloader on
// an OpenWrt-style tree (no modules.dep), our modprobe -a with depmod's files,
// busybox modprobe -a and kmod modprobe -a with the same files;
// kmodloader-startup is the loader over an empty directory (Go start-up and
// the tree walk).
//
// Loading the independent modules of a pass in parallel (4 at a time) was
// measured here and dropped: 1.38 s against 1.42 s serial with one vCPU (noise),
// and slower with -smp 2 under TCG (3.6 s against 2.5 s). The kernel's
// work (relocation, signature check, init) dominates.
func BenchmarkVMLoad(b *testing.B) {
	k := vmtest.GetKernel(b)
	dep := depmodFiles(b, k)
	list := strings.Join(benchSet, " ")
	for _, tc := range []struct{ name, cmd string }{
		{"kmodloader-scan", "/sbin/kmodloader /etc/bench.d"},
		{"kmodloader-startup-scan", "/sbin/kmodloader /etc/modules.d"},
		{"modprobe-a-depmod", "/sbin/modprobe -a " + list},
		{"modprobe-a-scan", "/sbin/modprobe -a " + list},
		{"busybox-modprobe-a", "/bin/busybox modprobe -a " + list},
		{"kmod-modprobe-a", "/usr/local/bin/modprobe -a " + list},
	} {
		b.Run(tc.name, func(b *testing.B) {
			total := 0.0
			for b.Loop() {
				ir := vmtest.NewInitramfs(b)
				vmtest.AddBusybox(b, ir)
				if err := ir.Modules(k.Dir, k.Release, vmModules...); err != nil {
					b.Fatal(err)
				}
				ir.Dir("etc/modules.d", 0o755)
				ir.File("etc/bench.d/list", []byte(strings.Join(benchSet, "\n")+"\n"), 0o644)
				files, _ := filepath.Glob(filepath.Join(dep, "modules.*"))
				for _, f := range files {
					if strings.HasSuffix(tc.name, "-scan") && !strings.HasPrefix(filepath.Base(f), "modules.builtin") {
						continue
					}
					ir.HostFile(filepath.Join("lib/modules", k.Release, filepath.Base(f)), f, 0o644)
				}
				if strings.HasPrefix(tc.name, "kmod") {
					addKmod(b, ir)
				}
				ir.File("init", []byte(`#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
export TOYBOX_GO_LOG=stderr
t0=$(cut -d' ' -f1 /proc/uptime)
`+tc.cmd+` >/dev/null 2>&1
t1=$(cut -d' ' -f1 /proc/uptime)
echo "ELAPSED $t0 $t1 $(wc -l < /proc/modules) CPUS $(grep -c ^processor /proc/cpuinfo)"
poweroff -f
`), 0o755)
				res := vmtest.Boot(b, vmtest.Machine{Kernel: k, Initramfs: ir, Append: "rdinit=/init loglevel=1"})
				m := regexp.MustCompile(`ELAPSED ([0-9.]+) ([0-9.]+) +([0-9]+)`).FindStringSubmatch(res.Console)
				if m == nil {
					b.Fatalf("no timing:\n%s", res.Console)
				}
				t0, _ := strconv.ParseFloat(m[1], 64)
				t1, _ := strconv.ParseFloat(m[2], 64)
				if n, _ := strconv.Atoi(m[3]); n < 28 && !strings.Contains(tc.name, "startup") {
					b.Errorf("only %s modules loaded:\n%s", m[3], res.Console)
				}
				total += t1 - t0
			}
			b.ReportMetric(total/float64(b.N), "guest-s/load")
		})
	}
}
