package initd

// Tier 3: toybox-go's init as the /init of an initramfs with root= and no
// /etc/preinit: it loads the virtio modules, waits for /dev/vda (rootwait),
// mounts it and switches root to it. The ext4 image's /sbin/init is a script
// that reports and powers off.

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

const vmNewInit = `#!/bin/sh
echo "NEWROOT pid=$$"
grep -E ' / | /proc | /sys | /dev ' /proc/mounts | sed 's/^/MOUNT /'
ls /initramfs-marker 2>/dev/null || echo "no initramfs files here"
busybox poweroff -f
`

func TestVMSwitchRootToExt4(t *testing.T) {
	k := vmtest.GetKernel(t)
	ir := vmtest.NewInitramfs(t)
	if err := ir.Modules(k.Dir, k.Release, vmtest.DiskModules...); err != nil {
		t.Fatal(err)
	}
	ir.File("etc/modules-boot.d/10-boot", []byte("virtio_pci\nvirtio_blk\n"), 0o644)
	ir.File("initramfs-marker", nil, 0o644)

	// The real root: busybox and the reporting /sbin/init, on ext4.
	src := t.TempDir()
	for _, d := range []string{"bin", "sbin", "proc", "sys", "dev", "run", "tmp"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb := testbin.RequireTool(t, "busybox")
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "bin", "busybox"), string(data), 0o755)
	for _, a := range []string{"sh", "grep", "sed", "ls", "echo"} {
		_ = os.Symlink("busybox", filepath.Join(src, "bin", a))
	}
	writeFile(t, filepath.Join(src, "sbin", "init"), vmNewInit, 0o755)
	disk := ext4Image(t, src, "realroot", 64<<20)

	res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Disks: []string{disk},
		Append: "rdinit=/sbin/init root=/dev/vda rootwait rootfstype=ext4"})
	res.Healthy(t)
	res.Contains(t, "Console is alive", "kmodloader", "mounted /dev/vda (ext4) on /root",
		"switched root to /dev/vda: exec /sbin/init",
		"NEWROOT pid=1", "MOUNT /dev/vda / ext4 ro", "no initramfs files here")
	res.Contains(t, "MOUNT proc /proc proc")
	res.Contains(t, "MOUNT sysfs /sys sysfs")
	res.Contains(t, "MOUNT tmpfs /dev tmpfs")
}

// TestVMInitramfsThenDiskInit chains two inits: the initramfs's toybox-go init
// switches to an ext4 root (rw) whose /sbin/init is toybox-go again, which
// runs that root's /etc/preinit: mount_root finds no rootfs_data and, the root
// being a writable disk, keeps it (no RAM overlay); then the hand-over.
func TestVMInitramfsThenDiskInit(t *testing.T) {
	k := vmtest.GetKernel(t)
	ir := vmtest.NewInitramfs(t)
	if err := ir.Modules(k.Dir, k.Release, vmtest.DiskModules...); err != nil {
		t.Fatal(err)
	}
	ir.File("etc/modules-boot.d/10-boot", []byte("virtio_pci\nvirtio_blk\n"), 0o644)

	src := t.TempDir()
	for _, d := range []string{"bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "rom", "overlay", "mnt"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, testbin.Path(t), filepath.Join(src, "bin", "toybox-go"))
	copyFile(t, testbin.RequireTool(t, "busybox"), filepath.Join(src, "bin", "busybox"))
	for _, l := range []struct{ path, target string }{
		{"sbin/init", "../bin/toybox-go"}, {"sbin/mount_root", "../bin/toybox-go"},
		{"bin/sh", "busybox"}, {"bin/grep", "busybox"}, {"bin/tail", "busybox"}, {"bin/cat", "busybox"},
	} {
		if err := os.Symlink(l.target, filepath.Join(src, l.path)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(src, "etc", "preinit"), `echo "DISK-PREINIT PREINIT=$PREINIT"
mount_root
echo "DISK-ROOT: $(grep ' / ' /proc/mounts | tail -n 1)"
echo persisted > /etc/written && echo "WRITE-OK"
`, 0o644)
	writeFile(t, filepath.Join(src, "sbin", "fake-oneit"), "#!/bin/sh\necho \"HANDOFF pid=$$ args=$*\"\nbusybox poweroff -f\n", 0o755)
	disk := ext4Image(t, src, "disk", 64<<20)
	res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Disks: []string{disk},
		Append: "rdinit=/sbin/init root=/dev/vda rootwait rw init.oneit=/sbin/fake-oneit"})
	res.Healthy(t)
	res.Contains(t, "switched root to /dev/vda: exec /sbin/init",
		"Console is alive", "DISK-PREINIT PREINIT=1",
		"no rootfs_data volume: running on the writable root file system",
		"DISK-ROOT: /dev/vda / ext4 rw", "WRITE-OK",
		// No /sbin/pid2 symlink on this disk: pid2 is reached through /tmp/pid2.
		"HANDOFF pid=1 args=-3 -r -c /dev/ttyS0 /tmp/pid2")
	res.Lacks(t, "RAM overlay")
	dbg := testbin.RequireTool(t, "debugfs")
	if out, err := exec.Command(dbg, "-R", "cat /etc/written", disk).Output(); err != nil || string(out) != "persisted\n" {
		t.Fatalf("/etc/written on the disk: %q %v", out, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b), 0o755)
}

// TestVMWatchdogHandedOver: the watchdog driver is a boot module (softdog);
// init opens /dev/watchdog after loading it and hands the open fd over
// (WDTFD, not close-on-exec) to what it execs. init runs as /init here, so it
// also exports INITRAMFS=1.
func TestVMWatchdogHandedOver(t *testing.T) {
	k := vmtest.GetKernel(t)
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	if err := ir.Modules(k.Dir, k.Release, "watchdog", "softdog"); err != nil {
		t.Fatal(err)
	}
	ir.File("etc/modules-boot.d/10-wdt", []byte("softdog\n"), 0o644)
	ir.Symlink("init", "/bin/toybox-go")
	ir.File("sbin/fake-oneit", []byte(`#!/bin/sh
echo "WDTFD=$WDTFD -> $(readlink /proc/self/fd/$WDTFD)"
echo "TIMEOUT=$(cat /sys/class/watchdog/watchdog0/timeout)"
echo "INITRAMFS=$INITRAMFS"
echo "DMESG-INIT=$(busybox dmesg | busybox grep -cF 'init[1]: handing over after')"
busybox poweroff -f
`), 0o755)
	res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir,
		Append: "rdinit=/init init.oneit=/sbin/fake-oneit"})
	res.Healthy(t)
	res.Contains(t, "softdog", "- watchdog -", "WDTFD=", " -> /dev/watchdog", "TIMEOUT=30", "INITRAMFS=1")
	// This initramfs has no /dev/kmsg node: init's log reaches the kernel
	// log only once /dev is mounted and the logger retried.
	res.Contains(t, "DMESG-INIT=1")
}
