package modinfo

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// dirent64 encodes one linux_dirent64 record, padded to 8 bytes as the
// kernel does.
func dirent64(name string, typ uint8) []byte {
	n := 19 + len(name) + 1
	n = (n + 7) &^ 7
	b := make([]byte, n)
	binary.NativeEndian.PutUint64(b[0:], 42)
	binary.NativeEndian.PutUint16(b[16:], uint16(n))
	b[18] = typ
	copy(b[19:], name)
	return b
}

func TestParseDirents(t *testing.T) {
	var buf []byte
	for _, e := range []struct {
		name string
		typ  uint8
	}{{".", unix.DT_DIR}, {"..", unix.DT_DIR}, {"loop.ko", unix.DT_REG}, {"kernel", unix.DT_DIR}, {"build", unix.DT_LNK}} {
		buf = append(buf, dirent64(e.name, e.typ)...)
	}
	got := parseDirents(buf, nil)
	want := []dirent{{name: "loop.ko", typ: unix.DT_REG}, {name: "kernel", typ: unix.DT_DIR}, {name: "build", typ: unix.DT_LNK}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("entry %d: %v, want %v", i, got[i], want[i])
		}
	}
	// A record claiming more than the buffer holds, or less than a header,
	// ends the parse instead of running off the end or looping.
	bad := dirent64("x.ko", unix.DT_REG)
	binary.NativeEndian.PutUint16(bad[16:], 4096)
	if got := parseDirents(append(dirent64("a.ko", unix.DT_REG), bad...), nil); len(got) != 1 || got[0].name != "a.ko" {
		t.Errorf("oversized record: %v", got)
	}
	zero := dirent64("y.ko", unix.DT_REG)
	binary.NativeEndian.PutUint16(zero[16:], 0)
	if got := parseDirents(zero, nil); len(got) != 0 {
		t.Errorf("zero-length record: %v", got)
	}
}

func FuzzParseDirents(f *testing.F) {
	f.Add(append(dirent64("loop.ko", unix.DT_REG), dirent64("kernel", unix.DT_DIR)...))
	f.Add(dirent64("", unix.DT_UNKNOWN))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, buf []byte) {
		for _, e := range parseDirents(buf, nil) {
			if e.name == "" || e.name == "." || e.name == ".." || strings.IndexByte(e.name, 0) >= 0 {
				t.Fatalf("bad entry %q", e.name)
			}
		}
	})
}

// TestWalkTypes: the getdents walk finds modules in real directories, through
// symlinked directories and as symlinked files, skips build/ and source/ at
// the top, and reports an unreadable directory without stopping.
func TestWalkTypes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "6.1.0")
	elsewhere := filepath.Join(root, "elsewhere")
	for _, d := range []string{"kernel/fs/a", "kernel/fs/b", "locked"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(elsewhere, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"kernel/fs/a/one.ko", "kernel/fs/b/two-x.ko", "locked/hidden.ko"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"sub/three.ko", "file.ko", "hdr.ko"} {
		if err := os.WriteFile(filepath.Join(elsewhere, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"kernel/linked": filepath.Join(elsewhere, "sub"),          // a directory
		"four.ko":       filepath.Join(elsewhere, "file.ko"),      // a module file
		"build":         elsewhere,                                // headers: skipped
		"kernel/loop":   filepath.Join(dir, "kernel"),             // a loop: entered once
		"kernel/dead":   filepath.Join(root, "nowhere"),           // dangling: quiet
		"kernel/notdir": filepath.Join(dir, "kernel/fs/a/one.ko"), // a file: not a module name
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		// root reads anything; use a name that is not a directory instead.
		os.RemoveAll(filepath.Join(dir, "locked"))
	} else if err := os.Chmod(filepath.Join(dir, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(ix.Names(), " ")
	if got != "four one three two_x" {
		t.Errorf("modules %q, want \"four one three two_x\" (problems %q)", got, ix.Problems)
	}
	if m := ix.Get("two-x"); m == nil || m.Path != filepath.Join(dir, "kernel/fs/b/two-x.ko") {
		t.Errorf("two-x: %+v", m)
	}
	if m := ix.Get("three"); m == nil || m.Path != filepath.Join(dir, "kernel/linked/three.ko") {
		t.Errorf("three (through a symlinked directory): %+v", m)
	}
	for _, p := range ix.Problems {
		if strings.Contains(p, "dead") || strings.Contains(p, "notdir") {
			t.Errorf("a symlink that is no directory was reported: %s", p)
		}
	}
	if os.Geteuid() != 0 {
		if !strings.Contains(strings.Join(ix.Problems, "\n"), "locked") {
			t.Errorf("unreadable directory not reported: %q", ix.Problems)
		}
	}
}

// TestDependsOnly: with fresh depmod files and DependsOnly, lookups give the
// dependencies without opening the module files; without it, the fields are
// read as before.
func TestDependsOnly(t *testing.T) {
	dir := realModules(t)
	_, _, moddir := depmodTree(t, dir)
	lazy, err := Open(moddir, nil)
	if err != nil {
		t.Fatal(err)
	}
	lazy.DependsOnly = true
	if !lazy.Depmod() {
		t.Fatalf("fresh modules.dep not used: %q", lazy.Problems)
	}
	full, err := Open(moddir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bridge", "xfs"} {
		l, f := lazy.Get(name), full.Get(name)
		if l == nil || f == nil {
			t.Fatalf("%s missing", name)
		}
		if len(l.Fields) != 0 || l.Machine != 0 {
			t.Errorf("%s: DependsOnly read the file: %d fields", name, len(l.Fields))
		}
		if len(f.Fields) == 0 || f.Vermagic() == "" {
			t.Errorf("%s: fields not read without DependsOnly", name)
		}
		if strings.Join(l.Depends, " ") != strings.Join(f.Depends, " ") || len(l.Depends) == 0 {
			t.Errorf("%s: depends %v, want %v", name, l.Depends, f.Depends)
		}
	}
	if pre, _ := lazy.Soft(lazy.Get("libcrc32c")); strings.Join(pre, " ") != "crc32c" {
		t.Errorf("libcrc32c: soft dependencies %q with DependsOnly, want crc32c", pre)
	}
	if got := lazy.Lookup("fs-xfs"); len(got) != 1 || got[0].Name != "xfs" {
		t.Errorf("alias fs-xfs: %v", got)
	}
}

// Module paths are what filepath.Join gives, whatever the spelling of the
// folder.
func TestWalkPaths(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "kernel", "a.ko"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for dir, want := range map[string]string{
		".":                   "kernel/a.ko",
		"./":                  "kernel/a.ko",
		root + "/":            root + "/kernel/a.ko",
		root + "/kernel/../.": root + "/kernel/a.ko",
	} {
		ix, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m := ix.Get("a"); m == nil || m.Path != want {
			t.Errorf("Open(%q): module a %+v, want path %s", dir, m, want)
		}
	}
}

func TestRelTo(t *testing.T) {
	for _, c := range []struct{ dir, path, want string }{
		{"/lib/modules/6.1", "/lib/modules/6.1/updates/x.ko", "updates/x.ko"},
		{"/lib/modules/6.1/", "/lib/modules/6.1/kernel/x.ko", "kernel/x.ko"},
		{"/lib/modules/6.1", "/lib/modules/6.10/kernel/x.ko", "/lib/modules/6.10/kernel/x.ko"},
		{"/lib/modules/6.1", "/overlay/modules/6.1/updates/x.ko", "/overlay/modules/6.1/updates/x.ko"},
		{"./m", "m/kernel/x.ko", "kernel/x.ko"},
		{".", "kernel/x.ko", "kernel/x.ko"},
		{"/", "/x.ko", "x.ko"},
	} {
		if got := relTo(c.dir, c.path); got != c.want {
			t.Errorf("relTo(%q, %q) = %q, want %q", c.dir, c.path, got, c.want)
		}
	}
}
