package fsroot

import (
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"toybox-go/applets/printf"
)

// EraseMTD makes the MTD partition behind the character device dev ready for
// jffs2: every erase block that is not erased already (all 0xff) is erased.
// OpenWrt's kernel patches jffs2 to treat a 0xdeadc0de block as the end of the
// file system and what follows as free; a kernel without those patches (any
// distribution's) takes the marker and the leftovers after it for a damaged
// file system and refuses to mount it (EIO, "Cowardly refusing to erase blocks
// on filesystem with no valid JFFS2 nodes"). It returns the number of blocks
// erased and the number there are.
func EraseMTD(dev string) (erased, blocks int, err error) {
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_SYNC, 0)
	if err != nil {
		return 0, 0, err
	}
	erased, blocks, err = eraseMTD(f, dev)
	f.Close()
	return erased, blocks, err
}

// eraseMTD is EraseMTD on the open device f (named dev in errors).
func eraseMTD(f *os.File, dev string) (erased, blocks int, err error) {
	var info unix.MtdInfo
	if err := mtdIoctl(f, unix.MEMGETINFO, unsafe.Pointer(&info)); err != nil {
		return 0, 0, printf.Errorf("%s: MEMGETINFO: %w (not an MTD character device?)", dev, err)
	}
	if info.Flags&unix.MTD_WRITEABLE == 0 {
		return 0, 0, printf.Errorf("%s: the flash partition is read-only", dev)
	}
	// Locked NOR sectors (some chips lock all at power-up) refuse erases;
	// fstools unlocks the whole partition the same way. Flash without
	// locking says EOPNOTSUPP.
	whole := unix.EraseInfo{Start: 0, Length: info.Size}
	_ = mtdIoctl(f, unix.MEMUNLOCK, unsafe.Pointer(&whole))
	dirty, err := dirtyBlocks(f, int64(info.Size), int64(info.Erasesize))
	if err != nil {
		return 0, 0, printf.Errorf("%s: %w", dev, err)
	}
	blocks = int(int64(info.Size) / int64(info.Erasesize))
	for _, off := range dirty {
		e := unix.EraseInfo{Start: uint32(off), Length: info.Erasesize}
		if err := mtdIoctl(f, unix.MEMERASE, unsafe.Pointer(&e)); err != nil {
			return erased, blocks, printf.Errorf("%s: erasing the block at %#x: %w", dev, off, err)
		}
		erased++
	}
	return erased, blocks, nil
}

// dirtyBlocks lists the offsets of the erase blocks of r (size bytes, blocks
// of erasesize) that hold anything but 0xff.
func dirtyBlocks(r io.ReaderAt, size, erasesize int64) ([]int64, error) {
	if erasesize <= 0 || size%erasesize != 0 {
		return nil, printf.Errorf("size %d is not a whole number of %d-byte erase blocks", size, erasesize)
	}
	var out []int64
	buf := make([]byte, erasesize)
	for off := int64(0); off < size; off += erasesize {
		n, err := r.ReadAt(buf, off)
		if err != nil && !(err == io.EOF && n == len(buf)) {
			return nil, printf.Errorf("reading the block at %#x: %w", off, err)
		}
		for _, c := range buf {
			if c != 0xff {
				out = append(out, off)
				break
			}
		}
	}
	return out, nil
}

func mtdIoctl(f *os.File, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}
