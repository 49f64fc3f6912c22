package kmodloader

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"toybox-go/applets/internal/kmsg"
)

// makeKO builds a minimal ELF64 relocatable file whose .modinfo holds fields
// ("key=value" strings): enough for the index, which reads nothing else.
func makeKO(fields ...string) []byte {
	var modinfo bytes.Buffer
	for _, f := range fields {
		modinfo.WriteString(f)
		modinfo.WriteByte(0)
	}
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modOff := uint64(ehsize)
	strOff := modOff + uint64(modinfo.Len())
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7
	img := make([]byte, shOff+3*shentsize)
	copy(img, "\x7fELF")
	img[4], img[5], img[6] = 2, 1, 1 // 64-bit, little endian, version 1
	le := binary.LittleEndian
	le.PutUint16(img[16:], 1)     // ET_REL
	le.PutUint16(img[18:], 62)    // EM_X86_64
	le.PutUint32(img[20:], 1)     // EV_CURRENT
	le.PutUint64(img[40:], shOff) // e_shoff
	le.PutUint16(img[52:], ehsize)
	le.PutUint16(img[58:], shentsize)
	le.PutUint16(img[60:], 3) // e_shnum
	le.PutUint16(img[62:], 2) // e_shstrndx
	copy(img[modOff:], modinfo.Bytes())
	copy(img[strOff:], shstr)
	sh := func(i int, name, typ uint32, off, size uint64) {
		b := img[shOff+uint64(i)*shentsize:]
		le.PutUint32(b[0:], name)
		le.PutUint32(b[4:], typ)
		le.PutUint64(b[24:], off)
		le.PutUint64(b[32:], size)
		le.PutUint64(b[48:], 1)
	}
	sh(1, 1, 1, modOff, uint64(modinfo.Len())) // .modinfo, SHT_PROGBITS
	sh(2, 10, 3, strOff, uint64(len(shstr)))   // .shstrtab, SHT_STRTAB
	return img
}

// fakeTree is a root with /lib/modules/REL, /etc and /proc for the applets.
type fakeTree struct {
	t    *testing.T
	root string
	sys  *System
	out  bytes.Buffer
	err  bytes.Buffer
	log  bytes.Buffer

	mu      sync.Mutex
	calls   []string           // "name params" per Insert, in order
	fail    map[string][]error // errors to return, one per call, then success
	removed []string
}

const fakeRelease = "6.1.0-test"

func newFakeTree(t *testing.T) *fakeTree {
	t.Helper()
	root := t.TempDir()
	ft := &fakeTree{t: t, root: root, fail: map[string][]error{}}
	for _, d := range []string{"lib/modules/" + fakeRelease, "etc/modules.d", "etc/modules-boot.d", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ft.write("proc/modules", "")
	ft.sys = &System{
		ModulesRoot: filepath.Join(root, "lib/modules"),
		Release:     fakeRelease,
		Proc:        filepath.Join(root, "proc"),
		Etc:         filepath.Join(root, "etc"),
		Insert:      ft.insert,
		Remove:      ft.remove,
		Stdout:      &ft.out,
		Stderr:      &ft.err,
		Log:         kmsg.NewWriter("kmodloader", &ft.log),
	}
	return ft
}

func (ft *fakeTree) write(rel, text string) string {
	ft.t.Helper()
	p := filepath.Join(ft.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		ft.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		ft.t.Fatal(err)
	}
	return p
}

// module writes lib/modules/REL/<rel>.ko with the given .modinfo fields
// (name= is added from the file name).
func (ft *fakeTree) module(rel string, fields ...string) {
	ft.t.Helper()
	name := strings.ReplaceAll(filepath.Base(rel), "-", "_")
	img := makeKO(append(fields, "name="+name, "vermagic="+fakeRelease+" SMP mod_unload")...)
	ft.write(filepath.Join("lib/modules", fakeRelease, rel+".ko"), string(img))
}

func (ft *fakeTree) insert(path, params string) error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	name := strings.TrimSuffix(filepath.Base(path), ".ko")
	ft.calls = append(ft.calls, strings.TrimSpace(name+" "+params))
	if errs := ft.fail[name]; len(errs) > 0 {
		ft.fail[name] = errs[1:]
		if errs[0] != nil {
			return &LoadError{Module: name, Path: path, Errno: errs[0], Hint: hint(errs[0], path, "")}
		}
	}
	return nil
}

func (ft *fakeTree) remove(name string, force bool) error {
	ft.removed = append(ft.removed, fmt.Sprintf("%s force=%v", name, force))
	return nil
}

func (ft *fakeTree) run(args ...string) int {
	ft.out.Reset()
	ft.err.Reset()
	ft.log.Reset()
	ft.calls = nil
	return ft.sys.Main(args)
}
