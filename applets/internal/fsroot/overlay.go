package fsroot

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/mnt"
	"toybox-go/applets/internal/mountinfo"
	"toybox-go/applets/internal/superblock"
	"toybox-go/applets/printf"
)

// ErrNoOverlay means the kernel has no overlay file system (not built in, module
// not loaded): no overlay root is possible, not even in RAM.
var ErrNoOverlay = errors.New("the kernel has no overlay file system (is the overlay module loaded?)")

// ErrRootfs means / is the initramfs rootfs, where pivot_root(2) fails with
// EINVAL; toybox-go's init moves / onto a mount of its own before preinit so
// that this does not happen.
var ErrRootfs = errors.New("/ is the initramfs rootfs: pivot_root is impossible (init must make / a mount of its own first)")

// ErrExtrootDone is returned by MountData when the data volume's saved fstab
// configured an extroot and the root was switched to it.
var ErrExtrootDone = errors.New("switched to extroot")

// MountData mounts the data volume v on Root/tmp/overlay, switches to an
// extroot if the config saved there asks for one (ErrExtrootDone), applies the
// .fs_state rules (wiping an untrusted overlay), and moves it to Root/overlay.
// It reports whether the overlay was wiped.
func (s *System) MountData(v *Volume) (wiped bool, err error) {
	fstype := v.MountType()
	if v.Info.Type == superblock.UBI {
		return false, s.ubiUnusable(v)
	}
	if fstype == "" {
		return false, printf.Errorf("%s holds %s, not a file system to mount", v.Device, v.Type())
	}
	if where := s.MountedAt(v.Device); where != "" {
		return false, printf.Errorf("%s:%s is already mounted as %s", v.Name, v.Device, where)
	}
	tmp := s.Path("/tmp/overlay")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return false, err
	}
	err = mnt.Mount(v.Device, tmp, fstype, "", unix.MS_NOATIME)
	if err != nil && errors.Is(err, unix.EIO) && v.Driver == "mtd" && v.Info.Type == superblock.DeadCode {
		// OpenWrt's jffs2 takes 0xdeadc0de for the end of the file system
		// and erases what follows in the background; any other kernel's
		// refuses the marker and the leftovers after it. Erase them here
		// (only then: on a router's NOR flash that takes seconds).
		s.logf("%s: the kernel's jffs2 refuses the 0xdeadc0de marker (no OpenWrt patches?): erasing the flash", v.Device)
		t0 := time.Now()
		n, total, eerr := EraseMTD(v.Probe)
		if eerr != nil {
			return false, printf.Errorf("mounting %s (%s): %w; erasing it: %v", v.Device, fstype, err, eerr)
		}
		s.logf("erased %d of %d flash blocks of %s (0xdeadc0de: first boot) in %v", n, total, v.Probe, time.Since(t0).Round(time.Millisecond))
		err = mnt.Mount(v.Device, tmp, fstype, "", unix.MS_NOATIME)
	}
	if err != nil {
		if errors.Is(err, unix.ENODEV) && !s.HasFilesystem(fstype) {
			return false, printf.Errorf("cannot mount %s: the kernel has no %s file system (not built in, module not loaded?)", v.Device, fstype)
		}
		return false, printf.Errorf("mounting %s (%s) on %s: %w", v.Device, fstype, tmp, err)
	}
	if ok, err := s.Extroot("/tmp/overlay"); ok {
		return false, ErrExtrootDone
	} else if err != nil {
		s.logf("%v", err)
	}
	wiped, err = PrepareOverlay(tmp)
	if err != nil {
		s.logf("preparing overlay %s: %v", tmp, err)
	}
	if wiped {
		s.logf("overlay filesystem has not been fully initialized yet: wiped")
	}
	dst := s.Path("/overlay")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return wiped, err
	}
	if err := mnt.Move(tmp, dst); err != nil {
		_ = unix.Unmount(tmp, unix.MNT_DETACH)
		return wiped, printf.Errorf("moving %s to %s: %w", tmp, dst, err)
	}
	return wiped, nil
}

// MountedAt returns where device dev is mounted ("" if nowhere), matched by
// major:minor in Proc/self/mountinfo.
func (s *System) MountedAt(dev string) string {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return ""
	}
	rdev := uint64(st.Rdev) //nolint:unconvert // uint32 on mips
	want := printf.Sprintf("%d:%d", unix.Major(rdev), unix.Minor(rdev))
	for _, m := range s.mountinfo() {
		if m.Dev == want {
			return m.Target
		}
	}
	return ""
}

// mountinfo is the mount table of s's /proc; unreadable means empty.
func (s *System) mountinfo() []mountinfo.Entry {
	es, _ := mountinfo.Read(filepath.Join(s.Proc, "self", "mountinfo"), s.Logf) // nil Logf: no warnings
	return es
}

// RootIsRootfs reports whether / is the kernel's initramfs rootfs.
//
//go:noinline
func (s *System) RootIsRootfs() bool {
	for _, m := range s.mountinfo() {
		if m.Target == "/" {
			return m.FSType == "rootfs"
		}
	}
	return false
}

// RootIsOverlay reports whether / is already an overlay (mount_root ran).
func (s *System) RootIsOverlay() bool {
	var root string
	for _, m := range s.mountinfo() {
		if m.Target == "/" {
			root = m.FSType // the last mount on / is the visible one
		}
	}
	return root == "overlay"
}

// FOPivot makes an overlay with the read-only root as lower layer and rw (a
// directory on a writable file system) for its upper and work directories the
// new root; the old root ends up on ro ("/rom"). As fstools' fopivot.
func (s *System) FOPivot(rw, ro string) error {
	if !s.HasFilesystem("overlay") {
		return ErrNoOverlay
	}
	rwp := s.Path(rw)
	upper, work := filepath.Join(rwp, "upper"), filepath.Join(rwp, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// A config backup at the top of the volume shows up as /sysupgrade.tgz.
	if backup := filepath.Join(rwp, "sysupgrade.tgz"); exists(backup) {
		_ = os.Rename(backup, filepath.Join(upper, "sysupgrade.tgz"))
	}
	// Only jffs2 may lack RENAME_WHITEOUT: elsewhere the probe would be a
	// write, a rename and two removals on every boot for nothing.
	var st unix.Statfs_t
	if unix.Statfs(rwp, &st) == nil && st.Type == unix.JFFS2_SUPER_MAGIC {
		if err := CanWhiteout(work); err != nil {
			s.logf("WARNING: %v: renaming a file of the read-only root will fail with EINVAL (a kernel without OpenWrt's jffs2 patches?)", err)
		}
	}
	newRoot := s.Path("/mnt")
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	data := printf.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", s.Root, upper, work)
	if err := mnt.Mount("overlayfs:"+rw, newRoot, "overlay", data, unix.MS_NOATIME); err != nil {
		return printf.Errorf("mounting overlay (%s) on %s: %w", data, newRoot, err)
	}
	return s.pivotMnt(ro)
}

// pivotMnt pivots to the mount on Root/mnt, the old root landing on putOld,
// and takes that mount away again when the pivot fails.
func (s *System) pivotMnt(putOld string) error {
	if err := s.Pivot("/mnt", putOld); err != nil {
		_ = unix.Unmount(s.Path("/mnt"), unix.MNT_DETACH)
		return err
	}
	return nil
}

// Pivot makes newRoot (a mount below Root) the root with pivot_root(2), the old
// root landing on newRoot+putOld, then brings the kernel file systems and the
// writable volume back to their usual places: /proc before the pivot, /dev
// (with /dev/pts), /sys, /tmp, /run and /overlay after it.
func (s *System) Pivot(newRoot, putOld string) error {
	nr, proc := s.Path(newRoot), s.Path("/proc")
	old, newProc := filepath.Join(nr, putOld), filepath.Join(nr, "proc")
	if err := os.MkdirAll(old, 0o755); err != nil {
		return err
	}
	if isMount(proc, s.Root) {
		if err := mnt.Move(proc, newProc); err != nil {
			s.logf("moving /proc to %s/proc: %v", nr, err)
		}
	}
	if err := unix.PivotRoot(nr, old); err != nil {
		// Put /proc back so the caller can carry on.
		_ = mnt.Move(newProc, proc)
		if errors.Is(err, unix.EINVAL) && s.RootIsRootfs() {
			return ErrRootfs
		}
		return printf.Errorf("pivot_root(%s, %s): %w", nr, old, err)
	}
	_ = unix.Chdir("/")
	for _, d := range []string{"/dev", "/sys", "/tmp", "/run", "/overlay"} {
		from := filepath.Join(putOld, d)
		fi, err := os.Stat(from)
		if err != nil || !fi.IsDir() || !isMount(from, putOld) {
			continue
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		if err := mnt.Move(from, d); err != nil {
			s.logf("moving %s to %s: %v", from, d, err)
		}
	}
	return nil
}

// IsMountPoint reports whether dir is the root of a mount (on another file
// system than its parent directory).
func IsMountPoint(dir string) bool { return isMount(dir, filepath.Dir(filepath.Clean(dir))) }

// isMount reports whether dir is on another file system than parent.
func isMount(dir, parent string) bool {
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat(parent)
	if err1 != nil || err2 != nil {
		return false
	}
	return a.Sys().(*syscall.Stat_t).Dev != b.Sys().(*syscall.Stat_t).Dev
}

// RAMOverlay makes a tmpfs overlay the root: nothing written will survive a
// reboot. Callers say so loudly.
func (s *System) RAMOverlay() error {
	if !s.HasFilesystem("overlay") {
		return ErrNoOverlay
	}
	dir := s.Path("/tmp/root")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := mnt.Mount("tmpfs", dir, "tmpfs", "mode=0755", unix.MS_NOATIME); err != nil {
		return printf.Errorf("mounting tmpfs on %s: %w", dir, err)
	}
	if err := s.FOPivot("/tmp/root", "/rom"); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return err
	}
	return nil
}

// RootPersistent remounts the root read-write (with opts) and reports whether
// it is then a writable file system that survives a reboot: not tmpfs, ramfs
// or rootfs, and not read-only (squashfs, erofs).
func (s *System) RootPersistent(opts string) bool {
	if err := unix.Mount("", s.Root, "", unix.MS_REMOUNT|unix.MS_NOATIME, opts); err != nil {
		s.logf("remounting %s read-write: %v", s.Root, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.Root, &st); err != nil {
		return false
	}
	switch uint32(st.Type) {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC, unix.SQUASHFS_MAGIC, unix.OVERLAYFS_SUPER_MAGIC:
		return false
	}
	return st.Flags&unix.ST_RDONLY == 0 && !s.RootIsRootfs()
}

// IsPersistentFS tells whether a probe result is a file system mount_root can
// use as overlay storage.
func IsPersistentFS(t superblock.Type) bool {
	switch t {
	case superblock.Ext2, superblock.Ext3, superblock.Ext4, superblock.F2FS,
		superblock.Btrfs, superblock.JFFS2, superblock.UBIFS:
		return true
	}
	return false
}

// CanWhiteout tells whether the file system holding dir can rename with
// RENAME_WHITEOUT, which overlayfs needs in its upper layer to rename a file
// of the lower one. Mainline jffs2 cannot (OpenWrt patches it in); ubifs,
// ext4, f2fs and tmpfs can. It tries it on a scratch file in dir.
func CanWhiteout(dir string) error {
	src, dst := filepath.Join(dir, ".whiteout-probe"), filepath.Join(dir, ".whiteout-probe.new")
	err := os.WriteFile(src, nil, 0o600)
	if err == nil {
		if err = unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_WHITEOUT); err != nil {
			err = printf.Errorf("%s: the file system cannot rename with a whiteout: %w", dir, err)
		}
	}
	_ = os.Remove(dst) // the whiteout (or the file) renamed there
	_ = os.Remove(src)
	return err
}
