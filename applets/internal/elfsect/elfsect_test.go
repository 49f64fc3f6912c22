package elfsect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
)

// sect is one section of a handmade image. A nil data with size set makes a
// SHT_NOBITS-style header without bytes.
type sect struct {
	name string
	typ  uint32
	data []byte
	size uint64 // for NOBITS
	link uint32
}

// image describes a handmade ELF file.
type image struct {
	class    Class
	bo       binary.ByteOrder
	machine  Machine
	sections []sect // section 0 (null) is added in front; .shstrtab at the end
	extended bool   // e_shnum = 0, e_shstrndx = SHN_XINDEX, real values in section 0
}

// build lays out: ELF header, section data, .shstrtab, section header table.
func (im image) build() []byte {
	bo := im.bo
	ehsize, shentsize := ehdr64Size, shdr64Size
	if im.class == Class32 {
		ehsize, shentsize = ehdr32Size, shdr32Size
	}
	secs := append([]sect{{}}, im.sections...)
	var strtab bytes.Buffer
	strtab.WriteByte(0)
	nameOff := make([]uint32, len(secs)+1)
	for i, s := range secs[1:] {
		nameOff[i+1] = uint32(strtab.Len())
		strtab.WriteString(s.name + "\x00")
	}
	nameOff[len(secs)] = uint32(strtab.Len())
	strtab.WriteString(".shstrtab\x00")
	secs = append(secs, sect{name: ".shstrtab", typ: SHT_STRTAB, data: strtab.Bytes()})

	body := make([]byte, ehsize)
	offs := make([]uint64, len(secs))
	for i, s := range secs {
		if i == 0 || s.data == nil {
			continue
		}
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		offs[i] = uint64(len(body))
		body = append(body, s.data...)
	}
	for len(body)%8 != 0 {
		body = append(body, 0)
	}
	shoff := uint64(len(body))
	table := make([]byte, len(secs)*shentsize)
	for i, s := range secs {
		b := table[i*shentsize:]
		size := uint64(len(s.data))
		if s.data == nil {
			size = s.size
		}
		link := s.link
		if i == 0 && im.extended {
			size, link = uint64(len(secs)), uint32(len(secs)-1)
		}
		if i == 0 && !im.extended {
			continue
		}
		if im.class == Class32 {
			bo.PutUint32(b[0:], nameOff[i])
			bo.PutUint32(b[4:], s.typ)
			bo.PutUint32(b[16:], uint32(offs[i]))
			bo.PutUint32(b[20:], uint32(size))
			bo.PutUint32(b[24:], link)
			bo.PutUint32(b[32:], 1)
		} else {
			bo.PutUint32(b[0:], nameOff[i])
			bo.PutUint32(b[4:], s.typ)
			bo.PutUint64(b[24:], offs[i])
			bo.PutUint64(b[32:], size)
			bo.PutUint32(b[40:], link)
			bo.PutUint64(b[48:], 1)
		}
	}
	img := append(body, table...)
	copy(img, "\x7fELF")
	img[4] = byte(im.class)
	img[5] = 1
	if bo == binary.ByteOrder(binary.BigEndian) {
		img[5] = 2
	}
	img[6] = 1
	bo.PutUint16(img[16:], 1) // ET_REL
	bo.PutUint16(img[18:], uint16(im.machine))
	bo.PutUint32(img[20:], 1)
	shnum, shstrndx := uint16(len(secs)), uint16(len(secs)-1)
	if im.extended {
		shnum, shstrndx = 0, SHN_XINDEX
	}
	if im.class == Class32 {
		bo.PutUint32(img[32:], uint32(shoff))
		bo.PutUint16(img[40:], uint16(ehsize))
		bo.PutUint16(img[46:], uint16(shentsize))
		bo.PutUint16(img[48:], shnum)
		bo.PutUint16(img[50:], shstrndx)
	} else {
		bo.PutUint64(img[40:], shoff)
		bo.PutUint16(img[52:], uint16(ehsize))
		bo.PutUint16(img[58:], uint16(shentsize))
		bo.PutUint16(img[60:], shnum)
		bo.PutUint16(img[62:], shstrndx)
	}
	return img
}

var modinfoText = []byte("license=GPL\x00depends=\x00name=fake\x00")

func sampleSections() []sect {
	return []sect{
		{name: ".text", typ: SHT_PROGBITS, data: []byte{0xde, 0xad, 0xbe, 0xef}},
		{name: ".modinfo", typ: SHT_PROGBITS, data: modinfoText},
		{name: ".bss", typ: SHT_NOBITS, size: 1 << 30},
		{name: ".a-section-name-longer-than-the-sixty-four-byte-chunk-the-reader-uses", typ: SHT_PROGBITS, data: []byte("x")},
	}
}

func open(t testing.TB, img []byte) *File {
	t.Helper()
	f, err := NewFile(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Every class and byte order, with and without extended numbering: the same
// sections come back with their names, types and bytes.
func TestHandmadeImages(t *testing.T) {
	for _, class := range []Class{Class32, Class64} {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			for _, ext := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%v/extended=%v", class, bo, ext), func(t *testing.T) {
					im := image{class: class, bo: bo, machine: EM_MIPS, sections: sampleSections(), extended: ext}
					img := im.build()
					f := open(t, img)
					if !ext { // debug/elf wants extended numbering only past 0xff00 sections; we do not mind
						compareWithDebugELF(t, "handmade", img, f) // the images are what they claim
					}
					if f.Class != class || byteOrder(f) != bo || f.Machine != EM_MIPS || f.Type != 1 {
						t.Errorf("header: %v %v %v %d", f.Class, byteOrder(f), f.Machine, f.Type)
					}
					if f.NumSections() != 6 {
						t.Fatalf("%d sections, want 6", f.NumSections())
					}
					want := append([]sect{{}}, sampleSections()...)
					want = append(want, sect{name: ".shstrtab", typ: SHT_STRTAB})
					for i, w := range want {
						s, err := f.Section(i)
						if err != nil {
							t.Fatalf("section %d: %v", i, err)
						}
						if s.Name != w.name || s.Type != w.typ || s.Index != i {
							t.Errorf("section %d: %q type %d, want %q type %d", i, s.Name, s.Type, w.name, w.typ)
						}
						if w.data != nil {
							b, err := f.ReadSection(s, 1<<20)
							if err != nil || !bytes.Equal(b, w.data) {
								t.Errorf("section %s: %q %v", s.Name, b, err)
							}
						}
					}
					s, ok := f.Lookup(".modinfo")
					if !ok || s.Index != 2 || s.Name != ".modinfo" {
						t.Fatalf("Lookup(.modinfo) = %+v %v", s, ok)
					}
					if b, err := f.ReadSection(s, uint64(len(modinfoText))); err != nil || !bytes.Equal(b, modinfoText) {
						t.Errorf(".modinfo: %q %v", b, err)
					}
					if _, err := f.ReadSection(s, uint64(len(modinfoText))-1); !errors.Is(err, ErrTooLarge) {
						t.Errorf("cap not enforced: %v", err)
					}
					bss, ok := f.Lookup(".bss")
					if !ok || bss.Size != 1<<30 {
						t.Fatalf("Lookup(.bss) = %+v", bss)
					}
					if _, err := f.ReadSection(bss, 1<<40); !errors.Is(err, ErrNoBits) {
						t.Errorf("NOBITS read: %v", err)
					}
					for _, absent := range []string{".modinf", ".modinfo2", "", "modinfo", ".shstrtab\x00"} {
						if s, ok := f.Lookup(absent); ok {
							t.Errorf("Lookup(%q) found %+v", absent, s)
						}
					}
					if _, ok := f.Lookup(".shstrtab"); !ok {
						t.Error("no .shstrtab")
					}
				})
			}
		}
	}
}

// More than SHN_LORESERVE sections, as a kernel with -ffunction-sections
// makes: only extended numbering can describe them.
func TestManySections(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 2.6 MB image") // plain Skip: not a missing prerequisite, the -short contract
	}
	var secs []sect
	for i := 0; i < SHN_LORESERVE+16; i++ {
		secs = append(secs, sect{name: fmt.Sprintf(".text.f%d", i), typ: SHT_PROGBITS, data: []byte{byte(i)}})
	}
	img := image{class: Class32, bo: binary.BigEndian, machine: EM_MIPS, sections: secs, extended: true}.build()
	f := open(t, img)
	if f.NumSections() != len(secs)+2 {
		t.Fatalf("%d sections, want %d", f.NumSections(), len(secs)+2)
	}
	last := fmt.Sprintf(".text.f%d", len(secs)-1)
	s, ok := f.Lookup(last)
	if !ok || s.Index != len(secs) {
		t.Fatalf("Lookup(%s) = %+v %v", last, s, ok)
	}
	if b, err := f.ReadSection(s, 1); err != nil || b[0] != byte(len(secs)-1) {
		t.Errorf("%s: %v %v", last, b, err)
	}
}

// Real objects of every architecture Go's own debug/elf tests carry (MIPS
// both ways, ARM, AArch64, RISC-V, PowerPC, s390x, x86) and real kernel
// modules: our sections agree with debug/elf's, the oracle here (tests only).
func TestRealObjects(t *testing.T) {
	root := goroot(t)
	files, _ := filepath.Glob(filepath.Join(root, "src", "debug", "elf", "testdata", "go-relocation-test-*.obj"))
	more, _ := filepath.Glob(filepath.Join(root, "src", "debug", "elf", "testdata", "gcc-*-exec"))
	files = append(files, more...)
	if len(files) < 10 {
		t.Fatalf("only %d objects in GOROOT's debug/elf testdata", len(files))
	}
	files = append(files, kernelModules(t, 40)...)
	seen := map[string]bool{}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := open(t, data)
		seen[fmt.Sprintf("%v/%v/%v", f.Class, byteOrder(f), f.Machine)] = true
		compareWithDebugELF(t, p, data, f)
	}
	for _, want := range []string{"ELF32/BigEndian/EM_MIPS", "ELF32/LittleEndian/EM_MIPS", "ELF32/LittleEndian/EM_ARM",
		"ELF64/LittleEndian/EM_AARCH64", "ELF64/LittleEndian/EM_RISCV", "ELF64/BigEndian/EM_MIPS", "ELF64/LittleEndian/EM_X86_64"} {
		if !seen[want] {
			t.Errorf("no %s object among the test files (seen %v)", want, seen)
		}
	}
}

// A few real .ko files from scripts/fetch-kernel.sh's cache, when it is there.
func kernelModules(t testing.TB, n int) []string {
	home, _ := os.UserHomeDir()
	cache := os.Getenv("TOYBOX_GO_CACHE")
	if cache == "" {
		cache = filepath.Join(home, ".cache", "toybox-go")
	}
	var out []string
	roots, _ := filepath.Glob(filepath.Join(cache, "linux-image-*", "lib", "modules", "*", "kernel"))
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".ko") && len(out) < n {
				out = append(out, p)
			}
			return nil
		})
	}
	if len(out) == 0 {
		t.Log("no kernel modules cached (scripts/fetch-kernel.sh): GOROOT's objects only")
	}
	return out
}

// goroot is the toolchain's root, whose debug/elf testdata holds real
// objects of many architectures.
func goroot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		testbin.Unavailable(t, "go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// ehdrField gives the offsets of e_shoff, e_shentsize, e_shnum, e_shstrndx.
func ehdrField(c Class) (shoff, shentsize, shnum, shstrndx int) {
	if c == Class32 {
		return 32, 46, 48, 50
	}
	return 40, 58, 60, 62
}

// shdrField gives the byte offset of section i's field in img: "name",
// "type", "offset", "size", "link".
func shdrField(img []byte, c Class, bo binary.ByteOrder, i int, field string) int {
	shoffAt, entAt, _, _ := ehdrField(c)
	var shoff uint64
	if c == Class32 {
		shoff = uint64(bo.Uint32(img[shoffAt:]))
	} else {
		shoff = bo.Uint64(img[shoffAt:])
	}
	base := int(shoff) + i*int(bo.Uint16(img[entAt:]))
	at32 := map[string]int{"name": 0, "type": 4, "offset": 16, "size": 20, "link": 24}
	at64 := map[string]int{"name": 0, "type": 4, "offset": 24, "size": 32, "link": 40}
	if c == Class32 {
		return base + at32[field]
	}
	return base + at64[field]
}

// putWord writes a 32- or 64-bit value (an address-sized field) at off.
func putWord(img []byte, c Class, bo binary.ByteOrder, off int, v uint64) {
	if c == Class32 {
		bo.PutUint32(img[off:], uint32(v))
	} else {
		bo.PutUint64(img[off:], v)
	}
}

// Hostile files: every bad field gives an error naming the problem at the
// right step, never a panic, and nothing is allocated for sizes the file
// does not have.
func TestHostile(t *testing.T) {
	const modinfoIdx, strtabIdx = 2, 5
	for _, c := range []Class{Class32, Class64} {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			good := image{class: c, bo: bo, machine: EM_ARM, sections: sampleSections()}.build()
			shoffAt, entAt, shnumAt, strndxAt := ehdrField(c)
			type step int
			const (
				atOpen step = iota
				atLookup
				atRead
			)
			cases := []struct {
				name   string
				mutate func(img []byte) []byte
				fails  step
				want   string
			}{
				{"empty", func([]byte) []byte { return nil }, atOpen, "not an ELF"},
				{"short magic", func([]byte) []byte { return []byte("\x7fEL") }, atOpen, "not an ELF"},
				{"magic only", func([]byte) []byte { return []byte("\x7fELF") }, atOpen, "too short"},
				{"text", func([]byte) []byte { return []byte(strings.Repeat("#!/bin/sh\n", 10)) }, atOpen, "not an ELF"},
				{"bad class", func(b []byte) []byte { b[4] = 3; return b }, atOpen, "unknown class"},
				{"bad encoding", func(b []byte) []byte { b[5] = 0; return b }, atOpen, "data encoding"},
				{"header cut", func(b []byte) []byte { return b[:ehdr64Size-4] }, atOpen, ""},
				{"small shentsize", func(b []byte) []byte { bo.PutUint16(b[entAt:], 16); return b }, atOpen, "section header size"},
				{"shoff at end", func(b []byte) []byte { putWord(b, c, bo, shoffAt, uint64(len(b))); return b }, atOpen, "beyond the end"},
				{"shoff huge", func(b []byte) []byte { putWord(b, c, bo, shoffAt, ^uint64(0)); return b }, atOpen, "beyond the end"},
				{"shnum huge", func(b []byte) []byte { bo.PutUint16(b[shnumAt:], 0xfeff); return b }, atOpen, "do not fit"},
				{"truncated table", func(b []byte) []byte { return b[:len(b)-1] }, atOpen, "do not fit"},
				{"no table but sections", func(b []byte) []byte { putWord(b, c, bo, shoffAt, 0); return b }, atOpen, "no section header table"},
				{"xindex count zero", func(b []byte) []byte { bo.PutUint16(b[shnumAt:], 0); return b }, atOpen, "section 0's size"},
				{"xindex count huge", func(b []byte) []byte {
					bo.PutUint16(b[shnumAt:], 0)
					putWord(b, c, bo, shdrField(b, c, bo, 0, "size"), ^uint64(0)>>1)
					return b
				}, atOpen, "do not fit"},
				{"xindex link huge", func(b []byte) []byte {
					bo.PutUint16(b[strndxAt:], SHN_XINDEX)
					bo.PutUint32(b[shdrField(b, c, bo, 0, "link"):], 0xffffffff)
					return b
				}, atOpen, "only 6 sections"},
				{"shstrndx out of range", func(b []byte) []byte { bo.PutUint16(b[strndxAt:], 6); return b }, atOpen, "only 6 sections"},
				{"shstrndx reserved", func(b []byte) []byte { bo.PutUint16(b[strndxAt:], 0xff00); return b }, atOpen, "reserved"},
				{"strtab outside", func(b []byte) []byte {
					putWord(b, c, bo, shdrField(b, c, bo, strtabIdx, "offset"), uint64(len(b))-2)
					return b
				}, atOpen, "section name table"},
				{"strtab size wraps", func(b []byte) []byte {
					putWord(b, c, bo, shdrField(b, c, bo, strtabIdx, "size"), ^uint64(0))
					return b
				}, atOpen, "section name table"},
				{"strtab nobits", func(b []byte) []byte {
					bo.PutUint32(b[shdrField(b, c, bo, strtabIdx, "type"):], SHT_NOBITS)
					return b
				}, atOpen, "section name table"},
				{"no strtab", func(b []byte) []byte { bo.PutUint16(b[strndxAt:], 0); return b }, atLookup, ""},
				{"name offset outside", func(b []byte) []byte {
					bo.PutUint32(b[shdrField(b, c, bo, modinfoIdx, "name"):], 0x7fffffff)
					return b
				}, atLookup, ""},
				{"modinfo outside", func(b []byte) []byte {
					putWord(b, c, bo, shdrField(b, c, bo, modinfoIdx, "offset"), uint64(len(b)))
					return b
				}, atRead, "does not fit"},
				{"modinfo huge", func(b []byte) []byte {
					putWord(b, c, bo, shdrField(b, c, bo, modinfoIdx, "size"), 1<<31)
					return b
				}, atRead, "does not fit"},
				{"modinfo wraps", func(b []byte) []byte {
					putWord(b, c, bo, shdrField(b, c, bo, modinfoIdx, "offset"), ^uint64(0)-8)
					putWord(b, c, bo, shdrField(b, c, bo, modinfoIdx, "size"), 16)
					return b
				}, atRead, "does not fit"},
				{"modinfo nobits", func(b []byte) []byte {
					bo.PutUint32(b[shdrField(b, c, bo, modinfoIdx, "type"):], SHT_NOBITS)
					return b
				}, atRead, "SHT_NOBITS"},
			}
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%v/%v/%s", c, bo, tc.name), func(t *testing.T) {
					img := tc.mutate(bytes.Clone(good))
					f, err := NewFile(bytes.NewReader(img), int64(len(img)))
					if tc.fails == atOpen {
						if err == nil || !strings.Contains(err.Error(), tc.want) {
							t.Fatalf("NewFile: %v, want an error saying %q", err, tc.want)
						}
						return
					}
					if err != nil {
						t.Fatalf("NewFile: %v", err)
					}
					s, ok := f.Lookup(".modinfo")
					if tc.fails == atLookup {
						if ok {
							t.Fatalf("Lookup found %+v", s)
						}
						if tc.name == "name offset outside" {
							if _, err := f.Section(modinfoIdx); err == nil || !strings.Contains(err.Error(), "outside the section name table") {
								t.Errorf("Section: %v", err)
							}
						}
						return
					}
					if !ok {
						t.Fatal("no .modinfo")
					}
					if _, err := f.ReadSection(s, 1<<62); err == nil || !strings.Contains(err.Error(), tc.want) {
						t.Errorf("ReadSection: %v, want an error saying %q", err, tc.want)
					}
				})
			}
		}
	}
}

// An unterminated name at the end of the name table is an error for that
// section only; a name table overlapping the header table is just odd names.
func TestOddNameTables(t *testing.T) {
	img := image{class: Class64, bo: binary.LittleEndian, sections: sampleSections()}.build()
	f := open(t, img)
	st, _ := f.Section(5)
	end := bytes.Clone(img)
	end[st.Offset+st.Size-1] = 'X' // ".shstrtab\0" loses its NUL
	f = open(t, end)
	if _, err := f.Section(5); err == nil || !strings.Contains(err.Error(), "not terminated") {
		t.Errorf("unterminated name: %v", err)
	}
	if _, ok := f.Lookup(".shstrtab"); ok {
		t.Error("unterminated name matched")
	}
	if s, ok := f.Lookup(".modinfo"); !ok || s.Index != 2 {
		t.Error("the other names suffer")
	}

	over := bytes.Clone(img)
	shoff := binary.LittleEndian.Uint64(over[40:])
	binary.LittleEndian.PutUint64(over[shdrField(over, Class64, binary.LittleEndian, 5, "offset"):], shoff)
	binary.LittleEndian.PutUint64(over[shdrField(over, Class64, binary.LittleEndian, 5, "size"):], uint64(len(over))-shoff)
	f = open(t, over)
	for i := range f.NumSections() {
		f.Section(i) // any name or an error, no panic
	}
	if _, ok := f.Lookup(".modinfo"); ok {
		t.Error(".modinfo found in a name table made of section headers")
	}
}

// A file of a few hundred bytes claiming sections of gigabytes costs a few
// hundred bytes, whatever it claims.
func TestNoAllocationBeyondTheFile(t *testing.T) {
	for _, c := range []Class{Class32, Class64} {
		img := image{class: c, bo: binary.BigEndian, sections: sampleSections()}.build()
		putWord(img, c, binary.BigEndian, shdrField(img, c, binary.BigEndian, 2, "size"), 1<<31)
		var before, after runtime.MemStats
		const runs = 100
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			f, err := NewFile(bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatal(err)
			}
			s, _ := f.Lookup(".modinfo")
			if _, err := f.ReadSection(s, 1<<40); err == nil {
				t.Fatal("read 2 GiB from a small file")
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > uint64(len(img))+1024 {
			t.Errorf("%v: %d bytes allocated per file of %d bytes", c, per, len(img))
		}
	}
}

// byteOrder is f's byte order as debug/elf gives it (the tests compare with
// debug/elf; the package itself needs only the BigEndian flag).
func byteOrder(f *File) binary.ByteOrder {
	if f.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}
