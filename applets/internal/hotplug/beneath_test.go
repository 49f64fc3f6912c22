package hotplug

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// beneathTree makes top/in (the directory names are resolved below) with
// links that stay inside and links that lead out, and top/out beside it.
func beneathTree(t *testing.T) (in, out string) {
	t.Helper()
	top := t.TempDir()
	in, out = filepath.Join(top, "in"), filepath.Join(top, "out")
	for _, d := range []string{filepath.Join(in, "sub"), out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(in, "sub", "file"), filepath.Join(out, "file")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"up":        "..", // out of in
		"abs":       out,  // absolute
		"outfile":   "../out/file",
		"sub/back":  "../sub",       // stays inside
		"sub/twice": "../../in/sub", // leaves and comes back: still refused
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(in, name)); err != nil {
			t.Fatal(err)
		}
	}
	return in, out
}

func TestBeneathOpen(t *testing.T) {
	in, _ := beneathTree(t)
	b, err := openBeneath(in)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, name := range []string{"sub/file", "sub/back/file", "sub/../sub/file"} {
		fd, err := b.open(name, unix.O_RDONLY)
		if err != nil {
			t.Errorf("open %s: %v", name, err)
			continue
		}
		unix.Close(fd)
	}
	for _, name := range []string{"../out/file", "/etc/passwd", "up/out/file", "abs/file", "outfile", "sub/twice/file", "sub/../../out/file"} {
		fd, err := b.open(name, unix.O_RDONLY)
		if err == nil {
			unix.Close(fd)
			t.Errorf("open %s: escaped", name)
		} else if !errors.Is(err, errEscapes) {
			t.Errorf("open %s: %v, want %v", name, err, errEscapes)
		}
	}
}

func TestBeneathRefusesMagicLinks(t *testing.T) {
	b, err := openBeneath("/proc/self")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, name := range []string{"root/etc", "cwd", "exe"} {
		if fd, err := b.open(name, unix.O_PATH); err == nil {
			unix.Close(fd)
			t.Errorf("open /proc/self/%s: followed a magic link", name)
		}
	}
}

func TestBeneathParentMkdir(t *testing.T) {
	in, out := beneathTree(t)
	b, err := openBeneath(in)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fd, base, err := b.parent("a/b/c/node", true)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if base != "node" {
		t.Errorf("base = %q", base)
	}
	if fi, err := os.Stat(filepath.Join(in, "a/b/c")); err != nil || !fi.IsDir() {
		t.Errorf("a/b/c not made: %v", err)
	}
	fd, _, err = b.parent("sub/back/new/node", true)
	if err != nil {
		t.Fatalf("through a link inside: %v", err)
	}
	unix.Close(fd)
	if _, err := os.Stat(filepath.Join(in, "sub/new")); err != nil {
		t.Errorf("sub/new not made: %v", err)
	}
	for _, name := range []string{"up/made/node", "abs/made/node", "sub/twice/made/node"} {
		if fd, _, err := b.parent(name, true); err == nil {
			unix.Close(fd)
			t.Errorf("parent %s: escaped", name)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "made")); err == nil {
		t.Errorf("a directory was made outside")
	}
	if fd, _, err := b.parent("missing/node", false); err == nil {
		unix.Close(fd)
		t.Errorf("parent without mkdir made or found missing/")
	}
}

func TestSymlinkInDevStaysInside(t *testing.T) {
	in, out := beneathTree(t)
	if err := symlinkInDev(in, "/proc/self/fd", "sub/fd"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(filepath.Join(in, "sub/fd")); err != nil || got != "/proc/self/fd" {
		t.Errorf("sub/fd -> %q, %v", got, err)
	}
	if err := symlinkInDev(in, "x", "sub/fd"); !errors.Is(err, os.ErrExist) {
		t.Errorf("existing name: %v, want ErrExist", err)
	}
	for _, name := range []string{"up/out/link", "abs/link"} {
		if err := symlinkInDev(in, "x", name); err == nil {
			t.Errorf("symlink %s: escaped", name)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "link")); err == nil {
		t.Errorf("a link was made outside")
	}
}

// TestBeneathWithoutOpenat2 runs the tests of names below a directory on
// walk, as on a kernel without openat2.
func TestBeneathWithoutOpenat2(t *testing.T) {
	saved := openat2
	openat2 = func(int, string, *unix.OpenHow) (int, error) { return -1, unix.ENOSYS }
	defer func() { openat2 = saved }()
	t.Run("open", TestBeneathOpen)
	t.Run("magic links", TestBeneathRefusesMagicLinks)
	t.Run("parent", TestBeneathParentMkdir)
	t.Run("symlink", TestSymlinkInDevStaysInside)
	t.Run("makedev", TestMakedevWithOpenWrtRules)
	t.Run("makedev refusals", TestMakedevRefusals)
	t.Run("ln -s", TestNullLinksInProcess)
	t.Run("firmware", TestLoadFirmware)
}
