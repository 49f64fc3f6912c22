package fsroot

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/superblock"
	"toybox-go/internal/testbin"
)

// An MTD partition or UBI volume that appeared after /dev was populated
// (block2mtd or ubi loaded as modules in preinit, found in a VM under
// Debian's generic kernel) has no nodes: they are made from sysfs.
func TestFlashNodesMadeFromSysfs(t *testing.T) {
	testbin.RequireRoot(t)
	s := fakeTree(t)
	write(t, filepath.Join(s.Proc, "mtd"), []byte("dev:    size   erasesize  name\nmtd2: 00800000 00010000 \"rootfs_data\"\n"))
	write(t, filepath.Join(s.Sys, "class", "mtd", "mtd2", "dev"), []byte("90:4\n"))
	write(t, filepath.Join(s.Sys, "class", "block", "mtdblock2", "dev"), []byte("31:2\n"))
	v := s.byMTD(DataName)
	if v == nil {
		t.Fatal("no mtd volume")
	}
	checkNode(t, v.Probe, filepath.Join(s.Dev, "mtd2"), unix.S_IFCHR, 90, 4)
	checkNode(t, v.Device, filepath.Join(s.Dev, "mtdblock2"), unix.S_IFBLK, 31, 2)

	write(t, filepath.Join(s.Proc, "filesystems"), []byte("nodev\tubifs\n"))
	write(t, filepath.Join(s.Sys, "class", "ubi", "ubi0_1", "name"), []byte("rootfs_data\n"))
	write(t, filepath.Join(s.Sys, "class", "ubi", "ubi0_1", "dev"), []byte("246:2\n"))
	u := s.byUBI(DataName)
	if u == nil {
		t.Fatal("no ubi volume")
	}
	checkNode(t, u.Device, filepath.Join(s.Dev, "ubi0_1"), unix.S_IFCHR, 246, 2)
}

func checkNode(t *testing.T, got, want string, typ uint32, maj, min uint32) {
	t.Helper()
	if got != want {
		t.Fatalf("node %s, want %s", got, want)
	}
	var st unix.Stat_t
	if err := unix.Stat(got, &st); err != nil {
		t.Fatal(err)
	}
	rdev := uint64(st.Rdev) //nolint:unconvert // uint32 on mips
	if st.Mode&unix.S_IFMT != typ || unix.Major(rdev) != maj || unix.Minor(rdev) != min {
		t.Fatalf("%s: mode %o dev %d:%d, want type %o dev %d:%d", got, st.Mode, unix.Major(rdev), unix.Minor(rdev), typ, maj, min)
	}
}

// Without sysfs entries nothing is made, and the block node is what is named.
func TestFlashNodesNotInventedWithoutSysfs(t *testing.T) {
	s := fakeTree(t)
	write(t, filepath.Join(s.Proc, "mtd"), []byte("mtd0: 00800000 00010000 \"rootfs_data\"\n"))
	v := s.byMTD(DataName)
	if v == nil || v.Device != filepath.Join(s.Dev, "mtdblock0") || v.Probe != v.Device {
		t.Fatalf("got %+v", v)
	}
	if _, err := os.Lstat(v.Device); err == nil {
		t.Fatalf("%s was made without a sysfs dev", v.Device)
	}
}

// What MountData mounts: flash with no file system yet becomes jffs2 (the
// kernel formats it); nothing else is mounted as something it does not hold.
func TestVolumeMountType(t *testing.T) {
	for _, c := range []struct {
		driver string
		typ    superblock.Type
		want   string
	}{
		{"mtd", superblock.Empty, "jffs2"},
		{"mtd", superblock.DeadCode, "jffs2"},
		{"mtd", superblock.JFFS2, "jffs2"},
		{"mtd", superblock.Unknown, "jffs2"},
		{"mtd", superblock.UBI, ""},
		{"label", superblock.UBI, ""},
		{"ubi", superblock.UBIFS, "ubifs"},
		{"label", superblock.Ext3, "ext4"},
		{"partname", superblock.Empty, ""},
		{"gpt", superblock.DeadCode, ""},
	} {
		v := &Volume{Driver: c.driver, Info: superblock.Info{Type: c.typ}}
		if got := v.MountType(); got != c.want {
			t.Errorf("%s holding %q: MountType %q, want %q", c.driver, c.typ, got, c.want)
		}
	}
}

// An MTD partition holding a UBI image that nobody attached is not mounted
// (as jffs2 it is garbage; the real kernel refuses with EIO), and the error
// says what to do.
func TestUnattachedUBIIsNotMounted(t *testing.T) {
	s := fakeTree(t)
	v := &Volume{Name: DataName, Driver: "mtd", Device: "/dev/mtdblock0", Probe: "/dev/mtd0", Info: superblock.Identify([]byte("UBI#\x01\x00\x00\x00"))}
	_, err := s.MountData(v)
	if err == nil || !strings.Contains(err.Error(), "UBI image that is not attached") || !strings.Contains(err.Error(), "ubi.mtd=rootfs_data") {
		t.Fatalf("MountData of an unattached UBI image: %v", err)
	}
	if _, err := os.Stat(s.Path("/tmp/overlay")); err == nil {
		t.Fatal("MountData went as far as making /tmp/overlay")
	}
}

// The blocks EraseMTD erases: those holding anything but 0xff.
func TestDirtyBlocks(t *testing.T) {
	const eb = 16
	img := bytes.Repeat([]byte{0xff}, 5*eb)
	copy(img, []byte{0xde, 0xad, 0xc0, 0xde}) // block 0: the marker
	img[3*eb+eb-1] = 0x00                     // block 3: one byte at its end
	got, err := dirtyBlocks(bytes.NewReader(img), int64(len(img)), eb)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 3 * eb}; !slices.Equal(got, want) {
		t.Fatalf("dirty blocks %v, want %v", got, want)
	}
	if _, err := dirtyBlocks(bytes.NewReader(img), int64(len(img)), 7); err == nil {
		t.Fatal("a size that is not whole erase blocks was accepted")
	}
	if _, err := dirtyBlocks(bytes.NewReader(img[:2*eb]), int64(len(img)), eb); err == nil {
		t.Fatal("a short read was taken for erased flash")
	}
}

// EraseMTD wants an MTD character device and says so.
func TestEraseMTDNeedsAnMTD(t *testing.T) {
	f := filepath.Join(t.TempDir(), "not-mtd")
	write(t, f, []byte{0xde, 0xad, 0xc0, 0xde})
	if _, _, err := EraseMTD(f); err == nil || !strings.Contains(err.Error(), "MEMGETINFO") {
		t.Fatalf("EraseMTD on a file: %v", err)
	}
}

// Why an MTD partition holding UBI gives nothing to mount, in words that say
// what to do.
func TestUBIUnusableSays(t *testing.T) {
	s := fakeTree(t)
	v := &Volume{Name: DataName, Driver: "mtd", Device: filepath.Join(s.Dev, "mtdblock3"), Probe: filepath.Join(s.Dev, "mtd3"),
		Info: superblock.Info{Type: superblock.UBI}}
	says := func(want string) {
		t.Helper()
		if err := s.ubiUnusable(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
	}
	says("not attached: attach it (ubi.mtd=rootfs_data")
	write(t, filepath.Join(s.Sys, "class", "ubi", "ubi1", "mtd_num"), []byte("2\n")) // another MTD's
	says("not attached")
	write(t, filepath.Join(s.Sys, "class", "ubi", "ubi0", "mtd_num"), []byte("3\n"))
	says("attached as ubi0, but the kernel has no ubifs")
	write(t, filepath.Join(s.Proc, "filesystems"), []byte("nodev\tubifs\n"))
	says("attached as ubi0, but it has no volume named rootfs_data")
	v.Probe = v.Device // no character device: the block device's number counts
	says("attached as ubi0")
}

// tmpfs (and the disk file systems) rename with a whiteout, and the probe
// leaves nothing behind.
func TestCanWhiteoutOnTmpfs(t *testing.T) {
	testbin.RequireRoot(t) // RENAME_WHITEOUT makes a 0:0 device: CAP_MKNOD
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		testbin.Unavailable(t, "mounting tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if err := CanWhiteout(dir); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the probe left %v", ents)
	}
	if err := CanWhiteout(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

// Without mtdblock the MTD is mounted by name ("mtdN", which jffs2 takes).
func TestMTDWithoutMtdblock(t *testing.T) {
	s := fakeTree(t)
	write(t, filepath.Join(s.Proc, "mtd"), []byte("mtd4: 00800000 00010000 \"rootfs_data\"\n"))
	write(t, filepath.Join(s.Dev, "mtd4"), []byte{0xff, 0xff, 0xff, 0xff})
	v, err := s.FindVolume(DataName)
	if err != nil || v.Device != "mtd4" || v.Probe != filepath.Join(s.Dev, "mtd4") || v.MountType() != "jffs2" {
		t.Fatalf("got %+v, %v", v, err)
	}
}
