package fsroot

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"toybox-go/applets/internal/mountinfo"
	"toybox-go/applets/internal/superblock"
	"toybox-go/internal/testbin"
)

// fakeTree is a System over a temporary directory.
func fakeTree(t *testing.T) *System {
	t.Helper()
	d := t.TempDir()
	s := &System{Root: filepath.Join(d, "root"), Sys: filepath.Join(d, "sys"), Proc: filepath.Join(d, "proc"), Dev: filepath.Join(d, "dev"), Cmdline: []string{}}
	for _, p := range []string{s.Root, s.Sys, s.Proc, s.Dev} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.Logf = t.Logf
	return s
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addBlock adds /sys/class/block/NAME with a uevent and size, and a regular
// file standing for its /dev node.
func addBlock(t *testing.T, s *System, name, uevent string, partition int, content []byte, parent string) {
	t.Helper()
	dir := filepath.Join(s.Sys, "class", "block", name)
	write(t, filepath.Join(dir, "uevent"), []byte(uevent))
	write(t, filepath.Join(dir, "size"), []byte(strconv.Itoa(len(content)/512)+"\n"))
	if partition > 0 {
		write(t, filepath.Join(dir, "partition"), []byte(strconv.Itoa(partition)+"\n"))
		if err := os.MkdirAll(filepath.Join(s.Sys, "class", "block", parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(s.Dev, name), content)
}

func ext4Image(t *testing.T, label string, size int64) []byte {
	t.Helper()
	mkfs := testbin.RequireTool(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), "fs.img")
	write(t, img, nil)
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", "-L", label, img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFindByPartName(t *testing.T) {
	s := fakeTree(t)
	addBlock(t, s, "sda", "DEVTYPE=disk\nDEVNAME=sda\n", 0, make([]byte, 4096), "")
	addBlock(t, s, "sda1", "DEVTYPE=partition\nDEVNAME=sda1\nPARTNAME=kernel\n", 1, make([]byte, 1024), "sda")
	addBlock(t, s, "sda2", "DEVTYPE=partition\nDEVNAME=sda2\nPARTNAME=rootfs_data\n", 2, []byte{0xde, 0xad, 0xc0, 0xde, 0, 0}, "sda")
	v, err := s.FindVolume(DataName)
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "partname" || v.Device != filepath.Join(s.Dev, "sda2") || v.Info.Type != superblock.DeadCode {
		t.Fatalf("got %+v", v)
	}
	s.Cmdline = []string{"fstools_ignore_partname=1"}
	if v, err := s.FindVolume(DataName); !errors.Is(err, ErrNotFound) {
		t.Fatalf("with fstools_ignore_partname=1: %+v %v", v, err)
	}
}

func TestFindByLabel(t *testing.T) {
	s := fakeTree(t)
	addBlock(t, s, "vda", "DEVNAME=vda\n", 0, ext4Image(t, "other", 1<<20), "")
	addBlock(t, s, "vdb", "DEVNAME=vdb\n", 0, ext4Image(t, "rootfs_data", 1<<20), "")
	addBlock(t, s, "ram0", "DEVNAME=ram0\n", 0, ext4Image(t, "rootfs_data", 1<<20), "") // never probed
	v, err := s.FindVolume(DataName)
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "label" || filepath.Base(v.Device) != "vdb" || v.Info.Type != superblock.Ext4 {
		t.Fatalf("got %+v", v)
	}
}

// gptDisk builds a disk image with sgdisk whose partition 2 is rootfs_data.
func gptDisk(t *testing.T) []byte {
	t.Helper()
	sgdisk := testbin.RequireTool(t, "sgdisk")
	img := filepath.Join(t.TempDir(), "disk.img")
	write(t, img, make([]byte, 200<<10))
	if out, err := exec.Command(sgdisk, "-n", "1:34:+20K", "-c", "1:kernel", "-n", "2:0:0", "-c", "2:rootfs_data", img).CombinedOutput(); err != nil {
		t.Fatalf("sgdisk: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(img)
	return b
}

func TestFindByGPTWithKernelPartitions(t *testing.T) {
	s := fakeTree(t)
	disk := gptDisk(t)
	// The kernel made partition devices but gave no PARTNAME (an old kernel):
	// our GPT reader names them.
	addBlock(t, s, "mmcblk0", "DEVNAME=mmcblk0\n", 0, disk, "")
	addBlock(t, s, "mmcblk0p1", "DEVNAME=mmcblk0p1\n", 1, make([]byte, 512), "mmcblk0")
	addBlock(t, s, "mmcblk0p2", "DEVNAME=mmcblk0p2\n", 2, []byte{0xde, 0xad, 0xc0, 0xde}, "mmcblk0")
	v, err := s.FindVolume(DataName)
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "gpt" || filepath.Base(v.Device) != "mmcblk0p2" {
		t.Fatalf("got %+v", v)
	}
}

func TestFindByMTDAndUBI(t *testing.T) {
	s := fakeTree(t)
	write(t, filepath.Join(s.Proc, "mtd"), []byte("dev:    size   erasesize  name\nmtd0: 00040000 00010000 \"u-boot\"\nmtdX: junk\nmtd5: 00800000 00010000 \"rootfs_data\"\n"))
	write(t, filepath.Join(s.Dev, "mtd5"), []byte{0x85, 0x19, 0x03, 0x20})
	write(t, filepath.Join(s.Dev, "mtdblock5"), nil)
	v, err := s.FindVolume(DataName)
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "mtd" || v.Device != filepath.Join(s.Dev, "mtdblock5") || v.Info.Type != superblock.JFFS2 || v.Size != 0x800000 {
		t.Fatalf("mtd: got %+v", v)
	}
	// A UBI volume wins over MTD, when the kernel has ubifs.
	write(t, filepath.Join(s.Sys, "class", "ubi", "ubi0_3", "name"), []byte("rootfs_data\n"))
	if v, _ := s.FindVolume(DataName); v.Driver != "mtd" {
		t.Fatalf("ubi used without ubifs in /proc/filesystems: %+v", v)
	}
	write(t, filepath.Join(s.Proc, "filesystems"), []byte("nodev\ttmpfs\n\tubifs\n"))
	v, err = s.FindVolume(DataName)
	if err != nil || v.Driver != "ubi" || v.Device != filepath.Join(s.Dev, "ubi0_3") || v.Info.Type != superblock.UBIFS {
		t.Fatalf("ubi: got %+v %v", v, err)
	}
}

func TestParam(t *testing.T) {
	s := fakeTree(t)
	s.Cmdline = nil
	write(t, filepath.Join(s.Proc, "cmdline"), []byte("console=ttyS0 fstools_overlay_name=a fstools_overlay_name=data ro\n"))
	if v, ok := s.Param("fstools_overlay_name"); !ok || v != "data" {
		t.Fatalf("got %q %v", v, ok)
	}
	if _, ok := s.Param("ro"); !ok {
		t.Fatal("bare word not found")
	}
	if _, ok := s.Param("rootwait"); ok {
		t.Fatal("absent word found")
	}
}

func TestStateAndWipe(t *testing.T) {
	dir := t.TempDir()
	if ReadState(dir) != Unknown {
		t.Fatal("fresh dir not Unknown")
	}
	write(t, filepath.Join(dir, "upper", "etc", "config", "network"), []byte("x"))
	write(t, filepath.Join(dir, "sysupgrade.tgz"), []byte("backup"))
	wiped, err := PrepareOverlay(dir)
	if err != nil || !wiped {
		t.Fatalf("unknown state: wiped %v, %v", wiped, err)
	}
	if ReadState(dir) != Pending {
		t.Fatalf("state %d after wipe, want pending", ReadState(dir))
	}
	if _, err := os.Stat(filepath.Join(dir, "upper")); !os.IsNotExist(err) {
		t.Fatalf("upper survived the wipe: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sysupgrade.tgz")); string(b) != "backup" {
		t.Fatal("sysupgrade.tgz not kept")
	}
	write(t, filepath.Join(dir, "upper", "kept"), nil)
	if err := WriteState(dir, Ready); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(filepath.Join(dir, ".fs_state")); target != "2" {
		t.Fatalf(".fs_state -> %q, want 2 (a symlink, as fstools)", target)
	}
	if wiped, err := PrepareOverlay(dir); wiped || err != nil {
		t.Fatalf("ready state: wiped %v %v", wiped, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "upper", "kept")); err != nil {
		t.Fatal("ready overlay lost its file")
	}
	_ = os.Remove(filepath.Join(dir, ".fs_state"))
	_ = os.Symlink("garbage", filepath.Join(dir, ".fs_state"))
	if ReadState(dir) != Unknown {
		t.Fatal("garbage state not Unknown")
	}
}

func TestNoOverlayFilesystem(t *testing.T) {
	s := fakeTree(t)
	write(t, filepath.Join(s.Proc, "filesystems"), []byte("nodev\ttmpfs\n\text4\n"))
	if err := s.FOPivot("/overlay", "/rom"); !errors.Is(err, ErrNoOverlay) {
		t.Fatalf("FOPivot: %v, want ErrNoOverlay", err)
	}
	if err := s.RAMOverlay(); !errors.Is(err, ErrNoOverlay) {
		t.Fatalf("RAMOverlay: %v, want ErrNoOverlay", err)
	}
	if _, err := os.Stat(s.Path("/mnt")); !os.IsNotExist(err) {
		t.Fatal("FOPivot touched the tree before finding out")
	}
}

func TestSaveBackupAndFormatChoice(t *testing.T) {
	s := fakeTree(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("a tar archive"))
	zw.Close()
	img := make([]byte, 4096)
	binary.BigEndian.PutUint32(img, 0xdeadc0de)
	binary.BigEndian.PutUint32(img[512:], 0xffffffff)
	copy(img[1024:], gz.Bytes())
	v := &Volume{Name: DataName, Device: filepath.Join(s.Dev, "sda2"), Probe: filepath.Join(s.Dev, "sda2"), Size: 200 << 20}
	// The stream is followed by zeros, erased flash, or old data: gzip must
	// stop at its end, GNU's and busybox's alike.
	busybox := testbin.RequireTool(t, "busybox")
	bbDir := t.TempDir()
	if err := os.Symlink(busybox, filepath.Join(bbDir, "gzip")); err != nil {
		t.Fatal(err)
	}
	for _, gzipDir := range []string{"", bbDir} {
		for _, tail := range []byte{0, 0xff, 'x'} {
			for i := 1024 + gz.Len(); i < len(img); i++ {
				img[i] = tail
			}
			write(t, filepath.Join(s.Dev, "sda2"), img)
			if gzipDir != "" {
				t.Setenv("PATH", gzipDir)
			}
			os.Remove(s.Path("/tmp/sysupgrade.tar"))
			n, err := s.SaveBackup(v)
			if err != nil || n != int64(len("a tar archive")) {
				t.Fatalf("SaveBackup (gzip from %q, tail %#x): %d %v", gzipDir, tail, n, err)
			}
			if b, _ := os.ReadFile(s.Path("/tmp/sysupgrade.tar")); string(b) != "a tar archive" {
				t.Fatalf("sysupgrade.tar: %q", b)
			}
		}
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := s.SaveBackup(v); err == nil || !strings.Contains(err.Error(), "no gzip") {
		t.Fatalf("SaveBackup without gzip: %v", err)
	}
	// No gzip header after the erased blocks: no backup, no error.
	copy(img[1024:], "not a backup")
	write(t, filepath.Join(s.Dev, "sda2"), img)
	if n, err := s.SaveBackup(v); n != 0 || err != nil {
		t.Fatalf("SaveBackup without a backup: %d %v", n, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, _, ok := s.FormatChoice(v); ok {
		t.Fatal("a mkfs found in an empty PATH")
	}
	bin := t.TempDir()
	write(t, filepath.Join(bin, "mkfs.ext4"), []byte("#!/bin/sh\n"))
	_ = os.Chmod(filepath.Join(bin, "mkfs.ext4"), 0o755)
	t.Setenv("PATH", bin)
	// 200 MiB asks for f2fs; without mkfs.f2fs it is ext4.
	fs, argv, ok := s.FormatChoice(v)
	if !ok || fs != "ext4" || strings.Join(argv[1:], " ") != "-q -F -L rootfs_data "+v.Device {
		t.Fatalf("choice %q %v %v", fs, argv, ok)
	}
	write(t, filepath.Join(bin, "mkfs.f2fs"), []byte("#!/bin/sh\n"))
	_ = os.Chmod(filepath.Join(bin, "mkfs.f2fs"), 0o755)
	if fs, _, _ := s.FormatChoice(v); fs != "ext4" {
		t.Fatalf("200 MiB, mkfs.f2fs but no f2fs in the kernel: %q", fs)
	}
	write(t, filepath.Join(s.Proc, "filesystems"), []byte("\text4\n\tf2fs\n"))
	if fs, _, _ := s.FormatChoice(v); fs != "f2fs" {
		t.Fatalf("200 MiB with mkfs.f2fs: %q", fs)
	}
	small := *v
	small.Size = 50 << 20
	if fs, _, _ := s.FormatChoice(&small); fs != "ext4" {
		t.Fatalf("50 MiB: %q", fs)
	}
	s.Cmdline = []string{"fstools_overlay_fstype=ext4"}
	if fs, _, _ := s.FormatChoice(v); fs != "ext4" {
		t.Fatalf("fstools_overlay_fstype=ext4: %q", fs)
	}
}

func TestRemoveContentsStaysOnOneFS(t *testing.T) {
	d := t.TempDir()
	write(t, filepath.Join(d, "a", "b", "c"), nil)
	_ = os.Symlink("/etc", filepath.Join(d, "link"))
	if n := RemoveContents(d); n != 0 {
		t.Fatalf("%d failures", n)
	}
	if ents, _ := os.ReadDir(d); len(ents) != 0 {
		t.Fatalf("left %v", ents)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Fatal("followed the symlink")
	}
}

func TestUnescape(t *testing.T) {
	if got := mountinfo.Unescape(`/mnt/a\040b\134`); got != `/mnt/a b\` {
		t.Fatalf("got %q", got)
	}
}

func FuzzProcMTD(f *testing.F) {
	f.Add("dev:    size   erasesize  name\nmtd5: 00800000 00010000 \"rootfs_data\"\n")
	f.Add("mtd0: zz 1 \"rootfs_data\"\nmtdx: 1 1 \"rootfs_data\"\nmtd: 1 1 \"rootfs_data\"\n")
	f.Add("mtd99999999999999999999: 1 1 \"rootfs_data\"\n")
	f.Fuzz(func(t *testing.T, data string) {
		s := &System{Proc: t.TempDir(), Dev: "/nonexistent"}
		if err := os.WriteFile(filepath.Join(s.Proc, "mtd"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if v := s.byMTD(DataName); v != nil {
			if !strings.HasPrefix(filepath.Base(v.Device), "mtdblock") || v.Driver != "mtd" {
				t.Fatalf("volume %+v", v)
			}
		}
	})
}

func FuzzMountinfo(f *testing.F) {
	f.Add("22 1 0:2 / / rw - rootfs rootfs rw\n23 22 0:21 / /proc rw,nosuid - proc proc rw\n")
	f.Add("1 1 7:0 / /a\\040b rw - ext4 /dev/loop0 rw\nbroken\n - \n")
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Fuzz(func(t *testing.T, data string) {
		s := &System{Proc: t.TempDir()}
		_ = os.MkdirAll(filepath.Join(s.Proc, "self"), 0o755)
		if err := os.WriteFile(filepath.Join(s.Proc, "self", "mountinfo"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, m := range s.mountinfo() {
			if m.FSType == "" || m.Target == "" {
				t.Fatalf("entry %+v", m)
			}
		}
		_ = s.RootIsRootfs()
		_ = s.RootIsOverlay()
	})
}

func TestMountinfo(t *testing.T) {
	s := &System{Proc: t.TempDir()}
	_ = os.MkdirAll(filepath.Join(s.Proc, "self"), 0o755)
	write(t, filepath.Join(s.Proc, "self", "mountinfo"), []byte("1 1 0:2 / / rw - rootfs rootfs rw\n2 1 0:3 / /mnt\\040x rw - tmpfs tmpfs rw\n"))
	if !s.RootIsRootfs() || s.RootIsOverlay() {
		t.Fatal("rootfs not seen")
	}
	write(t, filepath.Join(s.Proc, "self", "mountinfo"), []byte("1 1 0:2 / / rw - rootfs rootfs rw\n9 1 0:40 / / rw - overlay overlayfs:/overlay rw\n"))
	if !s.RootIsOverlay() {
		t.Fatal("overlay on / not seen")
	}
	if ms := s.mountinfo(); len(ms) != 2 || ms[1].Source != "overlayfs:/overlay" {
		t.Fatalf("%+v", ms)
	}
}

const fstabSample = `
config global
	option anon_swap '0'
	option delay_root '5'  # seconds

config mount 'extroot'
	option target "/overlay"
	option uuid 'ab-cd'
	option enabled '1'
	list note 'one'
	list note two

config mount
	option target '/mnt/usb'
	option device /dev/sdb1
`

func TestParseUCIAndFindExtroot(t *testing.T) {
	secs, errs := ParseUCI(strings.NewReader(fstabSample+"bogus line\noption outside 'x' y\nconfig 'unterminated\n"), "fstab")
	if len(errs) != 3 || !strings.Contains(errs[0].Error(), "fstab:16: unknown keyword") {
		t.Fatalf("errors %v", errs)
	}
	if len(secs) != 3 || secs[1].Name != "extroot" || secs[1].Options["note"] != "one two" {
		t.Fatalf("sections %+v", secs)
	}
	m, ok := FindExtroot(secs)
	if !ok || m.Target != "/overlay" || m.Device != "UUID=ab-cd" || m.DelayRoot != 5 {
		t.Fatalf("extroot %+v %v", m, ok)
	}
	secs[1].Options["enabled"] = "0"
	if m, ok := FindExtroot(secs); ok {
		t.Fatalf("disabled mount used: %+v", m)
	}
}

func FuzzParseUCI(f *testing.F) {
	f.Add(fstabSample)
	f.Add("config mount\n\toption target '/'\n\toption label \"x\\\"y\"\n")
	f.Fuzz(func(t *testing.T, data string) {
		secs, _ := ParseUCI(strings.NewReader(data), "fuzz")
		for _, s := range secs {
			if s.Type == "" || s.Options == nil {
				t.Fatalf("section %+v", s)
			}
		}
		_, _ = FindExtroot(secs)
	})
}

func TestPartnameScope(t *testing.T) {
	for in, want := range map[string]string{"sda2": "sda", "mmcblk0p2": "mmcblk0", "nvme0n1p3": "nvme0n1", "vda": "vda"} {
		if got := diskOf(in); got != want {
			t.Errorf("diskOf(%s) = %s, want %s", in, got, want)
		}
	}
	s := fakeTree(t)
	for _, disk := range []string{"sda", "sdb"} {
		addBlock(t, s, disk, "DEVNAME="+disk+"\n", 0, make([]byte, 4096), "")
		addBlock(t, s, disk+"2", "DEVNAME="+disk+"2\nPARTNAME=rootfs_data\n", 2, []byte{0xde, 0xad, 0xc0, 0xde}, disk)
	}
	s.Cmdline = []string{"root=/dev/sdb1"}
	if v, err := s.FindVolume(DataName); err != nil || filepath.Base(v.Device) != "sdb2" {
		t.Fatalf("root=/dev/sdb1: %+v %v, want sdb2", v, err)
	}
	s.Cmdline = []string{"root=PARTUUID=1234-02"}
	if v, err := s.FindVolume(DataName); err == nil {
		t.Fatalf("root=PARTUUID without fallback scan found %+v", v)
	}
	s.Cmdline = []string{"root=PARTUUID=1234-02", "fstools_partname_fallback_scan=1"}
	if v, err := s.FindVolume(DataName); err != nil || filepath.Base(v.Device) != "sda2" {
		t.Fatalf("fallback scan: %+v %v", v, err)
	}
}

// BenchmarkFindVolumeHost is the cost of a full search that finds nothing on
// this machine's real sysfs and devices: every driver, every superblock read.
func BenchmarkFindVolumeHost(b *testing.B) {
	testbin.RequireRoot(b)
	s := Default()
	s.Cmdline = []string{}
	devs := len(s.blockDevices())
	for i := 0; i < b.N; i++ {
		if _, err := s.FindVolume("no_such_volume"); !errors.Is(err, ErrNotFound) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(devs), "block-devices")
}

func TestFindFITFirst(t *testing.T) {
	s := fakeTree(t)
	addBlock(t, s, "sda2", "DEVNAME=sda2\nPARTNAME=rootfs_data\n", 2, []byte{0xde, 0xad, 0xc0, 0xde}, "sda")
	addBlock(t, s, "fitrw", "DEVNAME=fitrw\n", 0, make([]byte, 8192), "")
	v, err := s.FindVolume(DataName)
	if err != nil || v.Driver != "fit" || v.Size != 8192 || v.Info.Type != superblock.Empty {
		t.Fatalf("got %+v %v", v, err)
	}
	if v, _ := s.FindVolume("other"); v != nil && v.Driver == "fit" {
		t.Fatal("fitrw used for another name")
	}
}

// TestLowerASCIIMatchesLikeEqualFold: root=UUID= and PARTUUID= values are
// compared, lower-cased, with the lower-case hex we read; that must match
// exactly what strings.EqualFold did.
func TestLowerASCIIMatchesLikeEqualFold(t *testing.T) {
	ours := "0fc63daf-8483-4772-8e79-3d69d8477de4"
	for _, spec := range []string{ours, strings.ToUpper(ours), "0FC63DAF-8483-4772-8e79-3D69D8477DE4", "0fc63daf", "", "0fc63daf-8483-4772-8e79-3d69d8477de\u212a"} {
		if got, want := lowerASCII(spec) == ours, strings.EqualFold(ours, spec); got != want {
			t.Errorf("%q: matched %v, EqualFold says %v", spec, got, want)
		}
	}
}
