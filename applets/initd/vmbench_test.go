package initd

// BenchmarkVMInitToHandoff: time from the kernel starting init to the exec of
// oneit, in a VM, for toybox-go's init against a busybox shell script doing
// the same work (early mounts, /dev nodes with mdev -s, /tmp, the same boot
// modules with insmod in dependency order, / moved onto its own mount, the
// same /etc/preinit running mount_root on a virtio rootfs_data disk). Both
// end in a stand-in oneit that prints /proc/uptime; the kernel's "Run ... as
// init process" line gives the start.

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

var benchModules = append(vmtest.DiskModules, "overlay")

const benchPreinit = `mount_root start
echo "ROOT: $(grep ' / ' /proc/mounts | tail -n 1)"
`

const benchOneit = `#!/bin/sh
echo "HANDOFF-UPTIME $(cut -d' ' -f1 /proc/uptime) args=$*"
busybox poweroff -f
`

const busyboxInit = `#!/bin/sh
mount -t proc -o nodev,noexec,nosuid proc /proc
mount -t sysfs -o nodev,noexec,nosuid sysfs /sys
mount -t cgroup2 -o nodev,noexec,nosuid,nsdelegate cgroup2 /sys/fs/cgroup
mount -t tmpfs -o noexec,nosuid,mode=0755,size=512K tmpfs /dev
ln -s /tmp/shm /dev/shm
mkdir /dev/pts
mount -t devpts -o noexec,nosuid devpts /dev/pts
mdev -s
exec 0</dev/console 1>/dev/console 2>&1
mount -t tmpfs -o nosuid,nodev,noatime,mode=01777 tmpfs /tmp
mkdir -p /tmp/shm /tmp/run /tmp/lock /tmp/state
for m in %s; do insmod "$m"; done
mdev -s
mkdir -p /mnt
mount --rbind / /mnt
cd /mnt
mount --move . /
exec chroot . /bin/sh -c 'touch /tmp/.preinit; PREINIT=1 /bin/sh /etc/preinit; rm /tmp/.preinit; exec /sbin/fake-oneit -3 -r -c /dev/ttyS0 /sbin/pid2'
`

func BenchmarkVMInitToHandoff(b *testing.B) {
	k := vmtest.GetKernel(b)
	mkfs := testbin.RequireTool(b, "mkfs.ext4")
	var koPaths []string
	for _, m := range benchModules {
		p, err := findModule(k.ModulesDir(), m)
		if err != nil {
			b.Fatal(err)
		}
		rel, _ := filepath.Rel(k.Dir, p)
		koPaths = append(koPaths, "/"+rel)
	}
	for _, variant := range []string{"toybox-go", "busybox-sh"} {
		b.Run(variant, func(b *testing.B) {
			ir := vmtest.NewInitramfs(b)
			vmtest.AddBusybox(b, ir)
			if err := ir.Modules(k.Dir, k.Release, benchModules...); err != nil {
				b.Fatal(err)
			}
			ir.File("etc/modules-boot.d/10-boot", []byte("virtio_pci\nvirtio_blk\noverlay\n"), 0o644)
			ir.File("etc/preinit", []byte(benchPreinit), 0o644)
			ir.File("sbin/fake-oneit", []byte(benchOneit), 0o755)
			for _, d := range []string{"rom", "overlay", "mnt"} {
				ir.Dir(d, 0o755)
			}
			appendLine := "rdinit=/sbin/init init.oneit=/sbin/fake-oneit"
			if variant == "busybox-sh" {
				ir.File("init", []byte(fmt.Sprintf(busyboxInit, strings.Join(koPaths, " "))), 0o755)
				appendLine = "rdinit=/init"
			}
			var total float64
			for i := 0; i < b.N; i++ {
				disk := filepath.Join(b.TempDir(), "disk.img")
				if err := os.WriteFile(disk, nil, 0o644); err != nil {
					b.Fatal(err)
				}
				_ = os.Truncate(disk, 64<<20)
				if out, err := exec.Command(mkfs, "-q", "-F", "-L", "rootfs_data", disk).CombinedOutput(); err != nil {
					b.Fatalf("mkfs.ext4: %v\n%s", err, out)
				}
				res := vmtest.Boot(b, vmtest.Machine{Kernel: k, Initramfs: ir, Disks: []string{disk}, Append: appendLine})
				res.Healthy(b)
				res.Contains(b, "ROOT: overlayfs:/overlay / overlay")
				ms, err := initToHandoff(res.Console)
				if err != nil {
					b.Fatalf("%v; console:\n%s", err, res.Console)
				}
				total += ms
			}
			b.ReportMetric(total/float64(b.N), "ms-to-handoff")
		})
	}
}

var (
	runInitRE = regexp.MustCompile(`\[\s*([0-9.]+)\] Run \S+ as init process`)
	handoffRE = regexp.MustCompile(`HANDOFF-UPTIME ([0-9.]+)`)
)

// initToHandoff is the time between the kernel starting init and the stand-in
// oneit running, in ms (/proc/uptime has 10 ms resolution).
func initToHandoff(console string) (float64, error) {
	a, b := runInitRE.FindStringSubmatch(console), handoffRE.FindStringSubmatch(console)
	if a == nil || b == nil {
		return 0, fmt.Errorf("no start (%v) or hand-off (%v) on the console", a != nil, b != nil)
	}
	start, _ := strconv.ParseFloat(a[1], 64)
	end, _ := strconv.ParseFloat(b[1], 64)
	return (end - start) * 1000, nil
}

func findModule(dir, name string) (string, error) {
	var found string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.ReplaceAll(d.Name(), "-", "_") == name+".ko" {
			found = p
			return fs.SkipAll
		}
		return err
	})
	if found == "" {
		return "", fmt.Errorf("module %s not under %s: %v", name, dir, err)
	}
	return found, nil
}
