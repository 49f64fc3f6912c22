// Package gpt reads the partition names of a GUID partition table: it checks the
// protective MBR, the header's signature and CRC32 and the partition array's
// CRC32, falls back to the backup header at the end of the disk when the primary
// is damaged, and decodes the UTF-16LE names. It is what mount_root uses to find
// the partition named rootfs_data when the kernel did not tell (PARTNAME).
package gpt

import (
	"encoding/binary"
	"errors"
	"io"

	"toybox-go/applets/internal/utf16le"
	"toybox-go/applets/printf"
)

// Partition is one used entry of the table.
type Partition struct {
	_        [0]func() // not comparable: no generated equality function
	Number   int       // 1-based index in the array, as the kernel numbers partitions
	Name     string    // decoded UTF-16LE name
	Type     string    // type GUID, lower-case text form
	GUID     string    // unique partition GUID (PARTUUID)
	FirstLBA uint64
	LastLBA  uint64 // inclusive
}

// Table is a parsed GPT.
type Table struct {
	SectorSize int
	DiskGUID   string
	Partitions []Partition
	Backup     bool // read from the backup header (the primary was damaged)
}

// ErrNoGPT means the disk has no (valid) GPT.
var ErrNoGPT = errors.New("no GPT")

// Limits that keep a damaged or hostile header from making us read a lot.
const (
	maxEntries   = 1024
	maxEntrySize = 4096
	headerSig    = "EFI PART"
)

// Read parses the GPT of a disk of size bytes (0 if unknown: then there is no
// backup to fall back to). Sector sizes 512 and 4096 are tried.
func Read(r io.ReaderAt, size int64) (*Table, error) {
	if err := checkMBR(r); err != nil {
		return nil, err
	}
	var firstErr error
	for _, ss := range []int{512, 4096} {
		t, err := readAt(r, ss, 1)
		if err == nil {
			return t, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if size >= int64(ss)*2 {
			if t, err := readAt(r, ss, uint64(size/int64(ss))-1); err == nil {
				t.Backup = true
				return t, nil
			}
		}
	}
	return nil, firstErr
}

func checkMBR(r io.ReaderAt) error {
	mbr := make([]byte, 512)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return printf.Errorf("%w: reading MBR: %w", ErrNoGPT, err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return printf.Errorf("%w: no MBR signature", ErrNoGPT)
	}
	for i := range 4 {
		if mbr[446+16*i+4] == 0xee {
			return nil
		}
	}
	return printf.Errorf("%w: no protective MBR entry (type 0xee)", ErrNoGPT)
}

func readAt(r io.ReaderAt, ss int, lba uint64) (*Table, error) {
	hdr := make([]byte, ss)
	if _, err := r.ReadAt(hdr, int64(lba)*int64(ss)); err != nil {
		return nil, printf.Errorf("%w: reading header at LBA %d: %w", ErrNoGPT, lba, err)
	}
	if string(hdr[:8]) != headerSig {
		return nil, printf.Errorf("%w: no %q at LBA %d (sector size %d)", ErrNoGPT, headerSig, lba, ss)
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:])
	if hsize < 92 || int(hsize) > ss {
		return nil, printf.Errorf("%w: header size %d", ErrNoGPT, hsize)
	}
	// The CRC covers the header with its own CRC field zeroed; nothing
	// below reads that field again.
	want := binary.LittleEndian.Uint32(hdr[16:])
	binary.LittleEndian.PutUint32(hdr[16:], 0)
	if got := checksum(hdr[:hsize]); got != want {
		return nil, printf.Errorf("%w: header CRC %08x, want %08x", ErrNoGPT, got, want)
	}
	if my := binary.LittleEndian.Uint64(hdr[24:]); my != lba {
		return nil, printf.Errorf("%w: header at LBA %d says it is at %d", ErrNoGPT, lba, my)
	}
	entriesLBA := binary.LittleEndian.Uint64(hdr[72:])
	n := binary.LittleEndian.Uint32(hdr[80:])
	esize := binary.LittleEndian.Uint32(hdr[84:])
	if n > maxEntries || esize < 128 || esize > maxEntrySize || esize%8 != 0 {
		return nil, printf.Errorf("%w: %d entries of %d bytes", ErrNoGPT, n, esize)
	}
	if entriesLBA > (1<<62)/uint64(ss) {
		return nil, printf.Errorf("%w: entries at LBA %d", ErrNoGPT, entriesLBA)
	}
	arr := make([]byte, int(n)*int(esize))
	if _, err := r.ReadAt(arr, int64(entriesLBA)*int64(ss)); err != nil {
		return nil, printf.Errorf("%w: reading %d entries at LBA %d: %w", ErrNoGPT, n, entriesLBA, err)
	}
	if got, want := checksum(arr), binary.LittleEndian.Uint32(hdr[88:]); got != want {
		return nil, printf.Errorf("%w: partition array CRC %08x, want %08x", ErrNoGPT, got, want)
	}
	t := &Table{SectorSize: ss, DiskGUID: guid(hdr[56:72])}
	for i := 0; i < int(n); i++ {
		e := arr[i*int(esize) : (i+1)*int(esize)]
		if allZero(e[:16]) {
			continue // unused entry
		}
		t.Partitions = append(t.Partitions, Partition{
			Number:   i + 1,
			Type:     guid(e[0:16]),
			GUID:     guid(e[16:32]),
			FirstLBA: binary.LittleEndian.Uint64(e[32:]),
			LastLBA:  binary.LittleEndian.Uint64(e[40:]),
			Name:     utf16le.Name(e[56:128]), // at most 36 units
		})
	}
	return t, nil
}

// guid formats a mixed-endian on-disk GUID the way sgdisk and blkid print it.
func guid(b []byte) string {
	return printf.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

// checksum is the CRC-32 GPT uses (IEEE, as zlib's), computed bit by bit:
// hash/crc32's tables and assembly cost the binary some 5 KB for the two
// checksums of a few KiB that one table takes.
func checksum(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xedb88320 // the IEEE polynomial, bit-reversed
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Find returns the first partition named name.
func (t *Table) Find(name string) (Partition, bool) {
	for _, p := range t.Partitions {
		if p.Name == name {
			return p, true
		}
	}
	return Partition{}, false
}
