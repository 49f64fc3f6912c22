package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// demoInitramfs is what `make run` boots: toybox-go as /init, busybox, the
// demo's configs and modules.
func demoInitramfs(t *testing.T, k *vmtest.Kernel) *vmtest.Machine {
	t.Helper()
	root := testbin.ModuleRoot(t)
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	if err := ir.Tree("", filepath.Join(root, "demo", "rootfs")); err != nil {
		t.Fatal(err)
	}
	ir.Symlink("init", "/bin/toybox-go")
	mods, err := os.ReadFile(filepath.Join(root, "demo", "modules"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Modules(k.Dir, k.Release, strings.Fields(string(mods))...); err != nil {
		t.Fatal(err)
	}
	return &vmtest.Machine{Kernel: k, Initramfs: ir, Append: "demo=batch"}
}

// TestWholeSystemTwoBoots boots the demo system twice on one data disk: init,
// preinit with mount_root, oneit, pid2 with hotplug, inittab and rc.d, then
// the demo's batch script checks what booted and powers off. The second boot
// must find what the first wrote on the overlay.
func TestWholeSystemTwoBoots(t *testing.T) {
	t.Parallel()
	testbin.RequireTool(t, "mkfs.ext4")
	k := vmtest.GetKernel(t)
	disk := filepath.Join(t.TempDir(), "data.img")
	if out, err := exec.Command("truncate", "-s", "64M", disk).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-L", "rootfs_data", disk).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := demoInitramfs(t, k)
	m.Disks = []string{disk}

	first := vmtest.Boot(t, *m)
	first.Healthy(t)
	first.Contains(t,
		"init[1]: - preinit -",
		"mount_root", "rootfs_data is /dev/vda",
		"handing over", "oneit -3 -r",
		"pid2", "- early -",
		"S10boot", "loading kernel modules from /etc/modules.d",
		"S50demo boot",
		"mount_root", "marked ready",
		"DEMO: PID 1 is oneit", "is pid2",
		"DEMO: root: overlayfs:/overlay / overlay",
		"DEMO: module bridge loaded",
		"DEMO: device /dev/zram1 made by hotplug",
		"DEMO: ticker respawned",
		"DEMO: boot number 1 on this data volume",
		"K50demo shutdown",
		"- stopping services -",
		"reboot: Power down")

	second := vmtest.Boot(t, *m)
	second.Healthy(t)
	second.Contains(t, "DEMO: boot number 2 on this data volume", "reboot: Power down")
}
