package initd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// TestVMFullChainPersists is the boot of DESIGN.md end to end: init ->
// preinit (mount_root on a virtio rootfs_data) -> oneit -3 -r /sbin/pid2 ->
// inittab sysinit, where an rc script marks the overlay done (S95done's job),
// prints what the last boot left and writes its own mark, then powers off
// through pid2's shutdown. Booted twice on the same disk.
func TestVMFullChainPersists(t *testing.T) {
	k := vmtest.GetKernel(t)
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	if err := ir.Modules(k.Dir, k.Release, append(vmtest.DiskModules, "overlay")...); err != nil {
		t.Fatal(err)
	}
	ir.File("etc/modules-boot.d/10-boot", []byte("virtio_pci\nvirtio_blk\noverlay\n"), 0o644)
	ir.File("etc/preinit", []byte("mount_root start\n"), 0o644)
	ir.File("etc/inittab", []byte("::sysinit:/etc/rc.test\n"), 0o644)
	ir.File("etc/rc.test", []byte(`#!/bin/sh
mount_root done
echo "RC: root $(grep ' / ' /proc/mounts | tail -n 1 | cut -d' ' -f1-3)"
echo "RC: last boot left: $(cat /etc/mark 2>/dev/null || echo nothing)"
cat /proc/sys/kernel/random/boot_id > /etc/mark
echo "RC: wrote $(cat /etc/mark)"
sync
poweroff
`), 0o755)
	for _, d := range []string{"rom", "overlay", "mnt"} {
		ir.Dir(d, 0o755)
	}
	disk := filepath.Join(t.TempDir(), "disk.img")
	writeFile(t, disk, "", 0o644)
	_ = os.Truncate(disk, 64<<20)
	mkfs := testbin.RequireTool(t, "mkfs.ext4")
	if out, err := exec.Command(mkfs, "-q", "-F", "-L", "rootfs_data", disk).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	boot := func() *vmtest.Result {
		res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Disks: []string{disk}, Append: "rdinit=/sbin/init"})
		res.Healthy(t)
		return res
	}
	first := boot()
	first.Contains(t, "switching to ext4 overlay", "RC: root overlayfs:/overlay / overlay", "RC: last boot left: nothing", "RC: wrote ", "reboot: Power down")
	_, rest, _ := strings.Cut(first.Console, "RC: wrote ")
	id, _, _ := strings.Cut(rest, "\n")
	second := boot()
	second.Contains(t, "RC: last boot left: "+id, "reboot: Power down")
}
