package fsroot

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"toybox-go/applets/printf"
)

// LoopRange returns a loop device showing length bytes of backing (a disk
// node) from offset on: an existing one that already maps exactly that range
// (a second mount_root in the same boot, as fstools reuses them), else a free one
// set up now. It is how a GPT partition is reached on a kernel that did not
// make a device for it (no CONFIG_EFI_PARTITION, or a loop disk without -P).
func (s *System) LoopRange(backing string, offset, length int64) (string, error) {
	if dev := s.findLoop(backing, offset, length); dev != "" {
		return dev, nil
	}
	ctl, err := os.OpenFile(filepath.Join(s.Dev, "loop-control"), os.O_RDWR, 0)
	if err != nil {
		return "", printf.Errorf("opening loop-control: %w", err)
	}
	bf, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		ctl.Close()
		return "", err
	}
	dev, err := s.attachLoop(ctl, bf, backing, offset, length)
	bf.Close()
	ctl.Close()
	return dev, err
}

// attachLoop sets up a free loop device (asked of loop-control ctl) over the
// open backing file bf.
func (s *System) attachLoop(ctl, bf *os.File, backing string, offset, length int64) (string, error) {
	for try := 0; try < 8; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", printf.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		dev := filepath.Join(s.Dev, "loop"+strconv.Itoa(n))
		if _, err := os.Stat(dev); err != nil {
			_ = unix.Mknod(dev, unix.S_IFBLK|0o600, int(unix.Mkdev(7, uint32(n))))
		}
		lf, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			return "", err
		}
		fd := int(lf.Fd())
		if err := unix.IoctlSetInt(fd, unix.LOOP_SET_FD, int(bf.Fd())); err != nil {
			lf.Close()
			if err == unix.EBUSY {
				continue // taken between GET_FREE and SET_FD
			}
			return "", printf.Errorf("LOOP_SET_FD %s: %w", dev, err)
		}
		info := unix.LoopInfo64{Offset: uint64(offset), Sizelimit: uint64(length)}
		copy(info.File_name[:], backing)
		if err := unix.IoctlLoopSetStatus64(fd, &info); err != nil {
			_ = unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0)
			lf.Close()
			return "", printf.Errorf("LOOP_SET_STATUS64 %s: %w", dev, err)
		}
		lf.Close()
		return dev, nil
	}
	return "", printf.Errorf("no free loop device for %s", backing)
}

// findLoop looks for a loop device over backing at offset/length, comparing
// the backing file's device and inode numbers (paths in sysfs depend on the
// mount namespace that set the loop up).
func (s *System) findLoop(backing string, offset, length int64) string {
	var st unix.Stat_t
	if err := unix.Stat(backing, &st); err != nil {
		return ""
	}
	ents, _ := filepath.Glob(filepath.Join(s.Sys, "block", "loop*", "loop"))
	for _, dir := range ents {
		dev := filepath.Join(s.Dev, filepath.Base(filepath.Dir(dir)))
		f, err := os.Open(dev)
		if err != nil {
			continue
		}
		info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
		f.Close()
		if err == nil && info.Device == uint64(st.Dev) && info.Inode == st.Ino &&
			info.Offset == uint64(offset) && info.Sizelimit == uint64(length) {
			return dev
		}
	}
	return ""
}
