package mountroot

// Tier 3 on real flash: Debian's generic kernel (the cloud kernel the other VM
// tests boot has no MTD) with block2mtd turning the virtio disk into an MTD
// partition named rootfs_data, as an OpenWrt router's NOR/NAND partition.
// jffs2 straight on the MTD, and UBI with a ubifs volume named rootfs_data.
// Each test boots the same flash image twice: the second boot must find what
// the first wrote, on the same overlay.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// flashEraseSize is the MTD erase block: 64 KiB, as NOR flash on most routers.
const flashEraseSize = 64 << 10

// flashSize is the rootfs_data partition: 8 MiB, 128 erase blocks.
const flashSize = 8 << 20

// mtdModules are what the generic kernel needs for a virtio disk, an overlay
// root, block2mtd, mtdblock, jffs2, UBI and ubifs (dependencies first; the rest
// they use is built in).
var mtdModules = append(append([]string{}, vmtest.DiskModules...),
	"overlay", "mtd", "block2mtd", "mtd_blkdevs", "mtdblock", "jffs2", "ubi", "crc16", "zstd_compress", "zstd", "ubifs")

// The boot modules: the disk, overlay, the MTD core, jffs2, and what ubifs
// needs. The flash partition itself is made in preinit (flashSetup): on a
// router it exists before init runs, but block2mtd as a module opens its
// device by path, which is there only once virtio_blk has found the disk.
const flashModules = "virtio_pci\nvirtio_blk\noverlay\nmtd\nmtd_blkdevs\nmtdblock\njffs2\ncrc16\nzstd_compress\nzstd\n"

// flashSetup turns /dev/vda into the MTD partition rootfs_data, with erase
// blocks of flashEraseSize.
const flashSetup = `[ -b /dev/vda ] || mknod /dev/vda b $(tr : ' ' < /sys/class/block/vda/dev)
insmod /lib/modules/$(uname -r)/kernel/drivers/mtd/devices/block2mtd.ko block2mtd=/dev/vda,65536,rootfs_data
`

// ubiSetup attaches UBI to it by name, as ubi.mtd=rootfs_data does for a
// built-in UBI, and loads ubifs (which needs ubi loaded first).
const ubiSetup = `insmod /lib/modules/$(uname -r)/kernel/drivers/mtd/ubi/ubi.ko mtd=rootfs_data
insmod /lib/modules/$(uname -r)/kernel/fs/ubifs/ubifs.ko
`

// ubifsOnly loads ubifs without attaching UBI.
const ubifsOnly = `insmod /lib/modules/$(uname -r)/kernel/drivers/mtd/ubi/ubi.ko
insmod /lib/modules/$(uname -r)/kernel/fs/ubifs/ubifs.ko
`

// mtdPreinit reports what mount_root made of the flash, writes a file into the
// overlay, checks it is on the flash file system, and marks the overlay done.
const mtdPreinit = `echo "PREINIT=$PREINIT"
echo "MTD: $(grep rootfs_data /proc/mtd)"
mount_root start
echo "ROOT: $(grep ' / ' /proc/mounts | tail -n 1)"
echo "DATA: $(grep ' /overlay ' /proc/mounts | tail -n 1)"
echo "STATE-BEFORE: $(readlink /overlay/.fs_state)"
if [ -e /etc/persist ]; then echo "FOUND: $(cat /etc/persist)"; else echo "NOT-FOUND"; fi
if [ -e /sysupgrade.tgz ]; then echo "BACKUP: $(cat /sysupgrade.tgz)"; fi
if [ -e /etc/factory ]; then echo "FACTORY: present"; rm /etc/factory; else echo "FACTORY: gone"; fi
echo "RENAME: $(ls /etc/lower-a /etc/moved-a 2>/dev/null | tr '\n' ' ')"
[ -e /etc/lower-a ] && mv /etc/lower-a /etc/moved-a
echo "UCI: $(cat /etc/config/network)"
echo committed > /etc/config/.network.uci-tmp && mv /etc/config/.network.uci-tmp /etc/config/network
cat /proc/sys/kernel/random/boot_id > /etc/persist
echo "WROTE: $(cat /etc/persist)"
echo "UPPER: $(cat /overlay/upper/etc/persist)"
mount_root done && echo "MARKED-DONE"
echo "STATE-AFTER: $(readlink /overlay/.fs_state)"
sync
`

// flashBoot returns a function booting the generic kernel on the flash image,
// running setup at the start of preinit, with the modules omit left out of
// the initramfs (the kernel would load them on demand otherwise, through
// modprobe).
func flashBoot(t *testing.T, image, setup string, omit ...string) func() *vmtest.Result {
	k := vmtest.GetKernelFlavour(t, "amd64")
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	mods, boot := slices.Clone(mtdModules), flashModules
	for _, m := range omit {
		mods = slices.DeleteFunc(mods, func(s string) bool { return s == m })
		boot = strings.ReplaceAll(boot, m+"\n", "")
	}
	if err := ir.Modules(k.Dir, k.Release, mods...); err != nil {
		t.Fatal(err)
	}
	ir.File("etc/modules-boot.d/10-boot", []byte(boot), 0o644)
	ir.File("etc/preinit", []byte(setup+mtdPreinit), 0o644)
	ir.File("sbin/fake-oneit", []byte(vmFakeOneit), 0o755)
	ir.File("etc/factory", []byte("a file of the read-only root\n"), 0o644)
	ir.File("etc/lower-a", []byte("renamed in boot 1\n"), 0o644)
	ir.File("etc/config/network", []byte("factory\n"), 0o644)
	ir.Dir("rom", 0o755)
	ir.Dir("overlay", 0o755)
	ir.Dir("mnt", 0o755)
	return func() *vmtest.Result {
		res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Disks: []string{image},
			Append: "rdinit=/sbin/init init.oneit=/sbin/fake-oneit"})
		res.Healthy(t)
		for _, l := range strings.Split(res.Console, "\n") {
			if strings.Contains(l, "start took") || strings.Contains(l, "flash blocks of") {
				t.Log(strings.TrimSpace(l)) // figures for the README
			}
		}
		return res
	}
}

// flashImage writes a raw flash image: head, then erased flash (0xff) up to
// flashSize.
func flashImage(t *testing.T, head []byte) string {
	t.Helper()
	img := bytes.Repeat([]byte{0xff}, flashSize)
	if len(head) > flashSize {
		t.Fatalf("flash image of %d bytes does not fit in %d", len(head), flashSize)
	}
	copy(img, head)
	p := filepath.Join(t.TempDir(), "flash.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkTwoBoots asserts the life of a flash overlay: boot 1 finds the volume,
// mounts fstype on /overlay and the overlay on /, writes and marks done; boot 2
// finds the write, the deletion and the rename of files of the read-only root
// and a config file replaced the way uci commit does it (rename over), with
// .fs_state 2 before done. Debian's jffs2 has no RENAME_WHITEOUT (OpenWrt
// patches it in): there the rename of a lower file fails, as mount_root
// warns.
func checkTwoBoots(t *testing.T, boot func() *vmtest.Result, found, fstype string) (first, second *vmtest.Result) {
	t.Helper()
	// Where the upper file system cannot rename with a whiteout the rename
	// of a lower file fails (EINVAL), and mount_root warned about it.
	moved, warning := "RENAME: /etc/moved-a \n", "cannot rename with a whiteout"
	if fstype == "jffs2" {
		moved = "RENAME: /etc/lower-a \n"
	}
	first = boot()
	first.Contains(t, "PREINIT=1", `MTD: mtd0: 00800000 00010000 "rootfs_data"`,
		"rootfs_data is "+found, "switching to "+fstype+" overlay",
		"ROOT: overlayfs:/overlay / overlay", "DATA: ", " /overlay "+fstype+" ",
		"NOT-FOUND", "FACTORY: present", "RENAME: /etc/lower-a \n", "UCI: factory", "WROTE: ", "MARKED-DONE", "STATE-AFTER: 2", "HANDOFF pid=1")
	first.Lacks(t, "RAM overlay")
	if fstype == "jffs2" {
		first.Contains(t, "WARNING: "+"/overlay/work: the file system "+warning+": invalid argument", "mv: can't rename '/etc/lower-a': Invalid argument")
	} else {
		first.Lacks(t, warning)
	}
	id := after(first.Console, "WROTE: ")
	if id == "" || after(first.Console, "UPPER: ") != id {
		t.Fatalf("the write did not land in /overlay/upper; console:\n%s", first.Console)
	}

	// The second probe may differ: jffs2 leaves the first erase block
	// erased when it writes elsewhere.
	dev, _, _ := strings.Cut(found, " (")
	second = boot()
	second.Contains(t, "rootfs_data is "+dev, "switching to "+fstype+" overlay",
		"ROOT: overlayfs:/overlay / overlay", " /overlay "+fstype+" ",
		"STATE-BEFORE: 2", "FOUND: "+id, "FACTORY: gone", moved, "UCI: committed", "MARKED-DONE", "HANDOFF pid=1")
	second.Lacks(t, "RAM overlay", "not been fully initialized")
	return first, second
}

// TestVMFlashJFFS2Erased: a factory-fresh (erased) rootfs_data MTD partition;
// the kernel formats jffs2 as it mounts it.
func TestVMFlashJFFS2Erased(t *testing.T) {
	image := flashImage(t, nil)
	boot := flashBoot(t, image, flashSetup)
	checkTwoBoots(t, boot, "/dev/mtdblock0 (empty, found by mtd)", "jffs2")
}

// TestVMFlashUBI: UBI on the MTD partition (attached by the ubi module's
// mtd=rootfs_data), an empty dynamic volume named rootfs_data made by
// ubinize; ubifs formats it on the first mount.
func TestVMFlashUBI(t *testing.T) {
	boot := flashBoot(t, flashImage(t, ubiImage(t)), flashSetup+ubiSetup)
	checkTwoBoots(t, boot, "/dev/ubi0_0 (ubifs, found by ubi)", "ubifs")
}

// TestVMFlashUBINotAttached: the MTD partition holds a UBI image but nothing
// attached it. mount_root must not mount it as jffs2 (the real kernel then
// refuses with EIO after complaining about every erase block), and it says
// loudly what to do while the boot goes on in RAM.
func TestVMFlashUBINotAttached(t *testing.T) {
	boot := flashBoot(t, flashImage(t, ubiImage(t)), flashSetup+ubifsOnly)
	res := boot()
	res.Contains(t, "rootfs_data is /dev/mtdblock0 (ubi, found by mtd)", "holds a UBI image that is not attached",
		"ubi.mtd=rootfs_data", "WARNING: using a RAM overlay", "will NOT persist",
		"ROOT: overlayfs:/tmp/root / overlay", "HANDOFF pid=1")
	res.Lacks(t, "jffs2: jffs2_scan_eraseblock", "Cowardly refusing", "MARKED-DONE")
}

// ubiImage is a UBI image (ubinize) for the flash, with one empty dynamic
// 4 MiB volume named rootfs_data.
func ubiImage(t *testing.T) []byte {
	t.Helper()
	ubinize := testbin.RequireTool(t, "ubinize")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ubinize.cfg")
	if err := os.WriteFile(cfg, []byte("[rootfs_data]\nmode=ubi\nvol_id=0\nvol_type=dynamic\nvol_name=rootfs_data\nvol_size=4MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "ubi.img")
	if out, err := exec.Command(ubinize, "-o", img, "-p", strconv.Itoa(flashEraseSize), "-m", "1", cfg).CombinedOutput(); err != nil {
		t.Fatalf("ubinize: %v\n%s", err, out)
	}
	head, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return head
}

// oldFirmware is what a flash partition holds before OpenWrt is written to
// it: leftovers of whatever was there (deterministic noise here).
func oldFirmware(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestVMFlashJFFS2DeadCode: a freshly flashed router. The image ends with
// 0xdeadc0de at the start of rootfs_data and the rest of the partition holds
// leftovers. Debian's jffs2 (no OpenWrt patches) does not know the marker:
// it takes the partition for a damaged file system and refuses to mount it
// (EIO). mount_root then erases the written blocks and mounts again (with
// OpenWrt's kernel the first mount succeeds and jffs2 erases in the
// background, which the VM cannot show).
func TestVMFlashJFFS2DeadCode(t *testing.T) {
	head := append([]byte{0xde, 0xad, 0xc0, 0xde}, oldFirmware(3*flashEraseSize)...)
	boot := flashBoot(t, flashImage(t, head), flashSetup)
	first, second := checkTwoBoots(t, boot, "/dev/mtdblock0 (deadcode, found by mtd)", "jffs2")
	first.Contains(t, "Cowardly refusing", "refuses the 0xdeadc0de marker", "erased 4 of 128 flash blocks of /dev/mtd0 (0xdeadc0de: first boot)", "switching to jffs2 overlay")
	second.Lacks(t, "0xdeadc0de")
}

// TestVMFlashJFFS2SysupgradeBackup: a sysupgrade that kept the settings
// (`mtd -j sysupgrade.tgz write`) leaves a jffs2 holding only
// /sysupgrade.tgz at the start of rootfs_data, 0xdeadc0de after it and
// leftovers beyond. The first boot wipes the untrusted overlay but keeps the
// backup, which shows up as /sysupgrade.tgz for preinit to restore.
func TestVMFlashJFFS2SysupgradeBackup(t *testing.T) {
	mkfs := testbin.RequireTool(t, "mkfs.jffs2")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sysupgrade.tgz"), []byte("config-backup-42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "jffs2.img")
	if out, err := exec.Command(mkfs, "-l", "-p", "-e", strconv.Itoa(flashEraseSize), "-d", root, "-o", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.jffs2: %v\n%s", err, out)
	}
	head, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(head)%flashEraseSize != 0 {
		t.Fatalf("mkfs.jffs2 -p made %d bytes, not whole erase blocks", len(head))
	}
	marker := make([]byte, flashEraseSize)
	copy(marker, []byte{0xde, 0xad, 0xc0, 0xde})
	for i := 4; i < len(marker); i++ {
		marker[i] = 0xff
	}
	head = append(append(head, marker...), oldFirmware(2*flashEraseSize)...)
	boot := flashBoot(t, flashImage(t, head), flashSetup)
	first := boot()
	first.Contains(t, "rootfs_data is /dev/mtdblock0 (jffs2, found by mtd)", "not been fully initialized",
		"switching to jffs2 overlay", "ROOT: overlayfs:/overlay / overlay",
		"NOT-FOUND", "BACKUP: config-backup-42", "WROTE: ", "MARKED-DONE", "HANDOFF pid=1")
	first.Lacks(t, "RAM overlay")
	id := after(first.Console, "WROTE: ")
	second := boot()
	second.Contains(t, "switching to jffs2 overlay", "STATE-BEFORE: 2", "FOUND: "+id, "BACKUP: config-backup-42", "HANDOFF pid=1")
	second.Lacks(t, "RAM overlay", "not been fully initialized")
}

// TestVMFlashUBIWithoutUBIFS: UBI is attached but the kernel has no ubifs
// (module missing): the boot goes on in RAM and says why.
func TestVMFlashUBIWithoutUBIFS(t *testing.T) {
	setup := flashSetup + "insmod /lib/modules/$(uname -r)/kernel/drivers/mtd/ubi/ubi.ko mtd=rootfs_data\n"
	res := flashBoot(t, flashImage(t, ubiImage(t)), setup)()
	res.Contains(t, "rootfs_data is /dev/mtdblock0 (ubi, found by mtd)",
		"holds UBI, attached as ubi0, but the kernel has no ubifs file system", "WARNING: using a RAM overlay",
		"ROOT: overlayfs:/tmp/root / overlay", "HANDOFF pid=1")
	res.Lacks(t, "jffs2: jffs2_scan_eraseblock", "MARKED-DONE")
}

// TestVMFlashNoJFFS2: erased flash, but no jffs2 in the kernel (the module
// is not installed; when it is, the kernel's request_module has modprobe load
// it as mount_root mounts): the mount fails with ENODEV, and the warning
// says so.
func TestVMFlashNoJFFS2(t *testing.T) {
	res := flashBoot(t, flashImage(t, nil), flashSetup, "jffs2")()
	res.Contains(t, "rootfs_data is /dev/mtdblock0 (empty, found by mtd)",
		"cannot mount /dev/mtdblock0: the kernel has no jffs2 file system", "WARNING: using a RAM overlay",
		"ROOT: overlayfs:/tmp/root / overlay", "HANDOFF pid=1")
	res.Lacks(t, "MARKED-DONE")
}

// TestVMFlashJFFS2WithoutMtdblock: a kernel without mtdblock; jffs2 is
// mounted from the MTD device by name.
func TestVMFlashJFFS2WithoutMtdblock(t *testing.T) {
	boot := flashBoot(t, flashImage(t, nil), flashSetup, "mtd_blkdevs", "mtdblock")
	first, _ := checkTwoBoots(t, boot, "mtd0 (empty, found by mtd)", "jffs2")
	first.Contains(t, "DATA: mtd0 /overlay jffs2 ")
}
