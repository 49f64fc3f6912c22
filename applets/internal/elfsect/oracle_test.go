package elfsect

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"

	"toybox-go/internal/testbin"
)

// compareWithDebugELF checks f (our reading of data) against debug/elf's:
// same class, byte order, machine, section count and, per section, name,
// type, offset, size, link and bytes. debug/elf is only the oracle of the
// tests; the binary does not link it.
func compareWithDebugELF(t *testing.T, what string, data []byte, f *File) {
	t.Helper()
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Errorf("%s: debug/elf refuses what we read: %v", what, err)
		return
	}
	if int(ef.Class) != int(f.Class) || ef.ByteOrder != byteOrder(f) || int(ef.Machine) != int(f.Machine) || int(ef.Type) != int(f.Type) {
		t.Errorf("%s: header %v %v %v %v, debug/elf %v %v %v %v", what, f.Class, byteOrder(f), f.Machine, f.Type, ef.Class, ef.ByteOrder, ef.Machine, ef.Type)
	}
	if len(ef.Sections) != f.NumSections() {
		t.Errorf("%s: %d sections, debug/elf %d", what, f.NumSections(), len(ef.Sections))
		return
	}
	for i, es := range ef.Sections {
		s, err := f.Section(i)
		if err != nil {
			t.Errorf("%s: section %d: %v", what, i, err)
			continue
		}
		if s.Name != es.Name || s.Type != uint32(es.Type) || s.Offset != es.Offset || s.Size != es.FileSize ||
			s.Link != es.Link || s.Info != es.Info || s.Flags != uint64(es.Flags) || s.Addr != es.Addr ||
			s.Addralign != es.Addralign || s.Entsize != es.Entsize {
			t.Errorf("%s: section %d: %+v, debug/elf %+v", what, i, s, es.SectionHeader)
		}
		if s.Type == SHT_NOBITS || s.Type == SHT_NULL || es.Flags&elf.SHF_COMPRESSED != 0 {
			continue
		}
		got, err := f.ReadSection(s, uint64(len(data)))
		want, werr := es.Data()
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: section %s bytes differ (%v, debug/elf %v)", what, s.Name, err, werr)
		}
		if i > 0 && s.Name != "" {
			if l, ok := f.Lookup(s.Name); !ok || l.Index > i || ef.Section(s.Name) != ef.Sections[l.Index] {
				t.Errorf("%s: Lookup(%s) = %d %v, debug/elf finds %v", what, s.Name, l.Index, ok, ef.Section(s.Name).SectionHeader)
			}
		}
	}
}

// BenchmarkModinfo reads the .modinfo of a real module held in memory, with
// this package and with debug/elf (the path modinfo used before): the cost of
// parsing alone, without system calls.
func BenchmarkModinfo(b *testing.B) {
	mods := kernelModules(b, 1)
	if len(mods) == 0 {
		testbin.Unavailable(b, "no kernel modules cached (scripts/fetch-kernel.sh)")
	}
	data, err := os.ReadFile(mods[0])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("elfsect", func(b *testing.B) {
		for b.Loop() {
			f, err := NewFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				b.Fatal(err)
			}
			s, ok := f.Lookup(".modinfo")
			if !ok {
				b.Fatal("no .modinfo")
			}
			if _, err := f.ReadSection(s, 4<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("debug-elf", func(b *testing.B) {
		for b.Loop() {
			f, err := elf.NewFile(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Section(".modinfo").Data(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
