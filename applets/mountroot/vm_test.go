package mountroot

// Tier 3: the real boot path in a VM. toybox-go's init is the initramfs's
// /init; its preinit script runs mount_root on a virtio disk labelled
// rootfs_data; init.oneit= points at a script that prints what it was handed
// and powers off. The same disk is booted three times.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// bootModules are what the Debian cloud kernel needs for a virtio disk and an
// overlay root (ext4 is built in).
var bootModules = append(vmtest.DiskModules, "overlay")

const vmPreinit = `echo "PREINIT=$PREINIT"
mount_root start
echo "ROOT: $(grep ' / ' /proc/mounts | tail -n 1)"
if [ -e /etc/persist ]; then echo "FOUND: $(cat /etc/persist)"; else echo "NOT-FOUND"; fi
echo "$(cat /proc/sys/kernel/random/boot_id)" > /etc/persist
echo "WROTE: $(cat /etc/persist)"
grep -q test.markdone /proc/cmdline && mount_root done && echo "MARKED-DONE"
sync
`

const vmFakeOneit = `#!/bin/sh
echo "HANDOFF pid=$$ args=$*"
sync
busybox poweroff -f
`

func vmInitramfs(t *testing.T, k *vmtest.Kernel, withOverlay bool) func(markDone bool) *vmtest.Result {
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	mods, list := bootModules, "virtio_pci\nvirtio_blk\noverlay\n"
	if !withOverlay {
		mods, list = bootModules[:len(bootModules)-1], "virtio_pci\nvirtio_blk\n"
	}
	if err := ir.Modules(k.Dir, k.Release, mods...); err != nil {
		t.Fatal(err)
	}
	ir.File("etc/modules-boot.d/10-boot", []byte(list), 0o644)
	ir.File("etc/preinit", []byte(vmPreinit), 0o644)
	ir.File("sbin/fake-oneit", []byte(vmFakeOneit), 0o755)
	ir.Dir("rom", 0o755)
	ir.Dir("overlay", 0o755)
	ir.Dir("mnt", 0o755)

	disk := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Truncate(64 << 20)
	f.Close()
	mkfs := testbin.RequireTool(t, "mkfs.ext4")
	if out, err := exec.Command(mkfs, "-q", "-F", "-L", "rootfs_data", disk).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	return func(markDone bool) *vmtest.Result {
		extra := ""
		if markDone {
			extra = " test.markdone"
		}
		res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Disks: []string{disk},
			Append: "rdinit=/sbin/init init.oneit=/sbin/fake-oneit" + extra})
		// The timings init and mount_root log (figures for the README).
		for _, l := range strings.Split(res.Console, "\n") {
			if strings.Contains(l, "start took") || strings.Contains(l, "handing over after") || strings.Contains(l, "Run /sbin/init") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return res
	}
}

// TestVMRootfsDataPersists: a write survives a reboot only once a boot has
// reached "mount_root done" (fstools' .fs_state): boot 1 writes without done,
// boot 2 finds the overlay wiped, writes and marks done, boot 3 finds boot 2's
// write.
func TestVMRootfsDataPersists(t *testing.T) {
	k := vmtest.GetKernel(t)
	boot := vmInitramfs(t, k, true)

	first := boot(false)
	first.Healthy(t)
	first.Contains(t, "Console is alive", "moved it onto a mount of its own", "kmodloader",
		"PREINIT=1", "rootfs_data is /dev/vda (ext4, found by label)", "switching to ext4 overlay",
		"ROOT: overlayfs:/overlay / overlay", "NOT-FOUND", "WROTE: ",
		"HANDOFF pid=1 args=-3 -r -c /dev/ttyS0 /sbin/pid2")
	first.Lacks(t, "MARKED-DONE", "RAM overlay")

	second := boot(true)
	second.Healthy(t)
	second.Contains(t, "not been fully initialized", "ROOT: overlayfs:/overlay / overlay", "NOT-FOUND", "WROTE: ", "MARKED-DONE", "HANDOFF pid=1")
	id2 := after(second.Console, "WROTE: ")
	if id2 == "" {
		t.Fatal("no boot id written")
	}

	third := boot(false)
	third.Healthy(t)
	third.Contains(t, "ROOT: overlayfs:/overlay / overlay", "FOUND: "+id2, "HANDOFF pid=1")
	third.Lacks(t, "not been fully initialized")
}

// TestVMNoOverlayModule: without overlay support mount_root can do nothing,
// says so on the console, and the boot still reaches the hand-over.
func TestVMNoOverlayModule(t *testing.T) {
	k := vmtest.GetKernel(t)
	res := vmInitramfs(t, k, false)(false)
	res.Healthy(t)
	res.Contains(t, "rootfs_data is /dev/vda", "WARNING: using a RAM overlay", "will NOT persist",
		"RAM overlay failed: the kernel has no overlay file system", "HANDOFF pid=1")
}

func after(s, marker string) string {
	_, rest, ok := strings.Cut(s, marker)
	if !ok {
		return ""
	}
	line, _, _ := strings.Cut(rest, "\n")
	return line
}
