package modinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"toybox-go/internal/testbin"
)

var (
	kernelOnce sync.Once
	kernelDir  string // .../lib/modules/RELEASE
	kernelErr  string
)

// realModules returns the module tree of Debian's cloud kernel, fetched (and
// cached) by scripts/fetch-kernel.sh.
func realModules(t testing.TB) string {
	t.Helper()
	kernelOnce.Do(func() {
		script := filepath.Join(testbin.ModuleRoot(t), "scripts", "fetch-kernel.sh")
		out, err := exec.Command("sh", script).Output()
		if err != nil {
			kernelErr = "scripts/fetch-kernel.sh: " + err.Error()
			return
		}
		dir := strings.TrimSpace(string(out))
		rel, err := os.ReadFile(filepath.Join(dir, "version"))
		if err != nil {
			kernelErr = err.Error()
			return
		}
		kernelDir = filepath.Join(dir, "lib", "modules", strings.TrimSpace(string(rel)))
	})
	if kernelDir == "" {
		testbin.Unavailable(t, "Debian kernel modules: %s", kernelErr)
	}
	return kernelDir
}

// fetchKernel runs scripts/fetch-kernel.sh for a flavour (uncached: for
// benchmarks) and returns its module directory, or "" and why not.
func fetchKernel(t testing.TB, flavour string) (string, string) {
	script := filepath.Join(testbin.ModuleRoot(t), "scripts", "fetch-kernel.sh")
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(), "FLAVOUR="+flavour)
	out, err := cmd.Output()
	if err != nil {
		return "", "FLAVOUR=" + flavour + " scripts/fetch-kernel.sh: " + err.Error()
	}
	dir := strings.TrimSpace(string(out))
	rel, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil {
		return "", err.Error()
	}
	return filepath.Join(dir, "lib", "modules", strings.TrimSpace(string(rel))), ""
}

// sample is the set of modules checked against kmod: dependency chains,
// aliases with globs, parameters, and soft dependencies (pre: and post:).
var sample = []string{
	"bridge", "stp", "llc", "overlay", "zram", "zsmalloc", "nls_iso8859-1",
	"virtio_blk", "virtio_net", "loop", "squashfs", "crc32c-intel", "libcrc32c",
	"btrfs", "cifs", "vfio", "xt_LOG", "ext4", "jbd2", "mbcache", "crc16",
}

// kmodField runs Debian's modinfo -F on a file.
func kmodField(t *testing.T, field, file string) []string {
	t.Helper()
	out, err := exec.Command("modinfo", "-F", field, file).Output()
	if err != nil {
		t.Fatalf("modinfo -F %s %s: %v", field, file, err)
	}
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestFieldsAgreeWithKmod(t *testing.T) {
	dir := realModules(t)
	testbin.RequireTool(t, "modinfo")
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range sample {
		m := ix.Get(name)
		if m == nil {
			t.Errorf("%s: not in the index", name)
			continue
		}
		if m.Builtin {
			continue // ext4 and friends are built into the cloud kernel
		}
		checked++
		if m.Err != nil {
			t.Errorf("%s: %v", name, m.Err)
			continue
		}
		for _, field := range []string{"name", "depends", "alias", "softdep", "vermagic", "license"} {
			got, want := m.Values(field), kmodField(t, field, m.Path)
			if field == "depends" && len(got) == 1 && got[0] == "" {
				got = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: got %q, kmod says %q", name, field, got, want)
			}
		}
		// Parameter names (their formatting is the applet's business).
		var got []string
		for _, v := range append(m.Values("parm"), m.Values("parmtype")...) {
			n, _, _ := strings.Cut(v, ":")
			if !slices.Contains(got, n) {
				got = append(got, n)
			}
		}
		var want []string
		for _, v := range kmodField(t, "parm", m.Path) {
			n, _, _ := strings.Cut(v, ":")
			want = append(want, n)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s parm names: got %q, kmod says %q", name, got, want)
		}
		// Derived lists.
		var deps []string
		if d := kmodField(t, "depends", m.Path); len(d) > 0 {
			for _, x := range strings.Split(d[0], ",") {
				deps = append(deps, Normalize(x))
			}
		}
		if !slices.Equal(m.Depends, deps) {
			t.Errorf("%s Depends = %q, want %q", name, m.Depends, deps)
		}
		if !slices.Equal(m.Aliases, kmodField(t, "alias", m.Path)) {
			t.Errorf("%s Aliases = %q", name, m.Aliases)
		}
	}
	if checked < 10 {
		t.Errorf("only %d sample modules are files in %s", checked, dir)
	}
	// Soft dependencies parsed: btrfs needs crc32c before it, vfio something after.
	if m := ix.Get("btrfs"); m == nil || !slices.ContainsFunc(m.SoftPre, func(s string) bool { return strings.Contains(s, "crc32c") }) {
		t.Errorf("btrfs SoftPre lacks crc32c: %+v", m)
	}
	if m := ix.Get("vfio"); m == nil || len(m.SoftPost) == 0 {
		t.Errorf("vfio has no post: softdep: %+v", m)
	}
}

func TestNestedTreeLookups(t *testing.T) {
	dir := realModules(t)
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := func(mods []*Module) []string {
		var out []string
		for _, m := range mods {
			out = append(out, m.Name)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"bridge", []string{"bridge"}},
		{"nls-iso8859-1", []string{"nls_iso8859_1"}},
		{"nls_iso8859_1.ko", []string{"nls_iso8859_1"}},
		{"fs-overlay", []string{"overlay"}},
		{"fs_overlay", []string{"overlay"}},
		{"block-major-7-0", []string{"loop"}},                                             // alias block-major-7-*
		{"pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", []string{"virtio_pci"}}, // modalias
		{"virtio:d00000002v00001AF4", []string{"virtio_blk"}},
		{"crypto-crc32c", []string{"crc32c_generic", "crc32c_intel"}}, // built-in and module
		{"fs-ext4", []string{"ext4"}},
		{"no-such-module", nil},
	} {
		if got := names(ix.Lookup(tc.query)); !slices.Equal(got, tc.want) {
			t.Errorf("Lookup(%q) = %q, want %q", tc.query, got, tc.want)
		}
	}
	if m := ix.Get("ext4"); m == nil || !m.Builtin {
		t.Errorf("ext4 should be built in: %+v", m)
	}
	if m := ix.Get("bridge"); m == nil || !slices.Equal(m.Depends, []string{"llc", "stp"}) {
		t.Errorf("bridge depends: %+v", m)
	}
	if ix.Depmod() {
		t.Error("Debian's package has no modules.dep, yet Depmod() is true")
	}
}

// copyFile copies src to dst with dst's mode 0644.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFlatLayout(t *testing.T) {
	dir := realModules(t)
	full, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	flat := t.TempDir()
	for _, n := range []string{"bridge", "stp", "llc", "zram", "zsmalloc", "nls_iso8859-1", "loop"} {
		m := full.Get(n)
		if m == nil {
			t.Fatalf("%s missing from %s", n, dir)
		}
		copyFile(t, m.Path, filepath.Join(flat, filepath.Base(m.Path)))
	}
	ix, err := Open(flat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Names(); len(got) != 7 {
		t.Errorf("flat names = %q", got)
	}
	m := ix.Get("nls-iso8859-1")
	if m == nil || m.Path != filepath.Join(flat, "nls_iso8859-1.ko") {
		t.Fatalf("nls-iso8859-1 = %+v", m)
	}
	if b := ix.Get("bridge"); !slices.Equal(b.Depends, []string{"llc", "stp"}) {
		t.Errorf("bridge depends %q", b.Depends)
	}
	if l := ix.Lookup("block-major-7-3"); len(l) != 1 || l[0].Name != "loop" {
		t.Errorf("alias in flat tree: %v", l)
	}
}

// depmodTree makes a copy of the tree (module directories as symlinks) and
// runs Debian's depmod on it.
func depmodTree(t *testing.T, dir string) (base, rel, moddir string) {
	t.Helper()
	depmod := testbin.RequireTool(t, "depmod")
	base = t.TempDir()
	rel = filepath.Base(dir)
	moddir = filepath.Join(base, "lib", "modules", rel)
	if err := os.MkdirAll(moddir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "kernel"), filepath.Join(moddir, "kernel")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		copyFile(t, filepath.Join(dir, f), filepath.Join(moddir, f))
	}
	if out, err := exec.Command(depmod, "-b", base, rel).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v\n%s", err, out)
	}
	return base, rel, moddir
}

// TestDepmodAgreesWithScan: the dependencies read from modules.dep equal the
// transitive closure of the .modinfo depends= lists, for every module.
func TestDepmodAgreesWithScan(t *testing.T) {
	dir := realModules(t)
	_, _, moddir := depmodTree(t, dir)
	dep, err := Open(moddir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !dep.Depmod() {
		t.Fatalf("fresh modules.dep not used: %q", dep.Problems)
	}
	scan, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	scan.ScanAll()
	var closure func(name string, into map[string]bool)
	closure = func(name string, into map[string]bool) {
		m := scan.Get(name)
		if m == nil {
			return
		}
		for _, d := range m.Depends {
			if !into[d] {
				into[d] = true
				closure(d, into)
			}
		}
	}
	n := 0
	for _, name := range scan.Names() {
		sm := scan.Get(name)
		if sm.Builtin {
			continue
		}
		dm := dep.Get(name)
		if dm == nil {
			t.Errorf("%s: not in the depmod index", name)
			continue
		}
		want := map[string]bool{}
		closure(name, want)
		got := map[string]bool{}
		for _, d := range dm.Depends {
			got[d] = true
		}
		if len(got) != len(want) {
			t.Errorf("%s: modules.dep %v, .modinfo closure %v", name, dm.Depends, want)
		}
		for d := range want {
			if !got[d] {
				t.Errorf("%s: modules.dep lacks %s", name, d)
			}
		}
		n++
	}
	if n < 500 {
		t.Errorf("only %d modules compared", n)
	}
	// Softdeps come from modules.softdep; aliases from modules.alias.
	if m := dep.Get("btrfs"); m == nil || len(m.SoftPre) == 0 {
		t.Errorf("btrfs softdep lost in depmod mode: %+v", m)
	}
	if l := dep.Lookup("block-major-7-9"); len(l) != 1 || l[0].Name != "loop" {
		t.Errorf("depmod alias lookup: %v", l)
	}

	// A module newer than modules.dep, or one it does not list, makes it stale.
	copyFile(t, filepath.Join(dir, "kernel", "drivers", "block", "loop.ko"), filepath.Join(moddir, "updates", "loop.ko"))
	stale, err := Open(moddir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stale.Depmod() {
		t.Error("a stale modules.dep was used")
	}
	if m := stale.Get("loop"); m == nil || !strings.Contains(m.Path, "/updates/") {
		t.Errorf("updates/ should win: %+v", m)
	}
}
