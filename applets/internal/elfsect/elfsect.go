// Package elfsect reads the section header table of an ELF file and the bytes
// of named sections: what modinfo needs from a kernel module (.modinfo) and
// nothing more. It replaces debug/elf, which pulls compress/zlib, internal/zstd
// and debug/dwarf (about 300 KiB) into the binary.
//
// ELF32 and ELF64, little- and big-endian, extended section numbering
// (e_shnum == 0 or e_shstrndx == SHN_XINDEX, the real values in section 0).
// Files are treated as hostile: every offset and size is checked against the
// file size before anything is read or allocated, so a header claiming
// gigabytes costs nothing, and no input makes it panic. The only allocations
// that grow with the input are the section header table (checked to lie within
// the file first) and the bytes of a section the caller asks for (checked
// likewise, and capped by the caller).
package elfsect

import (
	"errors"
	"io"
	"math"
	"strconv"

	"toybox-go/applets/printf"
)

// Class is EI_CLASS: 32 or 64 bits.
type Class uint8

// The two ELF classes.
const (
	Class32 Class = 1
	Class64 Class = 2
)

func (c Class) String() string {
	switch c {
	case Class32:
		return "ELF32"
	case Class64:
		return "ELF64"
	}
	return "ELFCLASS" + strconv.Itoa(int(c))
}

// Machine is e_machine.
type Machine uint16

// The machines OpenWrt and the distributions build kernels for.
const (
	EM_386       Machine = 3
	EM_MIPS      Machine = 8
	EM_PPC       Machine = 20
	EM_PPC64     Machine = 21
	EM_S390      Machine = 22
	EM_ARM       Machine = 40
	EM_X86_64    Machine = 62
	EM_AARCH64   Machine = 183
	EM_RISCV     Machine = 243
	EM_LOONGARCH Machine = 258
)

// String gives the constant's name, as debug/elf does, or the number.
func (m Machine) String() string {
	switch m {
	case EM_386:
		return "EM_386"
	case EM_MIPS:
		return "EM_MIPS"
	case EM_PPC:
		return "EM_PPC"
	case EM_PPC64:
		return "EM_PPC64"
	case EM_S390:
		return "EM_S390"
	case EM_ARM:
		return "EM_ARM"
	case EM_X86_64:
		return "EM_X86_64"
	case EM_AARCH64:
		return "EM_AARCH64"
	case EM_RISCV:
		return "EM_RISCV"
	case EM_LOONGARCH:
		return "EM_LOONGARCH"
	}
	return "EM_" + strconv.Itoa(int(m))
}

// Section types this package gives meaning to.
const (
	SHT_NULL     uint32 = 0
	SHT_PROGBITS uint32 = 1
	SHT_STRTAB   uint32 = 3
	SHT_NOBITS   uint32 = 8
)

// Special section indexes.
const (
	SHN_UNDEF     = 0
	SHN_LORESERVE = 0xff00
	SHN_XINDEX    = 0xffff
)

// Errors, for errors.Is.
var (
	ErrNotELF    = errors.New("not an ELF file")
	ErrMalformed = errors.New("malformed ELF")
	ErrNoBits    = errors.New("section has no bytes in the file (SHT_NOBITS)")
	ErrTooLarge  = errors.New("section larger than allowed")
)

func malformed(format string, args ...any) error {
	return printf.Errorf("%w: %s", ErrMalformed, printf.Sprintf(format, args...))
}

// Section is one decoded section header.
type Section struct {
	_         [0]func() // not comparable: no generated equality function
	Index     int
	Name      string
	NameOff   uint32 // sh_name
	Type      uint32
	Flags     uint64
	Addr      uint64
	Offset    uint64
	Size      uint64
	Link      uint32
	Info      uint32
	Addralign uint64
	Entsize   uint64
}

// File is an open ELF file: its header and its section header table.
type File struct {
	Class     Class
	BigEndian bool   // EI_DATA: ELFDATA2MSB (else ELFDATA2LSB)
	Type      uint16 // e_type (1 = ET_REL, a kernel module)
	Machine   Machine

	r         io.ReaderAt
	size      uint64
	shdrs     []byte // the section header table, shnum*shentsize bytes
	shentsize int
	shnum     int
	// The section name table's bytes (held as two numbers: a *Section would
	// bring Section's type descriptor); names is false when e_shstrndx is
	// SHN_UNDEF.
	names           bool
	strOff, strSize uint64
}

const (
	ehdr32Size = 52
	ehdr64Size = 64
	shdr32Size = 40
	shdr64Size = 64
)

// NewFile reads the ELF header and the section header table of the size bytes
// of r. It fails with ErrNotELF when the magic is wrong and with ErrMalformed
// when a header field points outside the file or contradicts another.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, malformed("negative size")
	}
	var hdr [ehdr64Size]byte
	if err := readFull(r, hdr[:4], 0); err != nil || string(hdr[:4]) != "\x7fELF" {
		return nil, ErrNotELF
	}
	if size < ehdr32Size {
		return nil, malformed("file of %d bytes too short for an ELF header", size)
	}
	if err := readFull(r, hdr[:ehdr32Size], 0); err != nil {
		return nil, malformed("reading the ELF header: %v", err)
	}
	ident := hdr[:16]
	f := &File{Class: Class(ident[4]), r: r, size: uint64(size)}
	switch ident[5] {
	case 1:
	case 2:
		f.BigEndian = true
	default:
		return nil, malformed("unknown data encoding %d", ident[5])
	}
	// The two headers differ in e_shoff's width and, after it, in where the
	// section table fields sit: the last three halfwords of either header.
	ehdrSize, min := ehdr32Size, shdr32Size
	switch f.Class {
	case Class32:
	case Class64:
		ehdrSize, min = ehdr64Size, shdr64Size
		if size < ehdr64Size {
			return nil, malformed("file of %d bytes too short for an ELF64 header", size)
		}
		if err := readFull(r, hdr[ehdr32Size:ehdr64Size], ehdr32Size); err != nil {
			return nil, malformed("reading the ELF header: %v", err)
		}
	default:
		return nil, malformed("unknown class %d", ident[4])
	}
	shoff := f.word(hdr[32:], 4)
	if f.Class == Class64 {
		shoff = f.word(hdr[40:], 8)
	}
	shentsize, shnum, shstrndx := uint16(f.word(hdr[ehdrSize-6:], 2)), uint16(f.word(hdr[ehdrSize-4:], 2)), uint16(f.word(hdr[ehdrSize-2:], 2))
	f.Type, f.Machine = uint16(f.word(hdr[16:], 2)), Machine(f.word(hdr[18:], 2))

	if shoff == 0 {
		// No section header table at all: valid (an executable may be
		// stripped of it), just nothing to find.
		if shnum != 0 {
			return nil, malformed("%d sections but no section header table", shnum)
		}
		return f, nil
	}
	if int(shentsize) < min {
		return nil, malformed("section header size %d, want at least %d", shentsize, min)
	}
	f.shentsize = int(shentsize)
	if shoff >= f.size || f.size-shoff < uint64(shentsize) {
		return nil, malformed("section header table at %d beyond the end of the file (%d bytes; truncated?)", shoff, size)
	}

	// Section 0 carries the real counts when they do not fit in the header.
	var n uint64 = uint64(shnum)
	link := uint64(shstrndx)
	if shnum == 0 || shstrndx == SHN_XINDEX {
		var sh0 [shdr64Size]byte
		if err := readFull(r, sh0[:min], int64(shoff)); err != nil {
			return nil, malformed("reading section 0: %v", err)
		}
		s0 := f.decode(sh0[:min])
		if shnum == 0 {
			n = s0.Size
			if n == 0 {
				return nil, malformed("e_shnum is 0 and so is section 0's size")
			}
		}
		if shstrndx == SHN_XINDEX {
			link = uint64(s0.Link)
		}
	} else if shstrndx >= SHN_LORESERVE {
		return nil, malformed("section name table index %#x is reserved", shstrndx)
	}
	if n > (f.size-shoff)/uint64(shentsize) {
		return nil, malformed("%d section headers of %d bytes at %d do not fit in a file of %d bytes (truncated?)", n, shentsize, shoff, size)
	}
	if n*uint64(shentsize) > math.MaxInt {
		return nil, malformed("section header table of %d entries too large for this machine", n)
	}
	if link >= n {
		return nil, malformed("section name table index %d, but only %d sections", link, n)
	}
	f.shnum = int(n)
	f.shdrs = make([]byte, n*uint64(shentsize))
	if err := readFull(r, f.shdrs, int64(shoff)); err != nil {
		return nil, malformed("reading the section header table: %v", err)
	}
	if link != SHN_UNDEF {
		s := f.header(int(link))
		if s.Type == SHT_NOBITS || !f.fits(s) {
			return nil, malformed("section name table (section %d: %d bytes at %d) does not lie within the file", link, s.Size, s.Offset)
		}
		f.names, f.strOff, f.strSize = true, s.Offset, s.Size
	}
	return f, nil
}

// NumSections is the number of section headers, the null section 0 included.
func (f *File) NumSections() int { return f.shnum }

// header decodes section i (0 <= i < shnum) without its name.
func (f *File) header(i int) Section {
	s := f.decode(f.shdrs[i*f.shentsize : (i+1)*f.shentsize])
	s.Index = i
	return s
}

// word decodes the n-byte unsigned integer at the start of b in the file's
// byte order. Kept out of line (go:noinline): its loop, inlined at each of
// its eight callers, costs more than a call.
//
//go:noinline
func (f *File) word(b []byte, n int) uint64 {
	var v uint64
	for i := range n {
		j := i // most significant byte first
		if !f.BigEndian {
			j = n - 1 - i
		}
		v = v<<8 | uint64(b[j])
	}
	return v
}

// shdr64Wide marks the section header fields that ELF64 widens to 8 bytes
// (ELF32 has 4 bytes each): name, type, flags, addr, offset, size, link,
// info, addralign, entsize.
var shdr64Wide = [10]bool{false, false, true, true, true, true, false, false, true, true}

func (f *File) decode(b []byte) Section {
	var v [10]uint64
	for i, wide := range shdr64Wide {
		n := 4
		if wide && f.Class == Class64 {
			n = 8
		}
		v[i], b = f.word(b, n), b[n:]
	}
	return Section{
		NameOff: uint32(v[0]), Type: uint32(v[1]), Flags: v[2], Addr: v[3], Offset: v[4], Size: v[5],
		Link: uint32(v[6]), Info: uint32(v[7]), Addralign: v[8], Entsize: v[9],
	}
}

// fits reports whether the bytes of s lie within the file.
func (f *File) fits(s Section) bool {
	return s.Offset <= f.size && s.Size <= f.size-s.Offset
}

// Section returns header i with its name. An index out of range, or a name
// offset outside the section name table or without its terminating NUL, is an
// error.
func (f *File) Section(i int) (Section, error) {
	if i < 0 || i >= f.shnum {
		return Section{}, printf.Errorf("section %d out of range (%d sections)", i, f.shnum)
	}
	s := f.header(i)
	name, err := f.name(s.NameOff)
	if err != nil {
		return s, printf.Errorf("section %d: %w", i, err)
	}
	s.Name = name
	return s, nil
}

// name reads the NUL-terminated string at off in the section name table, a
// chunk at a time: nothing but the name itself is kept.
func (f *File) name(off uint32) (string, error) {
	if !f.names {
		return "", nil // no name table: every section is nameless
	}
	if uint64(off) >= f.strSize {
		return "", malformed("name offset %d outside the section name table (%d bytes)", off, f.strSize)
	}
	var out []byte
	var chunk [64]byte
	pos, end := f.strOff+uint64(off), f.strOff+f.strSize
	for pos < end {
		n := uint64(len(chunk))
		if end-pos < n {
			n = end - pos
		}
		if err := readFull(f.r, chunk[:n], int64(pos)); err != nil {
			return "", malformed("reading a section name: %v", err)
		}
		for i := uint64(0); i < n; i++ {
			if chunk[i] == 0 {
				return string(append(out, chunk[:i]...)), nil
			}
		}
		out = append(out, chunk[:n]...)
		pos += n
	}
	return "", malformed("section name at %d not terminated within the section name table", off)
}

// nameIs reports whether the name at off is exactly want, reading only
// len(want)+1 bytes.
func (f *File) nameIs(off uint32, want string, buf []byte) bool {
	if !f.names || uint64(off) >= f.strSize || f.strSize-uint64(off) < uint64(len(want))+1 {
		return false
	}
	b := buf[:len(want)+1]
	if readFull(f.r, b, int64(f.strOff+uint64(off))) != nil {
		return false
	}
	return b[len(want)] == 0 && string(b[:len(want)]) == want
}

// Lookup returns the first section named name. Sections whose name cannot be
// read do not match; ok is false when none does.
func (f *File) Lookup(name string) (s Section, ok bool) {
	if !f.names {
		return Section{}, false
	}
	var small [64]byte
	buf := small[:]
	if len(name)+1 > len(buf) {
		buf = make([]byte, len(name)+1)
	}
	for i := 1; i < f.shnum; i++ { // section 0 is the null section
		h := f.header(i)
		if f.nameIs(h.NameOff, name, buf) {
			h.Name = name
			return h, true
		}
	}
	return Section{}, false
}

// ReadSection returns the bytes of s, refusing SHT_NOBITS sections, sections
// larger than max bytes and sections that do not lie within the file: nothing
// is allocated before those checks pass.
func (f *File) ReadSection(s Section, max uint64) ([]byte, error) {
	if s.Type == SHT_NOBITS {
		return nil, printf.Errorf("%s: %w", s.Name, ErrNoBits)
	}
	if !f.fits(s) {
		return nil, malformed("%s section of %d bytes at %d does not fit in a file of %d bytes (truncated?)", s.Name, s.Size, s.Offset, f.size)
	}
	if s.Size > max || s.Size > math.MaxInt {
		return nil, printf.Errorf("%s section of %d bytes: %w (%d)", s.Name, s.Size, ErrTooLarge, max)
	}
	buf := make([]byte, s.Size)
	if err := readFull(f.r, buf, int64(s.Offset)); err != nil {
		return nil, printf.Errorf("reading %s: %w", s.Name, err)
	}
	return buf, nil
}

// readFull is ReadAt that accepts io.EOF with a full read (the ReaderAt
// contract allows it at the end of the file).
func readFull(r io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	if off < 0 {
		return errors.New("offset beyond 2^63")
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
