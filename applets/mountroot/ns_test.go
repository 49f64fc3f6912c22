package mountroot

// Tier 2: mount_root for real, as root, in a private mount namespace. Each
// "boot" builds a small root file system on a fresh tmpfs (busybox-static,
// toybox-go, empty /rom /overlay /mnt), mounts proc, sysfs, the host's /dev and a
// tmpfs /tmp in it, chroots there and runs a script under busybox sh. The data
// volume is a loop device; when the namespace ends, its mounts go away, so a
// second boot is a fresh namespace finding the same loop device.

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"toybox-go/internal/testbin"
)

// bootEnv prepares everything a boot needs once per test.
type bootEnv struct {
	t       *testing.T
	bin     string
	busybox string
}

// bootB is boot for benchmarks.
func (e *bootEnv) bootB(tb testing.TB, script string, env ...string) (string, int) {
	return runBoot(tb, e, script, env...)
}

func newBootEnv(t *testing.T) *bootEnv {
	t.Helper()
	testbin.RequireRoot(t)
	testbin.RequireTool(t, "unshare")
	bb := testbin.RequireTool(t, "busybox")
	if out, err := exec.Command("file", "-L", bb).CombinedOutput(); err == nil && !strings.Contains(string(out), "statically linked") {
		testbin.Unavailable(t, "%s is not busybox-static", bb)
	}
	if b, _ := os.ReadFile("/proc/filesystems"); !strings.Contains(string(b), "overlay") {
		testbin.Unavailable(t, "kernel has no overlay file system")
	}
	return &bootEnv{t: t, bin: testbin.Path(t), busybox: bb}
}

// setup is run by the host's sh inside the new mount namespace: $R is the new
// root, $BIN and $BB the binaries, then `chroot $R /bin/sh -c "$SCRIPT"`.
const setup = `set -e
mount --make-rprivate /
mkdir -p "$R"
if [ -n "$SQUASH" ]; then
	mount -t squashfs -o ro "$SQUASH" "$R"
	cd "$R"
else
mount -t tmpfs -o mode=0755 tmpfs "$R"
cd "$R"
mkdir -p bin sbin proc sys dev tmp rom overlay mnt etc usr run
cp "$BB" bin/busybox
for a in $APPLETS; do ln -s busybox bin/$a; done
cp "$BIN" sbin/toybox-go
ln -s toybox-go sbin/mount_root
echo base > etc/base
if [ -n "$FSTAB" ]; then mkdir -p etc/config; printf '%s\n' "$FSTAB" > etc/config/fstab; fi
if [ -n "$WITH_USR" ]; then
	ln -s usr/lib lib
	[ -e /lib64 ] && ln -s usr/lib64 lib64
fi
fi
[ -n "$WITH_USR" ] && mount --rbind /usr usr
mount -t proc proc proc
# The host's kernel command line is not this boot's: a test sets $CMDLINE.
printf '%s\n' "$CMDLINE" > "$R.cmdline"
mount --bind "$R.cmdline" proc/cmdline
mount -t sysfs sysfs sys
mount --rbind /dev dev
mount -t tmpfs -o mode=01777 tmpfs tmp
cd /
exec chroot "$R" /bin/sh -c "$SCRIPT"
`

// applets are the busybox links every test root gets.
const applets = "sh cat echo ls mount umount readlink sync grep test mkdir rm touch"

// boot runs script as described above and returns its combined output and
// exit code.
func (e *bootEnv) boot(script string, env ...string) (string, int) {
	e.t.Helper()
	return runBoot(e.t, e, script, env...)
}

func runBoot(tb testing.TB, e *bootEnv, script string, env ...string) (string, int) {
	tb.Helper()
	cmd := exec.Command("/bin/sh", "-c", setup)
	cmd.Env = testbin.Env(append([]string{
		"R=" + filepath.Join(tb.TempDir(), "root"), "BIN=" + e.bin, "BB=" + e.busybox,
		"SCRIPT=" + script, "PATH=/bin:/sbin:/usr/sbin:/usr/bin", "APPLETS=" + applets,
	}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			tb.Fatalf("running boot: %v", err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// uniqueName is a volume name no stray device on the host can have (labels
// are at most 16 bytes).
func uniqueName(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "rd_" + hex.EncodeToString(b)
}

// loopImage makes a sparse image of size bytes, optionally prepared by prep
// (run with the image path appended), attached to a loop device that is
// detached at the end of the test. partscan adds -P.
func loopImage(t testing.TB, size int64, partscan bool, prep ...string) string {
	t.Helper()
	losetup := testbin.RequireTool(t, "losetup")
	img := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if len(prep) > 0 {
		tool := testbin.RequireTool(t, prep[0])
		if out, err := exec.Command(tool, append(prep[1:], img)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", prep, err, out)
		}
	}
	args := []string{"--find", "--show"}
	if partscan {
		args = append(args, "-P")
	}
	out, err := exec.Command(losetup, append(args, img)...).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v\n%s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command(losetup, "-d", dev).Run() })
	return dev
}

// debugfsCat reads a file from an ext4 image without mounting it.
func debugfsCat(t *testing.T, dev, path string) (string, bool) {
	t.Helper()
	debugfs := testbin.RequireTool(t, "debugfs")
	out, err := exec.Command(debugfs, "-R", "cat "+path, dev).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s on %s: %v", path, dev, err)
	}
	// debugfs prints nothing on stdout for a missing file (the error goes to stderr).
	ls, _ := exec.Command(debugfs, "-R", "stat "+path, dev).CombinedOutput()
	return string(out), !strings.Contains(string(ls), "File not found")
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

const firstBoot = `set -e
PREINIT=1 mount_root -n "$NAME" start
grep ' / overlay ' /proc/mounts
grep ' /rom ' /proc/mounts
grep ' /overlay ' /proc/mounts
grep ' /proc proc ' /proc/mounts
grep ' /tmp tmpfs ' /proc/mounts
grep ' /dev ' /proc/mounts
test -e /rom/etc/base && echo ROM-HAS-BASE
echo "$PAYLOAD" > /etc/written
echo "root-is:$(cat /etc/written)"
if [ "$DONE" = 1 ]; then mount_root -n "$NAME" done; echo "state:$(readlink /overlay/.fs_state)"; fi
sync
`

const secondBoot = `set -e
PREINIT=1 mount_root -n "$NAME" start
grep ' / overlay ' /proc/mounts
if [ -e /etc/written ]; then echo "KEPT:$(cat /etc/written)"; else echo WIPED; fi
echo "state:$(readlink /overlay/.fs_state)"
`

func TestExt4LabelPersistsWhenDone(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t)
	dev := loopImage(t, 32<<20, false, "mkfs.ext4", "-q", "-F", "-L", name)

	out, code := e.boot(firstBoot, "NAME="+name, "PAYLOAD=hello-persist", "DONE=1")
	if code != 0 {
		t.Fatalf("first boot: exit %d\n%s", code, out)
	}
	mustContain(t, out, "ROM-HAS-BASE", "root-is:hello-persist", "state:2", "switching to ext4 overlay")
	// The write landed on the loop image, in the overlay's upper directory.
	if got, ok := debugfsCat(t, dev, "/upper/etc/written"); !ok || got != "hello-persist\n" {
		t.Fatalf("upper/etc/written on %s: %q (exists %v)", dev, got, ok)
	}

	out, code = e.boot(secondBoot, "NAME="+name)
	if code != 0 {
		t.Fatalf("second boot: exit %d\n%s", code, out)
	}
	mustContain(t, out, "KEPT:hello-persist", "state:2")
}

func TestOverlayWipedWhenNotDone(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t)
	dev := loopImage(t, 32<<20, false, "mkfs.ext4", "-q", "-F", "-L", name)
	out, code := e.boot(firstBoot, "NAME="+name, "PAYLOAD=lost", "DONE=0")
	if code != 0 {
		t.Fatalf("first boot: exit %d\n%s", code, out)
	}
	if _, ok := debugfsCat(t, dev, "/upper/etc/written"); !ok {
		t.Fatalf("write did not land on %s", dev)
	}
	// A config backup at the top of the volume survives the wipe.
	if out, err := exec.Command("debugfs", "-w", "-R", "write /etc/hostname sysupgrade.tgz", dev).CombinedOutput(); err != nil {
		t.Fatalf("debugfs write: %v\n%s", err, out)
	}
	out, code = e.boot(secondBoot+"test -e /sysupgrade.tgz && echo BACKUP-KEPT\n", "NAME="+name)
	if code != 0 {
		t.Fatalf("second boot: exit %d\n%s", code, out)
	}
	mustContain(t, out, "WIPED", "state:1", "BACKUP-KEPT")
}

func TestDefaultNameByLabel(t *testing.T) {
	e := newBootEnv(t)
	loopImage(t, 16<<20, false, "mkfs.ext4", "-q", "-F", "-L", "rootfs_data")
	out, code := e.boot(`PREINIT=1 mount_root && grep ' /overlay ext4 ' /proc/mounts`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "rootfs_data is /dev/loop", "found by label")
}

// loopsOver returns the loop devices whose backing file is dev (the ones
// mount_root set up over GPT partitions) and detaches them at the end.
func loopsOver(t *testing.T, dev string) []string {
	t.Helper()
	out, err := exec.Command("losetup", "-n", "-O", "NAME", "-j", dev).Output()
	if err != nil {
		t.Fatalf("losetup -j %s: %v", dev, err)
	}
	loops := strings.Fields(string(out))
	t.Cleanup(func() {
		for _, l := range loops {
			_ = exec.Command("losetup", "-d", l).Run()
		}
	})
	return loops
}

func TestGPTPartitionIsFormatted(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t)
	// Partition 1 is named like the data volume and holds zeros: mount_root
	// finds it by its GPT name and formats it (mkfs.ext4 from the host's /usr).
	// Partition scanning is not asked for: on a kernel without GPT support (this
	// one may be) mount_root reaches the partition through a loop device of its
	// own.
	dev := loopImage(t, 48<<20, false, "sgdisk", "-n", "1:2048:+16M", "-c", "1:"+name, "-n", "2:0:0", "-c", "2:other")
	out, code := e.boot(firstBoot, "NAME="+name, "PAYLOAD=on-gpt", "DONE=1", "WITH_USR=1")
	t.Cleanup(func() { loopsOver(t, dev) })
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "found by ", "has not been formatted yet", "root-is:on-gpt", "state:2")
	part := dev + "p1"
	if _, err := os.Stat(part); err != nil {
		loops := loopsOver(t, dev)
		if len(loops) != 1 {
			t.Fatalf("loop devices over %s: %v, want one", dev, loops)
		}
		part = loops[0]
		mustContain(t, out, "found by gpt")
	}
	if got, ok := debugfsCat(t, part, "/upper/etc/written"); !ok || got != "on-gpt\n" {
		t.Fatalf("upper/etc/written on %s: %q", part, got)
	}
	// A second boot finds the same partition (the same loop device) and keeps it.
	out, code = e.boot(secondBoot, "NAME="+name)
	if code != 0 {
		t.Fatalf("second boot: exit %d\n%s", code, out)
	}
	mustContain(t, out, "KEPT:on-gpt")
	if loops := loopsOver(t, dev); len(loops) > 1 {
		t.Fatalf("second boot set up another loop device: %v", loops)
	}
}

// TestSysupgradeBackupBeforeFormat: sysupgrade leaves a 0xdeadc0de block and
// the config backup (a tar.gz) at the top of the data partition; mount_root
// extracts it to /tmp/sysupgrade.tar (through gzip -cd, as fstools does) before
// it formats the partition.
func TestSysupgradeBackupBeforeFormat(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t)
	dev := loopImage(t, 48<<20, false, "sgdisk", "-n", "1:2048:+16M", "-c", "1:"+name)
	t.Cleanup(func() { loopsOver(t, dev) })
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("etc/config/network from the old firmware\n"))
	zw.Close()
	top := make([]byte, 512, 512+gz.Len())
	binary.BigEndian.PutUint32(top, 0xdeadc0de)
	top = append(top, gz.Bytes()...)
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(top, 2048*512)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	out, code := e.boot(firstBoot+"cat /tmp/sysupgrade.tar\n", "NAME="+name, "PAYLOAD=after-upgrade", "WITH_USR=1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "saved 41 bytes of config backup", "has not been formatted yet",
		"root-is:after-upgrade", "etc/config/network from the old firmware")
}

func TestNoVolumeMeansLoudRAMOverlay(t *testing.T) {
	e := newBootEnv(t)
	out, code := e.boot(`PREINIT=1 mount_root -n ` + uniqueName(t) + ` start && grep ' / overlay ' /proc/mounts && grep 'tmpfs /rom' /proc/mounts; echo hi > /etc/x && cat /etc/x`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "WARNING: using a RAM overlay", "will NOT persist", "overlayfs:/tmp/root / overlay", "hi")
}

func TestCorruptSuperblockIsNotFormatted(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t)
	dev := loopImage(t, 16<<20, false, "sgdisk", "-n", "1:2048:0", "-c", "1:"+name)
	const at = 2048*512 + 1024
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteAt([]byte("this is not a superblock but somebody's data"), at)
	f.Close()
	out, code := e.boot(`PREINIT=1 mount_root -n `+name+` start; grep ' / overlay ' /proc/mounts`, "WITH_USR=1")
	t.Cleanup(func() { loopsOver(t, dev) })
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "no file system we know", "not formatting it", "WARNING: using a RAM overlay")
	b := make([]byte, 44)
	g, _ := os.Open(dev)
	_, _ = g.ReadAt(b, at)
	g.Close()
	if string(b) != "this is not a superblock but somebody's data" {
		t.Fatalf("data on %s was overwritten: %q", dev, b)
	}
}

func TestMountFailureFallsBackToRAM(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t)
	dev := loopImage(t, 16<<20, false, "mkfs.ext4", "-q", "-F", "-L", name)
	// Keep the magic and label, break the rest: the mount fails.
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteAt(make([]byte, 0x30), 1024) // inode/block counts, first data block...
	f.Close()
	out, code := e.boot(`PREINIT=1 mount_root -n ` + name + ` start; grep ' / overlay ' /proc/mounts`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "mounting "+dev, "WARNING: using a RAM overlay", "overlayfs:/tmp/root")
}

func TestLabelTooLongIsNotAMatch(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t) // 11 bytes; the label below has it as a prefix
	loopImage(t, 16<<20, false, "mkfs.ext4", "-q", "-F", "-L", name+"_extra")
	out, code := e.boot(`PREINIT=1 mount_root -n ` + name + ` start`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "no volume named "+name+" found", "WARNING: using a RAM overlay")
}

func TestStartRefusedOutsidePreinit(t *testing.T) {
	e := newBootEnv(t)
	out, code := e.boot(`mount_root -n ` + uniqueName(t) + ` start; echo "exit:$?"; grep -c ' / overlay ' /proc/mounts || true`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "only during preinit", "exit:1", "\n0\n")
	out, _ = e.boot(`touch /tmp/.preinit; mount_root -n ` + uniqueName(t) + ` start >/dev/null 2>&1; grep -c ' / overlay ' /proc/mounts`)
	mustContain(t, out, "1\n")
	out, _ = e.boot(`mount_root -f -n ` + uniqueName(t) + ` start >/dev/null 2>&1; grep -c ' / overlay ' /proc/mounts`)
	mustContain(t, out, "1\n")
}

func TestRAMAndStopModes(t *testing.T) {
	e := newBootEnv(t)
	out, code := e.boot(`mount_root ram && grep ' / overlay ' /proc/mounts && mount_root stop && echo STOP-OK`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "will NOT persist", "overlayfs:/tmp/root / overlay", "STOP-OK")
}

// BenchmarkStart measures `mount_root start` on an ext4 loop device, as its
// own log line reports it (find, mount, state, overlay, pivot), in ms/start;
// ns/op is the whole fresh-namespace boot around it.
func BenchmarkStart(b *testing.B) {
	testbin.RequireRoot(b)
	bb := testbin.RequireTool(b, "busybox")
	e := &bootEnv{bin: testbin.Path(b), busybox: bb}
	name := "rd_bench"
	loopImage(b, 32<<20, false, "mkfs.ext4", "-q", "-F", "-L", name)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		out, code := e.bootB(b, `PREINIT=1 mount_root -n `+name+` start`)
		if code != 0 {
			b.Fatalf("exit %d\n%s", code, out)
		}
		_, rest, ok := strings.Cut(out, "start took ")
		if !ok {
			b.Fatalf("no timing in\n%s", out)
		}
		line, _, _ := strings.Cut(rest, "\n")
		d, err := time.ParseDuration(line)
		if err != nil {
			b.Fatal(err)
		}
		total += d
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/start")
}

func TestExtrootOverlayFromRootfsFstab(t *testing.T) {
	e := newBootEnv(t)
	ext := uniqueName(t)
	dev := loopImage(t, 16<<20, false, "mkfs.ext4", "-q", "-F", "-L", ext)
	fstab := "config global\n\toption delay_root '2'\nconfig mount\n\toption target '/overlay'\n\toption label '" + ext + "'\n\toption enabled '1'\n"
	out, code := e.boot(`set -e
PREINIT=1 mount_root -n `+uniqueName(t)+` start
grep ' / overlay ' /proc/mounts
grep ' /overlay ext4 ' /proc/mounts
echo on-extroot > /etc/ext
sync`, "FSTAB="+fstab)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "extroot: LABEL="+ext+" on /overlay", "switched to extroot")
	if strings.Contains(out, "RAM overlay") {
		t.Fatalf("RAM overlay despite extroot:\n%s", out)
	}
	if got, ok := debugfsCat(t, dev, "/upper/etc/ext"); !ok || got != "on-extroot\n" {
		t.Fatalf("upper/etc/ext on %s: %q", dev, got)
	}
}

// TestExtrootWholeRootFromDataVolume: the fstab saved on rootfs_data (in its
// upper layer) asks for the whole root on another device.
func TestExtrootWholeRootFromDataVolume(t *testing.T) {
	e := newBootEnv(t)
	data, ext := uniqueName(t), uniqueName(t)
	// The extroot: a root file system with busybox.
	root := t.TempDir()
	for _, d := range []string{"bin", "etc"} {
		_ = os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	bb, _ := os.ReadFile(e.busybox)
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "grep", "cat", "test", "echo"} {
		_ = os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	_ = os.WriteFile(filepath.Join(root, "etc", "where"), []byte("extroot\n"), 0o644)
	loopImage(t, 32<<20, false, "mkfs.ext4", "-q", "-F", "-L", ext, "-d", root)
	// The data volume, with the saved config in upper/.
	cfg := t.TempDir()
	_ = os.MkdirAll(filepath.Join(cfg, "upper", "etc", "config"), 0o755)
	fstab := "config mount\n\toption target '/'\n\toption label '" + ext + "'\n\toption enabled '1'\n"
	_ = os.WriteFile(filepath.Join(cfg, "upper", "etc", "config", "fstab"), []byte(fstab), 0o644)
	_ = os.Symlink("2", filepath.Join(cfg, ".fs_state"))
	loopImage(t, 16<<20, false, "mkfs.ext4", "-q", "-F", "-L", data, "-d", cfg)

	out, code := e.boot(`set -e
PREINIT=1 mount_root -n ` + data + ` start
grep ' / ext4 ' /proc/mounts
echo "where: $(cat /etc/where)"
test -e /rom/etc/base && echo ROM-IS-OLD-ROOT
grep -c ' /proc proc ' /proc/mounts`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, "extroot: LABEL="+ext+" on /", "switched to extroot", "where: extroot", "ROM-IS-OLD-ROOT")
}

// TestRootdiskAfterSquashfs is the x86 image layout: the root is a squashfs
// at the start of a disk, and the data volume is the rest of the disk from the
// next 64 KiB boundary, reached through a loop device and formatted on first
// boot. The write of the first boot is there in the second.
func TestRootdiskAfterSquashfs(t *testing.T) {
	e := newBootEnv(t)
	mksquashfs := testbin.RequireTool(t, "mksquashfs")
	src := t.TempDir()
	for _, d := range []string{"bin", "sbin", "proc", "sys", "dev", "tmp", "rom", "overlay", "mnt", "etc", "usr", "run"} {
		_ = os.MkdirAll(filepath.Join(src, d), 0o755)
	}
	bb, _ := os.ReadFile(e.busybox)
	bin, _ := os.ReadFile(e.bin)
	_ = os.WriteFile(filepath.Join(src, "bin", "busybox"), bb, 0o755)
	_ = os.WriteFile(filepath.Join(src, "sbin", "toybox-go"), bin, 0o755)
	_ = os.Symlink("toybox-go", filepath.Join(src, "sbin", "mount_root"))
	for _, a := range strings.Fields(applets) {
		_ = os.Symlink("busybox", filepath.Join(src, "bin", a))
	}
	_ = os.Symlink("usr/lib", filepath.Join(src, "lib"))
	_ = os.Symlink("usr/lib64", filepath.Join(src, "lib64"))
	_ = os.WriteFile(filepath.Join(src, "etc", "base"), []byte("base\n"), 0o644)
	img := filepath.Join(t.TempDir(), "combined.img")
	if out, err := exec.Command(mksquashfs, src, img, "-noappend", "-quiet").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs: %v\n%s", err, out)
	}
	if err := os.Truncate(img, 48<<20); err != nil {
		t.Fatal(err)
	}
	losetup := testbin.RequireTool(t, "losetup")
	out, err := exec.Command(losetup, "--find", "--show", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command(losetup, "-d", dev).Run() })
	t.Cleanup(func() { loopsOver(t, dev) })

	name := uniqueName(t)
	boot1, code := e.boot(firstBoot, "SQUASH="+dev, "WITH_USR=1", "NAME="+name, "PAYLOAD=on-rootdisk", "DONE=1")
	if code != 0 {
		t.Fatalf("first boot: exit %d\n%s", code, boot1)
	}
	mustContain(t, boot1, "found by rootdisk", "has not been formatted yet", "ROM-HAS-BASE", "root-is:on-rootdisk", "state:2")
	loops := loopsOver(t, dev)
	if len(loops) != 1 {
		t.Fatalf("loop devices over %s: %v", dev, loops)
	}
	if got, ok := debugfsCat(t, loops[0], "/upper/etc/written"); !ok || got != "on-rootdisk\n" {
		t.Fatalf("upper/etc/written on %s: %q", loops[0], got)
	}
	boot2, code := e.boot(secondBoot, "SQUASH="+dev, "WITH_USR=1", "NAME="+name)
	if code != 0 {
		t.Fatalf("second boot: exit %d\n%s", code, boot2)
	}
	// The loop device set up in the first boot is still there, now labelled:
	// found again (by label or rootdisk), the same device.
	mustContain(t, boot2, name+" is "+loops[0]+" (ext4", "KEPT:on-rootdisk")
}

func TestOverlayNameFromKernelCmdline(t *testing.T) {
	e := newBootEnv(t)
	name := uniqueName(t)
	loopImage(t, 16<<20, false, "mkfs.ext4", "-q", "-F", "-L", name)
	out, code := e.boot(`PREINIT=1 mount_root start && grep ' /overlay ext4 ' /proc/mounts`, "CMDLINE=console=ttyS0 fstools_overlay_name="+name)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	mustContain(t, out, name+" is /dev/loop")
}
