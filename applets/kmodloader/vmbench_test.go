package kmodloader

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"toybox-go/internal/initramfs"
	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// benchSet is what every loader loads in BenchmarkVMLoad: 16 names, 28
// modules with their dependencies. libcrc32c (xfs's) has a soft dependency on
// crc32c: kmod tries crc32c_intel too and gets ENODEV (qemu's CPU has no
// SSE4.2; 40 ms of the kernel's time), ours see that from the CPU's modalias
// and skip it, busybox ignores soft dependencies.
var benchSet = []string{"virtio_blk", "zram", "nls_iso8859-1", "overlay", "squashfs", "loop", "isofs",
	"bridge", "8021q", "vxlan", "udf", "fuse", "tun", "veth", "dummy", "xfs"}

// depmodFiles runs depmod over a tree holding just the VM's modules and returns
// the directory with its modules.* files.
func depmodFiles(b testing.TB, k *vmtest.Kernel) string {
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
func addKmod(b testing.TB, ir *initramfs.Builder) {
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

// benchInit is /init of a BenchmarkVMLoad boot. It times CMD with marks in
// the kernel's trace buffer (microseconds; /proc/uptime counts in 10 ms), and
// lets the kernel time each finit_module with a kprobe and a
// kretprobe (no cost to other system calls, unlike syscall tracepoints) and
// count its request_module calls, which run HELPER (written to
// /proc/sys/kernel/modprobe: each tool gets its own, as on a system where it
// is /sbin/modprobe).
const benchInit = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
export TOYBOX_GO_LOG=stderr
echo HELPER > /proc/sys/kernel/modprobe
cd /sys/kernel/tracing
echo 'p:kmbench/fin __x64_sys_finit_module' >> kprobe_events
echo 'r:kmbench/finr __x64_sys_finit_module' >> kprobe_events
echo 1 > events/kmbench/enable
echo 1 > events/module/module_request/enable
cd /
echo START > /sys/kernel/tracing/trace_marker
CMD >/dev/null 2>&1
echo END > /sys/kernel/tracing/trace_marker
echo "MODULES $(wc -l < /proc/modules) CPUS $(grep -c ^processor /proc/cpuinfo)"
echo "=== trace"
grep -v '^#' /sys/kernel/tracing/trace
echo "=== end"
poweroff -f
`

// vmLoadRun is one timed load in the guest.
type vmLoadRun struct {
	total    float64 // seconds, CMD start to end
	kernel   float64 // seconds inside finit_module
	requests int     // the kernel's request_module calls (runs of HELPER)
	modules  int     // lines of /proc/modules after
}

// parseVMLoad reads the console of a benchInit boot.
func parseVMLoad(console string) (vmLoadRun, error) {
	var r vmLoadRun
	m := regexp.MustCompile(`MODULES ([0-9]+)`).FindStringSubmatch(console)
	if m == nil {
		return r, fmt.Errorf("no MODULES line")
	}
	r.modules, _ = strconv.Atoi(m[1])
	_, tr, _ := strings.Cut(console, "=== trace\n")
	tr, _, _ = strings.Cut(tr, "=== end")
	mark := regexp.MustCompile(`([0-9.]+): tracing_mark_write: (START|END)`)
	var t0, t1 float64
	for _, mk := range mark.FindAllStringSubmatch(tr, -1) {
		t, _ := strconv.ParseFloat(mk[1], 64)
		if mk[2] == "START" {
			t0 = t
		} else {
			t1 = t
		}
	}
	if t0 == 0 || t1 == 0 {
		return r, fmt.Errorf("no START and END marks in the trace")
	}
	r.total = t1 - t0
	// "  modprobe-101  [000] .....  2.666223: fin: (__x64_sys_finit_module+0x0/0xf0)"
	ev := regexp.MustCompile(`-(\d+)\s+\[\d+\]\s+\S+\s+([0-9.]+): (finr?|module_request):`)
	open := map[string]float64{}
	for _, line := range strings.Split(tr, "\n") {
		e := ev.FindStringSubmatch(line)
		if e == nil {
			continue
		}
		t, _ := strconv.ParseFloat(e[2], 64)
		switch e[3] {
		case "fin":
			open[e[1]] = t
		case "finr":
			if t0, ok := open[e[1]]; ok {
				r.kernel += t - t0
				delete(open, e[1])
			}
		case "module_request":
			r.requests++
		}
	}
	if r.kernel == 0 {
		return r, fmt.Errorf("no finit_module in the trace")
	}
	return r, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkVMLoad boots the VM once per iteration and times, with
// /proc/uptime inside the guest, one tool loading benchSet: our kmodloader on
// an OpenWrt-style tree (no modules.dep), our modprobe -a with depmod's files
// and on the scanned tree, busybox modprobe -a and kmod modprobe -a with
// depmod's files; kmodloader-startup-scan is the loader over an empty
// directory (Go start-up and the tree walk). Every tool does the same 28
// finit_module calls, so the time is split: kernel-s is the time inside
// finit_module (the kernel's work: reading, signature check, relocation,
// init), user-s the rest (start-up, index, file reads, gaps). Single boots
// vary by 20-30% under TCG on a shared host: use -benchtime 10x or more and
// compare the medians. TOYBOX_GO_BENCH_QEMU adds qemu arguments: "-smp 2",
// or "-icount shift=0,sleep=off", which makes guest time a count of executed
// instructions (1 ns each): deterministic to about 1%, whatever the host is
// doing, but blind to the cost of emulating them (translating Go's larger
// code, for one).
//
// Where the time goes (kernel function_graph tracer, one boot): xfs.ko (4.2
// MB) alone spends 0.8-0.9 s in finit_module before its init runs: signature
// check (sha256 over the file) 0.14 s, the module notifier chain (static
// calls, jump labels, ftrace) 0.3 s, ORC table sort 0.04 s, ... The other 27
// take 0.4 s together, and the guest CPU is busy throughout (no waiting in
// /proc/stat). With -icount the kernel's part is 1.84 s (1.88 s with kmod's
// failing crc32c_intel) and each loader's own 2-10 ms: kmod 8.4 ms, ours
// 8.1-9.4 ms, busybox 2.2 ms. On plain TCG the loaders' part is 0.1 s (code
// translation), the kernel's 1.2 s. So even a loader that cost nothing would
// be at about 0.9x kmod (0.97x in instructions). Parallel loading does not
// help: much of that work runs under global kernel locks. With -smp 2, kmod
// loading xfs in one process and the rest in another took 1.49-1.63 s against
// 1.43-1.47 s serial (two boots each; udf's load waited 0.87 s for xfs's),
// and our loader loading 4 at a time was no faster either (1.38 s against
// 1.42 s with one vCPU, slower with two). No loader triggers request_module
// here (requests/load is 0 for all).
func BenchmarkVMLoad(b *testing.B) {
	k := vmtest.GetKernel(b)
	dep := depmodFiles(b, k)
	list := strings.Join(benchSet, " ")
	qemuArgs := strings.Fields(os.Getenv("TOYBOX_GO_BENCH_QEMU"))
	for _, tc := range []struct{ name, cmd, helper string }{
		{"kmodloader-scan", "/sbin/kmodloader /etc/bench.d", "/sbin/modprobe"},
		{"kmodloader-startup-scan", "/sbin/kmodloader /etc/modules.d", "/sbin/modprobe"},
		{"modprobe-a-depmod", "/sbin/modprobe -a " + list, "/sbin/modprobe"},
		{"modprobe-a-scan", "/sbin/modprobe -a " + list, "/sbin/modprobe"},
		{"busybox-modprobe-a", "/bin/busybox modprobe -a " + list, "/usr/local/busybox/modprobe"},
		{"kmod-modprobe-a", "/usr/local/bin/modprobe -a " + list, "/usr/local/bin/modprobe"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			startup := strings.Contains(tc.name, "startup")
			var totals, kernels, users []float64
			requests := 0
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
				if strings.HasPrefix(tc.name, "kmod-") {
					addKmod(b, ir)
				}
				ir.Symlink("usr/local/busybox/modprobe", "/bin/busybox")
				init := strings.NewReplacer("HELPER", tc.helper, "CMD", tc.cmd).Replace(benchInit)
				ir.File("init", []byte(init), 0o755)
				res := vmtest.Boot(b, vmtest.Machine{Kernel: k, Initramfs: ir, Append: "rdinit=/init loglevel=1", QEMUArgs: qemuArgs})
				r, err := parseVMLoad(res.Console)
				if err != nil && !(startup && r.total > 0) {
					b.Fatalf("%v:\n%s", err, res.Console)
				}
				if r.modules < 28 && !startup {
					b.Errorf("only %d modules loaded:\n%s", r.modules, res.Console)
				}
				totals = append(totals, r.total)
				kernels = append(kernels, r.kernel)
				users = append(users, r.total-r.kernel)
				requests += r.requests
			}
			b.ReportMetric(median(totals), "guest-s/load")
			b.ReportMetric(slices.Min(totals), "min-s")
			b.ReportMetric(median(kernels), "kernel-s")
			b.ReportMetric(median(users), "user-s")
			b.ReportMetric(float64(requests)/float64(len(totals)), "requests/load")
			b.Logf("%s: total %s", tc.name, fmtSeconds(totals))
			b.Logf("%s: user  %s", tc.name, fmtSeconds(users))
		})
	}
}

func fmtSeconds(xs []float64) string {
	var out []string
	for _, x := range xs {
		out = append(out, strconv.FormatFloat(x, 'f', 4, 64))
	}
	return strings.Join(out, " ")
}
