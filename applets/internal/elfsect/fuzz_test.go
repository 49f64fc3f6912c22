package elfsect

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSections feeds arbitrary images to the reader (seeded with handmade
// images of every class and byte order, real objects of several
// architectures, a kernel module when cached): errors are fine; panics,
// reads outside the file and answers that contradict debug/elf (where it
// accepts the file too) are not.
func FuzzSections(f *testing.F) {
	for _, c := range []Class{Class32, Class64} {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			f.Add(image{class: c, bo: bo, machine: EM_MIPS, sections: sampleSections()}.build())
			f.Add(image{class: c, bo: bo, machine: EM_MIPS, sections: sampleSections(), extended: true}.build())
		}
	}
	f.Add([]byte("\x7fELF"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		for _, name := range []string{"go-relocation-test-gcc540-mips.obj", "go-relocation-test-gcc492-arm.obj", "go-relocation-test-gcc492-mips64.obj"} {
			if data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "src", "debug", "elf", "testdata", name)); err == nil {
				f.Add(data)
			}
		}
	}
	home, _ := os.UserHomeDir()
	if ko, _ := filepath.Glob(filepath.Join(home, ".cache", "toybox-go", "linux-image-*", "lib", "modules", "*", "kernel", "fs", "nls", "nls_ascii.ko")); len(ko) > 0 {
		if data, err := os.ReadFile(ko[0]); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := NewFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if ef.NumSections()*shdr32Size > len(data) {
			t.Fatalf("%d sections in %d bytes", ef.NumSections(), len(data))
		}
		oracle, oerr := elf.NewFile(bytes.NewReader(data))
		for i := range ef.NumSections() {
			s, err := ef.Section(i)
			if err != nil {
				continue
			}
			if oerr == nil && i < len(oracle.Sections) && oracle.Sections[i].Name != s.Name {
				t.Fatalf("section %d: %q, debug/elf %q", i, s.Name, oracle.Sections[i].Name)
			}
			b, err := ef.ReadSection(s, uint64(len(data)))
			if err == nil && (uint64(len(b)) != s.Size || !bytes.Equal(b, data[s.Offset:s.Offset+s.Size])) {
				t.Fatalf("section %d: %d bytes read for %d at %d", i, len(b), s.Size, s.Offset)
			}
			if i > 0 && s.Name != "" {
				if l, ok := ef.Lookup(s.Name); !ok || l.Index > i || l.Name != s.Name {
					t.Fatalf("Lookup(%q) = %+v %v, section %d has that name", s.Name, l, ok, i)
				}
			}
		}
		if oerr == nil && len(oracle.Sections) != ef.NumSections() {
			t.Fatalf("%d sections, debug/elf %d", ef.NumSections(), len(oracle.Sections))
		}
	})
}
