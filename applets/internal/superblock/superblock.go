// Package superblock tells what a block device or flash volume holds by reading
// the magic numbers and labels in its first bytes, without blkid: ext2/3/4,
// f2fs, btrfs and EROFS (with their labels), squashfs, jffs2, ubifs and UBI
// images, OpenWrt's 0xdeadc0de "format me" marker, a sysupgrade gzip backup, and
// erased or zeroed space.
//
// Probe reads at most ProbeSize bytes; a short device (or a short read) is not an
// error: what was read is identified.
package superblock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"unicode/utf8"

	"toybox-go/applets/internal/utf16le"
	"toybox-go/applets/printf"
)

// Type is what the probe found.
type Type string

// Types, named as mount(2) wants them where they are file systems.
const (
	Unknown  Type = ""         // something, but nothing known
	Empty    Type = "empty"    // all zero bytes, or all 0xff (erased flash)
	DeadCode Type = "deadcode" // OpenWrt's 0xdeadc0de marker: format on first boot
	TarGz    Type = "targz"    // a gzip stream (sysupgrade's config backup) at offset 0
	Ext2     Type = "ext2"
	Ext3     Type = "ext3"
	Ext4     Type = "ext4"
	F2FS     Type = "f2fs"
	Btrfs    Type = "btrfs"
	EROFS    Type = "erofs"
	Squashfs Type = "squashfs"
	JFFS2    Type = "jffs2"
	UBIFS    Type = "ubifs"
	UBI      Type = "ubi" // a raw UBI image (attach it, don't mount it)
)

// MountType is the file-system type to pass to mount(2); ext2 and ext3 are
// mounted by the ext4 driver like fstools does. Out of line (go:noinline):
// its inlined switch costs more at each caller than the call.
//
//go:noinline
func (t Type) MountType() string {
	switch t {
	case Ext2, Ext3, Ext4:
		return "ext4"
	case F2FS, Btrfs, EROFS, Squashfs, JFFS2, UBIFS:
		return string(t)
	}
	return ""
}

// NeedsFormat reports whether OpenWrt treats a volume of this type as not yet
// formatted (fstools formats deadcode and gzip-backup volumes on first boot).
func (t Type) NeedsFormat() bool { return t == Empty || t == DeadCode || t == TarGz }

// Info is the result of a probe.
type Info struct {
	_     [0]func() // not comparable: no generated equality function
	Type  Type
	Label string // ext*, f2fs, btrfs, erofs volume label; "" when none
	UUID  string // ext*, f2fs, btrfs, erofs: 8-4-4-4-12 hex; "" when none
	// Size is the image size where the format records it (squashfs bytes_used,
	// ext* blocks*blocksize, erofs blocks<<blkszbits), else 0.
	Size int64
}

// ProbeSize is how much Probe reads: enough for btrfs's superblock at 64 KiB.
const ProbeSize = 0x10000 + 0x1000

// Offsets of the magic numbers and fields read below.
const (
	extSB        = 1024
	extMagicOff  = extSB + 0x38 // le16 0xef53
	extLabelOff  = extSB + 0x78 // 16 bytes, s_volume_name: offset 1024+120
	extUUIDOff   = extSB + 0x68
	f2fsSB       = 0x400
	f2fsMagic    = 0xf2f52010
	f2fsUUIDOff  = f2fsSB + 0x6c
	f2fsLabelOff = f2fsSB + 0x7c // 512 little-endian UTF-16 units
	btrfsSB      = 0x10000
	btrfsMagic   = "_BHRfS_M"
	erofsSB      = 1024
	erofsMagic   = 0xe0f5e1e2
)

// Probe reads the start of r and identifies it.
func Probe(r io.ReaderAt) (Info, error) {
	buf := make([]byte, ProbeSize)
	n, err := r.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		if n == 0 {
			return Info{}, printf.Errorf("reading superblock: %w", err)
		}
	}
	return Identify(buf[:n]), nil
}

// Identify identifies a volume from its first bytes (as many as are known; up to
// ProbeSize are used).
func Identify(b []byte) Info {
	var t Type // for the formats that record nothing more
	switch {
	case len(b) < 4:
		if len(b) > 0 && (allBytes(b, 0) || allBytes(b, 0xff)) {
			t = Empty
		}
	case binary.BigEndian.Uint32(b) == 0xdeadc0de:
		t = DeadCode
	case b[0] == 0x1f && b[1] == 0x8b && b[2] == 0x08:
		t = TarGz
	case binary.LittleEndian.Uint32(b) == 0x73717368: // "hsqs"
		inf := Info{Type: Squashfs}
		if len(b) >= 48 {
			inf.Size = int64(binary.LittleEndian.Uint64(b[40:]) & (1<<62 - 1))
		}
		return inf
	case binary.LittleEndian.Uint32(b) == 0x06101831:
		t = UBIFS
	case string(b[:4]) == "UBI#":
		t = UBI
	case len(b) >= extMagicOff+2 && binary.LittleEndian.Uint16(b[extMagicOff:]) == 0xef53:
		return ext(b)
	case len(b) >= f2fsSB+4 && binary.LittleEndian.Uint32(b[f2fsSB:]) == f2fsMagic:
		return f2fs(b)
	case len(b) >= erofsSB+4 && binary.LittleEndian.Uint32(b[erofsSB:]) == erofsMagic:
		return erofs(b)
	case len(b) >= btrfsSB+0x48 && string(b[btrfsSB+0x40:btrfsSB+0x48]) == btrfsMagic:
		return btrfs(b)
	case b[0] == 0x85 && b[1] == 0x19 || b[0] == 0x19 && b[1] == 0x85:
		// A jffs2 node starts with the 16-bit magic 0x1985 in the flash's byte
		// order. Checked last: the file systems above start with zeros.
		t = JFFS2
	case allBytes(b, 0) || allBytes(b, 0xff):
		t = Empty
	}
	return Info{Type: t}
}

func ext(b []byte) Info {
	sb := b[extSB:]
	inf := Info{Type: Ext2}
	if len(sb) >= 0x68 {
		compat := binary.LittleEndian.Uint32(sb[0x5c:])
		incompat := binary.LittleEndian.Uint32(sb[0x60:])
		roCompat := binary.LittleEndian.Uint32(sb[0x64:])
		const (
			hasJournal = 0x4
			// incompat features ext3 does not know: extents, 64bit, mmp,
			// flex_bg, ea_inode, dirdata, csum_seed, largedir, inline_data...
			ext4Incompat = ^uint32(0x1 | 0x2 | 0x4 | 0x8 | 0x10)
			// ro_compat beyond sparse_super, large_file, btree_dir.
			ext4RoCompat = ^uint32(0x1 | 0x2 | 0x4)
		)
		switch {
		case incompat&ext4Incompat != 0 || roCompat&ext4RoCompat != 0:
			inf.Type = Ext4
		case compat&hasJournal != 0:
			inf.Type = Ext3
		}
		// Size: s_blocks_count_lo (+hi with 64bit) << (10 + s_log_block_size).
		blocks := uint64(binary.LittleEndian.Uint32(sb[0x4:]))
		if incompat&0x80 != 0 && len(sb) >= 0x154 {
			blocks |= uint64(binary.LittleEndian.Uint32(sb[0x150:])) << 32
		}
		if logBS := binary.LittleEndian.Uint32(sb[0x18:]); logBS <= 6 && blocks < 1<<40 {
			inf.Size = int64(blocks << (10 + logBS))
		}
	}
	if len(b) >= extLabelOff+16 {
		inf.Label = cString(b[extLabelOff : extLabelOff+16])
	}
	if len(b) >= extUUIDOff+16 {
		inf.UUID = uuid(b[extUUIDOff : extUUIDOff+16])
	}
	return inf
}

func f2fs(b []byte) Info {
	inf := Info{Type: F2FS}
	if len(b) >= f2fsUUIDOff+16 {
		inf.UUID = uuid(b[f2fsUUIDOff : f2fsUUIDOff+16])
	}
	end := min(len(b), f2fsLabelOff+1024)
	if end > f2fsLabelOff {
		inf.Label = utf16le.Name(b[f2fsLabelOff:end])
	}
	return inf
}

func erofs(b []byte) Info {
	inf := Info{Type: EROFS}
	sb := b[erofsSB:]
	if len(sb) >= 0x30 {
		blkszbits := sb[0x0c]
		blocks := binary.LittleEndian.Uint32(sb[0x24:])
		if blkszbits >= 9 && blkszbits <= 16 {
			inf.Size = int64(blocks) << blkszbits
		}
		inf.UUID = uuid(sb[0x30:min(len(sb), 0x40)])
	}
	if len(sb) >= 0x50 {
		inf.Label = cString(sb[0x40:0x50])
	}
	return inf
}

func btrfs(b []byte) Info {
	inf := Info{Type: Btrfs}
	sb := b[btrfsSB:]
	inf.UUID = uuid(sb[0x20:0x30])
	if len(sb) >= 0x12b+256 {
		inf.Label = cString(sb[0x12b : 0x12b+256])
	} else if len(sb) > 0x12b {
		inf.Label = cString(sb[0x12b:])
	}
	return inf
}

// cString is the text before the first NUL of a fixed-size field; a field with
// no NUL is used whole (ext4 allows a 16-byte label with no terminator). Each
// run of bytes that are not UTF-8 becomes one "?", as strings.ToValidUTF8(s,
// "?") would make it: that function's fast paths cost the binary 2 KB for
// labels of at most 256 bytes.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	var out []byte
	invalid := false // the previous byte was part of an invalid run
	for i, r := range string(b) {
		// range yields RuneError for a byte that is not UTF-8, and for a
		// real U+FFFD, which is kept.
		bad := r == utf8.RuneError && !bytes.HasPrefix(b[i:], []byte("\uFFFD"))
		switch {
		case bad && invalid:
			continue // one "?" for the whole run
		case bad:
			r = '?'
		}
		invalid = bad
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

func uuid(b []byte) string {
	if len(b) != 16 || allBytes(b, 0) {
		return ""
	}
	return printf.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func allBytes(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}
